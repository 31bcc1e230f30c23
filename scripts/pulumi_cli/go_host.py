"""A stand-in for the upstream Go language host (``pulumi-language-go``), written for this project.

The Go module of the upstream host (``github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3``) is not served by
the Go module proxy we can reach, so ``scripts/build-pulumi-cli.sh`` installs this one. A Go program is its own
runner: the Pulumi Go SDK inside it reads the engine's addresses, the stack and the configuration from its
environment (``PULUMI_MONITOR``, ``PULUMI_ENGINE``, ``PULUMI_CONFIG``, …). Around that, this host does what
upstream does:

- ``runtime.options``: ``binary`` (run that prebuilt program instead of compiling) or ``buildTarget`` (where to
  keep the compiled program), not both; any other value type is refused, naming the option;
- ``pulumi install`` runs ``go mod tidy -compat=1.18`` in the program's folder;
- required packages come from the modules the program's ``go.mod`` requires (``go list -m -json``, replaced
  modules at their local folder): each that holds a ``pulumi-plugin.json`` saying ``"resource": true`` (in its
  root, ``go/``, ``go/*/`` or ``*/``), named by it or by the module path (``github.com/pulumi/pulumi-aws/sdk``
  is ``aws``), at its version or the module's;
- ``Run`` compiles with ``go build -buildvcs=false -trimpath -ldflags "-w -s"`` into a temporary file (removed
  after), runs it in the engine's working folder, and interrupts it when the engine cancels;
- ``GeneratePackage`` writes the Go SDK with Pulumi's generator (extra files refused, as upstream refuses
  overlays for Go); ``Link`` adds ``replace <module> => ./<path>`` to ``go.mod`` for each SDK, the module being the
  folder of the schema's ``importBasePath`` (``pulumi package add`` then runs ``go mod tidy``, which adds the
  requirement once the program imports it);
- ``pulumi about`` names ``go version`` and lists ``go.mod``'s requirements (replaced ones without a version).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostkit import (
    StandInHost,
    config_environment,
    engine_address_of,
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

PLUGIN_JSON_PLACES = ("pulumi-plugin.json", "go/pulumi-plugin.json", "go/*/pulumi-plugin.json", "*/pulumi-plugin.json")


@dataclass(frozen=True)
class GoProject:
    """One program's folder and its ``runtime.options``, checked."""

    directory: Path
    binary: str
    build_target: str

    @classmethod
    def of(cls, info: Any) -> GoProject:
        options = options_of(info)
        for name in ("binary", "buildTarget"):
            if not isinstance(options.get(name, ""), str):
                raise ValueError(f"runtime.options.{name} must be a string, not {options[name]!r}")
        binary, build_target = str(options.get("binary") or ""), str(options.get("buildTarget") or "")
        if binary and build_target:
            raise ValueError("runtime.options.binary and runtime.options.buildTarget cannot both be set")
        return cls(Path(info.program_directory or info.root_directory or os.getcwd()), binary, build_target)

    def go_mod(self) -> dict[str, Any]:
        """``go.mod`` as ``go mod edit -json`` reads it (an empty module if there is none)."""
        printed = output([tool("go"), "mod", "edit", "-json"], self.directory)
        parsed: dict[str, Any] = json.loads(printed) if printed else {}
        return parsed

    def modules(self, paths: list[str]) -> list[dict[str, Any]]:
        """``go list -m -json`` of ``paths``: each module's path, version and folder (local when replaced)."""
        if not paths:
            return []
        env = {**os.environ, "GOFLAGS": "-mod=mod"}
        done = subprocess.run(
            [tool("go"), "list", "-m", "-json", *paths],
            cwd=self.directory,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        return list(json_stream(done.stdout)) if done.returncode == 0 else []

    def compile(self) -> Path:
        """The program, compiled as upstream compiles it; raises with go's own message when it does not build."""
        target = Path(self.build_target) if self.build_target else temporary_file()
        command = [tool("go"), "build", "-buildvcs=false", "-o", str(target), "-trimpath", "-ldflags", "-w -s"]
        built = subprocess.run(command, cwd=self.directory, capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise RuntimeError(f"error in compiling Go: unable to run `go build`: {built.stderr.strip()}")
        return target


def temporary_file() -> Path:
    """A new empty file for the compiled program (its descriptor closed: go build writes it by name)."""
    descriptor, name = tempfile.mkstemp(prefix="pulumi-go.")
    os.close(descriptor)
    return Path(name)


def json_stream(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects ``go list -json`` prints one after another."""
    decoder, index = json.JSONDecoder(), 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            return
        value, index = decoder.raw_decode(text, index)
        yield value


def plugin_of(module: dict[str, Any]) -> Any | None:
    """The resource plugin a module declares in a ``pulumi-plugin.json``, as a PackageDependency, or None."""
    folder = module.get("Dir") or (module.get("Replace") or {}).get("Dir")
    if not folder:
        return None
    found = next((p for place in PLUGIN_JSON_PLACES for p in sorted(Path(folder).glob(place))), None)
    if found is None:
        return None
    try:
        plugin = json.loads(found.read_text())
    except (OSError, ValueError):
        return None
    module_version = str(module.get("Version") or "")
    return resource_package(plugin, name_from_path(str(module.get("Path", ""))), module_version, v_prefix=False)


def name_from_path(path: str) -> str:
    """``github.com/pulumi/pulumi-aws/sdk/...`` names the plugin ``aws``: the third part, after its first dash."""
    parts = path.split("/")
    return parts[2].split("-", 1)[1] if len(parts) > 2 and "-" in parts[2] else ""


class GoLanguageHost(StandInHost):
    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        project = GoProject.of(request.info)
        required = [r["Path"] for r in project.go_mod().get("Require") or []]
        packages = [p for p in map(plugin_of, project.modules(required)) if p is not None]
        return language_pb2.GetRequiredPackagesResponse(packages=packages)

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        project = GoProject.of(request.info)
        command = [tool("go"), "mod", "tidy", "-compat=1.18"]
        yield from install_responses(stream(command, str(project.directory), os.environ))

    def About(self, request: Any, context: Any) -> Any:
        go = tool("go")
        return language_pb2.AboutResponse(executable=go, version=output([go, "version"], Path.cwd()))

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        go_mod = GoProject.of(request.info).go_mod()
        replaced = {r["Old"]["Path"].rstrip("/") for r in go_mod.get("Replace") or []}
        listed = [
            language_pb2.DependencyInfo(
                name=r["Path"], version="" if r["Path"].rstrip("/") in replaced else r.get("Version", "")
            )
            for r in go_mod.get("Require") or []
            if request.transitiveDependencies or not r.get("Indirect")
        ]
        return language_pb2.GetProgramDependenciesResponse(dependencies=listed)

    def GeneratePackage(self, request: Any, context: Any) -> Any:
        if request.extra_files:
            raise ValueError("overlays are not supported for Go")
        return generate_package(request, "go")

    def Link(self, request: Any, context: Any) -> Any:
        directory = Path(request.info.program_directory)
        imports = []
        for dependency in request.packages:
            schema = package_schema(request.loader_target, dependency)
            import_path = str(language_info(schema, "go").get("importBasePath") or "")
            module = str(language_info(schema, "go").get("modulePath") or os.path.dirname(import_path))
            if not module:
                raise ValueError(f"the schema of {schema['name']} names no Go module (language.go.importBasePath)")
            path = dependency.path if dependency.path.startswith("./") else f"./{dependency.path}"
            subprocess.run([tool("go"), "mod", "edit", f"-replace={module}={path}"], cwd=directory, check=True)
            imports.append(f'    "{import_path}"\n')
        instructions = "You can import the SDK in your Go code with:\n\n  import (\n" + "".join(imports) + "  )\n"
        return language_pb2.LinkResponse(import_instructions=instructions)

    def Run(self, request: Any, context: Any) -> Any:
        try:
            project = GoProject.of(request.info)
            program = Path(tool(project.binary)) if project.binary else project.compile()
        except (ValueError, LookupError, RuntimeError) as error:
            return language_pb2.RunResponse(error=str(error))
        try:
            env = {**os.environ, **config_environment(request), **self.environment(request)}
            return run_program([str(program)], env, context, cwd=request.pwd or str(project.directory))
        finally:
            if not project.binary and not project.build_target:
                program.unlink(missing_ok=True)

    def environment(self, request: Any) -> dict[str, str]:
        values = {
            "PULUMI_ORGANIZATION": request.organization,
            "PULUMI_PROJECT": request.project,
            "PULUMI_ROOT_DIRECTORY": request.info.root_directory,
            "PULUMI_STACK": request.stack,
            "PULUMI_DRY_RUN": "true" if request.dryRun else "false",
            "PULUMI_PARALLEL": str(request.parallel),
            "PULUMI_MONITOR": request.monitor_address,
            "PULUMI_ENGINE": self.engine_address,
        }
        return {key: value for key, value in values.items() if value}


def main() -> None:
    serve(GoLanguageHost(engine_address_of(sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
