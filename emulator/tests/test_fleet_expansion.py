"""How a target group expands into the databases a step runs on, and how a run skips a database another run of the
job is still active on: the emulator's rules, driven through its backend on an in-memory store (no socket), with
a service clock the test moves."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from elastic_jobs_emulator.backend import Agent, Backend, Clock
from elastic_jobs_emulator.fleet import ServerRef
from elastic_jobs_emulator.store import Store

WEST = {"location": "westeurope"}


class Fleet:
    """A backend with two servers in two subscriptions: ``alpha`` (user databases a1..a3, pool ``pool1`` holding
    p1 and p2) and ``beta`` (b1, b2), and an agent on alpha; the service clock stands still until moved."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.backend = Backend(Store(None), clock=Clock(time_scale=1.0, source=lambda: self.now))
        self.fleet = self.backend.fleet
        self.alpha = ServerRef(str(uuid.uuid4()), "rg-a", "alpha")
        self.beta = ServerRef(str(uuid.uuid4()), "rg-b", "beta")
        for ref in (self.alpha, self.beta):
            self.fleet.put_server(ref, WEST)
        self.fleet.put_pool(self.alpha, "pool1", WEST)
        for name in ("a1", "a2", "a3"):
            self.fleet.put_database(self.alpha, name, WEST)
        for name in ("p1", "p2"):
            pooled = {"elasticPoolId": f"{self.alpha.id}/elasticPools/pool1"}
            self.fleet.put_database(self.alpha, name, {**WEST, "properties": pooled})
        for name in ("b1", "b2"):
            self.fleet.put_database(self.beta, name, WEST)
        self.agent = Agent(self.alpha.subscription, "rg-a", "alpha", "agent")
        self.backend.put_agent(self.agent, {**WEST, "properties": {"databaseId": f"{self.alpha.id}/databases/a1"}})

    def expand(self, *members: dict[str, Any]) -> list[tuple[str, str]]:
        return [(t["serverName"], t["databaseName"]) for t in self.fleet.expand(list(members))]

    def job(self, name: str, script: str, *members: dict[str, Any]) -> None:
        self.backend.put_child(self.agent, "targetGroups", name, {"properties": {"members": list(members)}})
        self.backend.put_child(self.agent, "jobs", name, {"properties": {}})
        step = {"targetGroup": name, "action": {"value": script}, "executionOptions": {"retryAttempts": 0}}
        self.backend.put_step(self.agent, name, "step1", {"properties": step})

    def run(self, job: str) -> str:
        return str(self.backend.start_execution(self.agent, job)["id"])

    def targets(self, run: str) -> dict[tuple[str, str], dict[str, Any]]:
        found = self.backend.target_executions(run, None, None)
        return {
            (t["properties"]["target"]["serverName"], t["properties"]["target"].get("databaseName")): t for t in found
        }


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


def server(name: str, membership: str = "Include") -> dict[str, Any]:
    return {"type": "SqlServer", "serverName": name, "membershipType": membership}


def pool(server_name: str, name: str, membership: str = "Include") -> dict[str, Any]:
    return {"type": "SqlElasticPool", "serverName": server_name, "elasticPoolName": name, "membershipType": membership}


def database(server_name: str, name: str, membership: str = "Include") -> dict[str, Any]:
    return {"type": "SqlDatabase", "serverName": server_name, "databaseName": name, "membershipType": membership}


def test_a_server_member_runs_on_every_user_database_of_the_server_never_on_master(fleet: Fleet) -> None:
    assert fleet.expand(server("alpha")) == [("alpha", n) for n in ("a1", "a2", "a3", "p1", "p2")]


def test_a_pool_member_runs_on_the_databases_in_the_pool_only(fleet: Fleet) -> None:
    assert fleet.expand(pool("alpha", "pool1")) == [("alpha", "p1"), ("alpha", "p2")]


def test_a_member_finds_its_server_by_name_or_dns_name_in_any_subscription(fleet: Fleet) -> None:
    assert fleet.expand(server("BETA.database.windows.net")) == [
        ("BETA.database.windows.net", "b1"),
        (
            "BETA.database.windows.net",
            "b2",
        ),
    ]
    assert fleet.expand(database("beta", "B2")) == [("beta", "B2")]


def test_excluded_databases_servers_and_pools_take_their_databases_out(fleet: Fleet) -> None:
    everything = (server("alpha"), server("beta"))
    assert fleet.expand(*everything, database("alpha", "a2", "Exclude")) == [
        ("alpha", n) for n in ("a1", "a3", "p1", "p2")
    ] + [("beta", "b1"), ("beta", "b2")]
    assert fleet.expand(*everything, pool("alpha", "pool1", "Exclude")) == [
        ("alpha", n) for n in ("a1", "a2", "a3")
    ] + [("beta", "b1"), ("beta", "b2")]
    assert fleet.expand(*everything, server("beta.database.windows.net", "Exclude")) == [
        ("alpha", n) for n in ("a1", "a2", "a3", "p1", "p2")
    ]
    # An Exclude anywhere in the list counts, before or after the members it takes from.
    assert fleet.expand(database("alpha", "a1", "Exclude"), database("alpha", "a1")) == []


def test_a_database_named_by_several_members_runs_once_where_it_is_first_named(fleet: Fleet) -> None:
    assert fleet.expand(database("alpha", "p2"), pool("alpha", "pool1"), server("alpha"), database("ALPHA", "a1")) == [
        ("alpha", "p2"),
        ("alpha", "p1"),
        ("alpha", "a1"),
        ("alpha", "a2"),
        ("alpha", "a3"),
    ]


def test_a_database_member_on_a_server_the_emulator_does_not_model_runs_as_named(fleet: Fleet) -> None:
    (target,) = fleet.fleet.expand([database("unmodelled", "db1")])
    assert target == {"type": "SqlDatabase", "serverName": "unmodelled", "databaseName": "db1", "asNamed": True}


def test_members_that_cannot_be_expanded_fail_their_target_saying_why(fleet: Fleet) -> None:
    shard_map = {"type": "SqlShardMap", "serverName": "alpha", "databaseName": "a1", "shardMapName": "tenants"}
    problems = {
        (t["type"], t["serverName"]): t["problem"]
        for t in fleet.fleet.expand(
            [server("ghost"), pool("ghost", "pool9"), pool("beta", "pool9"), database("beta", "b9"), shard_map]
        )
    }
    assert problems == {
        ("SqlServer", "ghost"): "Target expansion failed for server 'ghost': the emulator models no server of that "
        "name (PUT it, or seed it, to run on its databases).",
        ("SqlElasticPool", "ghost"): "Target expansion failed for elastic pool 'pool9' on server 'ghost': the "
        "emulator models no server of that name (PUT it with the pool, or seed them, to run on the pool's databases).",
        ("SqlElasticPool", "beta"): "Target expansion failed for elastic pool 'pool9' on server 'beta': the server "
        "has no such pool.",
        ("SqlDatabase", "beta"): "Failed to connect to target (server 'beta', database 'b9'): the server has no "
        "such database.",
        ("SqlShardMap", "alpha"): "Target expansion failed for shard map 'tenants' (server 'alpha', database 'a1'): "
        "the emulator cannot resolve shard maps.",
    }


def test_a_run_fails_the_targets_it_cannot_expand_and_runs_the_others(fleet: Fleet) -> None:
    fleet.job("mixed", "SELECT 1; -- emulator:duration=10", database("alpha", "a1"), server("ghost"))
    run = fleet.run("mixed")
    fleet.now += 100
    targets = fleet.targets(run)
    assert targets["alpha", "a1"]["properties"]["lifecycle"] == "Succeeded"
    ghost = targets["ghost", None]["properties"]
    assert ghost["lifecycle"] == "Failed" and ghost["target"] == {"type": "SqlServer", "serverName": "ghost"}
    assert "models no server of that name" in ghost["lastMessage"]
    assert fleet.backend.render_execution(run)["properties"]["lifecycle"] == "Failed"


def test_a_database_another_run_of_the_job_is_still_active_on_is_skipped_and_the_rest_run(fleet: Fleet) -> None:
    fleet.job("migrate", "SELECT 1; -- emulator:duration=100", server("alpha"))
    first = fleet.run("migrate")
    fleet.now += 10  # the first run is on a1..p2 until +100.5
    fleet.backend.fleet.put_database(fleet.alpha, "a4", WEST)
    second = fleet.run("migrate")
    fleet.now += 1
    targets = fleet.targets(second)
    assert targets["alpha", "a4"]["properties"]["lifecycle"] == "InProgress"
    skipped = {key: t["properties"] for key, t in targets.items() if key != ("alpha", "a4")}
    assert set(skipped) == {("alpha", n) for n in ("a1", "a2", "a3", "p1", "p2")}
    first_id = first.rsplit("/", 1)[-1]
    for (_, name), properties in skipped.items():
        assert properties["lifecycle"] == "Skipped" and properties["currentAttempts"] == 0
        assert properties["lastMessage"] == (
            f"Step 1 skipped execution on target (server 'alpha', database '{name}'): "
            f"job execution '{first_id}' of this job is still active on it."
        )
    fleet.now += 200
    ended = fleet.backend.render_execution(second)["properties"]
    assert ended["lifecycle"] == "SucceededWithSkipped"
    assert ended["lastMessage"] == "Job execution succeeded; some targets were skipped."
    (step,) = fleet.backend.step_executions(second, None)
    assert step["properties"]["lifecycle"] == "SucceededWithSkipped"
    assert fleet.backend.render_execution(first)["properties"]["lifecycle"] == "Succeeded"

    third = fleet.run("migrate")  # nothing active any more: every database runs
    fleet.now += 200
    assert {t["properties"]["lifecycle"] for t in fleet.targets(third).values()} == {"Succeeded"}


def test_a_cancelled_run_frees_its_databases_for_the_next_run(fleet: Fleet) -> None:
    fleet.job("held", "SELECT 1; -- emulator:duration=100000", database("alpha", "a1"))
    first = fleet.run("held")
    fleet.now += 5
    fleet.backend.cancel_execution(fleet.agent, "held", first.rsplit("/", 1)[-1])
    fleet.now += 5  # the cancel has landed
    second = fleet.run("held")
    fleet.now += 1
    assert fleet.targets(second)["alpha", "a1"]["properties"]["lifecycle"] == "InProgress"


def test_starts_of_one_job_read_its_runs_once_while_nothing_else_writes(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start weighs the job's active runs (busy databases): read from the store at the first start, then kept, so a
    set of a thousand runs on one job does not read every run at every start; any other write (here a cancel) makes
    the next start read them again, and sees it."""
    from elastic_jobs_emulator.backend import EXECUTION_TYPE

    fleet.job("many", "SELECT 1; -- emulator:duration=100000", database("alpha", "a1"))
    reads: list[str] = []
    children = fleet.backend.store.children

    def counted(parent_id: str, kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == EXECUTION_TYPE:
            reads.append(parent_id)
        return children(parent_id, kind, *args, **kwargs)

    monkeypatch.setattr(fleet.backend.store, "children", counted)
    first, *later = [fleet.run("many") for _ in range(5)]
    assert len(reads) == 1
    fleet.now += 1
    assert {fleet.targets(run)["alpha", "a1"]["properties"]["lifecycle"] for run in later} == {"Skipped"}
    fleet.backend.cancel_execution(fleet.agent, "many", first.rsplit("/", 1)[-1])
    fleet.now += 5  # the cancel has landed: a1 is free again
    freed = fleet.run("many")
    fleet.now += 1
    assert len(reads) == 2 and fleet.targets(freed)["alpha", "a1"]["properties"]["lifecycle"] == "InProgress"


def test_databases_on_servers_the_emulator_does_not_model_are_never_skipped(fleet: Fleet) -> None:
    fleet.job("legacy", "SELECT 1; -- emulator:duration=100", database("server1", "app-db-1"))
    fleet.run("legacy")
    fleet.now += 1
    second = fleet.run("legacy")
    fleet.now += 1
    assert fleet.targets(second)["server1", "app-db-1"]["properties"]["lifecycle"] == "InProgress"


def test_listings_by_parent_by_pool_and_below_an_id_each_read_an_index() -> None:
    """A page of a thousand-database server, of a pool, or of a subscription's servers never scans the store."""
    from elastic_jobs_emulator import store as stored

    store = Store(None)
    for query, values in (
        (stored.CHILDREN, ("parent", "kind", 1, 0)),
        (stored.BY_LOOKUP, ("lookup", "kind", 1, 0)),
        (stored.BELOW, ("kind", "a/", "a0", 1, 0)),
    ):
        plan = " ".join(row[-1] for row in store._db.execute(f"EXPLAIN QUERY PLAN {query}", values))
        assert "SEARCH resources USING INDEX" in plan, (query, plan)
