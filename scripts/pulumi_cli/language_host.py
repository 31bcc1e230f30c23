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
  interrupts it when the engine cancels;
- a plugin folder (``PulumiPlugin.yaml``, ``runtime: python``), as ``pulumi package add`` and the engine use one:
  its virtualenv defaults to ``venv`` in the folder; installing it (``is_plugin``) also ``pip install``s the folder
  when its ``pyproject.toml`` is buildable; ``RunPlugin`` runs ``python -m pulumi.run.plugin <distribution>`` for
  a buildable folder without ``__main__.py`` (when the plugin's ``pulumi`` has that module), else the folder's
  ``__main__.py``, in the engine's working folder with the request's environment;
- a policy pack (``PulumiPolicy.yaml``, ``runtime: python``; ``RunPlugin`` of kind ``analyzer``) runs as upstream
  runs one, ``python -u -m pulumi.policy <engine> <folder>``, with the pack's virtualenv if it names one;
- ``GeneratePackage`` writes the Python SDK with Pulumi's generator (``hostkit.generate_package``); ``Link`` puts
  each SDK's path into the program's ``requirements.txt`` in place of any line naming the same package or path,
  as upstream's pip toolchain does (``pulumi package add`` then installs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostkit import (
    StandInHost,
    config_environment,
    engine_address_of,
    flag_arguments,
    generate_package,
    install_responses,
    language_info,
    options_of,
    package_schema,
    resource_package,
    run_plugin_responses,
    run_program,
    serve,
    stream,
)
from pulumi.runtime.proto import language_pb2

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
    def of(cls, info: Any, is_plugin: bool = False) -> PythonProject:
        """A program's or a plugin's options; a plugin without a ``virtualenv`` gets ``venv``, as upstream's does
        (plugins never run in the ambient Python)."""
        options = options_of(info)
        toolchain = options.get("toolchain", "pip") or "pip"
        if toolchain != "pip":
            raise ValueError(f"toolchain {toolchain!r} is not supported by this stand-in host (only pip)")
        venv = str(options.get("virtualenv") or ("venv" if is_plugin else ""))
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
        declared = json.loads(Path(path).read_text()) if path else None
        if declared is None and package["name"].startswith("pulumi-"):
            declared = {"resource": True}  # a pulumi-* package without pulumi-plugin.json is a resource plugin
        name = package["name"].removeprefix("pulumi-")
        found = resource_package(declared, name, plugin_version(package["version"]) or "")
        if found is not None:
            required.append(found)
    return required


class LanguageHost(StandInHost):
    def __init__(self, engine_address: str, executor: str) -> None:
        super().__init__(engine_address)
        self.executor = executor

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        project = PythonProject.of(request.info)
        if not project.is_ready():  # upstream creates a missing virtualenv here too
            for _ in install_steps(project, request.info.program_directory):
                pass
        return language_pb2.GetRequiredPackagesResponse(packages=required_packages(project))

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        project = PythonProject.of(request.info, is_plugin=request.is_plugin)
        folder = request.info.program_directory
        steps = install_steps(project, folder)
        if request.is_plugin and buildable_name(Path(folder)):
            steps = plugin_install_steps(project, folder)
        yield from install_responses(steps)

    def RunPlugin(self, request: Any, context: Any) -> Iterator[Any]:
        if request.kind == "analyzer":
            yield from self.run_policy_pack(request, context)
            return
        project = PythonProject.of(request.info, is_plugin=True)
        command = [project.python, *plugin_arguments(project, Path(request.info.root_directory or ".")), *request.args]
        env = {**project.environment(), **dict(item.split("=", 1) for item in request.env if "=" in item)}
        yield from run_plugin_responses(command, request.pwd or os.getcwd(), env, context)

    def run_policy_pack(self, request: Any, context: Any) -> Iterator[Any]:
        """A Python policy pack (``pulumi preview --policy-pack <folder>``), as upstream runs one: ``python -u -m
        pulumi.policy <engine address> <folder>`` (the SDK's runner, which runs the folder's ``__main__.py``), with
        the pack's ``virtualenv`` when its PulumiPolicy.yaml sets one, else ``python3`` from PATH, in the engine's
        working folder with the request's environment."""
        project = PythonProject.of(request.info)
        if not project.is_ready():
            raise ValueError(project.missing_virtualenv())
        folder = request.info.program_directory or request.info.root_directory
        command = [project.python, "-u", "-m", "pulumi.policy", *request.args, folder]
        env = {**project.environment(), **dict(item.split("=", 1) for item in request.env if "=" in item)}
        yield from run_plugin_responses(command, request.pwd or os.getcwd(), env, context)

    def GeneratePackage(self, request: Any, context: Any) -> Any:
        return generate_package(request, "python")

    def Link(self, request: Any, context: Any) -> Any:
        packages = {}
        imports = []
        for dependency in request.packages:
            schema = package_schema(request.loader_target, dependency)
            name = language_info(schema, "python").get("packageName") or str(schema["name"]).replace("-", "_")
            packages[str(name)] = dependency.path
            imports.append(f"  import {name} as {name}\n")
        link_requirements(Path(request.info.program_directory) / "requirements.txt", packages)
        plural = "SDKs" if len(packages) > 1 else "SDK"
        instructions = f"You can import the {plural} in your Python code with:\n\n" + "".join(imports)
        return language_pb2.LinkResponse(import_instructions=instructions)

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

    def Run(self, request: Any, context: Any) -> Any:
        project = PythonProject.of(request.info)
        if not project.is_ready():
            return language_pb2.RunResponse(error=project.missing_virtualenv())
        env = {**project.environment(), **config_environment(request)}
        return run_program([project.python, "-u", self.executor, *self.arguments(request)], env, context)

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
        return [*flag_arguments(flags), request.info.entry_point or ".", *request.args]


def buildable_name(folder: Path) -> str:
    """The distribution a folder's ``pyproject.toml`` builds, or empty when it builds none (no file, no project
    name, or no build backend): upstream installs and runs such a plugin folder as a package."""
    try:
        pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
    except FileNotFoundError:
        return ""
    name = str((pyproject.get("project") or {}).get("name") or "")
    backend = str((pyproject.get("build-system") or {}).get("build-backend") or "")
    return name if name and backend else ""


def plugin_arguments(project: PythonProject, root: Path) -> list[str]:
    """How a plugin folder starts, as upstream decides: ``-m pulumi.run.plugin <distribution>`` for a buildable
    folder without ``__main__.py`` when its ``pulumi`` has that runner, else the folder itself (its ``__main__.py``).
    """
    check = subprocess.run(
        [project.python, "-c", "import pulumi.run.plugin"],
        env=project.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    runner = "ModuleNotFoundError" not in check.stdout + check.stderr
    if runner and not (root / "__main__.py").exists():
        name = buildable_name(root)
        if not name:
            raise ValueError("plugin is not runnable, it provides neither __main__.py nor a buildable pyproject.toml")
        return ["-m", "pulumi.run.plugin", name]
    return [str(root)]


def plugin_install_steps(project: PythonProject, folder: str) -> Iterator[str]:
    """Installing a buildable plugin folder, as upstream does: the virtualenv (made as ``pulumi install`` makes
    one, when it is missing), the folder itself (``pip install <folder>``), then the usual install over it."""
    if not project.is_ready():
        yield from install_steps(project, folder)
    yield from stream([project.python, "-m", "pip", "install", folder], folder, project.environment())
    yield from install_steps(project, folder)


def link_requirements(requirements: Path, packages: Mapping[str, str]) -> None:
    """Each package's path in ``requirements.txt``, replacing any line that names the same package (``-`` and
    ``_`` alike) or the same path; other lines, blank ones and the file's line endings are kept."""
    text = requirements.read_bytes().decode()  # as written: read_text would turn \r\n into \n
    ending = "\r\n" if "\r\n" in text else "\n"
    lines = re.split(r"\r?\n", text)
    trailing = bool(lines) and not lines[-1].strip()
    if trailing:
        lines = lines[:-1]
    names = {name.replace("-", "_") for name in packages}
    paths = set(packages.values())

    def replaced(line: str) -> bool:
        match = re.match(r"[a-zA-Z0-9_-]+", line.strip().replace("-", "_"))
        return bool(line.strip()) and match is not None and (match.group(0) in names or line.strip() in paths)

    kept = [line for line in lines if not replaced(line)]
    kept += sorted(paths)
    requirements.write_bytes(ending.join([*kept, *([""] if trailing else [])]).encode())


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


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--executor", required=True)
    known, rest = parser.parse_known_args()
    serve(LanguageHost(engine_address_of(rest), known.executor))


if __name__ == "__main__":
    sys.exit(main())
