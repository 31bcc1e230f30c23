"""A small Python language host for the Pulumi CLI (``pulumi-language-python``), written for this project.

The Go module of the upstream host (``github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3``) is
not served by the Go module proxy we can reach (403), so ``scripts/build-pulumi-cli.sh`` installs this one
instead. It implements the LanguageRuntime gRPC service the engine needs for ``preview``, ``up``,
``refresh`` and ``destroy`` of a plain pip/venv Python project: it prints its port, and ``Run`` executes the
program with ``program_runner.py`` in the project's virtualenv (``runtime.options.virtualenv``), with the
engine and monitor addresses, the stack config and its secret keys. Everything else answers "nothing needed".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

RUNNER = Path(__file__).with_name("program_runner.py")
BAIL_EXIT_CODE = 32  # the program already told the user what went wrong


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address

    def Handshake(self, request: Any, context: Any) -> Any:
        self.engine_address = request.engine_address or self.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version="3.274.1")

    def GetRequiredPlugins(self, request: Any, context: Any) -> Any:
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        return language_pb2.GetRequiredPackagesResponse()

    def InstallDependencies(self, request: Any, context: Any) -> Any:
        return iter(())  # scripts/setup.sh owns the virtualenv

    def RuntimeOptionsPrompts(self, request: Any, context: Any) -> Any:
        return language_pb2.RuntimeOptionsResponse()

    def About(self, request: Any, context: Any) -> Any:
        return language_pb2.AboutResponse(executable=sys.executable, version=sys.version.split()[0])

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        return language_pb2.GetProgramDependenciesResponse()

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def Run(self, request: Any, context: Any) -> Any:
        info = request.info
        root = info.root_directory or request.pwd
        program_dir = info.program_directory or request.pwd
        entry = os.path.join(program_dir, info.entry_point or ".")
        command = [
            python_for(root, info.options),
            "-u",
            str(RUNNER),
            "--monitor",
            request.monitor_address,
            "--engine",
            self.engine_address,
            "--project",
            request.project,
            "--stack",
            request.stack,
            "--pwd",
            program_dir,
            "--dry_run",
            "true" if request.dryRun else "false",
            "--parallel",
            str(request.parallel),
            "--organization",
            request.organization,
            "--root_directory",
            root,
            entry,
            *request.args,
        ]
        env = {
            **os.environ,
            "PULUMI_CONFIG": json.dumps(dict(request.config)),
            "PULUMI_CONFIG_SECRET_KEYS": json.dumps(list(request.configSecretKeys)),
        }
        finished = subprocess.run(command, env=env, cwd=program_dir, check=False)
        if finished.returncode == 0:
            return language_pb2.RunResponse()
        if finished.returncode == BAIL_EXIT_CODE:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"the Python program exited with code {finished.returncode}")


def python_for(root: str, options: Any) -> str:
    """The project's virtualenv python (``runtime.options.virtualenv``), else the interpreter running us."""
    venv = options.fields["virtualenv"].string_value if options and "virtualenv" in options.fields else ""
    if venv:
        candidate = Path(venv if os.path.isabs(venv) else os.path.join(root, venv)) / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return sys.executable


def main() -> None:
    engine_address = next((arg for arg in reversed(sys.argv[1:]) if not arg.startswith("-")), "")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageHost(engine_address), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:  # the engine stops its plugins with SIGINT when the deployment is done
        server.stop(0)


if __name__ == "__main__":
    main()
