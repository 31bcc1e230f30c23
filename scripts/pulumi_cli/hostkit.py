"""What this project's stand-in language hosts share: serving, starting a program, ending it when asked.

The upstream language hosts (``pulumi-language-python``, ``pulumi-language-nodejs``) are Go modules the Go module
proxy refuses, so ``scripts/build-pulumi-cli.sh`` installs stand-ins written here. Each is a LanguageRuntime gRPC
server the engine starts with the engine's address as its last argument; it prints its port and serves until the
engine sends SIGINT. A program runs as a child process whose exit code becomes the RunResponse the engine reads:
0 is success, ``BAIL_EXIT_CODE`` means "the program already told the user", anything else is an error naming the
code; when the engine cancels the call, the program gets SIGINT, as upstream does.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

VERSION = "3.274.1"  # the CLI these stand-ins are built beside (scripts/build-pulumi-cli.sh)
BAIL_EXIT_CODE = 32  # the program already showed the user an actionable message


class StandInHost(language_pb2_grpc.LanguageRuntimeServicer):
    """The calls every stand-in answers alike; a language adds required packages, install, about and Run."""

    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address

    def Handshake(self, request: Any, context: Any) -> Any:
        self.engine_address = request.engine_address or self.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=VERSION)

    def GetRequiredPlugins(self, request: Any, context: Any) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "method GetRequiredPlugins not implemented")

    def RuntimeOptionsPrompts(self, request: Any, context: Any) -> Any:
        return language_pb2.RuntimeOptionsResponse()

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()


def resource_package(declared: Any, name: str, version: str, v_prefix: bool = True) -> Any | None:
    """The resource plugin a package declares (a ``pulumi-plugin.json``, or npm's ``pulumi`` section): its own
    ``name`` and ``version``, else the language's ``name`` and ``version`` for the package. None when it is not a
    resource plugin, or has no name or version (upstream skips those too). Node.js and Python hosts give the
    version a ``v``; the Go host passes the module's as it is."""
    if not isinstance(declared, dict) or not declared.get("resource"):
        return None
    name, version = str(declared.get("name") or name), str(declared.get("version") or version)
    if not name or not version:
        return None
    if v_prefix and not version.startswith("v"):
        version = f"v{version}"
    return plugin_pb2.PackageDependency(
        name=name, kind="resource", version=version, server=str(declared.get("server", ""))
    )


def options_of(info: Any) -> dict[str, Any]:
    """The project's ``runtime.options`` (an empty dict when it has none)."""
    return dict(info.options.items()) if info.HasField("options") else {}


def config_environment(request: Any, keys: Callable[[str], str] = lambda key: key) -> dict[str, str]:
    """The program's configuration, as the language SDKs read it from their environment (``keys`` renames)."""
    return {
        "PULUMI_CONFIG": json.dumps({keys(key): value for key, value in request.config.items()}),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(list(request.configSecretKeys)),
    }


def run_program(command: Sequence[str], env: Mapping[str, str], context: Any, cwd: str | None = None) -> Any:
    """Run a program to its end and answer as upstream does; SIGINT it if the engine cancels the call."""
    program = subprocess.Popen(list(command), env=dict(env), cwd=cwd)
    context.add_callback(lambda: program.poll() is None and program.send_signal(signal.SIGINT))
    code = program.wait()
    if code == 0:
        return language_pb2.RunResponse()
    if code == BAIL_EXIT_CODE:
        return language_pb2.RunResponse(bail=True)
    return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {code}")


def flag_arguments(flags: Mapping[str, str]) -> list[str]:
    """``--name value`` for every flag with a value; empty ones are left out, as upstream does."""
    return [item for key, value in flags.items() if value for item in (f"--{key}", value)]


def stream(command: Sequence[str], cwd: str, env: Mapping[str, str]) -> Iterator[str]:
    """A command's combined output, line by line; raises if it fails (``pulumi install`` then says so)."""
    with subprocess.Popen(
        list(command), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        yield from process.stdout
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")


def install_responses(lines: Iterator[str]) -> Iterator[Any]:
    """``pulumi install``'s stream: upstream's opening and closing lines around the tool's own output."""
    yield language_pb2.InstallDependenciesResponse(stdout=b"Installing dependencies...\n\n")
    for line in lines:
        yield language_pb2.InstallDependenciesResponse(stdout=line.encode())
    yield language_pb2.InstallDependenciesResponse(stdout=b"Finished installing dependencies\n\n")


def tool(name: str) -> str:
    """An executable on $PATH; raises LookupError with upstream's words when there is none."""
    found = shutil.which(name)
    if found is None:
        raise LookupError(f"could not find {name} on the $PATH")
    return found


def output(command: list[str], cwd: Path) -> str:
    """What a command printed, stripped; empty if it failed (``pulumi about`` leaves that line out)."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def engine_address_of(arguments: Sequence[str]) -> str:
    """The engine's address: the last argument that is not a flag (the engine appends it)."""
    return next((arg for arg in reversed(arguments) if not arg.startswith("-")), "")


def serve(host: StandInHost) -> None:
    """Serve ``host`` on a free loopback port, print the port for the engine, and stop at SIGINT."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    signal.signal(signal.SIGINT, lambda *_: server.stop(0))  # the engine stops its plugins with SIGINT
    server.wait_for_termination()
