"""Reviewing what a deployment will run, with the real CLI, as pull requests are written (issue 37).

The docs' chain (a migration, then a reindex) on one target group, with both job names constants as users write
them: every `JobExecution` over the same databases publishes its rows in one preview, and the engine must take
them all (a view's URN is its resource's type and the row's name, so rows named by their database alone collided:
`failed to verify snapshot: duplicate resource ...PlannedDatabase::server1/app-db-1`, in `preview` and `up`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.cli.conftest import Stack, YamlStackFor
from tests.cli.native_life import PLANNED_DATABASE, Chain, new_chain, run_counts
from tests.cli.test_sdk_examples_cli import TYPESCRIPT, installed_stack
from tests.cli.yaml_support import warnings_in

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
