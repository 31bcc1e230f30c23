"""The PR-preview workflow a user copies: linted by actionlint, and its emulator job run here step by step (the
repository's plan-comment action among them, with a stand-in `gh`).

The job runs in a copy of the quickstart laid out as a user's infrastructure repository (Pulumi.yaml with
``virtualenv: .venv``, requirements.txt naming this repository as the package source). Its ``run`` steps run in
bash as GitHub runs them; ``actions/checkout`` and ``actions/setup-python`` are the prepared folder and the
machine's python3; ``pulumi/actions`` is the commands that action runs with the real CLI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.action_support import REMOTE_ACTION, gh_stand_in, run_action
from tests.cli.conftest import MARKER, TOOLS_BIN, kill_everything_marked
from tests.conftest import ROOT

WORKFLOW = ROOT / "examples" / "github-actions" / "preview.yml"


def test_workflow_passes_actionlint() -> None:
    actionlint = TOOLS_BIN / "actionlint"
    if not actionlint.exists():
        pytest.skip("actionlint is not built (bash scripts/build-pulumi-cli.sh builds it from the Go module proxy)")
    linted = subprocess.run([str(actionlint), str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def user_repository(into: Path) -> Path:
    """The quickstart as a user's own repository that gets the provider from this one."""
    shutil.copytree(ROOT / "examples" / "quickstart", into, ignore=shutil.ignore_patterns(".venv", "Pulumi.*.yaml"))
    project = (into / "Pulumi.yaml").read_text().replace("../../.venv", ".venv")
    (into / "Pulumi.yaml").write_text(project)
    shutil.copy2(ROOT / "examples" / "seed.yaml", into / "seed.yaml")  # the fleet the emulator job starts with
    (into / "requirements.txt").write_text(
        f"pulumi-azure-elastic-jobs[emulator] @ {ROOT.as_uri()}\n"
        f"elastic-jobs-emulator @ {(ROOT / 'emulator').as_uri()}\n"
    )
    return into


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def emulator_job(runner_temp: Path) -> dict[str, Any]:
    """The workflow's emulator job, with a free port for the emulator and this run's runner.temp."""
    text = WORKFLOW.read_text().replace("8080", str(free_port()))
    text = text.replace("${{ runner.temp }}", str(runner_temp))
    job: dict[str, Any] = yaml.safe_load(text)["jobs"]["preview-emulator"]
    leftover = re.findall(r"\$\{\{[^}]*\}\}", yaml.safe_dump(job))
    assert leftover == [], f"expressions this local run does not know: {leftover}"
    return job


def action_commands(step: dict[str, Any]) -> list[list[str]]:
    """What pulumi/actions runs for a preview step."""
    inputs = step["with"]
    stack = inputs["stack-name"]
    commands = [["login", inputs["cloud-url"]]] if inputs.get("cloud-url") else []
    if inputs.get("upsert"):
        commands.append(["stack", "select", stack, "--create"])
    assert inputs["command"] == "preview"
    commands.append(["preview", "--stack", stack, *(["--diff"] if inputs.get("diff") else [])])
    return commands


def run_step(command: list[str], workspace: Path, env: dict[str, str]) -> str:
    finished = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert finished.returncode == 0, f"{command} failed:\n{finished.stdout}\n{finished.stderr}"
    return finished.stdout


def test_emulator_job_runs_as_written(pulumi_cli: str, tmp_path: Path) -> None:
    workspace = user_repository(tmp_path / "repository")
    job = emulator_job(tmp_path / "runner-temp")
    (tmp_path / "runner-temp").mkdir()
    marker = uuid.uuid4().hex
    env = {
        **os.environ,
        **{key: str(value) for key, value in job["env"].items()},
        "PATH": f"{TOOLS_BIN}:{os.environ['PATH']}",
        "PULUMI_HOME": str(tmp_path / ".pulumi-home"),
        "PULUMI_SKIP_UPDATE_CHECK": "1",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
        MARKER: marker,
    }
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{gh_stand_in(tmp_path / 'gh')}:{env['PATH']}"
    env["GH_STAND_IN_STORE"] = str(tmp_path / "comments.json")
    previews = []
    try:
        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses.startswith(("actions/checkout@", "actions/setup-python@")):
                continue
            if uses.startswith("pulumi/actions@"):
                for args in action_commands(step):
                    previews.append(run_step([pulumi_cli, *args, "--non-interactive"], workspace, env))
                continue
            if uses == REMOTE_ACTION:  # this repository's composite action, its steps run here as a runner would
                run_action({**step["with"], "pull-request": "7"}, workspace, env, tmp_path)
                continue
            assert not uses, f"a step this local run does not know: {uses}"
            run_step(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], workspace, env)
    finally:
        kill_everything_marked(marker)
    assert "+ pulumi-python:dynamic/azure-elastic-jobs:JobExecution: (create)" in previews[-1]
    assert "+ 2 to create" in previews[-1]
    (comment,) = json.loads((tmp_path / "comments.json").read_text())  # the plans as the PR's second comment
    plans = comment["body"]
    assert plans.startswith("<!-- elastic-jobs-plan-comment stack=dev -->\n## Job runs this change would start")
    assert "### nightly-migration" in plans, plans
    assert "will run nightly-migration v1: 1 step on 2 databases in 1 server" in plans, plans
    assert plans.split("\n", 1)[1] in (tmp_path / "step-summary.md").read_text()
