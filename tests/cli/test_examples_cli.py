"""The chained and fleet examples with the real CLI: up, an unchanged up, a targeted change, destroy."""

from __future__ import annotations

import shutil
from pathlib import Path

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.cli.native_life import last_seq, mutating
from tests.conftest import ROOT, job_ref, new_job


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
    clean = stack.run("preview", "--expect-no-changes", "--diff").stdout
    assert "[unknown]" not in clean and "3 unchanged" in clean, clean
    since = last_seq(emulator)
    stack.run("up", "--yes")
    assert mutating(emulator, since) == []
    stack.config("release", "2026.12")
    preview = stack.run("preview", "--diff").stdout
    assert "+-2 to replace" in preview  # the migration, and the rebuild whose trigger is the new run's id
    stack.run("up", "--yes")
    assert count(client, "rebuild-indexes") == rebuilds + 2
    since = last_seq(emulator)
    stack.run("refresh", "--yes")
    assert mutating(emulator, since) == []
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
    clean = stack.run("preview", "--expect-no-changes", "--diff").stdout
    assert "[unknown]" not in clean and "2 unchanged" in clean, clean
    (fleet / "scripts" / "nightly-migration.sql").write_text("ALTER TABLE dbo.Orders ADD Reviewed bit NULL;\n")
    preview = stack.run("preview", "--diff").stdout
    assert "(update)" in preview and "(replace)" not in preview
    stack.run("up", "--yes")
    assert count(client, "nightly-migration") == migrations + 2
    assert count(client, "rebuild-indexes") == rebuilds + 1
    stack.run("refresh", "--yes")
    assert stack.outputs()["failed_members"] == []
    stack.run("destroy", "--yes")


def test_fleet_example_in_strict_mode_fails_and_its_outputs_say_which_members_failed_and_where(
    stack_for, client: ElasticJobsClient, tmp_path: Path
) -> None:
    failing = new_job(client, "SELECT 1; -- emulator:fail emulator:duration=0", {"retryAttempts": 0})
    fleet = tmp_path / "fleet"
    shutil.copytree(ROOT / "examples" / "fleet", fleet)
    project = (fleet / "Pulumi.yaml").read_text().replace("../../.venv", str(ROOT / ".venv"))
    (fleet / "Pulumi.yaml").write_text(project)
    stack = stack_for(str(fleet))
    for key, value in {"extraMembers": "1", "extraJob": failing.job_name, "strict": "true"}.items():
        stack.config(key, value)
    failed = stack.run("up", "--yes", check=False)
    assert failed.returncode != 0 and "error: fleet members failed: extra-0" in failed.stdout, failed.stdout
    assert "Traceback" not in failed.stdout
    outputs = stack.outputs()
    assert outputs["failed_members"] == ["extra-0"]
    assert outputs["lifecycles"]["extra-0"] == "Failed" and outputs["lifecycles"]["nightly-migration"] == "Succeeded"
    problems = outputs["failures"]["extra-0"]["targets"]
    assert {(p["server"], p["database"], p["lifecycle"]) for p in problems} == {
        ("server1", "app-db-1", "Failed"),
        ("server1", "app-db-2", "Failed"),
    }
    stack.run("destroy", "--yes")
