"""The real Pulumi CLI (built by scripts/build-pulumi-cli.sh) against the session's emulator.

Every test here is skipped, with the reason, when the CLI is not built: the reason carries the build's own
error from .tools/build-error.log when there is one.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from tests.cli.yaml_support import copy_project, find_yaml_language_host, install_native_plugin
from tests.conftest import ROOT

# Where scripts/build-pulumi-cli.sh puts the CLI; point ELASTIC_JOBS_PULUMI_BIN at another folder (for example one
# with the upstream language host built from the pulumi/pulumi sources) to run these tests against it.
TOOLS_BIN = Path(os.environ.get("ELASTIC_JOBS_PULUMI_BIN") or ROOT / ".tools" / "bin")


def find_cli() -> str | None:
    local = TOOLS_BIN / "pulumi"
    if local.exists() and (TOOLS_BIN / "pulumi-language-python").exists():
        return str(local)
    return shutil.which("pulumi")


@pytest.fixture(scope="session")
def pulumi_cli() -> str:
    cli = find_cli()
    if cli is None:
        error_log = ROOT / ".tools" / "build-error.log"
        detail = error_log.read_text()[-1500:] if error_log.exists() else "it was never built"
        pytest.skip(f"the Pulumi CLI is not available (run bash scripts/build-pulumi-cli.sh): {detail}")
    return cli


@dataclass
class Stack:
    """One stack of one example, with a local file backend and update checks off."""

    cli: str
    directory: Path
    env: dict[str, str]
    name: str

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        finished = run_in_own_group([self.cli, *args, "--stack", self.name, "--non-interactive"], self, timeout)
        if check and finished.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed:\n{finished.stdout}\n{finished.stderr}")
        return finished

    def run_plain(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """A command that takes no --stack (stack init, install, about)."""
        finished = run_in_own_group([self.cli, *args, "--non-interactive"], self, timeout)
        if finished.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed:\n{finished.stdout}\n{finished.stderr}")
        return finished

    def config(self, key: str, value: str, secret: bool = False) -> None:
        self.run("config", "set", key, value, *(["--secret"] if secret else []))

    def outputs(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """The CLI running in the background; `kill_everything_of` ends it with everything it started."""
        return self.spawn([self.cli, *args, "--stack", self.name, "--non-interactive"], subprocess.STDOUT)

    def spawn(self, command: list[str], stderr: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            command,
            cwd=self.directory,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )


MARKER = "ELASTIC_JOBS_CLI_TEST"  # in the environment of the CLI and of every process it starts


def run_in_own_group(command: list[str], stack: Stack, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the CLI, then end whatever it started and left behind: no plugin outlives a command."""
    process = stack.spawn(command, subprocess.PIPE)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        kill_everything_of(stack)
        process.wait()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def processes_of(stack: Stack) -> dict[int, str]:
    return processes_marked(stack.env[MARKER])


def processes_marked(marker: str) -> dict[int, str]:
    """Live processes started with this marker in their environment (Linux /proc).

    The engine starts its plugins in process groups of their own, so a killed CLI's group does not hold them;
    the environment they inherit does."""
    tag = f"{MARKER}={marker}".encode()
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z" and tag in (proc / "environ").read_bytes().split(b"\0"):
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return found


def kill_everything_of(stack: Stack) -> None:
    kill_everything_marked(stack.env[MARKER])


def kill_everything_marked(marker: str) -> None:
    for _ in range(50):
        alive = processes_marked(marker)
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    raise AssertionError(f"processes survive SIGKILL: {processes_marked(marker)}")


class _RecordDownloads(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.requested.append(self.path)  # type: ignore[attr-defined]
        self.send_error(404, "no plugin downloads in the CLI tests")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class PluginDownloads:
    """Every plugin download the CLI attempts, sent here instead of the internet (and answered 404).

    The engine retries a missing plugin's download without a word on the screen, so the tests count them."""

    url: str
    requested: list[str]


@pytest.fixture(scope="session")
def plugin_downloads() -> Iterator[PluginDownloads]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordDownloads)
    server.requested = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield PluginDownloads(f"http://127.0.0.1:{server.server_address[1]}/plugins", server.requested)  # type: ignore[attr-defined]
    server.shutdown()


@pytest.fixture
def stack_for(pulumi_cli: str, emulator: Emulator, tmp_path: Path, plugin_downloads: PluginDownloads) -> Iterator[Any]:
    created: list[Stack] = []
    downloads_before = len(plugin_downloads.requested)

    def make(example: str) -> Stack:
        env = {
            **os.environ,
            "PATH": f"{TOOLS_BIN}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
            "PULUMI_BACKEND_URL": f"file://{tmp_path}",
            "PULUMI_CONFIG_PASSPHRASE": "cli-tests",
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "PULUMI_HOME": str(tmp_path / ".pulumi-home"),
            MARKER: uuid.uuid4().hex,
            "PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES": f".*={plugin_downloads.url}",
        }
        directory = Path(example) if Path(example).is_absolute() else ROOT / example
        stack = Stack(pulumi_cli, directory, env, f"cli-{uuid.uuid4().hex[:8]}")
        stack.run_plain("stack", "init", stack.name)
        stack.config("azure-elastic-jobs:endpoint", emulator.url)
        stack.config("azure-elastic-jobs:token", emulator.token, secret=True)
        stack.config("azure-elastic-jobs:subscriptionId", DEFAULT_SUBSCRIPTION)
        created.append(stack)
        return stack

    yield make
    for stack in created:
        stack.run("destroy", "--yes", check=False)
        stack.run("stack", "rm", "--yes", "--force", check=False)
        kill_everything_of(stack)
    attempted = plugin_downloads.requested[downloads_before:]
    assert attempted == [], f"the CLI tried to download plugins: {attempted}"


@pytest.fixture(scope="session")
def yaml_language_host(pulumi_cli: str) -> str:
    host = find_yaml_language_host(TOOLS_BIN)
    if host is None:
        error_log = ROOT / ".tools" / "build-error.log"
        detail = error_log.read_text()[-1500:] if error_log.exists() else "it was never built"
        pytest.skip(f"pulumi-language-yaml is not available (run bash scripts/build-pulumi-cli.sh): {detail}")
    return host


YamlStackFor = Callable[..., Stack]


@pytest.fixture
def yaml_stack_for(stack_for: Any, yaml_language_host: str, tmp_path: Path) -> YamlStackFor:
    """`make(folder, provider_command=None)`: a stack of a copy of a YAML program, configured for the emulator
    like every CLI test's stack, with the native plugin installed in its plugin cache (the real provider server,
    or `provider_command`). Destroyed at the end; any plugin download attempt fails the test."""

    def make(example: str | Path, provider_command: Sequence[str] | None = None) -> Stack:
        stack: Stack = stack_for(copy_project(example, tmp_path))
        install_native_plugin(stack.cli, stack.env, provider_command)
        return stack

    return make
