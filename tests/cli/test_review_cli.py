"""Reviewing what a deployment will run, with the real CLI, as pull requests are written (issue 37).

The docs' chain (a migration, then a reindex) on one target group, with both job names constants as users write
them: every `JobExecution` over the same databases publishes its rows in one preview, and the engine must take
them all (a view's URN is its resource's type and the row's name, so rows named by their database alone collided:
`failed to verify snapshot: duplicate resource ...PlannedDatabase::server1/app-db-1`, in `preview` and `up`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.cli.conftest import Stack, YamlStackFor
from tests.cli.native_life import PLANNED_DATABASE, Chain, last_seq, mutating, new_chain, run_counts, runs_of
from tests.cli.test_sdk_examples_cli import TYPESCRIPT, installed_stack
from tests.cli.yaml_support import install_native_plugin, warnings_in
from tests.conftest import ROOT, new_job

DATABASES = ("app-db-1", "app-db-2")  # the seeded target group every job of new_chain runs on


def edited(path: Path, old: str, new: str) -> None:
    """``path`` with its one ``old`` replaced by ``new`` (the example as a user edits it; fails if it moved)."""
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer holds {old!r}"
    path.write_text(text.replace(old, new))


def planned_rows(preview_json: str) -> list[tuple[str, dict[str, Any]]]:
    """The plan's rows in `pulumi preview --json`: each view step's URN and its properties."""
    steps = json.loads(preview_json).get("steps", [])
    return [
        (step["urn"], step["newState"].get("outputs") or step["newState"].get("inputs") or {})
        for step in steps
        if step.get("newState", {}).get("type") == PLANNED_DATABASE
    ]


def the_chain_previews_and_deploys_a_row_each(
    stack: Stack, client: ElasticJobsClient, emulator: Emulator, chain: Chain
) -> None:
    """`preview --json` lists one row per (resource, database), each its own URN; `up` (its preview included) runs
    each job once, and keeps no row in state."""
    preview = stack.run("preview", "--json")
    rows = planned_rows(preview.stdout)
    names = sorted(urn.rsplit("::", 1)[1] for urn, _ in rows)
    assert names == sorted(f"{resource}/server1/{db}" for resource in ("migration", "reindex") for db in DATABASES)
    assert len({urn for urn, _ in rows}) == len(rows) == 4, rows
    assert {(row["resource"], row["database"]) for _, row in rows} == {
        (resource, db) for resource in ("migration", "reindex") for db in DATABASES
    }

    up = stack.run("up", "--yes")
    assert warnings_in(up.stdout + up.stderr) == [], up.stdout + up.stderr
    assert run_counts(client, chain) == (1, 1)
    assert stack.outputs()["reindexLifecycle"] == "Succeeded"
    assert PLANNED_DATABASE not in stack.run("stack", "export").stdout


def test_a_migration_and_a_reindex_on_one_target_group_preview_and_deploy_in_yaml_a_row_each(
    yaml_stack_for: YamlStackFor, client: ElasticJobsClient, emulator: Emulator
) -> None:
    stack = yaml_stack_for("examples/yaml")
    edited(stack.directory / "Pulumi.yaml", "jobName: ${reindexJobName}", "jobName: ${reindexJob}")
    the_chain_previews_and_deploys_a_row_each(stack, client, emulator, new_chain(client, stack))


def test_a_migration_and_a_reindex_on_one_target_group_preview_and_deploy_in_typescript_a_row_each(
    stack_for: Any, client: ElasticJobsClient, emulator: Emulator, tmp_path: Path
) -> None:
    stack = installed_stack(TYPESCRIPT, stack_for, tmp_path)
    edited(
        stack.directory / "index.ts",
        'jobName: migration.jobExecutionId.apply(() => config.get("reindexJob") ?? "rebuild-indexes"),',
        'jobName: config.get("reindexJob") ?? "rebuild-indexes",',
    )
    the_chain_previews_and_deploys_a_row_each(stack, client, emulator, new_chain(client, stack))


# --- the pull-request flow: reviewed = run, when the PR edits the job step -----------------------------------------

PR_PROGRAM = ROOT / "tests" / "cli" / "programs" / "python-pr-flow"
V1 = "ALTER TABLE dbo.Orders ADD Note nvarchar(200) NULL; -- emulator:duration=0"
V2 = "ALTER TABLE dbo.Orders ADD Note nvarchar(400) NULL; -- emulator:duration=0"
V3 = "ALTER TABLE dbo.Orders ADD Note nvarchar(max) NULL; -- emulator:duration=0"
FLEET = [{"type": "SqlDatabase", "serverName": "server1", "databaseName": f"app-db-{n}"} for n in (1, 2)]


def pr_program(into: Path, face: str) -> Path:
    """A fresh copy of the program, as a user's folder: the repository's virtualenv (which has the dynamic
    provider), and for the native face the generated SDK installed beside it (``pip --target``)."""
    project = into / f"pr-flow-{face}"
    shutil.copytree(PR_PROGRAM, project)
    venv = {"name": "python", "options": {"toolchain": "pip", "virtualenv": str(ROOT / ".venv")}}
    (project / "Pulumi.yaml").write_text(json.dumps({"name": "pr-flow", "runtime": venv}))
    return project


def executions_changed(emulator: Emulator, since: int) -> list[str]:
    return [line for line in mutating(emulator, since) if "/executions" in line]


@pytest.mark.parametrize("face", ["dynamic", "native"])
def test_a_pr_that_edits_the_step_is_reviewed_as_it_will_run_and_a_change_outside_it_is_refused(
    face: str, stack_for: Any, client: ElasticJobsClient, emulator: Emulator, tmp_path: Path
) -> None:
    job = new_job(client, script=V1)
    group = f"{job.agent_path}/targetGroups/{job.job_name}"
    client.request("PUT", group, json={"properties": {"members": FLEET}})
    stack: Stack = stack_for(pr_program(tmp_path, face))
    if face == "native":
        sdk = tmp_path / "sdk-site"
        subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(sdk),
                str(ROOT / "sdk" / "python"),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        stack.env["PYTHONPATH"] = str(sdk)
        install_native_plugin(stack.cli, stack.env)
    for key, value in (("face", face), ("job", job.job_name), ("stepPath", f"{job.path}/steps/step1")):
        stack.config(key, value)
    stack.config("targetGroup", group)
    script = stack.directory / "migration.sql"

    script.write_text(V1)
    stack.run("up", "--yes", "--skip-preview")  # script v1: the step's PUT (a new version), then one run
    assert len(runs_of(client, job)) == 1
    last_version = stack.outputs()["jobVersion"]

    script.write_text(V2)  # the PR: the step and the triggers together
    since = last_seq(emulator)
    preview = stack.run("preview", "--diff")
    shown = preview.stdout + preview.stderr
    assert mutating(emulator, since) == [] and warnings_in(shown) == [], shown
    assert (
        f"will run {job.job_name} v{last_version} with this deployment's step 'step1': 1 step on 2 databases" in shown
    )
    assert f"script changes since the last run ({job.job_name} v{last_version}): 1 step changed" in shown
    assert f"-{V1}" in shown and f"+{V2}" in shown, shown
    assert shown.count("will run ") == 1, "each plan once per preview"
    (pin,) = set(re.findall(r"pin: (.+)", shown))
    stack.config("plan", pin)

    stack.run("up", "--yes", "--skip-preview")  # the merge: the step update makes a new version, the pin holds
    outputs = stack.outputs()
    assert len(runs_of(client, job)) == 2 and outputs["jobVersion"] == last_version + 1
    ran = client.read_document(f"{job.path}/versions/{int(outputs['jobVersion'])}/steps/step1")
    assert ran["properties"]["action"]["value"] == V2, "the merge ran the reviewed script"

    script.write_text(V3)  # a second PR, and a database added to the fleet between its preview and its merge
    preview = stack.run("preview", "--diff")
    (pin,) = set(re.findall(r"pin: (.+)", preview.stdout + preview.stderr))
    stack.config("plan", pin)
    client.request("PUT", group, json={"properties": {"members": [*FLEET, {**FLEET[0], "databaseName": "app-db-3"}]}})
    since = last_seq(emulator)
    refused = stack.run("up", "--yes", "--skip-preview", check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "its plan is not the one expected_plan pins (+1 database on server1)" in said
    assert executions_changed(emulator, since) == [] and len(runs_of(client, job)) == 2
