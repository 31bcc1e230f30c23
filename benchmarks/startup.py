"""8c to 8f: how long the native plugin takes to start, against a launcher, and against the floor of a Python plugin.

8e and 8f hold the plugin to the floor of any Python plugin built on the same SDK framework
(``benchmarks/floor_plugin.py``: it answers ``GetSchema`` and ``Configure`` and does nothing else): from spawn to
its port (8e), and a no-change ``up`` of a one-resource YAML program (8f). ``python -m benchmarks.startup
--phases`` prints where the plugin's start-up goes, phase by phase (interpreter, gRPC, the SDK framework, this
package, the server, ``GetSchema``, ``Configure``).

8c and 8d: how long the native plugin takes to start when Pulumi's own commands installed it, against the
launcher ``elastic-jobs-install-plugin`` writes (the way before ``pulumi package add``).

Installed by ``pulumi package add <clone>`` (or ``pulumi plugin install --file <release tarball>``), the plugin is a
folder the Python language host runs: it first asks the plugin's virtualenv whether ``pulumi.run.plugin`` exists
(one ``python -c``), then starts ``python -m pulumi.run.plugin pulumi-azure-elastic-jobs <engine>``, which imports
the package to look for components before it runs the package's ``__main__``. The launcher starts the console
script ``elastic-jobs-provider`` directly. 8c times both from spawn to the port the engine reads; 8d is what a user
feels: a no-change ``pulumi up`` of the one-resource YAML program of 8b, with the plugin from a ``packages:`` entry
against the launcher in the plugin cache. Making start-up fast is not this figure's job; it says where it stands.
"""

from __future__ import annotations

import argparse
import compileall
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import (
    CLI,
    ROOT,
    SEED,
    YAML_HOST,
    Figure,
    _cli_env,
    _configured,
    _pulumi,
    _yaml_project,
    make_job,
)
from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient

FLOOR_PLUGIN = ROOT / "benchmarks" / "floor_plugin.py"
FLOOR_PACKAGE = "python-floor"
ENGINE = "127.0.0.1:1"  # the plugin only parses the engine's address before it serves; nothing connects to it
PLUGIN_FOLDER_FILES = ("PulumiPlugin.yaml", "pyproject.toml", "README.md", "provider")


def plugin_folder(into: Path) -> Path:
    """The plugin folder as ``pulumi package add`` leaves a clone: its files, and the virtualenv the Python host
    makes for it (``venv``, the folder installed into it)."""
    folder = into / "plugin"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *PLUGIN_FOLDER_FILES], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, folder / name)
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
    pip = [str(folder / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, str(folder)], check=True)
    return folder


def seconds_to_port(command: list[str]) -> float:
    """From spawning ``command`` to the first line it prints (the port the engine waits for); then it is ended."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        elapsed = time.perf_counter() - started
    finally:
        process.kill()
        process.wait()
    if not port.isdigit():
        raise RuntimeError(f"{command} printed {port!r}, not a port")
    return elapsed


def through_the_host(python: Path) -> float:
    """What the Python language host's RunPlugin spends before the engine has a port: its module check, then the
    plugin's start through ``pulumi.run.plugin``."""
    started = time.perf_counter()
    subprocess.run([str(python), "-c", "import pulumi.run.plugin"], check=True, capture_output=True)
    check = time.perf_counter() - started
    return check + seconds_to_port([str(python), "-m", "pulumi.run.plugin", "pulumi-azure-elastic-jobs", ENGINE])


def compile_bytecode() -> None:
    """Compile the package's bytecode as ``pip install`` does for a user: the checkout's plugin (an editable
    install) would otherwise compile every module at every start wherever ``PYTHONDONTWRITEBYTECODE`` is set (this
    machine sets it), a cost no installed plugin pays."""
    compileall.compile_dir(str(ROOT / "provider" / "pulumi_azure_elastic_jobs"), quiet=1)


def startup_figures(runs: int, tmp: Path) -> list[Figure]:
    """8c (start-up alone) and 8d (a no-change ``up`` of a one-resource YAML program), each the median of
    ``runs`` interleaved runs of both ways; 8e and 8f, the same against the floor plugin."""
    compile_bytecode()
    figures = [floor_start(runs)]
    folder = plugin_folder(tmp)
    launcher = [str(ROOT / ".venv" / "bin" / "elastic-jobs-provider"), ENGINE]
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(through_the_host(folder / "venv" / "bin" / "python"))
        theirs.append(seconds_to_port(launcher))
    figures.append(
        Figure(
            "8c. native plugin start-up to its port, run by the Python language host (pulumi package add)",
            statistics.median(ours),
            statistics.median(theirs),
            "s",
            None,
            None,
            f"N={runs}, interleaved; baseline: the launcher of elastic-jobs-install-plugin; the host's module check "
            "and python -m pulumi.run.plugin, against the console script",
        )
    )
    if CLI.exists() and YAML_HOST.exists():
        figures.append(no_change_up(folder, runs, tmp))
        figures.append(floor_up(runs, tmp / "floor"))
    else:
        print("8d, 8f: skipped: the Pulumi CLI or pulumi-language-yaml is not built (bash scripts/build-pulumi-cli.sh)")
    return figures


def floor_start(runs: int) -> Figure:
    """8e: spawn to port, the plugin as its launcher runs it against the floor plugin run the same way."""
    ours_command = [str(ROOT / ".venv" / "bin" / "elastic-jobs-provider"), ENGINE]
    floor_command = [str(ROOT / ".venv" / "bin" / "python"), str(FLOOR_PLUGIN), ENGINE]
    ours, floor = [], []
    for _ in range(runs):
        ours.append(seconds_to_port(ours_command))
        floor.append(seconds_to_port(floor_command))
    value, baseline = statistics.median(ours), statistics.median(floor)
    return Figure(
        "8e. native plugin start-up to its port, against the floor of a Python plugin",
        value,
        baseline,
        "s",
        "<= 1.2x the floor plugin",
        value <= 1.2 * baseline,
        f"N={runs}, interleaved; baseline: benchmarks/floor_plugin.py, the same SDK framework and server answering "
        "GetSchema and Configure only, from the same virtualenv; python -m benchmarks.startup --phases says where "
        "the time goes",
    )


def install_floor_plugin(env: dict[str, str]) -> None:
    """The floor plugin as resource plugin ``python-floor`` in the plugin cache of ``env``'s PULUMI_HOME."""
    with tempfile.TemporaryDirectory(prefix="floor-plugin-") as folder:
        executable = Path(folder) / f"pulumi-resource-{FLOOR_PACKAGE}"
        executable.write_text(f'#!/bin/sh\nexec {ROOT / ".venv" / "bin" / "python"} {FLOOR_PLUGIN} "$@"\n')
        executable.chmod(0o755)
        command = [str(CLI), "plugin", "install", "resource", FLOOR_PACKAGE, "0.1.0", "--file", folder, "--reinstall"]
        subprocess.run(command, env=env, check=True, capture_output=True)


def floor_up(runs: int, tmp: Path) -> Figure:
    """8f: a no-change ``up`` of 8b's one-resource YAML program against the same program of one resource of the
    floor plugin: what our plugin adds to a user's ``up`` beyond what any Python plugin costs."""
    from pulumi_azure_elastic_jobs.native.install import default_server, install_plugin

    env = _cli_env(tmp)
    install_plugin(str(CLI), [str(default_server())], env=env)
    install_floor_plugin(env)
    with (
        Emulator(seed=SEED, time_scale=100) as emulator,
        ElasticJobsClient(emulator.url, StaticToken(emulator.token)) as client,
    ):
        waited = {
            "resourceGroupName": "group1",
            "serverName": "server1",
            "jobAgentName": "agent1",
            "waitForCompletion": True,
            "pollInterval": 1,
            "jobName": make_job(client, "SELECT 1; -- emulator:duration=100").job_name,
        }
        ours_program = _yaml_project(tmp / "ours", "ours", {"migration": waited})
        floor_program = tmp / "floor"
        floor_program.mkdir(parents=True)
        program = {"name": "floor", "runtime": "yaml", "resources": {"thing": {"type": f"{FLOOR_PACKAGE}:index:Thing"}}}
        (floor_program / "Pulumi.yaml").write_text(json.dumps(program, indent=2))
        _configured(ours_program, env, emulator)
        _pulumi(floor_program, env, "stack", "init", "bench")
        for directory in (ours_program, floor_program):
            _pulumi(directory, env, "up", "--yes", "--skip-preview")
        ours, floor = [], []
        for _ in range(runs):
            ours.append(_pulumi(ours_program, env, "up", "--yes", "--skip-preview"))
            floor.append(_pulumi(floor_program, env, "up", "--yes", "--skip-preview"))
        for directory in (ours_program, floor_program):
            _pulumi(directory, env, "destroy", "--yes", "--skip-preview")
    value, baseline = statistics.median(ours), statistics.median(floor)
    return Figure(
        "8f. pulumi up (no change), the YAML program of 8b, against one resource of the floor plugin",
        value,
        baseline,
        "s",
        "<= 1.2x the floor plugin",
        value <= 1.2 * baseline,
        f"N={runs}, interleaved; baseline: a YAML program of one resource of benchmarks/floor_plugin.py (answers "
        "GetSchema and Configure, the SDK's own Check and Diff), its plugin from the plugin cache as ours",
    )


PHASES = """
import time
began = time.perf_counter()
import asyncio, json, sys
import grpc
grpc_loaded = time.perf_counter()
from pulumi.provider.experimental.provider import ConfigureRequest, GetSchemaRequest
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime.proto import provider_pb2_grpc
sdk_loaded = time.perf_counter()
from pulumi_azure_elastic_jobs.native.main import GRPC_OPTIONS, one_line_servicer
from pulumi_azure_elastic_jobs.native.provider import ElasticJobsProvider
ours_loaded = time.perf_counter()

async def serve():
    provider = ElasticJobsProvider("127.0.0.1:1")
    server = grpc.aio.server(options=GRPC_OPTIONS)
    servicer = one_line_servicer(ProviderServicer)([], "0", provider, engine_address="127.0.0.1:1")
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    server.add_insecure_port("127.0.0.1:0")
    await server.start()
    served = time.perf_counter()
    await provider.get_schema(GetSchemaRequest(version=0, subpackage_name="", subpackage_version=""))
    schema = time.perf_counter()
    await provider.configure(ConfigureRequest(variables={}, args={}, accept_secrets=True, accept_resources=True))
    configured = time.perf_counter()
    await server.stop(0)
    return served, schema, configured

served, schema, configured = asyncio.run(serve())
print(json.dumps({
    "gRPC": grpc_loaded - began, "the SDK framework": sdk_loaded - grpc_loaded,
    "this package": ours_loaded - sdk_loaded, "the server started": served - ours_loaded,
    "GetSchema": schema - served, "Configure": configured - schema,
}))
"""


def startup_phases(runs: int) -> dict[str, float]:
    """Median seconds of each phase of the plugin's start-up, each run in a fresh interpreter of the project's
    virtualenv, its bytecode compiled as an install's is; ``interpreter`` is from spawn to the first line."""
    compile_bytecode()
    python = str(ROOT / ".venv" / "bin" / "python")
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        phases = json.loads(subprocess.run([python, "-c", PHASES], capture_output=True, text=True, check=True).stdout)
        samples.append({"interpreter": _interpreter_seconds(python), **phases})
    return {name: statistics.median(sample[name] for sample in samples) for name in samples[0]}


def _interpreter_seconds(python: str) -> float:
    """From spawning the virtualenv's interpreter to its first line of code: startup, ``site`` and its ``.pth``."""
    spawned = time.time()
    out = subprocess.run([python, "-c", "import time; print(time.time())"], capture_output=True, text=True, check=True)
    return float(out.stdout) - spawned


def main() -> None:
    parser = argparse.ArgumentParser(description="the native plugin's start-up, phase by phase")
    parser.add_argument("--phases", action="store_true", help="print the median of each start-up phase")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not args.phases:
        parser.error("say --phases (the figures run with python -m benchmarks)")
    phases = startup_phases(args.runs)
    total = sum(phases.values())
    for name, seconds in phases.items():
        print(f"{name:20} {seconds * 1000:7.1f} ms  {seconds / total:6.1%}")
    print(f"{'in all':20} {total * 1000:7.1f} ms  (N={args.runs}, medians)")


if __name__ == "__main__":
    main()


def no_change_up(folder: Path, runs: int, tmp: Path) -> Figure:
    """8d: the 8b program with its plugin from ``packages:`` (the folder) against the launcher in the cache."""
    from pulumi_azure_elastic_jobs.native.install import default_server, install_plugin

    env = _cli_env(tmp / "cached")
    install_plugin(str(CLI), [str(default_server())], env=env)
    source_env = _cli_env(tmp / "source")
    with (
        Emulator(seed=SEED, time_scale=100) as emulator,
        ElasticJobsClient(emulator.url, StaticToken(emulator.token)) as client,
    ):
        waited = {
            "resourceGroupName": "group1",
            "serverName": "server1",
            "jobAgentName": "agent1",
            "waitForCompletion": True,
            "pollInterval": 1,
            "jobName": make_job(client, "SELECT 1; -- emulator:duration=100").job_name,
        }
        cached = _yaml_project(tmp / "startup-cached", "startup-cached", {"migration": waited})
        source = _yaml_project(tmp / "startup-source", "startup-source", {"migration": waited})
        project = json.loads((source / "Pulumi.yaml").read_text())  # written as JSON, which is YAML
        (source / "Pulumi.yaml").write_text(json.dumps({**project, "packages": {"azure-elastic-jobs": str(folder)}}))
        for directory, directory_env in ((cached, env), (source, source_env)):
            _configured(directory, directory_env, emulator)
            _pulumi(directory, directory_env, "up", "--yes", "--skip-preview")
        ours, theirs = [], []
        for _ in range(runs):
            ours.append(_pulumi(source, source_env, "up", "--yes", "--skip-preview"))
            theirs.append(_pulumi(cached, env, "up", "--yes", "--skip-preview"))
        for directory, directory_env in ((cached, env), (source, source_env)):
            _pulumi(directory, directory_env, "destroy", "--yes", "--skip-preview")
    return Figure(
        "8d. pulumi up (no change), the YAML program of 8b, its plugin from a packages: entry (pulumi package add)",
        statistics.median(ours),
        statistics.median(theirs),
        "s",
        None,
        None,
        f"N={runs}, interleaved; baseline: the same program, the plugin the launcher in the plugin cache",
    )
