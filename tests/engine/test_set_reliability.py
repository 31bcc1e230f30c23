"""A set keeps every run it started, through lost answers and history retention, on both plugins.

Each test drives the real dynamic-provider plugin and the real native plugin over gRPC, through the same engine
stand-in (:class:`~tests.engine.harness.Engine`), against an emulator of its own, and counts the runs on the
server. Runs that must stay active are held by a long step and ended by moving the service clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.conftest import HELD, HOUR_AHEAD, lifecycles, new_job
from tests.engine.conftest import configured_plugin
from tests.engine.harness import (
    AGENT_CAMEL,
    EXECUTION_SET,
    QUICK,
    Engine,
    EngineLog,
    NativePlugin,
    NativeStubs,
    Registration,
    SetFace,
    camel_inputs,
    snake_outputs,
    to_struct,
    urn,
)
from tests.engine.test_exactly_once import declare_set
from tests.engine.test_one_intent_one_run import forget_oldest

RETRY_BUDGET = "1"
"""Seconds each request may retry: a PUT whose every answer is dropped gives up in a second or two."""


Face = SetFace


@pytest.fixture(params=["dynamic", "native"])
def face(request: pytest.FixtureRequest, own_emulator: Emulator) -> Iterator[Face]:
    stack = f"set-{uuid.uuid4().hex[:8]}"
    if request.param == "dynamic":
        plugin = configured_plugin(own_emulator, AZURE_ELASTIC_JOBS_RETRY_BUDGET=RETRY_BUDGET)
        try:
            yield Face(Engine(plugin), lambda **inputs: declare_set(stack=stack, **inputs), lambda value: value)
        finally:
            plugin.kill()
        return
    engine_log = EngineLog()
    native = NativePlugin(engine_log.address)
    native.configure(own_emulator, retryBudget=RETRY_BUDGET)

    def declare(**inputs: Any) -> list[Registration]:
        news = to_struct({**AGENT_CAMEL, **camel_inputs(inputs)})
        return [Registration(EXECUTION_SET, "fleet", urn("fleet", EXECUTION_SET, stack), news)]

    try:
        yield Face(Engine(NativeStubs(native)), declare, snake_outputs)  # type: ignore[arg-type]
    finally:
        native.kill()
        engine_log.stop()


# --- a member whose PUT's every answer was lost keeps the id it PUT, and the next up ensures it ---------------


def test_a_set_member_whose_put_answers_were_all_lost_is_ensured_not_run_again_once_its_run_ended(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    job = new_job(own_client, script=HELD)
    members = {"lost": {"job_name": job.job_name}}
    own_emulator.add_fault("act-then-drop", path=job.job_name, method="PUT", count=-1)
    face.up(members=members)
    own_emulator.clear_faults()
    (started,) = own_client.list_executions(job)
    entry = face.set_state()["executions"]["lost"]
    assert entry["error"]["code"] == "TransportError"
    assert entry.get("job_execution_id") == started.name and entry.get("azure_id")  # the id it PUT, kept
    assert entry.get("lifecycle") is None  # unconfirmed: never read back

    own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)  # the run it started ends before the next up
    assert lifecycles(own_client, job) == ["Succeeded"]
    face.up(members=members)
    assert lifecycles(own_client, job) == ["Succeeded"]  # no second run
    entry = face.set_state()["executions"]["lost"]
    assert entry["job_execution_id"] == started.name and entry["lifecycle"] == "Succeeded"
    assert entry.get("error") is None and face.set_state()["failed_members"] == []


def test_a_set_member_whose_put_never_arrived_starts_under_the_id_it_recorded_on_the_next_up(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    """The other side of an unconfirmed start: nothing ran, so ensuring the recorded id starts it, once; a refresh
    in between that finds nothing under that id keeps it as recorded."""
    job = new_job(own_client, script=HELD)
    members = {"lost": {"job_name": job.job_name}}
    own_emulator.add_fault("drop", path=job.job_name, method="PUT", count=-1)
    face.up(members=members)
    own_emulator.clear_faults()
    assert lifecycles(own_client, job) == []
    recorded = face.set_state()["executions"]["lost"]
    assert recorded["error"]["code"] == "TransportError" and recorded.get("job_execution_id")

    face.engine.refresh()
    assert face.set_state()["executions"]["lost"] == recorded
    face.up(members=members)
    (started,) = own_client.list_executions(job)
    entry = face.set_state()["executions"]["lost"]
    assert started.name == recorded["job_execution_id"] == entry["job_execution_id"]
    assert entry["lifecycle"] in ("Created", "WaitingForChildJobExecutions") and entry.get("error") is None


# --- an update after history retention says what a refresh says ------------------------------------------------


def test_an_update_of_a_set_after_retention_keeps_finished_forgotten_members_as_refresh_does(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    done, held, added = new_job(own_client, script=QUICK), new_job(own_client, script=HELD), new_job(own_client, QUICK)
    members = {"done": {"job_name": done.job_name}, "held": {"job_name": held.job_name}}
    waiting = {"wait_for_completion": True, "poll_interval": 0.2, "timeout": 2}
    face.up(members=members, **waiting)  # `done` ends; `held` is still running when the wait times out
    recorded = face.set_state()["executions"]
    assert (
        recorded["done"]["lifecycle"] == "Succeeded" and recorded["held"]["lifecycle"] == "WaitingForChildJobExecutions"
    )
    forget_oldest(own_emulator, own_client, done, 1)
    forget_oldest(own_emulator, own_client, held, 1)

    face.up(members={**members, "added": {"job_name": added.job_name}}, **waiting)
    updated = face.set_state()
    assert updated["executions"]["done"].get("lifecycle") == "Succeeded"
    assert updated["executions"]["done"].get("in_history") is False
    assert updated["executions"]["done"].get("error") is None
    assert updated["executions"]["held"]["error"]["code"] == "ResourceNotFound"  # how it ended is unknown
    assert updated["failed_members"] == ["held"]
    assert updated["executions"]["added"]["lifecycle"] == "Succeeded"
    assert lifecycles(own_client, done) == [] and lifecycles(own_client, held) == []  # nothing ran again

    face.engine.refresh()  # a refresh says the same of every member (its NotFound answer has its own request id)
    refreshed = face.set_state()
    assert {key: said(refreshed["executions"][key]) for key in members} == {
        key: said(updated["executions"][key]) for key in members
    }
    assert refreshed["failed_members"] == updated["failed_members"]


def said(entry: dict[str, Any]) -> dict[str, Any]:
    """A member's entry with its error reduced to the code: what a user reads of it."""
    error = entry.get("error")
    return {**entry, "error": error and error["code"]}


# --- reviewed = run, member by member: a pinned member whose job changed starts nothing; the others go on -------


def test_a_member_whose_job_changed_since_review_starts_nothing_and_runs_once_re_pinned(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    from pulumi_azure_elastic_jobs.planning import read_plan
    from tests.engine.test_plan_guard import add_step

    pinned, free = new_job(own_client, script=QUICK), new_job(own_client, script=QUICK)
    reviewed = read_plan(own_client, pinned)
    add_step(own_client, pinned, "backfill", QUICK)  # edited between review and merge: version 2
    members = {
        "pinned": {"job_name": pinned.job_name, "expected_plan": reviewed.pin},
        "free": {"job_name": free.job_name},
    }
    waiting = {"wait_for_completion": True, "poll_interval": 0.1, "timeout": 30}

    since = own_emulator.requests_log()[-1]["seq"]
    face.up(members=members, **waiting)
    recorded = face.set_state()
    refused = recorded["executions"]["pinned"]
    assert refused["error"]["code"] == "PlanChanged" and "step 2 'backfill' added" in refused["error"]["message"]
    assert refused.get("azure_id") is None and recorded["failed_members"] == ["pinned"]
    live = read_plan(own_client, pinned)
    assert f"pin: {live.pin}" in refused["error"]["message"]
    sent = [(r["method"], r["path"]) for r in own_emulator.requests_log(since) if r["method"] != "GET"]
    assert not [path for _, path in sent if pinned.job_name in path], sent  # reads only on the edited job
    assert lifecycles(own_client, pinned) == [] and lifecycles(own_client, free) == ["Succeeded"]

    re_pinned = {**members, "pinned": {"job_name": pinned.job_name, "expected_plan": live.pin}}
    face.up(members=re_pinned, **waiting)  # a new pin alone is no new identity: the refused member starts, once
    assert face.set_state()["executions"]["pinned"]["lifecycle"] == "Succeeded"
    assert lifecycles(own_client, pinned) == ["Succeeded"] and lifecycles(own_client, free) == ["Succeeded"]

    loosened = {**members, "pinned": {"job_name": pinned.job_name, "expected_plan": "v2"}}
    face.up(members=loosened, **waiting)  # changing the pin of a member that ran runs nothing, and is recorded
    assert face.set_state()["members"]["pinned"]["expected_plan"] == "v2"
    assert lifecycles(own_client, pinned) == ["Succeeded"] and lifecycles(own_client, free) == ["Succeeded"]
