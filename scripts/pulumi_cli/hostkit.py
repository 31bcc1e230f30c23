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
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2
from pulumi.runtime.proto.codegen import loader_pb2

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


def generate_package(request: Any, language: str, local: bool = False) -> Any:
    """GeneratePackage as the official hosts answer it: the language's SDK for ``request.schema``, written by
    Pulumi's own code generator (``scripts/sdkgen``, built at the CLI's version) into ``request.directory``, with
    the request's extra files over it. Raises with the generator's message when the schema does not bind."""
    sdkgen = os.environ.get("ELASTIC_JOBS_SDKGEN", "")
    if not sdkgen or not os.access(sdkgen, os.X_OK):
        raise LookupError("no code generator: ELASTIC_JOBS_SDKGEN must name the sdkgen build-pulumi-cli.sh builds")
    with tempfile.TemporaryDirectory(prefix="stand-in-schema-") as folder:
        schema = Path(folder) / "schema.json"
        schema.write_text(request.schema)
        command = [sdkgen, "-schema", str(schema), "-language", language, "-out", request.directory]
        done = subprocess.run([*command, *(["-local"] if local else [])], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"sdkgen failed with exit code {done.returncode}")
    for name, content in request.extra_files.items():
        target = Path(request.directory) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return language_pb2.GeneratePackageResponse()


def package_schema(loader_target: str, dependency: Any) -> dict[str, Any]:
    """The schema of a package ``Link`` is asked to link, from the engine's schema loader (as upstream reads it)."""
    descriptor = dependency.package
    request = loader_pb2.GetSchemaRequest(
        package=descriptor.name, version=descriptor.version, download_url=descriptor.server
    )
    with grpc.insecure_channel(loader_target) as channel:
        get_schema = channel.unary_unary(
            "/codegen.Loader/GetSchema",
            request_serializer=loader_pb2.GetSchemaRequest.SerializeToString,
            response_deserializer=loader_pb2.GetSchemaResponse.FromString,
        )
        schema: dict[str, Any] = json.loads(get_schema(request).schema)
    return schema


def language_info(schema: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A schema's ``language.<language>`` section (empty when it has none)."""
    info = (schema.get("language") or {}).get(language) or {}
    return dict(info) if isinstance(info, dict) else {}


def run_plugin_responses(command: Sequence[str], cwd: str, env: Mapping[str, str], context: Any) -> Iterator[Any]:
    """RunPlugin's stream: the plugin's stdout and stderr as they come (the engine reads the plugin's port from its
    first line), then its exit code. The plugin is ended when the engine drops the call, as upstream ends it."""
    plugin = subprocess.Popen(list(command), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    context.add_callback(lambda: plugin.poll() is None and plugin.kill())
    chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()
    readers = [
        threading.Thread(target=_pump, args=(name, pipe, chunks), daemon=True)
        for name, pipe in (("stdout", plugin.stdout), ("stderr", plugin.stderr))
    ]
    for reader in readers:
        reader.start()
    open_pipes = len(readers)
    while open_pipes:
        name, data = chunks.get()
        if not data:
            open_pipes -= 1
            continue
        yield language_pb2.RunPluginResponse(**{name: data})
    code = plugin.wait()
    if code != 0:  # upstream reports an exit code only when the plugin failed
        yield language_pb2.RunPluginResponse(exitcode=code)


def _pump(name: str, pipe: IO[bytes] | None, chunks: queue.Queue[tuple[str, bytes]]) -> None:
    """Copy one pipe into ``chunks`` as it is written, then an empty chunk for its end."""
    assert pipe is not None
    for data in iter(lambda: pipe.read1(65536), b""):  # type: ignore[attr-defined]
        chunks.put((name, data))
    chunks.put((name, b""))


def serve(host: StandInHost) -> None:
    """Serve ``host`` on a free loopback port, print the port for the engine, and stop at SIGINT."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))  # a RunPlugin holds one for the plugin's life
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    signal.signal(signal.SIGINT, lambda *_: server.stop(0))  # the engine stops its plugins with SIGINT
    server.wait_for_termination()
