"""The chained and fleet examples with the real CLI: up, an unchanged up, a targeted change, destroy."""

from __future__ import annotations

import shutil
from pathlib import Path

from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.emulator import Emulator
from tests.cli.test_quickstart_cli import last_seq, mutating
from tests.conftest import ROOT, job_ref


def count(client: ElasticJobsClient, job: str) -> int:
    return len(list(client.list_executions(job_ref(job))))


def test_chained_example_runs_the_rebuild_after_the_migration(
    stack_for, emulator: Emulator, client: ElasticJobsClient
) -> None:
    stack = stack_for("examples/chained")
    rebuilds = count(client, "rebuild-indexes")
    stack.run("up", "--yes")
    outputs = stack.outputs()
    assert outputs["migration"]["lifecycle"] == "Succeeded" and outputs["reindex_lifecycle"] == "Succeeded"
    assert count(client, "rebuild-indexes") == rebuilds + 1
    since = last_seq(emulator)
    stack.run("up", "--yes")
    assert mutating(emulator, since) == []
    stack.config("release", "2026.12")
    preview = stack.run("preview", "--diff").stdout
    assert "+-2 to replace" in preview  # the migration, and the rebuild whose trigger is the new run's id
    stack.run("up", "--yes")
    assert count(client, "rebuild-indexes") == rebuilds + 2
    stack.run("destroy", "--yes")


def test_fleet_example_reruns_only_the_member_whose_script_changed(
    stack_for, client: ElasticJobsClient, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(ROOT / "examples" / "fleet", fleet)
    project = (fleet / "Pulumi.yaml").read_text().replace("../../.venv", str(ROOT / ".venv"))
    (fleet / "Pulumi.yaml").write_text(project)
    stack = stack_for(str(fleet))
    migrations, rebuilds = count(client, "nightly-migration"), count(client, "rebuild-indexes")
    stack.run("up", "--yes")
    assert stack.outputs()["lifecycles"] == {"nightly-migration": "Succeeded", "rebuild-indexes": "Succeeded"}
    (fleet / "scripts" / "nightly-migration.sql").write_text("ALTER TABLE dbo.Orders ADD Reviewed bit NULL;\n")
    preview = stack.run("preview", "--diff").stdout
    assert "(update)" in preview and "(replace)" not in preview
    stack.run("up", "--yes")
    assert count(client, "nightly-migration") == migrations + 2
    assert count(client, "rebuild-indexes") == rebuilds + 1
    stack.run("destroy", "--yes")
