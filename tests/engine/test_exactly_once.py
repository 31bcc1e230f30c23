"""One intent, one run: lost answers, 202s for existing ids, fleets that partly fail, interrupted deployments.

Every test runs through the real dynamic-provider plugin against the emulator over a socket and counts the
executions on the server. Runs that must stay active are held by a long step and ended by moving the service
clock (``clock_offset_seconds``), so nothing here races a timer.
"""

from __future__ import annotations

import math
import re
import threading
import uuid
from dataclasses import replace
from typing import Any

import grpc
import pulumi
import pytest

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.inputs import ExecutionInputs
from tests.conftest import ACTIVE, HELD, HOUR_AHEAD, lifecycles, new_job
from tests.engine.conftest import AGENT, Declare, configured_plugin
from tests.engine.harness import Engine, Plugin, Registration, run_program
from tests.engine.test_reliability import start_up_in_background, wait_for


def declare_set(name: str = "fleet", stack: str = "", **kwargs: Any) -> list[Registration]:
    from pulumi_azure_elastic_jobs import JobExecutionSet

    def program() -> None:
        JobExecutionSet(name, resource_group_name="group1", server_name="server1", job_agent_name="agent1", **kwargs)

    return run_program(program, project="tests", stack=stack or f"set-{uuid.uuid4().hex[:8]}")


def only_state(engine: Engine) -> dict[str, Any]:
    (state,) = engine.state.values()
    return state.output_props


# --- 1 and 2: the PUT's answer never decides whether a run is new -------------------------------------------


def test_a_put_whose_answer_is_lost_after_it_acted_starts_one_run(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")  # over before the retry (>= 0.5 s later)
    emulator.add_fault("act-then-drop", path=job.job_name, method="PUT", count=1)
    engine.up(declare(job_name=job.job_name, wait_for_completion=True))
    assert lifecycles(client, job) == ["Succeeded"]
    assert only_state(engine)["job_execution_id"] == next(client.list_executions(job)).properties.job_execution_id


def test_destroy_then_up_starts_one_new_run_when_every_put_answers_202(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    emulator.settings(async_put="always")
    try:
        engine.up(declare(job_name=job.job_name, wait_for_completion=True))
        first = only_state(engine)["job_execution_id"]
        engine.destroy()
        engine.up(declare(job_name=job.job_name, wait_for_completion=True))
        second = only_state(engine)["job_execution_id"]
    finally:
        emulator.settings(async_put="never")
    assert lifecycles(client, job) == ["Succeeded", "Succeeded"]
    assert first != second


@pytest.mark.parametrize("skew_seconds", [-HOUR_AHEAD, HOUR_AHEAD])
def test_a_service_clock_far_from_ours_starts_one_run_per_intent(
    own_emulator: Emulator, own_plugin: Plugin, own_client: ElasticJobsClient, declare: Declare, skew_seconds: float
) -> None:
    own_emulator.settings(clock_offset_seconds=skew_seconds)
    job = new_job(own_client, script="SELECT 1; -- emulator:duration=0")
    engine = Engine(own_plugin)
    engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
    engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
    assert lifecycles(own_client, job) == ["Succeeded"]
    engine.destroy()
    engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
    assert lifecycles(own_client, job) == ["Succeeded", "Succeeded"]


# --- 3 and 4: a fleet never forgets a started run --------------------------------------------------------------


def test_a_set_member_whose_job_is_missing_is_recorded_and_the_others_are_not_started_again(
    engine: Engine, client: ElasticJobsClient
) -> None:
    good = new_job(client, script=HELD)
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    stack = f"set-{uuid.uuid4().hex[:8]}"
    members = {"good": {"job_name": good.job_name}, "bad": {"job_name": missing}}
    engine.up(declare_set(stack=stack, members=members))
    outputs = only_state(engine)
    assert outputs["failed_members"] == ["bad"]
    assert outputs["executions"]["bad"]["error"]["code"] == "ResourceNotFound"
    assert f"'{missing}' was not found" in outputs["executions"]["bad"]["error"]["message"]
    assert outputs["executions"]["bad"].get("azure_id") is None
    assert outputs["executions"]["good"]["lifecycle"] in ("Created", "WaitingForChildJobExecutions")
    recorded = outputs["executions"]["bad"]["error"]
    assert recorded["request_id"]
    engine.refresh()  # a refresh writes the recorded error back as it was
    assert only_state(engine)["executions"]["bad"]["error"] == recorded

    engine.up(declare_set(stack=stack, members=members))  # the bad member is tried again, the good one kept
    assert lifecycles(client, good) == [ACTIVE]

    created = replace(good, job_name=missing)
    client.request("PUT", created.path, json={"properties": {}})
    engine.up(declare_set(stack=stack, members=members))
    outputs = only_state(engine)
    assert outputs["failed_members"] == []
    assert outputs["executions"]["bad"].get("error") is None
    assert lifecycles(client, good) == [ACTIVE]
    assert len(lifecycles(client, created)) == 1


def test_a_set_member_whose_run_vanishes_mid_wait_is_recorded_and_the_wait_ends_for_the_rest(
    own_emulator: Emulator, own_plugin: Plugin, own_client: ElasticJobsClient
) -> None:
    quick, held = new_job(own_client, script="SELECT 1; -- emulator:duration=0"), new_job(own_client, script=HELD)
    members = {"quick": {"job_name": quick.job_name}, "held": {"job_name": held.job_name}}

    def forget_the_held_run() -> None:
        wait_for(lambda: len(list(own_client.list_executions(held))) == 1)
        own_emulator.forget(next(own_client.list_executions(held)).id or "")

    forgetter = threading.Thread(target=forget_the_held_run)
    forgetter.start()
    engine = Engine(own_plugin)
    engine.up(declare_set(members=members, wait_for_completion=True, poll_interval=0.2))
    forgetter.join()
    outputs = only_state(engine)
    assert outputs["failed_members"] == ["held"]
    assert outputs["executions"]["held"]["error"]["code"] == "ResourceNotFound"
    assert outputs["executions"]["held"]["azure_id"]  # the run it started is remembered, not started again
    assert outputs["executions"]["quick"]["lifecycle"] == "Succeeded"
    assert outputs["finished"] is True


@pytest.mark.parametrize("cancel_on_destroy", [True, False])
def test_a_set_member_whose_triggers_change_has_its_active_run_cancelled_first(
    engine: Engine, client: ElasticJobsClient, emulator: Emulator, cancel_on_destroy: bool
) -> None:
    held, other = new_job(client, script=HELD), new_job(client, script=HELD)
    for job in (held, other):  # a run starts as it is created, so the lifecycles below never race its start
        emulator.set_behavior(job.job_name, start_delay_seconds=0)
    stack = f"set-{uuid.uuid4().hex[:8]}"

    def members(version: int) -> dict[str, Any]:
        return {"a": {"job_name": held.job_name, "triggers": {"v": version}}, "b": {"job_name": other.job_name}}

    engine.up(declare_set(stack=stack, members=members(1), cancel_on_destroy=cancel_on_destroy))
    engine.up(declare_set(stack=stack, members=members(2), cancel_on_destroy=cancel_on_destroy))
    superseded = "Canceled" if cancel_on_destroy else ACTIVE
    assert lifecycles(client, held) == [superseded, ACTIVE]
    assert lifecycles(client, other) == [ACTIVE]
    engine.destroy()


# --- 5: interrupted deployments, held by the service clock instead of a timer -----------------------------------


def kill_after_the_put(emulator: Emulator, client: ElasticJobsClient, job: JobRef, registrations: Any) -> None:
    """Start an ``up`` in a plugin and SIGKILL it once the run exists on the server (as ^C^C or a crash)."""
    doomed = configured_plugin(emulator)
    start_up_in_background(Engine(doomed), registrations)
    wait_for(lambda: len(list(client.list_executions(job))) == 1)
    doomed.kill()


@pytest.mark.parametrize("wait_for_completion", [True, False])
def test_an_up_killed_after_the_put_then_up_again_attaches_to_the_held_run(
    own_emulator: Emulator, own_client: ElasticJobsClient, declare: Declare, wait_for_completion: bool
) -> None:
    job = new_job(own_client, script=HELD)
    registrations = declare(job_name=job.job_name, wait_for_completion=wait_for_completion, poll_interval=0.2)
    kill_after_the_put(own_emulator, own_client, job, registrations)
    assert lifecycles(own_client, job) == [ACTIVE]  # held: it cannot end while the next up starts

    fresh = configured_plugin(own_emulator)
    try:
        engine = Engine(fresh)
        if wait_for_completion:  # let the held run end once the fresh up is waiting on it
            since = own_emulator.requests_log()[-1]["seq"]
            # a slow machine's order, every time: the preview's plan reads the held run's targets well before the
            # create lists the job's runs and finds its own
            own_emulator.add_fault(
                "delay", path=f"{job.job_name}/executions$", method="GET", delay_seconds=0.5, count=2
            )
            threading.Thread(target=end_held_runs_when_polled, args=(own_emulator, since), daemon=True).start()
        engine.up(registrations)
        if wait_for_completion:
            (slowed,) = own_emulator.faults()
            assert slowed["hits"] >= 2, slowed  # the plan's listing and the create's both came late
        (execution,) = own_client.list_executions(job)
        assert only_state(engine)["job_execution_id"] == execution.properties.job_execution_id
        assert only_state(engine)["lifecycle"] == (
            "Succeeded" if wait_for_completion else "WaitingForChildJobExecutions"
        )
    finally:
        fresh.kill()


A_RUN = re.compile(r"/executions/[^/]+$")  # a run itself, never its targets or steps


def end_held_runs_when_polled(emulator: Emulator, since: int) -> None:
    """End the held runs once a read of a run itself has been answered (the log records a request after its answer),
    so the ``up`` has seen its run still going. Reads of a run's targets do not count: a preview's plan reads the
    targets of the job's active runs before the create has found its own run, and ending it then would make that
    create meet a finished run (a CI failure: a second, never-ending held run)."""
    wait_for(lambda: any(e["method"] == "GET" and A_RUN.search(e["path"]) for e in emulator.requests_log(since)))
    emulator.settings(clock_offset_seconds=HOUR_AHEAD)


def test_an_up_killed_after_the_put_whose_run_then_finished_starts_a_new_run_on_the_next_up(
    own_emulator: Emulator, own_client: ElasticJobsClient, declare: Declare
) -> None:
    """The documented limit: a finished run of a create that never completed looks like destroy-then-up."""
    job = new_job(own_client, script=HELD)
    registrations = declare(job_name=job.job_name)
    kill_after_the_put(own_emulator, own_client, job, registrations)
    own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)
    fresh = configured_plugin(own_emulator)
    try:
        Engine(fresh).up(registrations)
    finally:
        fresh.kill()
    assert lifecycles(own_client, job) == ["Succeeded", ACTIVE]


def test_a_wait_timeout_fails_with_the_id_and_the_next_up_reattaches_to_the_held_run(
    own_emulator: Emulator, own_plugin: Plugin, own_client: ElasticJobsClient, declare: Declare
) -> None:
    job = new_job(own_client, script=HELD)
    engine = Engine(own_plugin)
    with pytest.raises(grpc.RpcError) as raised:
        engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2, timeout=0.2))
    text = raised.value.details()
    assert "still running" in text and "next `pulumi up` waits for it again" in text
    (execution,) = own_client.list_executions(job)
    assert execution.properties.job_execution_id in text
    assert only_state(engine)["lifecycle"] in (
        "Created",
        "WaitingForChildJobExecutions",
        "WaitingForChildJobExecutions",
    )
    since = own_emulator.requests_log()[-1]["seq"]
    threading.Thread(target=end_held_runs_when_polled, args=(own_emulator, since), daemon=True).start()
    engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2, timeout=60))
    assert only_state(engine)["lifecycle"] == "Succeeded"
    assert lifecycles(own_client, job) == ["Succeeded"]


# --- identity: where the resource sits ----------------------------------------------------------------------------


def test_two_resources_of_one_name_under_different_components_never_share_a_run(
    engine: Engine, client: ElasticJobsClient
) -> None:
    """URNs carry the parent chain's types (names must differ among siblings): the key follows the URN."""
    from pulumi_azure_elastic_jobs import JobExecution

    job = new_job(client, script=HELD)

    def component(type_: str) -> None:
        parent = pulumi.ComponentResource(type_, "migration")
        JobExecution("run", **AGENT, job_name=job.job_name, opts=pulumi.ResourceOptions(parent=parent))

    def program() -> None:
        component("tests:index:EuMigration")
        component("tests:index:UsMigration")

    registrations = run_program(program, project="tests", stack="components")
    keys = sorted(reg.props["execution_key"] for reg in registrations)
    assert len(set(keys)) == 2
    assert "EuMigration$" in keys[0] and "UsMigration$" in keys[1]
    engine.up(registrations)
    assert len(lifecycles(client, job)) == 2
    engine.destroy()


def test_an_explicit_execution_key_shares_one_chain_across_stacks(engine: Engine, client: ElasticJobsClient) -> None:
    from pulumi_azure_elastic_jobs import JobExecution

    job = new_job(client, script=HELD)

    def program() -> None:
        JobExecution("run", **AGENT, job_name=job.job_name, execution_key="shared-migration")

    first, second = Engine(engine.plugin), Engine(engine.plugin)
    first.up(run_program(program, project="tests", stack="blue"))
    second.up(run_program(program, project="tests", stack="green"))
    assert lifecycles(client, job) == [ACTIVE]  # green attached to blue's active run
    assert only_state(first)["job_execution_id"] == only_state(second)["job_execution_id"]
    first.destroy()


# --- 6: a chain with a long history, and the gaps history clean-up leaves in it ---------------------------------


def chain_of(job: JobRef, key: str) -> ExecutionInputs:
    """The inputs a resource with this execution key has for ``job``: the same derived ids."""
    return ExecutionInputs.model_validate(
        {**AGENT, "subscription_id": DEFAULT_SUBSCRIPTION, "job_name": job.job_name, "execution_key": key}
    )


@pytest.mark.parametrize("earlier_runs", [0, 1, 9, 99])
def test_the_kth_run_of_a_chain_costs_logarithmic_reads_and_one_put(
    engine: Engine, emulator: Emulator, client: ElasticJobsClient, declare: Declare, earlier_runs: int
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    key = f"history-{uuid.uuid4().hex[:8]}"
    chain = chain_of(job, key)
    for generation in range(earlier_runs):  # earlier lives of the resource (destroy then up), all finished
        ref = job.execution(chain.derived_execution_id(generation))
        client.ensure_execution(ref)
        client.wait_for_terminal(ref, timeout=60)
    since = emulator.requests_log()[-1]["seq"]
    engine.up(declare(job_name=job.job_name, execution_key=key))
    sent = [r["method"] for r in emulator.requests_log(since)]
    assert only_state(engine)["job_execution_id"] == chain.derived_execution_id(earlier_runs)
    assert sent.count("PUT") == 1 and len(lifecycles(client, job)) == earlier_runs + 1
    plan = {job.path, f"{job.path}/versions/1/steps", f"{job.agent_path}/targetGroups/all-databases"}
    reads = [r["path"] for r in emulator.requests_log(since) if r["method"] == "GET" and r["path"] not in plan]
    # + the listing when generation 0 is free, + Check's plan listing the job's active runs
    assert len(reads) <= 2 * math.ceil(math.log2(earlier_runs + 1)) + 3, sent


def test_an_active_run_beyond_a_gap_that_history_clean_up_left_is_adopted_not_run_again(
    engine: Engine, emulator: Emulator, client: ElasticJobsClient, declare: Declare
) -> None:
    job = new_job(client, script=HELD)
    key = f"gap-{uuid.uuid4().hex[:8]}"
    chain = chain_of(job, key)
    refs = [job.execution(chain.derived_execution_id(generation)) for generation in range(5)]
    for ref in refs:
        client.ensure_execution(ref)
    for ref in refs[:4]:  # the four oldest runs of the chain are gone from the history; the fifth still runs
        emulator.forget(ref.arm_id)
    engine.up(declare(job_name=job.job_name, execution_key=key))
    assert only_state(engine)["job_execution_id"] == refs[4].job_execution_id
    assert lifecycles(client, job) == [ACTIVE]


def test_set_members_on_one_job_each_start_their_own_run_and_a_second_up_starts_none(
    engine: Engine, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=HELD)
    stack = f"shared-{uuid.uuid4().hex[:8]}"
    members = {f"m{i}": {"job_name": job.job_name} for i in range(4)}
    engine.up(declare_set(stack=stack, members=members))
    ids = {item["job_execution_id"] for item in only_state(engine)["executions"].values()}
    assert len(ids) == 4 and lifecycles(client, job) == [ACTIVE] * 4  # none adopted another's active run
    engine.up(declare_set(stack=stack, members=members))
    assert len(lifecycles(client, job)) == 4
