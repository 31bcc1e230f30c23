"""How many rows a preview shows (config planRows), on the native face over gRPC: a row per database, a row per
server (its databases a property), none, and by default (`auto`) a row per database up to 100 databases and a row
per server above. The CLI applies each row one by one, so rows cost a reviewer time at scale (benchmark 9d)."""

from __future__ import annotations

import grpc
import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.native import views
from pulumi_azure_elastic_jobs.plan import Plan, PlannedStep
from pulumi_azure_elastic_jobs.terms import DATABASE_ROWS_UP_TO
from tests.conftest import new_job
from tests.engine.harness import AGENT_CAMEL, NativePlugin
from tests.engine.test_plan_views import TOKEN, StatusService, create, status_service  # noqa: F401 - the fixture


def test_a_preview_shows_a_row_per_server_or_none_as_config_plan_rows_says(
    native: NativePlugin,
    client: ElasticJobsClient,
    emulator: Emulator,
    status_service: StatusService,  # noqa: F811 - the fixture of test_plan_views
) -> None:
    job = new_job(client)
    native.configure(emulator, planRows="server")
    create(native, "by-server", job.job_name, preview=True, address=status_service.address)
    published = status_service.published[TOKEN]
    assert [(r["type"], r["name"]) for r in published if r["type"] != views.SERVER_VIEW_TYPE] == [
        (views.STEP_VIEW_TYPE, "by-server/step1")  # a step's row (its T-SQL) as with a row per database
    ]
    (row,) = [r for r in published if r["type"] == views.SERVER_VIEW_TYPE]
    assert row["name"] == "by-server/server1"
    assert row["new"]["outputs"] == {
        "resource": "by-server",
        "server": "server1",
        "databases": ["app-db-1", "app-db-2"],
        "count": 2,
        "steps": {"step1": ["app-db-1", "app-db-2"]},
        "job": job.job_name,
        "version": 1,
    }
    status_service.published.clear()
    native.configure(emulator, planRows="none")
    create(native, "no-rows", job.job_name, preview=True, address=status_service.address)
    assert status_service.published == {}


def test_a_bad_plan_rows_value_is_refused_naming_the_key(native: NativePlugin, emulator: Emulator) -> None:
    native.configure(emulator, planRows="everything")
    with pytest.raises(grpc.RpcError) as refused:
        native.check("run", {**AGENT_CAMEL, "jobName": "nightly-migration"})
    expected = "config azure-elastic-jobs:planRows must be one of auto, database, server, none, got 'everything'"
    assert expected in refused.value.details()


def plan_over(databases: int) -> Plan:
    keys = tuple(f"server{n % 3}/db{n:04d}" for n in range(databases))
    step = PlannedStep(1, "migrate", "fleet", None, "sha256:001122334455", "SELECT 1", 0, 0, databases=keys)
    return Plan(job="migrate", version=1, steps=(step,), busy=keys[:1])


def test_by_default_rows_are_per_database_up_to_the_threshold_and_per_server_above() -> None:
    assert views.rows_of("auto", {None: plan_over(DATABASE_ROWS_UP_TO)}) == "database"
    assert views.rows_of("auto", {None: plan_over(DATABASE_ROWS_UP_TO + 1)}) == "server"
    assert views.rows_of("auto", {"a": plan_over(60), "b": plan_over(60)}) == "server"  # a set's members together
    assert views.rows_of("database", {None: plan_over(1000)}) == "database"


def test_server_rows_hold_every_database_once_with_its_steps_and_busy_ones() -> None:
    rows = views.server_rows(plan_over(1000), "fleet-run")
    assert [row["server"] for row in rows] == ["server0", "server1", "server2"]
    assert sum(row["count"] for row in rows) == 1000 == sum(len(row["steps"]["migrate"]) for row in rows)
    assert rows[0]["skipped"] == ["db0000"]
