"""A stand-in for the upstream Node.js language host (``pulumi-language-nodejs``), written for this project.

The Go module of the upstream host (``github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3``) is not
served by the Go module proxy we can reach, so ``scripts/build-pulumi-cli.sh`` installs this one. The program
itself runs in ``@pulumi/pulumi``'s own runner (``@pulumi/pulumi/cmd/run``, resolved from the program's folder as
upstream resolves it), which talks to the engine; this host does what upstream does around it for an npm project:

- ``runtime.options``: ``typescript`` (default true: the runner compiles TypeScript with ts-node),
  ``tsconfig``, ``nodeargs`` (shell-split before the runner's path) and ``packagemanager`` (``npm``, or ``auto``
  on a project without a yarn, pnpm or bun lock file); any other manager is refused, naming the option;
- ``pulumi install`` runs ``npm install --loglevel=error`` in the program's folder;
- required packages are read from every ``package.json`` under the program's ``node_modules`` (links followed,
  each folder once) whose ``pulumi`` section says ``"resource": true``: its ``pulumi.name`` (or the name after
  ``@pulumi/``) and ``pulumi.version`` (or the package's version), ``v``-prefixed;
- ``pulumi about`` names node and npm, and lists the program's dependencies from ``package-lock.json``;
- ``GeneratePackage`` writes the TypeScript SDK with Pulumi's generator (local when asked: compiled by its
  ``postinstall``); ``Link`` records it as upstream's npm does, ``npm pkg set dependencies[<name>]=file:<path>``
  with that ``file:`` spec allowed in ``allowScripts`` (so npm 11.16+ keeps running its postinstall);
- ``Run`` gives the runner the upstream flags, the configuration as ``PULUMI_CONFIG`` (keys in the
  ``namespace:config:name`` form every ``@pulumi/pulumi`` reads), and interrupts it when the engine cancels.

One difference, on purpose: upstream puts a proxy between the runner and the engine's resource monitor so that the
deprecated synchronous invokes (``--sync`` pipes) work; this host hands the runner the engine's monitor itself and
offers no synchronous invokes (``invokeSync`` fails with the runner's own error). Programs using the resources of
this package never need them.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
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
    output,
    package_schema,
    resource_package,
    run_program,
    serve,
    stream,
    tool,
)
from pulumi.runtime.proto import language_pb2

RUNNER = "@pulumi/pulumi/cmd/run"
OTHER_LOCK_FILES = {"yarn.lock": "yarn", "pnpm-lock.yaml": "pnpm", "bun.lockb": "bun", "bun.lock": "bun"}


@dataclass(frozen=True)
class NodeProject:
    """One program's folder and its ``runtime.options``, checked."""

    directory: Path
    typescript: bool
    tsconfig: str
    node_arguments: list[str]

    @classmethod
    def of(cls, info: Any) -> NodeProject:
        options = options_of(info)
        directory = Path(info.program_directory or info.root_directory or os.getcwd())
        manager = str(options.get("packagemanager") or "auto")
        if manager == "auto":
            manager = next((m for lock, m in OTHER_LOCK_FILES.items() if (directory / lock).exists()), "npm")
        if manager != "npm":
            raise ValueError(f"runtime.options.packagemanager {manager!r} is not supported by this stand-in (npm only)")
        typescript = options.get("typescript", True)
        if not isinstance(typescript, bool):
            raise ValueError(f"runtime.options.typescript must be a boolean, not {typescript!r}")
        return cls(
            directory=directory,
            typescript=typescript,
            tsconfig=str(options.get("tsconfig") or ""),
            node_arguments=shlex.split(str(options.get("nodeargs") or "")),
        )

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.typescript:
            env["PULUMI_NODEJS_TYPESCRIPT"] = "true"
        if self.tsconfig:
            env["PULUMI_NODEJS_TSCONFIG_PATH"] = self.tsconfig
        return env

    def runner(self, node: str) -> str:
        """The runner's path, resolved by node from the program's folder, or a message saying what to run."""
        script = (
            f"try {{ console.log(require.resolve({json.dumps(RUNNER)})); }} catch (e) {{ "
            "console.error(e.code === 'MODULE_NOT_FOUND' ? "
            "'It looks like the Pulumi SDK has not been installed. Have you run pulumi install?' : e.message); "
            "process.exit(1); }"
        )
        found = subprocess.run([node, "-e", script], cwd=self.directory, capture_output=True, text=True, check=False)
        if found.returncode != 0:
            raise LookupError(found.stderr.strip())
        return found.stdout.strip()


def required_packages(directory: Path) -> list[Any]:
    """Every resource plugin that a package under ``directory``'s node_modules declares."""
    found = []
    for manifest in package_manifests(directory):
        try:
            package = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(package, dict):
            continue
        name, version = official_name(str(package.get("name", ""))), str(package.get("version") or "")
        plugin = resource_package(package.get("pulumi"), name, version)
        if plugin is not None:
            found.append(plugin)
    return found


def official_name(package_name: str) -> str:
    """The plugin of a ``@pulumi/x`` package is ``x``; any other package must name its plugin (``pulumi.name``)."""
    return package_name.removeprefix("@pulumi/") if package_name.startswith("@pulumi/") else ""


def package_manifests(directory: Path, in_node_modules: bool = False, seen: set[str] | None = None) -> Iterator[Path]:
    """``package.json`` of every folder inside a ``node_modules``, as upstream walks the program's folder: entries
    in name order, links followed, each real folder once. A linked SDK (``sdks/`` of ``pulumi package add``) is thus
    read through ``node_modules`` before ``sdks``, with the ``package.json`` its build copies into ``bin/``, so
    upstream and this host both list its plugin twice in ``pulumi about``."""
    seen = set() if seen is None else seen
    real = os.path.realpath(directory)
    if real in seen:
        return
    seen.add(real)
    below_node_modules = in_node_modules or directory.name == "node_modules"
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        path = Path(os.path.realpath(entry.path)) if entry.is_symlink() else Path(entry.path)
        if path.is_dir():
            yield from package_manifests(path, below_node_modules, seen)
        elif in_node_modules and entry.name == "package.json" and path.is_file():
            yield path


def locked_dependencies(directory: Path, transitive: bool) -> list[tuple[str, str]]:
    """(name, version) of the installed packages ``package-lock.json`` records: direct ones, or all."""
    lock_file = directory / "package-lock.json"
    if not lock_file.exists():
        return []
    packages: dict[str, Any] = json.loads(lock_file.read_text()).get("packages", {})
    direct = set(packages.get("", {}).get("dependencies", {})) | set(packages.get("", {}).get("devDependencies", {}))
    listed = []
    for key, entry in packages.items():
        if not key.startswith("node_modules/"):
            continue
        name = key.rsplit("node_modules/", 1)[1]
        if transitive or (name in direct and key == f"node_modules/{name}"):
            listed.append((name, str(entry.get("version", ""))))
    return sorted(listed)


class NodeLanguageHost(StandInHost):
    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        project = NodeProject.of(request.info)
        return language_pb2.GetRequiredPackagesResponse(packages=required_packages(project.directory))

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        project = NodeProject.of(request.info)
        command = [tool("npm"), "install", "--loglevel=error"]
        yield from install_responses(stream(command, str(project.directory), os.environ))

    def About(self, request: Any, context: Any) -> Any:
        directory = NodeProject.of(request.info).directory if request.HasField("info") else Path.cwd()
        node = tool("node")
        metadata = {"packagemanager": "npm", "packagemanagerVersion": output([tool("npm"), "--version"], directory)}
        typescript = output([node, "-e", "console.log(require('typescript/package.json').version)"], directory)
        if typescript:
            metadata["typescriptVersion"] = typescript
        return language_pb2.AboutResponse(
            executable=node, version=output([node, "--version"], directory), metadata=metadata
        )

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        project = NodeProject.of(request.info)
        listed = locked_dependencies(project.directory, request.transitiveDependencies)
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[language_pb2.DependencyInfo(name=name, version=version) for name, version in listed]
        )

    def GeneratePackage(self, request: Any, context: Any) -> Any:
        return generate_package(request, "nodejs", local=request.local)

    def Link(self, request: Any, context: Any) -> Any:
        project = NodeProject.of(request.info)
        typescript = project.typescript or bool(project.tsconfig) or (project.directory / "tsconfig.json").exists()
        imports = []
        for dependency in request.packages:
            schema = package_schema(request.loader_target, dependency)
            name = str(language_info(schema, "nodejs").get("packageName") or f"@pulumi/{schema['name']}")
            link_package(project.directory, name, dependency.path)
            alias = camel(str(schema["name"]))
            imports.append(
                f'  import * as {alias} from "{name}";\n' if typescript else f'  const {alias} = require("{name}");\n'
            )
        language = "TypeScript" if typescript else "JavaScript"
        instructions = f"You can import the SDK in your {language} code with:\n\n" + "".join(imports)
        return language_pb2.LinkResponse(import_instructions=instructions)

    def Run(self, request: Any, context: Any) -> Any:
        try:
            project = NodeProject.of(request.info)
            node = tool("node")
            runner = project.runner(node)
        except (ValueError, LookupError) as error:
            return language_pb2.RunResponse(error=str(error))
        env = {**project.environment(), **config_environment(request, keys=legacy_key)}
        command = [node, *project.node_arguments, runner, *self.arguments(request)]
        return run_program(command, env, context, cwd=str(project.directory))

    def arguments(self, request: Any) -> list[str]:
        flags = {
            "monitor": request.monitor_address,
            "engine": self.engine_address,
            "organization": request.organization,
            "project": request.project,
            "root-directory": request.info.root_directory,
            "stack": request.stack,
            "pwd": request.info.program_directory or request.pwd,
        }
        dry_run = ["--dry-run"] if request.dryRun else []
        parallel = flag_arguments({"parallel": str(request.parallel)})
        return [*flag_arguments(flags), *dry_run, *parallel, request.info.entry_point or ".", *request.args]


def link_package(directory: Path, name: str, path: str) -> None:
    """The SDK as a ``file:`` dependency of the program, its install scripts allowed, as upstream's npm links it."""
    npm = tool("npm")
    subprocess.run([npm, "pkg", "set", f"dependencies[{name}]=file:{path}"], cwd=directory, check=True)
    printed = output([npm, "pkg", "get", "allowScripts"], directory)
    try:
        allowed = json.loads(printed) if printed and printed != "undefined" else {}
    except ValueError:
        allowed = {}
    allowed = allowed if isinstance(allowed, dict) else {}
    allowed[f"file:{path}"] = True
    subprocess.run([npm, "pkg", "set", "--json", f"allowScripts={json.dumps(allowed)}"], cwd=directory, check=True)


def camel(name: str) -> str:
    """``azure-elastic-jobs`` as ``azureElasticJobs``: the import alias upstream suggests."""
    first, *rest = name.replace("_", "-").split("-")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def legacy_key(key: str) -> str:
    """``namespace:name`` as ``namespace:config:name``: the form every ``@pulumi/pulumi`` version reads."""
    namespace, _, name = key.partition(":")
    return f"{namespace}:config:{name}" if name and not name.startswith("config:") else key


def main() -> None:
    serve(NodeLanguageHost(engine_address_of(sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
