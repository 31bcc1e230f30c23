"""YAML from the docs, as a new user copies it: a fresh clone of this repository, the install command and the
program of docs/installation-configuration.md ("YAML"), then the page's emulator block ("Using the local
emulator": the emulator installed beside the plugin, started, the stack's config and `pulumi up`), run as written in
a folder outside the repository with the real CLI; then a second `up` changes nothing. Only `/path/to/clone` and
the emulator's port are replaced."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import MARKER, Stack, kill_everything_marked
from tests.conftest import ROOT

PAGE = ROOT / "docs" / "installation-configuration.md"


def block_after(marker: str, language: str, text: str) -> str:
    """The first fenced block of ``language`` after the HTML comment that starts with ``marker``."""
    start = text.index(f"<!-- {marker}")
    found = re.search(rf"```{language}\n(.*?)```", text[start:], re.S)
    assert found, f"no {language} block after <!-- {marker} in {PAGE.name}"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{script}\nexited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.mark.timeout(900)  # the plugin's virtualenv from scratch, as a new user's is: a minute or two on two cores
def test_a_fresh_clone_and_a_yaml_program_install_and_deploy_as_the_docs_say(
    stack_for: Any, yaml_language_host: str, tmp_path: Path
) -> None:
    page = PAGE.read_text()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    program = tmp_path / "nightly"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(
        block_after("yaml-install", "yaml", page).replace("/path/to/clone", str(clone))
    )
    stack: Stack = stack_for(program)
    env = {**stack.env, "PULUMI_SKIP_CONFIRMATIONS": "true"}
    env.pop("VIRTUAL_ENV", None)
    try:
        started = time.monotonic()
        installed = bash(block_after("yaml-install", "bash", page).replace("/path/to/clone", str(clone)), program, env)
        assert "the plugin's virtualenv is ready" in installed, installed
        port = str(free_port())
        emulator_block = block_after("emulator", "bash", page).replace("/path/to/clone", str(clone))
        emulator_block = emulator_block.replace("8123", port).replace(" &\n", " > emulator.log 2>&1 &\nsleep 1\n", 1)
        emulator_block = emulator_block.replace(
            "sleep 1\n",
            'for _ in $(seq 100); do grep -q "listening on" emulator.log && break; sleep 0.2; done\n',
        )
        print(f"the plugin's virtualenv: {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        deployed = bash(emulator_block, program, env)
        print(f"the emulator installed and started, and up: {time.monotonic() - started:.0f} s")
        assert "azure-elastic-jobs:index:JobExecution" in deployed and "created" in deployed, deployed
        again = stack.run("up", "--yes")
        assert "1 unchanged" in again.stdout or "unchanged" in again.stdout, again.stdout
        warnings = [line for line in again.stdout.splitlines() if "warning" in line.lower()]
        # (a CLI whose own folder differs from the language hosts' warns about using the one on PATH: the test's
        # tools, not the program)
        assert [line for line in warnings if "pulumi-language-python from $PATH" not in line] == [], again.stdout
    finally:
        kill_everything_marked(env[MARKER])
    assert os.path.isdir(clone / "venv")
