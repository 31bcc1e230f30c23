"""The real Pulumi CLI (built by scripts/build-pulumi-cli.sh) against the session's emulator.

Every test here is skipped, with the reason, when the CLI is not built: the reason carries the build's own
error from .tools/build-error.log when there is one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pulumi_azure_elastic_jobs.emulator import DEFAULT_SUBSCRIPTION, Emulator
from tests.conftest import ROOT

TOOLS_BIN = ROOT / ".tools" / "bin"


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
        finished = subprocess.run(
            [self.cli, *args, "--stack", self.name, "--non-interactive"],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and finished.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed:\n{finished.stdout}\n{finished.stderr}")
        return finished

    def config(self, key: str, value: str, secret: bool = False) -> None:
        self.run("config", "set", key, value, *(["--secret"] if secret else []))

    def outputs(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.cli, *args, "--stack", self.name, "--non-interactive"],
            cwd=self.directory,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture
def stack_for(pulumi_cli: str, emulator: Emulator, tmp_path: Path) -> Iterator[Any]:
    created: list[Stack] = []

    def make(example: str) -> Stack:
        env = {
            **os.environ,
            "PATH": f"{TOOLS_BIN}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
            "PULUMI_BACKEND_URL": f"file://{tmp_path}",
            "PULUMI_CONFIG_PASSPHRASE": "cli-tests",
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "PULUMI_HOME": str(tmp_path / ".pulumi-home"),
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        directory = Path(example) if Path(example).is_absolute() else ROOT / "examples" / example
        stack = Stack(pulumi_cli, directory, env, f"cli-{uuid.uuid4().hex[:8]}")
        subprocess.run(
            [pulumi_cli, "stack", "init", stack.name, "--non-interactive"],
            cwd=stack.directory,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        stack.config("azure-elastic-jobs:endpoint", emulator.url)
        stack.config("azure-elastic-jobs:token", emulator.token, secret=True)
        stack.config("azure-elastic-jobs:subscriptionId", DEFAULT_SUBSCRIPTION)
        created.append(stack)
        return stack

    yield make
    for stack in created:
        stack.run("destroy", "--yes", check=False)
        stack.run("stack", "rm", "--yes", "--force", check=False)
