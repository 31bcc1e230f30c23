"""A run's plan read over a real socket from the emulator's fleet, held against what the run then does.

The plan (the provider's reading of the fleet through ARM) and the emulator's expansion at run start (its stand-in
for the service's) are written apart; each test builds a fleet through ARM PUTs, reads the plan, starts the run and
compares the databases each step's target executions name with the plan's, so neither can drift alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.plan import Plan, database_key
from pulumi_azure_elastic_jobs.planning import read_plan
from tests.conftest import TIME_SCALE

SUB = "00000000-0000-0000-0000-000000000000"
OTHER_SUB = "22222222-2222-2222-2222-222222222222"
HELD = "SELECT 1; -- emulator:duration=360000"


@pytest.fixture
def fleet_emulator() -> Iterator[Emulator]:
    emulator = Emulator(time_scale=TIME_SCALE)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def fleet_client(fleet_emulator: Emulator) -> Iterator[ElasticJobsClient]:
    with ElasticJobsClient(fleet_emulator.url, StaticToken(fleet_emulator.token or "t")) as client:
        yield client


def server(
    client: ElasticJobsClient, subscription: str, group: str, name: str, databases: dict[str, str | None]
) -> str:
    """A server with user databases (name -> its pool or None), its pools made first; its ARM path."""
    path = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Sql/servers/{name}"
    client.request("PUT", path, json={"location": "westeurope", "properties": {"administratorLogin": "admin1"}})
    for pool in sorted({pool for pool in databases.values() if pool}):
        client.request("PUT", f"{path}/elasticPools/{pool}", json={"location": "westeurope", "properties": {}})
    for database, pool in databases.items():
        properties = {"elasticPoolId": f"{path}/elasticPools/{pool}"} if pool else {}
        client.request("PUT", f"{path}/databases/{database}", json={"location": "westeurope", "properties": properties})
    return path


def job_on(client: ElasticJobsClient, members: list[dict[str, Any]], scripts: list[str]) -> JobRef:
    """An agent on a server of its own, a target group of ``members``, and a job of one step per script."""
    name = f"job-{uuid.uuid4().hex[:8]}"
    agent_server = server(client, SUB, "jobs", f"agent-{uuid.uuid4().hex[:6]}", {"jobsdb": None})
    job = JobRef(SUB, "jobs", agent_server.rsplit("/", 1)[-1], "agent1", name)
    client.request(
        "PUT",
        job.agent_path,
        json={"location": "westeurope", "properties": {"databaseId": f"{agent_server}/databases/jobsdb"}},
    )
    client.request("PUT", f"{job.agent_path}/targetGroups/fleet", json={"properties": {"members": members}})
    client.request("PUT", job.path, json={"properties": {}})
    for number, script in enumerate(scripts, start=1):
        body = {
            "properties": {
                "targetGroup": f"{job.agent_path}/targetGroups/fleet",
                "action": {"value": script},
                "executionOptions": {"retryAttempts": 0},
            }
        }
        client.request("PUT", f"{job.path}/steps/step{number}", json=body)
    return job


def ran_on(client: ElasticJobsClient, job: JobRef) -> dict[str, list[str]]:
    """Per step, the databases a run of ``job`` started now touches, by the plan's key."""
    run = client.start_execution(job)
    ref = job.execution(str(run.name))
    client.wait_for_terminal(ref, timeout=60, poll_interval=0.05)
    touched: dict[str, set[str]] = {}
    for target in client.list_target_executions(ref):
        where = target.properties.target
        if where and where.database_name and target.properties.lifecycle != "Skipped":
            step = str(target.properties.step_name)
            touched.setdefault(step, set()).add(database_key(where.server_name or "", where.database_name))
    return {step: sorted(keys) for step, keys in sorted(touched.items())}


def planned_on(plan: Plan) -> dict[str, list[str]]:
    return {step.name: list(step.databases) for step in plan.steps if step.databases}


def test_the_plan_names_exactly_the_databases_each_step_of_the_run_then_touches(
    fleet_emulator: Emulator, fleet_client: ElasticJobsClient
) -> None:
    suffix = uuid.uuid4().hex[:6]
    a, b = f"sa-{suffix}", f"sb-{suffix}"
    server(fleet_client, SUB, "rg-a", a, {"app1": None, "app2": None, "app3": "pool1", "app4": "pool1"})
    server(fleet_client, OTHER_SUB, "rg-b", b, {"t1": "tenants", "t2": "tenants", "billing": None})
    members = [
        {"type": "SqlServer", "serverName": f"{a}.database.windows.net"},
        {"type": "SqlDatabase", "serverName": a, "databaseName": "app2", "membershipType": "Exclude"},
        {"type": "SqlElasticPool", "serverName": b, "elasticPoolName": "tenants"},
        {"type": "SqlDatabase", "serverName": b, "databaseName": "billing"},
    ]
    job = job_on(
        fleet_client, members, ["SELECT 1; -- emulator:duration=0", "UPDATE t SET c = 1; -- emulator:duration=0"]
    )

    plan = read_plan(fleet_client, job, [OTHER_SUB])
    expected = sorted([f"{a}/app1", f"{a}/app3", f"{a}/app4", f"{b}/t1", f"{b}/t2", f"{b}/billing"])
    assert [list(step.databases) for step in plan.steps] == [expected, expected]  # master and app2 never
    assert plan.summary() == f"will run {job.job_name} v2: 2 steps on 6 databases in 2 servers"
    assert plan.unseen == () and plan.busy == () and plan.unresolved == ()

    assert ran_on(fleet_client, job) == planned_on(plan)  # what the run did is what was planned


def test_the_plan_reads_the_floor_each_page_once_and_in_parallel(
    fleet_emulator: Emulator, fleet_client: ElasticJobsClient
) -> None:
    suffix = uuid.uuid4().hex[:6]
    big, pooled = f"big-{suffix}", f"pooled-{suffix}"
    server(fleet_client, SUB, "rg-a", big, {f"db{n:03d}": None for n in range(150)})  # 151 with master: 2 pages
    server(fleet_client, SUB, "rg-a", pooled, {"p1": "pool", "p2": "pool", "solo": None})
    members = [
        {"type": "SqlServer", "serverName": big},
        {"type": "SqlElasticPool", "serverName": pooled, "elasticPoolName": "pool"},
    ]
    job = job_on(fleet_client, members, ["SELECT 1;"])
    since = fleet_emulator.requests_log()[-1]["seq"]
    plan = read_plan(fleet_client, job)
    sent = sorted(entry["path"] for entry in fleet_emulator.requests_log(since))
    assert len(plan.databases) == 152
    floor = [
        job.path,  # the job: its version
        f"{job.path}/executions",  # its active runs
        f"{job.path}/versions/1/steps",
        f"{job.agent_path}/targetGroups/fleet",
        f"/subscriptions/{SUB}/providers/Microsoft.Sql/servers",  # one page: the servers of the subscription
        f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Sql/servers/{big}/databases",
        f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Sql/servers/{big}/databases",  # page 2
        f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Sql/servers/{pooled}/elasticPools/pool/databases",
    ]
    assert sent == sorted(floor)


def test_members_the_plan_cannot_expand_are_unresolved_with_what_it_could_not_see(
    fleet_emulator: Emulator, fleet_client: ElasticJobsClient
) -> None:
    hidden, seen = f"hidden-{uuid.uuid4().hex[:6]}", f"seen-{uuid.uuid4().hex[:6]}"
    server(fleet_client, OTHER_SUB, "rg-b", hidden, {"secret": None})
    server(fleet_client, SUB, "rg-a", seen, {"app": None})
    members = [
        {"type": "SqlServer", "serverName": hidden},
        {"type": "SqlServer", "serverName": seen},
        {"type": "SqlShardMap", "serverName": seen, "shardMapName": "customers", "databaseName": "app"},
    ]
    job = job_on(fleet_client, members, ["SELECT 1;"])
    fleet_emulator.deny_reads(OTHER_SUB)
    plan = read_plan(fleet_client, job, [OTHER_SUB])
    reasons = {item.member: item.reason for item in plan.steps[0].unresolved}
    assert f"listing servers in subscription {OTHER_SUB} failed (AuthorizationFailed:" in reasons[f"SqlServer {hidden}"]
    assert "shard map manager" in reasons[f"SqlShardMap {seen}/app"]
    assert plan.databases == (f"{seen}/app",) and "2 members unresolved" in plan.summary()


def test_a_refused_read_of_the_fleet_leaves_the_plan_incomplete_so_no_pin_with_counts_or_digest_matches_it(
    fleet_emulator: Emulator, fleet_client: ElasticJobsClient
) -> None:
    """What could not be read is unseen, not only an unresolved member: a plan by an identity that cannot list a
    subscription's servers, or a server's databases, must not match the counts or the digest of its own pin."""
    from pulumi_azure_elastic_jobs.plan import changes

    hidden, seen = f"hidden-{uuid.uuid4().hex[:6]}", f"seen-{uuid.uuid4().hex[:6]}"
    server(fleet_client, OTHER_SUB, "rg-b", hidden, {"secret": None})
    server(fleet_client, SUB, "rg-a", seen, {"app": None})
    job = job_on(
        fleet_client, [{"type": "SqlServer", "serverName": hidden}, {"type": "SqlServer", "serverName": seen}], [HELD]
    )
    fleet_emulator.deny_reads(OTHER_SUB)
    blind = read_plan(fleet_client, job, [OTHER_SUB])
    assert "incomplete: 1 read failed" in blind.summary() and len(blind.unseen) == 1
    assert blind.unseen[0].startswith(f"listing servers in subscription {OTHER_SUB} failed (AuthorizationFailed: The ")
    counts = " ".join(part for part in blind.pin.split() if not part.startswith("sha256:"))
    assert changes(counts, blind) and changes(blind.pin, blind)  # not even its own pin, read the same blind way
    assert changes(f"v{blind.version}", blind) == []

    fleet_emulator.add_fault("status", path=f"/servers/{seen}/databases$", method="GET", status=403, count=-1)
    unlisted = read_plan(fleet_client, job)
    assert [
        line for line in unlisted.unseen if line == f"databases of server {seen}: AuthorizationFailed: Injected fault."
    ], unlisted.unseen
    assert fleet_emulator.faults()[0]["hits"] > 0
    fleet_emulator.clear_faults()
    fleet_emulator.add_fault("drop", path="/targetGroups/fleet$", method="GET", count=-1)
    dropped = read_plan(ElasticJobsClient(fleet_emulator.url, StaticToken("t"), retry_budget_seconds=1), job)
    (line,) = [line for line in dropped.unseen if line.startswith("target group fleet: ")]
    assert "\n" not in line and "GET" in line, line  # a read with no answer, said in its first line


def test_databases_an_active_run_holds_are_busy_and_outside_the_digest(
    fleet_emulator: Emulator, fleet_client: ElasticJobsClient
) -> None:
    name = f"s-{uuid.uuid4().hex[:6]}"
    server(fleet_client, SUB, "rg-a", name, {"one": None, "two": None})
    job = job_on(fleet_client, [{"type": "SqlServer", "serverName": name}], [HELD])
    idle = read_plan(fleet_client, job)
    run = job.execution(str(fleet_client.start_execution(job).name))
    fleet_emulator.settings(clock_offset_seconds=1.0)  # a second on: the run is on its databases, held there
    assert len(list(fleet_client.list_target_executions(run))) == 2
    busy = read_plan(fleet_client, job)
    assert busy.busy == (f"{name}/one", f"{name}/two")
    assert busy.digest == idle.digest and "busy with an active run (skipped)" in busy.summary()


def test_the_plan_names_each_steps_credential_and_says_which_pool_it_could_not_list(
    fleet_emulator: Emulator, fleet_client: ElasticJobsClient
) -> None:
    name = f"s-{uuid.uuid4().hex[:6]}"
    server(fleet_client, SUB, "rg-a", name, {"t1": "tenants", "t2": "tenants"})
    job = job_on(fleet_client, [{"type": "SqlElasticPool", "serverName": name, "elasticPoolName": "tenants"}], [HELD])
    fleet_client.request("PUT", f"{job.agent_path}/credentials/runner", json={"properties": {"username": "runner"}})
    step = {
        "targetGroup": f"{job.agent_path}/targetGroups/fleet",
        "credential": f"{job.agent_path}/credentials/runner",
        "action": {"value": HELD},
    }
    fleet_client.request("PUT", f"{job.path}/steps/step1", json={"properties": step})
    plan = read_plan(fleet_client, job)
    assert plan.steps[0].credential == "runner" and plan.databases == (f"{name}/t1", f"{name}/t2")

    fleet_emulator.add_fault("status", path="/elasticPools/tenants/databases$", method="GET", status=403, count=-1)
    blind = read_plan(fleet_client, job)
    assert blind.unseen == (f"databases of pool {name}/tenants: AuthorizationFailed: Injected fault.",)
    assert blind.databases == () and fleet_emulator.faults()[0]["hits"] > 0


def test_each_read_a_plan_could_not_make_is_said_and_never_raised(
    fleet_emulator: Emulator, fleet_client: ElasticJobsClient
) -> None:
    """Found by the generated mutants: only the fleet's reads were tested failing. The job itself (missing), its
    steps, its active runs and an active run's targets may each fail to read: the plan says which, and what it
    could still tell (a job with no steps reads no steps at all)."""
    name = f"s-{uuid.uuid4().hex[:6]}"
    server(fleet_client, SUB, "rg-a", name, {"one": None})
    job = job_on(fleet_client, [{"type": "SqlServer", "serverName": name}], [HELD])
    missing = JobRef(SUB, "jobs", job.server_name, "agent1", "no-such-job")
    gone = read_plan(fleet_client, missing)
    assert gone.version == 0 and gone.steps == () and len(gone.unseen) == 1
    assert gone.unseen[0].startswith("job no-such-job: ResourceNotFound: ")

    empty = JobRef(SUB, "jobs", job.server_name, "agent1", f"empty-{uuid.uuid4().hex[:6]}")
    fleet_client.request("PUT", empty.path, json={"properties": {}})
    since = fleet_emulator.requests_log()[-1]["seq"]
    assert read_plan(fleet_client, empty) == Plan(empty.job_name, 0)
    assert not [r for r in fleet_emulator.requests_log(since) if "/versions/" in r["path"]]  # no steps to read

    fleet_emulator.add_fault("status", path="/versions/1/steps$", method="GET", status=403, count=1)
    steps = read_plan(fleet_client, job)
    assert steps.version == 1 and steps.steps == () and steps.unseen[0].startswith("steps of ")

    run = job.execution(str(fleet_client.start_execution(job).name))
    fleet_emulator.settings(clock_offset_seconds=1.0)  # the run holds its databases
    assert read_plan(fleet_client, job).busy == (f"{name}/one",)
    fleet_emulator.add_fault("status", path=f"{run.job_execution_id}/targets$", method="GET", status=403, count=1)
    targets = read_plan(fleet_client, job)
    assert targets.busy == () and targets.unseen == (
        f"targets of active run {run.job_execution_id}: AuthorizationFailed: Injected fault.",
    )
    fleet_emulator.add_fault("status", path=f"{job.job_name}/executions$", method="GET", status=403, count=1)
    listing = read_plan(fleet_client, job)
    assert listing.unseen == (f"active runs of {job.job_name}: AuthorizationFailed: Injected fault.",)
    assert read_plan(fleet_client, job, active={run.job_execution_id: None}).busy == (f"{name}/one",)
    assert all(rule["hits"] == 1 for rule in fleet_emulator.faults())
