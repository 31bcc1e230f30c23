"""Every example program, run through the engine harness against the emulator (no CLI needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.conftest import ROOT, job_ref
from tests.engine.harness import Engine
from tests.engine.run_example import deploy_example

EXAMPLES = ROOT / "examples"


def count(client: ElasticJobsClient, job: str) -> int:
    return len(list(client.list_executions(job_ref(job))))


def test_quickstart_runs_the_migration_and_a_second_up_changes_nothing(
    engine: Engine, client: ElasticJobsClient
) -> None:
    before = count(client, "nightly-migration")
    stack = f"examples-{id(engine)}"
    result = deploy_example(engine, EXAMPLES / "quickstart", stack=stack)
    (urn,) = result.operations
    assert engine.state[urn].output_props["lifecycle"] == "Succeeded"
    assert set(deploy_example(engine, EXAMPLES / "quickstart", stack=stack).operations.values()) == {"same"}
    assert count(client, "nightly-migration") == before + 1
    engine.destroy()


def test_chained_runs_the_rebuild_after_the_migration_and_again_after_a_new_migration(
    engine: Engine, client: ElasticJobsClient
) -> None:
    stack = f"chained-{id(engine)}"
    before = count(client, "rebuild-indexes")
    deploy_example(engine, EXAMPLES / "chained", stack=stack)
    outputs = {urn.rsplit("::", 1)[-1]: state.output_props for urn, state in engine.state.items()}
    assert outputs["migrate"]["lifecycle"] == outputs["reindex"]["lifecycle"] == "Succeeded"
    assert outputs["reindex"]["triggers"] == {"after_migration": outputs["migrate"]["job_execution_id"]}
    assert outputs["reindex"]["create_time"] >= outputs["migrate"]["end_time"]
    assert count(client, "rebuild-indexes") == before + 1
    # A new release replaces the migration; the rebuild's triggers carry the new run's id, so it follows
    # with exactly one new run.
    result = deploy_example(engine, EXAMPLES / "chained", stack=stack, config={"release": "2026.12"})
    assert sorted(result.operations.values()) == ["replace", "replace"]
    assert count(client, "rebuild-indexes") == before + 2
    engine.destroy()


def test_fleet_runs_every_member_and_a_changed_script_reruns_only_its_job(
    engine: Engine, client: ElasticJobsClient, tmp_path: Path, emulator: Emulator
) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(EXAMPLES / "fleet", fleet)
    stack = f"fleet-{id(engine)}"
    migrations, rebuilds = count(client, "nightly-migration"), count(client, "rebuild-indexes")
    deploy_example(engine, fleet, stack=stack)
    (state,) = engine.state.values()
    outputs = state.output_props
    assert {key: item["lifecycle"] for key, item in outputs["executions"].items()} == {
        "nightly-migration": "Succeeded",
        "rebuild-indexes": "Succeeded",
    }
    assert outputs["finished"] is True and outputs["failed_members"] == []
    (fleet / "scripts" / "rebuild-indexes.sql").write_text("EXEC dbo.RebuildIndexes @FragmentationPercent = 10;\n")
    result = deploy_example(engine, fleet, stack=stack)
    assert list(result.operations.values()) == ["update"]
    assert count(client, "nightly-migration") == migrations + 1
    assert count(client, "rebuild-indexes") == rebuilds + 2
    assert set(deploy_example(engine, fleet, stack=stack).operations.values()) == {"same"}
    engine.destroy()
