"""A stand-in for the upstream Python language host (``pulumi-language-python``), written for this project.

The Go module of the upstream host (``github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3``) is
not served by the Go module proxy we can reach (403), so ``scripts/build-pulumi-cli.sh`` installs this one,
next to the official ``pulumi-language-python-exec`` it runs programs with. It behaves like the upstream host
for a pip/virtualenv project wherever the CLI touches it:

- ``runtime.options.virtualenv`` is resolved against the project root (the folder of ``Pulumi.yaml``);
- ``pulumi install`` creates the virtualenv, upgrades pip/setuptools/wheel and installs the program folder's
  ``requirements.txt``;
- required plugins come from installed packages named ``pulumi-*`` or carrying a ``pulumi-plugin.json``, and
  a ``pulumi-plugin.json`` with ``"resource": false`` means none;
- ``pulumi about`` lists the program's dependencies (``pip list``) and the toolchain;
- ``Run`` starts ``pulumi-language-python-exec`` with the virtualenv's python and the upstream arguments, and
  interrupts it when the engine cancels.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

VERSION = "3.274.1"
BAIL_EXIT_CODE = 32  # the program already showed the user an actionable message
NO_PLUGIN_PACKAGES = {"pulumi", "pulumi-policy", "pulumi-esc-sdk"}

# Same question the upstream host asks the virtualenv: where is each package's pulumi-plugin.json, if any?
PLUGIN_JSON_PATHS = """import importlib.metadata, importlib.util, json, os, sys
found = {}
for name in sys.argv[1:]:
    try:
        module = importlib.metadata.distribution(name).metadata['Name'].replace('-', '_')
        spec = importlib.util.find_spec(module)
        places = list(spec.submodule_search_locations or []) if spec else []
        paths = [os.path.join(str(p), 'pulumi-plugin.json') for p in places]
        found[name] = next((p for p in paths if os.path.isfile(p)), '')
    except Exception:
        found[name] = ''
print(json.dumps(found))"""


@dataclass(frozen=True)
class PythonProject:
    """The toolchain options of one project: which virtualenv (absolute), if any."""

    virtualenv: Path | None

    @classmethod
    def of(cls, info: Any) -> PythonProject:
        options = dict(info.options.items()) if info.HasField("options") else {}
        toolchain = options.get("toolchain", "pip") or "pip"
        if toolchain != "pip":
            raise ValueError(f"toolchain {toolchain!r} is not supported by this stand-in host (only pip)")
        venv = str(options.get("virtualenv") or "")
        if not venv:
            return cls(None)
        root = info.root_directory or info.program_directory or os.getcwd()
        return cls(Path(venv) if os.path.isabs(venv) else Path(root) / venv)

    @property
    def python(self) -> str:
        if self.virtualenv is None:
            return os.environ.get("PULUMI_PYTHON_CMD") or shutil.which("python3") or "python"
        return str(self.virtualenv / "bin" / "python")

    def is_ready(self) -> bool:
        return self.virtualenv is None or (self.virtualenv / "bin" / "python").exists()

    def missing_virtualenv(self) -> str:
        return (
            f"The 'virtualenv' option in Pulumi.yaml is set to '{self.virtualenv}', but it doesn't exist or is not a "
            "virtual environment. Run `pulumi install` to create it and install the program's dependencies."
        )

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.virtualenv is not None:
            env["VIRTUAL_ENV"] = str(self.virtualenv)
            env["PATH"] = f"{self.virtualenv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            env.pop("PYTHONHOME", None)
        return env

    def output(self, *args: str) -> str:
        return subprocess.run(
            [self.python, *args], env=self.environment(), capture_output=True, text=True, check=True
        ).stdout

    def packages(self, transitive: bool = True) -> list[dict[str, str]]:
        listed = self.output("-m", "pip", "list", "--format", "json", *([] if transitive else ["--not-required"]))
        return [{"name": normalize(p["name"]), "version": p["version"]} for p in json.loads(listed)]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def plugin_version(package_version: str) -> str | None:
    """PEP 440 ``N(.N)*[{a|b|rc}N][.postN][.devN]`` as the semver of the plugin, as upstream translates it."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?", package_version)
    if match is None:
        return None
    release, pre, pre_number, post, dev = match.groups()
    numbers = release.split(".")
    version = ".".join([*numbers, "0", "0"][: max(3, len(numbers))])
    if pre:
        version += "-" + {"a": "alpha", "b": "beta", "rc": "rc"}[pre] + f".{pre_number}"
    build = (f"post{post}" if post else "") + (f"dev{dev}" if dev else "")
    return f"v{version}+{build}" if build else f"v{version}"


def required_packages(project: PythonProject) -> list[Any]:
    candidates = [p for p in project.packages() if p["name"] not in NO_PLUGIN_PACKAGES]
    paths: dict[str, str] = json.loads(project.output("-c", PLUGIN_JSON_PATHS, *(p["name"] for p in candidates)))
    required = []
    for package in candidates:
        path = paths.get(package["name"], "")
        plugin = json.loads(Path(path).read_text()) if path else None
        if plugin is None and not package["name"].startswith("pulumi-"):
            continue
        if plugin is not None and not plugin.get("resource", False):
            continue
        plugin = plugin or {}
        version = plugin.get("version") or plugin_version(package["version"])
        if version is None:
            continue
        required.append(
            plugin_pb2.PackageDependency(
                name=plugin.get("name") or package["name"].removeprefix("pulumi-"),
                version=version if version.startswith("v") else f"v{version}",
                kind="resource",
                server=plugin.get("server", ""),
            )
        )
    return required


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str, executor: str) -> None:
        self.engine_address = engine_address
        self.executor = executor

    def Handshake(self, request: Any, context: Any) -> Any:
        self.engine_address = request.engine_address or self.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=VERSION)

    def GetRequiredPlugins(self, request: Any, context: Any) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "method GetRequiredPlugins not implemented")

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        project = PythonProject.of(request.info)
        if not project.is_ready():  # upstream creates a missing virtualenv here too
            for _ in install_steps(project, request.info.program_directory):
                pass
        return language_pb2.GetRequiredPackagesResponse(packages=required_packages(project))

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        project = PythonProject.of(request.info)
        yield language_pb2.InstallDependenciesResponse(stdout=b"Installing dependencies...\n\n")
        for line in install_steps(project, request.info.program_directory):
            yield language_pb2.InstallDependenciesResponse(stdout=line.encode())
        yield language_pb2.InstallDependenciesResponse(stdout=b"Finished installing dependencies\n\n")

    def RuntimeOptionsPrompts(self, request: Any, context: Any) -> Any:
        return language_pb2.RuntimeOptionsResponse()

    def About(self, request: Any, context: Any) -> Any:
        project = PythonProject.of(request.info) if request.HasField("info") else PythonProject(None)
        python = project.output("-c", "import sys; print(sys.executable); print(sys.version.split()[0])").split()
        pip = project.output("-m", "pip", "--version").split()[1]
        return language_pb2.AboutResponse(
            executable=python[0],
            version=python[1],
            metadata={"toolchain": "Pip", "toolchainVersion": pip, "typechecker": "None"},
        )

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        project = PythonProject.of(request.info)
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[
                language_pb2.DependencyInfo(name=p["name"], version=p["version"])
                for p in project.packages(transitive=request.transitiveDependencies)
            ]
        )

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def Run(self, request: Any, context: Any) -> Any:
        project = PythonProject.of(request.info)
        if not project.is_ready():
            return language_pb2.RunResponse(error=project.missing_virtualenv())
        env = project.environment()
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        program = subprocess.Popen([project.python, "-u", self.executor, *self.arguments(request)], env=env)
        context.add_callback(lambda: program.poll() is None and program.send_signal(signal.SIGINT))
        code = program.wait()
        if code == 0:
            return language_pb2.RunResponse()
        if code == BAIL_EXIT_CODE:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {code}")

    def arguments(self, request: Any) -> list[str]:
        flags = {
            "monitor": request.monitor_address,
            "engine": self.engine_address,
            "project": request.project,
            "root_directory": request.info.root_directory,
            "stack": request.stack,
            "pwd": request.pwd,
            "dry_run": "true" if request.dryRun else "false",
            "parallel": str(request.parallel),
            "organization": request.organization,
        }
        given = [item for key, value in flags.items() if value for item in (f"--{key}", value)]
        return [*given, request.info.entry_point or ".", *request.args]


def install_steps(project: PythonProject, program_directory: str) -> Iterator[str]:
    """``pulumi install`` as upstream's pip toolchain does it, one line of output at a time."""
    if project.virtualenv is not None:
        yield "Creating virtual environment...\n"
        base = PythonProject(None).python
        yield from stream([base, "-m", "venv", str(project.virtualenv)], program_directory, os.environ.copy())
        yield "Finished creating virtual environment\n"
    env = project.environment()
    yield "Updating pip, setuptools, and wheel in virtual environment...\n"
    upgrade = [project.python, "-m", "pip", "install", "--upgrade", "pip", "setuptools", "wheel"]
    yield from stream(upgrade, program_directory, env)
    yield "Finished updating\n"
    if (Path(program_directory) / "requirements.txt").exists():
        yield "Installing dependencies in virtual environment...\n"
        yield from stream([project.python, "-m", "pip", "install", "-r", "requirements.txt"], program_directory, env)
        yield "Finished installing dependencies\n"


def stream(command: list[str], cwd: str, env: dict[str, str]) -> Iterator[str]:
    with subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        yield from process.stdout
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--executor", required=True)
    known, rest = parser.parse_known_args()
    engine_address = next((arg for arg in reversed(rest) if not arg.startswith("-")), "")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageHost(engine_address, known.executor), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    signal.signal(signal.SIGINT, lambda *_: server.stop(0))  # the engine stops its plugins with SIGINT
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
