"""8c and 8d: how long the native plugin takes to start when Pulumi's own commands installed it, against the
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

import json
import shutil
import statistics
import subprocess
import sys
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


def startup_figures(runs: int, tmp: Path) -> list[Figure]:
    """8c (start-up alone) and 8d (a no-change ``up`` of a one-resource YAML program), each the median of
    ``runs`` interleaved runs of both ways."""
    folder = plugin_folder(tmp)
    launcher = [str(ROOT / ".venv" / "bin" / "elastic-jobs-provider"), ENGINE]
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(through_the_host(folder / "venv" / "bin" / "python"))
        theirs.append(seconds_to_port(launcher))
    figures = [
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
    ]
    if CLI.exists() and YAML_HOST.exists():
        figures.append(no_change_up(folder, runs, tmp))
    else:
        print("8d. skipped: the Pulumi CLI or pulumi-language-yaml is not built (bash scripts/build-pulumi-cli.sh)")
    return figures


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
