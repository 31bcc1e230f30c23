"""The ways a run could still happen twice, or be lost, each staged once through the real plugin (issue 18).

Each test failed before the change it names and counts runs on the server. Runs that must stay active are held
by the emulator (a long step, or a behavior) and ended by moving its service clock, never by a timer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import engine_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from tests.conftest import HELD, lifecycles, new_job
from tests.engine.conftest import Declare, configured_plugin
from tests.engine.harness import Engine, EngineLog, Plugin
from tests.engine.test_exactly_once import declare_set, only_state

QUICK = "SELECT 1; -- emulator:duration=0"
HOLD = {"duration_seconds": 360000.0}


def active(client: ElasticJobsClient, job: JobRef) -> list[str]:
    return [
        str(e.name)
        for e in client.list_executions(job)
        if e.properties.lifecycle in ("Created", "WaitingForChildJobExecutions")
    ]


def forget_oldest(emulator: Emulator, client: ElasticJobsClient, job: JobRef, count: int) -> None:
    """History retention: the job's ``count`` oldest runs are gone from the service."""
    for execution in list(reversed(list(client.list_executions(job))))[:count]:
        emulator.forget(execution.id or "")


def foreign_next_link(emulator: Emulator) -> None:
    """Every listing of target executions answers a page whose ``nextLink`` the token may not follow."""
    page = {"value": [], "nextLink": "http://127.0.0.2:9/targets?$skip=1"}
    emulator.add_fault(
        "status",
        path="/targets",
        method="GET",
        status=200,
        body=json.dumps(page),
        content_type="application/json",
        count=-1,
    )


# --- 1: a gap that history clean-up left, partly refilled, no longer hides the active run ----------------------


def test_an_interrupted_up_in_a_refilled_gap_is_attached_to_not_run_again(
    own_emulator: Emulator, own_plugin: Plugin, own_client: ElasticJobsClient, declare: Declare
) -> None:
    job = new_job(own_client, script=QUICK)
    engine = Engine(own_plugin)
    for _ in range(10):  # ten lives of the resource, each run finished
        engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
        engine.destroy()
    forget_oldest(own_emulator, own_client, job, 5)
    for _ in range(3):  # three more lives refill the oldest generations
        engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
        engine.destroy()
    own_emulator.set_behavior(job.job_name, **HOLD)
    Engine(own_plugin).up(declare(job_name=job.job_name))  # an up whose state is never saved
    (interrupted,) = active(own_client, job)

    engine.up(declare(job_name=job.job_name))
    assert active(own_client, job) == [interrupted]
    assert only_state(engine)["job_execution_id"] == interrupted
    assert len(lifecycles(own_client, job)) == 5 + 3 + 1


# --- 2: a failed best-effort read after the run never makes the next up run it again -----------------------------


def test_a_waited_run_whose_target_listing_fails_is_recorded_and_not_run_again(
    engine: Engine, emulator: Emulator, client: ElasticJobsClient, declare: Declare
) -> None:
    job = new_job(client, script=QUICK)
    foreign_next_link(emulator)
    engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
    outputs = only_state(engine)
    assert outputs["lifecycle"] == "Succeeded"
    assert outputs["target_outcomes"]["complete"] is False  # said, not guessed
    engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
    assert lifecycles(client, job) == ["Succeeded"]


def test_a_set_whose_target_listings_fail_keeps_every_started_run(
    engine: Engine, emulator: Emulator, client: ElasticJobsClient
) -> None:
    jobs = [new_job(client, script=QUICK) for _ in range(2)]
    members = {f"m{i}": {"job_name": job.job_name} for i, job in enumerate(jobs)}
    stack = f"set-{uuid.uuid4().hex[:8]}"
    foreign_next_link(emulator)
    engine.up(declare_set(stack=stack, members=members, wait_for_completion=True, poll_interval=0.2))
    assert all(item["azure_id"] for item in only_state(engine)["executions"].values())
    engine.up(declare_set(stack=stack, members=members, wait_for_completion=True, poll_interval=0.2))
    assert [lifecycles(client, job) for job in jobs] == [["Succeeded"], ["Succeeded"]]


# --- 3: a set member's pinned job_execution_id is the id its run starts under ------------------------------------


def test_a_set_members_pinned_execution_id_is_the_run_it_starts(engine: Engine, client: ElasticJobsClient) -> None:
    job = new_job(client, script=HELD)
    pinned = str(uuid.uuid4())
    engine.up(declare_set(members={"pinned": {"job_name": job.job_name, "job_execution_id": pinned}}))
    assert only_state(engine)["executions"]["pinned"]["job_execution_id"] == pinned
    assert [str(e.name) for e in client.list_executions(job)] == [pinned]
    engine.destroy()


# --- 4: a refresh after history retention keeps the run that happened --------------------------------------------


def test_refresh_after_retention_keeps_the_run_and_the_next_up_starts_none(
    engine: Engine, emulator: Emulator, client: ElasticJobsClient, declare: Declare
) -> None:
    job = new_job(client, script=QUICK)
    registrations = declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2)
    engine.up(registrations)
    recorded = only_state(engine)
    forget_oldest(emulator, client, job, 1)

    refreshed = engine.refresh()
    assert list(refreshed.operations.values()) == ["refreshed"]
    outputs = only_state(engine)
    assert outputs["in_history"] is False
    assert {k: v for k, v in outputs.items() if k != "in_history"} == {
        k: v for k, v in recorded.items() if k != "in_history"
    }
    result = engine.up(registrations)
    assert list(result.operations.values()) == ["same"]
    assert lifecycles(client, job) == []  # nothing ran again
    engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2, triggers={"v": 2}))
    assert lifecycles(client, job) == ["Succeeded"]  # a trigger change is what runs it again


def test_refresh_of_a_set_whose_runs_were_all_forgotten_keeps_the_set(
    engine: Engine, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=QUICK)
    stack = f"set-{uuid.uuid4().hex[:8]}"
    members = {"only": {"job_name": job.job_name}}
    engine.up(declare_set(stack=stack, members=members, wait_for_completion=True, poll_interval=0.2))
    forget_oldest(emulator, client, job, 1)
    engine.refresh()
    entry = only_state(engine)["executions"]["only"]
    assert entry["in_history"] is False and entry["lifecycle"] == "Succeeded" and entry.get("error") is None
    assert only_state(engine)["failed_members"] == []
    engine.up(declare_set(stack=stack, members=members, wait_for_completion=True, poll_interval=0.2))
    assert lifecycles(client, job) == []


# --- 5: a cancel that does not take effect stops a set from starting a run beside it -----------------------------


def test_a_set_member_whose_superseded_run_will_not_stop_starts_nothing_and_destroy_fails_naming_it(
    engine: Engine, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=HELD)
    emulator.set_behavior(job.job_name, ignore_cancel=True)
    stack = f"set-{uuid.uuid4().hex[:8]}"

    def members(version: int) -> dict[str, Any]:
        return {"a": {"job_name": job.job_name, "triggers": {"v": version}}}

    engine.up(declare_set(stack=stack, members=members(1), timeout=0.5, poll_interval=0.1))
    (first,) = active(client, job)
    engine.up(declare_set(stack=stack, members=members(2), timeout=0.5, poll_interval=0.1))
    entry = only_state(engine)["executions"]["a"]
    assert entry["error"]["code"] == "CancelNotEffective" and entry["job_execution_id"] == first
    assert active(client, job) == [first]  # nothing started beside the run that would not stop

    with pytest.raises(grpc.RpcError) as refused:
        engine.destroy()
    assert first in refused.value.details() and "still running" in refused.value.details()

    emulator.set_behavior(job.job_name, ignore_cancel=False)
    engine.up(declare_set(stack=stack, members=members(2), timeout=0.5, poll_interval=0.1))  # asks again
    assert lifecycles(client, job)[0] == "Canceled" and len(active(client, job)) == 1
    engine.destroy()
    assert lifecycles(client, job) == ["Canceled", "Canceled"]


# --- 6: a replacement the provider cannot see attaches only when the old run still runs, and says so -------------


@pytest.fixture
def engine_log() -> Iterator[EngineLog]:
    log = EngineLog()
    yield log
    log.stop()


def test_a_forced_replacement_starts_a_new_run_once_the_old_one_is_cancelled(
    engine: Engine, client: ElasticJobsClient, declare: Declare
) -> None:
    job = new_job(client, script=HELD)
    registrations = declare(job_name=job.job_name)
    engine.up(registrations)
    engine.up(registrations, replace=("run",))
    assert lifecycles(client, job)[0] == "Canceled" and len(lifecycles(client, job)) == 2
    assert active(client, job) == [only_state(engine)["job_execution_id"]]
    engine.destroy()


def test_a_forced_replacement_of_a_run_left_running_attaches_and_warns(
    emulator: Emulator, client: ElasticJobsClient, declare: Declare, engine_log: EngineLog
) -> None:
    job = new_job(client, script=HELD)
    plugin = configured_plugin(emulator, engine_log.address)
    try:
        engine = Engine(plugin)
        registrations = declare(job_name=job.job_name, cancel_on_destroy=False)
        engine.up(registrations)
        (first,) = active(client, job)
        engine.up(registrations, replace=("run",))
    finally:
        plugin.kill()
    assert active(client, job) == [first]  # never a second concurrent run of one intent
    warnings = [m.message for m in engine_log.messages if m.severity == engine_pb2.WARNING and not m.ephemeral]
    assert len(warnings) == 1 and first in warnings[0] and "cancel_on_destroy=False" in warnings[0]
