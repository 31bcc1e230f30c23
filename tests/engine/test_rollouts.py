"""A staged rollout (``waves`` on a JobExecutionSet) halts on a failed gate and resumes exactly once, on both plugins.

Each test drives the real dynamic-provider plugin and the real native plugin over gRPC through the engine stand-in
(:class:`~tests.engine.harness.Engine`), against an emulator of its own, and counts the runs on the server and the
requests in its log. A canary that breaks one database is the emulator's ``failed_databases`` behaviour.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.native.provider import to_core
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
    to_struct,
    urn,
)
from tests.engine.test_exactly_once import declare_set

WAITING = {"wait_for_completion": True, "poll_interval": 0.1, "timeout": 120}


class Face(SetFace):
    """A set's plugin, with an ``up`` a halt makes fail."""

    def halted_up(self, **inputs: Any) -> str:
        """An ``up`` that must fail; what it said."""
        with pytest.raises(grpc.RpcError) as failed:
            self.up(**inputs)
        return str(failed.value.details())


@pytest.fixture(params=["dynamic", "native"])
def face(request: pytest.FixtureRequest, own_emulator: Emulator) -> Iterator[Face]:
    stack = f"rollout-{uuid.uuid4().hex[:8]}"
    if request.param == "dynamic":
        plugin = configured_plugin(own_emulator)
        try:
            yield Face(Engine(plugin), lambda **inputs: declare_set(stack=stack, **inputs), lambda value: value)
        finally:
            plugin.kill()
        return
    engine_log = EngineLog()
    native = NativePlugin(engine_log.address)
    native.configure(own_emulator)

    def declare(**inputs: Any) -> list[Registration]:
        news = to_struct({**AGENT_CAMEL, **camel_inputs(inputs)})
        return [Registration(EXECUTION_SET, "fleet", urn("fleet", EXECUTION_SET, stack), news)]

    try:
        yield Face(Engine(NativeStubs(native)), declare, to_core)  # type: ignore[arg-type]
    finally:
        native.kill()
        engine_log.stop()


def three_waves(client: ElasticJobsClient) -> tuple[dict[str, JobRef], dict[str, Any]]:
    """A canary, a pool and the rest, each a job of its own over the seeded two databases, in three waves."""
    jobs = {key: new_job(client, script=QUICK) for key in ("canary", "pool", "rest")}
    members = {key: {"job_name": job.job_name, "triggers": {"script": "v1"}} for key, job in jobs.items()}
    return jobs, {"members": members, "waves": [["canary"], ["pool"], ["rest"]], **WAITING}


def fixed(declared: dict[str, Any], key: str) -> dict[str, Any]:
    """The program after the fix: the member's script, and so its triggers, changed."""
    members = {**declared["members"], key: {**declared["members"][key], "triggers": {"script": "v2"}}}
    return {**declared, "members": members}


def sent_to(emulator: Emulator, since: int, job: JobRef) -> list[tuple[str, str]]:
    """Every request that changes anything on ``job`` since the log's ``since``: what a wave that must start
    nothing must not have (a Check reads each wave's plan, which is a read)."""
    return [
        (r["method"], r["path"])
        for r in emulator.requests_log(since)
        if f"/jobs/{job.job_name}/" in r["path"] and r["method"] != "GET"
    ]


def latest_seq(emulator: Emulator) -> int:
    log = emulator.requests_log()
    return int(log[-1]["seq"]) if log else 0


def wave_lifecycles(state: dict[str, Any]) -> list[str]:
    return [wave["lifecycle"] for wave in state["rollout"]["waves"]]


def test_a_canary_that_fails_on_one_database_halts_the_rollout_and_the_fix_runs_it_once_more_then_the_rest(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    jobs, declared = three_waves(own_client)
    own_emulator.set_behavior(jobs["canary"].job_name, failed_databases=["app-db-2"])
    since = latest_seq(own_emulator)

    said = face.halted_up(**declared)
    assert "the rollout halted at wave 1" in said and "server1/app-db-2" in said, said
    state = face.set_state()
    assert state["rollout"]["state"] == "halted"
    assert state["rollout"]["halted"]["wave"] == 1
    assert state["rollout"]["halted"]["failed_targets"] == ["server1/app-db-2"]
    assert state["rollout"]["not_started"] == ["pool", "rest"]
    assert wave_lifecycles(state) == ["Failed", "NotStarted", "NotStarted"]
    assert state["rollout"]["waves"][0]["databases_failed"] == 1
    assert state["rollout"]["waves"][0]["databases_succeeded"] == 1
    assert state["failed_members"] == ["canary"]
    assert sent_to(own_emulator, since, jobs["pool"]) == [] and sent_to(own_emulator, since, jobs["rest"]) == []
    assert lifecycles(own_client, jobs["canary"]) == ["Failed"]

    since = latest_seq(own_emulator)
    said = face.halted_up(**declared)  # nothing fixed: judged again, nothing runs again
    assert "the rollout halted at wave 1" in said
    sent = [(r["method"], r["path"]) for r in own_emulator.requests_log(since) if r["method"] != "GET"]
    assert sent == []
    assert lifecycles(own_client, jobs["canary"]) == ["Failed"]

    own_emulator.clear_behaviors()
    face.up(**fixed(declared, "canary"))
    state = face.set_state()
    assert state["rollout"]["state"] == "complete" and state["rollout"].get("halted") is None
    assert wave_lifecycles(state) == ["Succeeded", "Succeeded", "Succeeded"]
    assert state["failed_members"] == [] and state["rollout"]["not_started"] == []
    assert lifecycles(own_client, jobs["canary"]) == ["Failed", "Succeeded"]
    assert lifecycles(own_client, jobs["pool"]) == ["Succeeded"]
    assert lifecycles(own_client, jobs["rest"]) == ["Succeeded"]
    canary_end = state["executions"]["canary"]["end_time"]
    assert canary_end <= state["executions"]["pool"]["create_time"]  # wave 2 started after wave 1 ended
    assert state["executions"]["pool"]["end_time"] <= state["executions"]["rest"]["create_time"]

    since = latest_seq(own_emulator)
    face.up(**fixed(declared, "canary"))
    assert [r for r in own_emulator.requests_log(since) if r["method"] != "GET"] == []


def test_a_rollout_halted_in_a_later_wave_resumes_there_and_never_runs_a_passed_wave_again(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    jobs, declared = three_waves(own_client)
    own_emulator.set_behavior(jobs["pool"].job_name, failed_databases=["app-db-1"])
    since = latest_seq(own_emulator)
    said = face.halted_up(**declared)
    assert "the rollout halted at wave 2" in said, said
    state = face.set_state()
    assert wave_lifecycles(state) == ["Succeeded", "Failed", "NotStarted"]
    assert state["rollout"]["halted"]["failed_targets"] == ["server1/app-db-1"]
    assert sent_to(own_emulator, since, jobs["rest"]) == []

    own_emulator.clear_behaviors()
    face.up(**fixed(declared, "pool"))
    assert face.set_state()["rollout"]["state"] == "complete"
    assert lifecycles(own_client, jobs["canary"]) == ["Succeeded"]  # the passed wave never runs again
    assert lifecycles(own_client, jobs["pool"]) == ["Failed", "Succeeded"]
    assert lifecycles(own_client, jobs["rest"]) == ["Succeeded"]


def test_a_gate_that_allows_a_failed_target_lets_the_rollout_go_on_and_the_member_still_shows_failed(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    jobs, declared = three_waves(own_client)
    own_emulator.set_behavior(jobs["canary"].job_name, failed_databases=["app-db-2"])
    face.up(**declared, gate={"max_failed_targets": 1})
    state = face.set_state()
    assert state["rollout"]["state"] == "complete"
    assert wave_lifecycles(state) == ["Succeeded", "Succeeded", "Succeeded"]
    assert state["failed_members"] == ["canary"]  # an output, as ever: members never fail the deployment alone
    assert lifecycles(own_client, jobs["rest"]) == ["Succeeded"]


def test_the_preview_of_a_fix_shows_the_halt_and_each_wave_in_order_with_what_up_would_start(
    own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    """The native plugin's update preview (it gets the recorded outputs): the set's diagnostics name the gate, the
    halt, and per wave the members ``up`` would start there, with their plans, and what each waits for. The
    dynamic plugin's preview is its Check, which sees inputs only: it says which members changed, in wave order."""
    engine_log = EngineLog()
    native = NativePlugin(engine_log.address)
    dynamic = configured_plugin(own_emulator, engine_log.address)
    try:
        native.configure(own_emulator)
        jobs, declared = three_waves(own_client)
        own_emulator.set_behavior(jobs["canary"].job_name, failed_databases=["app-db-2"])
        stack = f"rollout-{uuid.uuid4().hex[:8]}"
        engine = Engine(NativeStubs(native))  # type: ignore[arg-type]
        name = urn("fleet", EXECUTION_SET, stack)
        with pytest.raises(grpc.RpcError):
            engine.up(
                [Registration(EXECUTION_SET, "fleet", name, to_struct({**AGENT_CAMEL, **camel_inputs(declared)}))]
            )
        recorded = engine.state[name]
        news = native.stub.Check(
            provider_pb2.CheckRequest(
                urn=name,
                olds=recorded.inputs,
                news=to_struct({**AGENT_CAMEL, **camel_inputs(fixed(declared, "canary"))}),
            )
        ).inputs
        seen = len(engine_log.messages)
        native.stub.Update(
            provider_pb2.UpdateRequest(
                id=recorded.id, urn=name, olds=recorded.outputs, news=news, old_inputs=recorded.inputs, preview=True
            )
        )
        said = "\n".join(message.message for message in engine_log.messages[seen:])
        seen = len(engine_log.messages)
        checked = Engine(dynamic)
        with pytest.raises(grpc.RpcError):
            checked.up(declare_set(stack=stack, **declared))
        seen = len(engine_log.messages)
        checked.preview(declare_set(stack=stack, **fixed(declared, "canary")))
        said_by_check = "\n".join(message.message for message in engine_log.messages[seen:])
    finally:
        dynamic.kill()
        native.kill()
        engine_log.stop()
    assert "rollout in 3 waves; a wave starts once the one before passed: every member ended Succeeded" in said
    assert "halted at wave 1 by the last up (1 failed target (server1/app-db-2)" in said
    assert "wave 1 (canary): up starts it: starts canary\nmembers canary: will run " in said
    assert f"will run {jobs['canary'].job_name} v1" in said.split("wave 2")[0]  # the wave's plan, under it
    assert "wave 2 (pool): once wave 1 passed: starts pool" in said
    assert "wave 3 (rest): once wave 1, 2 passed: starts rest" in said
    from pulumi_azure_elastic_jobs.pr import parse_plan_text

    shown = parse_plan_text(said)  # the pull request's plan comment finds each wave's plan
    assert [plan.members for plan in shown] == ["canary", "pool", "rest"]
    assert all(plan.steps and plan.pin for plan in shown)

    assert "wave 1 (canary): up starts it: starts canary" in said_by_check
    assert "wave 2 (pool): no member changed; up starts those that never ran, once wave 1 passed" in said_by_check


def test_a_rollout_whose_wait_ran_out_in_a_wave_resumes_that_wave_on_the_next_up_without_a_second_run(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    jobs = {"canary": new_job(own_client, script=HELD), "rest": new_job(own_client, script=QUICK)}
    members = {key: {"job_name": job.job_name} for key, job in jobs.items()}
    declared = {"members": members, "waves": [["canary"], ["rest"]], **WAITING, "timeout": 2}
    face.up(**declared)  # the canary still runs when the wait runs out: recorded, running, nothing more started
    state = face.set_state()
    assert state["rollout"]["state"] == "running" and wave_lifecycles(state) == ["InProgress", "NotStarted"]
    assert state["rollout"]["not_started"] == ["rest"] and lifecycles(own_client, jobs["rest"]) == []

    own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)  # the canary's run ends before the next up
    face.up(**declared)
    state = face.set_state()
    assert state["rollout"]["state"] == "complete" and wave_lifecycles(state) == ["Succeeded", "Succeeded"]
    assert lifecycles(own_client, jobs["canary"]) == ["Succeeded"]  # waited for, never started again
    assert lifecycles(own_client, jobs["rest"]) == ["Succeeded"]
