"""A create whose run started but did not settle is recorded with that run, on both faces, so no later ``up``
runs the job a second time (issue 25, defect 1; and defect 7, customTimeouts never recorded as ``timeout``).

The ordinary case: a CI job gives up waiting, the migration ends twenty minutes later, someone runs ``up`` the
next morning. The engine records a "created but failed to initialize" resource from the ``ErrorResourceInitFailed``
detail and updates it on the next ``up``; the update waits for that same run. Runs are held by a long step and
ended by moving the emulator's clock, never by racing a timer.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.catalog import camel
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.terms import UNKNOWN
from tests.conftest import ACTIVE, HELD, HOUR_AHEAD, lifecycles, new_job
from tests.engine.conftest import AGENT as AGENT_SNAKE
from tests.engine.conftest import Declare, configured_plugin
from tests.engine.harness import AGENT_CAMEL as AGENT
from tests.engine.harness import (
    EXECUTION,
    EXECUTION_SET,
    Engine,
    EngineLog,
    NativePlugin,
    NativeStubs,
    Plugin,
    Registration,
    from_struct,
    init_failure,
    run_program,
    to_struct,
    urn,
)
from tests.engine.test_exactly_once import only_state
from tests.engine.test_reliability import wait_for

WAITED = {"waitForCompletion": True, "pollInterval": 0.2}


def test_a_timed_out_create_whose_run_then_ends_is_never_run_again_by_the_next_up(
    own_emulator: Emulator, own_plugin: Plugin, own_client: ElasticJobsClient, declare: Declare
) -> None:
    job = new_job(own_client, script=HELD)
    engine = Engine(own_plugin)
    registrations = declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2, timeout=0.3)
    with pytest.raises(grpc.RpcError) as raised:
        engine.up(registrations)
    failed = init_failure(raised.value)
    assert failed is not None and "still running" in failed.reasons[0]
    (run,) = own_client.list_executions(job)
    assert failed.id.endswith(f"/executions/{run.name}")
    own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)  # the run ends while nobody is looking
    assert lifecycles(own_client, job) == ["Succeeded"]

    result = engine.up(registrations)  # the next morning
    assert list(result.operations.values()) == ["update"]
    assert lifecycles(own_client, job) == ["Succeeded"]
    assert only_state(engine)["lifecycle"] == "Succeeded" and only_state(engine)["job_execution_id"] == run.name
    assert engine.up(registrations).operations == dict.fromkeys(result.operations, "same")


def native_up(native: NativePlugin, name: str, inputs: dict[str, Any], timeout: float = 0) -> Any:
    """What the engine does for a new resource: Check, then Create (with the step's custom timeout)."""
    checked = native.check(name, inputs)
    assert not checked.failures, checked.failures
    request = provider_pb2.CreateRequest(urn=urn(name), properties=checked.inputs, timeout=timeout)
    return checked.inputs, native.stub.Create(request, timeout=120)


def test_a_native_create_cut_by_custom_timeouts_is_recorded_and_the_next_up_waits_for_the_same_run(
    own_emulator: Emulator, own_client: ElasticJobsClient, engine_log: Any
) -> None:
    native = NativePlugin(engine_log.address, own_emulator)
    try:
        job = new_job(own_client, script=HELD)
        inputs = {**AGENT, "jobName": job.job_name, **WAITED, "timeout": 600}
        with pytest.raises(grpc.RpcError) as raised:
            native_up(native, "cut", inputs, timeout=0.5)
        failed = init_failure(raised.value)
        assert failed is not None and "still running" in failed.reasons[0]
        recorded = from_struct(failed.properties)
        assert recorded["timeout"] == 600 and recorded["azureId"] == failed.id  # the declared timeout, not 0.5
        own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)

        checked = native.check("cut", inputs, olds=recorded).inputs  # the next up: init errors mean an update
        diff = native.stub.Diff(
            provider_pb2.DiffRequest(id=failed.id, urn=urn("cut"), olds=failed.properties, news=checked)
        )
        assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE
        updated = native.stub.Update(
            provider_pb2.UpdateRequest(id=failed.id, urn=urn("cut"), olds=failed.properties, news=checked),
            timeout=120,
        )
        assert from_struct(updated.properties)["lifecycle"] == "Succeeded"
        assert lifecycles(own_client, job) == ["Succeeded"]
    finally:
        native.kill()


def test_a_native_create_whose_wait_is_cancelled_is_recorded_with_its_run(
    own_emulator: Emulator, own_client: ElasticJobsClient, engine_log: Any
) -> None:
    native = NativePlugin(engine_log.address, own_emulator)
    try:
        job = new_job(own_client, script=HELD)
        since = own_emulator.requests_log()[-1]["seq"] if own_emulator.requests_log() else 0

        def cancel_once_polled() -> None:
            wait_for(lambda: any(e["method"] == "GET" for e in own_emulator.requests_log(since)))
            native.stub.Cancel(empty_pb2.Empty())

        threading.Thread(target=cancel_once_polled, daemon=True).start()
        with pytest.raises(grpc.RpcError) as raised:
            native_up(native, "cancelled", {**AGENT, "jobName": job.job_name, **WAITED})
        failed = init_failure(raised.value)
        assert failed is not None and "cancelled" in failed.reasons[0]
        (run,) = own_client.list_executions(job)
        assert from_struct(failed.properties)["jobExecutionId"] == run.name
        assert lifecycles(own_client, job) == [ACTIVE]  # a Cancel ends waits, never runs
    finally:
        native.kill()


def test_a_create_that_did_not_wait_reports_no_partial_failure(native: NativePlugin, client: ElasticJobsClient) -> None:
    """The detail is for runs that exist: a plain successful create answers normally, with the declared timeout."""
    job = new_job(client, script=HELD)
    _, created = native_up(native, "quick", {**AGENT, "jobName": job.job_name, "timeout": 900}, timeout=0.5)
    outputs = from_struct(created.properties)
    assert outputs["timeout"] == 900 and outputs["lifecycle"] in ("Created", "WaitingForChildJobExecutions")
    native.stub.Delete(provider_pb2.DeleteRequest(id=created.id, urn=urn("quick"), properties=created.properties))


def test_native_preview_create_reads_only_the_plan_and_update_sends_no_request(
    native: NativePlugin, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=HELD)
    before = len(emulator.requests_log())
    checked = native.check("previewed", {**AGENT, "jobName": job.job_name, **WAITED})
    created = native.stub.Create(
        provider_pb2.CreateRequest(urn=urn("previewed"), properties=checked.inputs, preview=True)
    )
    fields = created.properties.fields
    assert fields["jobName"].string_value == job.job_name and fields["lifecycle"].string_value == UNKNOWN
    assert fields["azureId"].string_value == UNKNOWN and created.id == ""
    plan = fields["plan"].struct_value.fields
    assert plan["summary"].string_value == f"will run {job.job_name} v1: 1 step on 2 databases in 1 server"
    assert {r["method"] for r in emulator.requests_log()[before:]} == {"GET"}
    before = len(emulator.requests_log())
    updated = native.stub.Update(
        provider_pb2.UpdateRequest(id="x", urn=urn("previewed"), olds=to_struct({}), news=checked.inputs, preview=True)
    )
    assert updated.properties.fields["jobName"].string_value == job.job_name
    assert len(emulator.requests_log()) == before


@pytest.mark.parametrize("face_name", ["native", "dynamic"])
def test_a_create_before_delete_replacement_of_an_active_run_keeps_the_run_it_attached_to(
    own_emulator: Emulator, own_client: ElasticJobsClient, engine_log: Any, face_name: str, declare: Declare
) -> None:
    """``deleteBeforeReplace: false`` and ``up --replace`` while the run is going: the engine creates the new
    resource first (it attaches to the run, the same intent's), then deletes the old one, which must not cancel
    the run the new resource now stands for (issue 25, defect 2)."""
    job = new_job(own_client, script=HELD)
    if face_name == "native":
        plugin: Any = NativePlugin(engine_log.address, own_emulator)
        stub, name = plugin.stub, urn("replaced")
        checked = plugin.check("replaced", {**AGENT, "jobName": job.job_name}).inputs
    else:
        plugin = configured_plugin(own_emulator)
        stub = plugin.stub
        (registration,) = declare(job_name=job.job_name)
        name = registration.urn
        checked = stub.Check(provider_pb2.CheckRequest(urn=name, news=registration.inputs)).inputs
    try:
        old = stub.Create(provider_pb2.CreateRequest(urn=name, properties=checked), timeout=60)
        new = stub.Create(provider_pb2.CreateRequest(urn=name, properties=checked), timeout=60)  # replacement first
        stub.Delete(provider_pb2.DeleteRequest(id=old.id, urn=name, properties=old.properties), timeout=60)
        assert new.id == old.id
        assert lifecycles(own_client, job) == [ACTIVE], "the replacement's run was cancelled under it"
    finally:
        plugin.kill()


@pytest.fixture(params=["dynamic", "native"])
def short_budget_engine(request: pytest.FixtureRequest, own_emulator: Emulator) -> Iterator[tuple[Engine, Any]]:
    """The engine stand-in over either plugin, retrying each request for one second; yields it and how to declare
    a JobExecution for it (``declare(job_name=...)``)."""
    stack = f"lost-{uuid.uuid4().hex[:8]}"
    if request.param == "dynamic":
        plugin = configured_plugin(own_emulator, AZURE_ELASTIC_JOBS_RETRY_BUDGET="1")

        def declare_dynamic(**inputs: Any) -> list[Registration]:
            from pulumi_azure_elastic_jobs import JobExecution

            return run_program(lambda: JobExecution("run", **AGENT_SNAKE, **inputs), project="tests", stack=stack)

        try:
            yield Engine(plugin), declare_dynamic
        finally:
            plugin.kill()
        return
    log = EngineLog()
    native = NativePlugin(log.address)
    native.configure(own_emulator, retryBudget="1")

    def declare_native(**inputs: Any) -> list[Registration]:
        news = to_struct({**AGENT, **{camel(key): value for key, value in inputs.items()}})
        return [Registration(EXECUTION, "run", urn("run", EXECUTION, stack), news)]

    try:
        yield Engine(NativeStubs(native)), declare_native  # type: ignore[arg-type]
    finally:
        native.kill()
        log.stop()


@pytest.mark.parametrize("fault", ["act-then-drop", "drop"])
def test_a_create_whose_put_answers_were_all_lost_is_recorded_with_its_id_and_ensured_by_the_next_up(
    short_budget_engine: tuple[Engine, Any], own_emulator: Emulator, own_client: ElasticJobsClient, fault: str
) -> None:
    """Every answer to the PUT lost past the retry budget: the service started the run (``act-then-drop``) or
    never saw the PUT (``drop``). Either way the resource is recorded with the id it PUT, and the next ``up``
    ensures that id: the run that ended meanwhile is not run again, and a run that never arrived starts once."""
    engine, declare = short_budget_engine
    job = new_job(own_client, script=HELD)
    own_emulator.add_fault(fault, path=job.job_name, method="PUT", count=-1)
    with pytest.raises(grpc.RpcError) as raised:
        engine.up(declare(job_name=job.job_name))
    own_emulator.clear_faults()
    failed = init_failure(raised.value)
    assert failed is not None, raised.value.details()
    recorded = only_state(engine)
    put_id = recorded.get("job_execution_id") or recorded.get("jobExecutionId")
    assert put_id and recorded.get("lifecycle") is None
    assert [e.name for e in own_client.list_executions(job)] == ([put_id] if fault == "act-then-drop" else [])
    own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)  # a run it started ends before the next up

    engine.refresh()  # finds nothing (drop) or the run: either way the id stays the resource's
    engine.up(declare(job_name=job.job_name))
    assert [e.name for e in own_client.list_executions(job)] == [put_id]  # one run, under the id it PUT
    assert only_state(engine)["lifecycle"] in ("Succeeded", "Created", "WaitingForChildJobExecutions")


def test_native_custom_timeouts_on_a_set_cut_the_wait_but_never_become_its_timeout_input(
    native: NativePlugin, client: ElasticJobsClient
) -> None:
    """Recorded as the limit, every later unchanged `up` showed `~ update [diff: ~timeout]` (issue 25, defect 7)."""
    job = new_job(client, script=HELD)
    inputs = {**AGENT, "members": {"eu": {"jobName": job.job_name}}, **WAITED, "timeout": 900}
    checked = native.check("fleet", inputs, type_=EXECUTION_SET).inputs
    name = urn("fleet", EXECUTION_SET)
    created = native.stub.Create(provider_pb2.CreateRequest(urn=name, properties=checked, timeout=0.5), timeout=60)
    recorded = from_struct(created.properties)
    assert recorded["timeout"] == 900 and recorded["finished"] is False  # the wait was cut, the input kept
    again = native.check("fleet", inputs, olds=recorded, type_=EXECUTION_SET).inputs
    diff = native.stub.Diff(provider_pb2.DiffRequest(id=created.id, urn=name, olds=created.properties, news=again))
    assert "timeout" not in diff.diffs
    native.stub.Delete(provider_pb2.DeleteRequest(id=created.id, urn=name, properties=created.properties))


@pytest.mark.parametrize("face_name", ["native", "dynamic"])
def test_a_create_before_delete_replacement_of_a_pinned_active_run_keeps_it(
    own_emulator: Emulator, own_client: ElasticJobsClient, engine_log: Any, face_name: str, declare: Declare
) -> None:
    """The same as above with a pinned ``job_execution_id``: the replacement reads the id, finds the run and stands
    for it, so the old resource's delete leaves it alone (a PUT without the read would take the run for one it
    started, and the delete would cancel it)."""
    job = new_job(own_client, script=HELD)
    pinned = str(uuid.uuid4())
    if face_name == "native":
        plugin: Any = NativePlugin(engine_log.address, own_emulator)
        name = urn("pinned")
        checked = plugin.check("pinned", {**AGENT, "jobName": job.job_name, "jobExecutionId": pinned}).inputs
    else:
        plugin = configured_plugin(own_emulator)
        (registration,) = declare(job_name=job.job_name, job_execution_id=pinned)
        name = registration.urn
        checked = plugin.stub.Check(provider_pb2.CheckRequest(urn=name, news=registration.inputs)).inputs
    stub = plugin.stub
    try:
        old = stub.Create(provider_pb2.CreateRequest(urn=name, properties=checked), timeout=60)
        new = stub.Create(provider_pb2.CreateRequest(urn=name, properties=checked), timeout=60)
        stub.Delete(provider_pb2.DeleteRequest(id=old.id, urn=name, properties=old.properties), timeout=60)
        assert new.id == old.id and new.id.endswith(pinned)
        assert lifecycles(own_client, job) == [ACTIVE], "the replacement's pinned run was cancelled under it"
    finally:
        plugin.kill()


def test_an_update_of_a_forgotten_run_changing_only_how_it_waits_starts_nothing(
    short_budget_engine: tuple[Engine, Any], own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    """History retention removed the run; an `up` that changes only a waiting option updates the record (it stays
    with in_history false) and never runs the job again."""
    engine, declare = short_budget_engine
    job = new_job(own_client, script="SELECT 1; -- emulator:duration=0")
    engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
    (run,) = own_client.list_executions(job)
    own_emulator.forget(run.id or "")
    result = engine.up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.5))
    assert list(result.operations.values()) == ["update"]
    assert list(own_client.list_executions(job)) == []  # nothing ran again
    state = only_state(engine)
    assert state.get("in_history", state.get("inHistory")) is False


@pytest.mark.parametrize("face_name", ["native", "dynamic"])
def test_a_create_before_delete_replacement_after_the_job_was_made_again_keeps_its_new_run(
    own_emulator: Emulator, own_client: ElasticJobsClient, engine_log: Any, face_name: str, declare: Declare
) -> None:
    """Found by the model's random search: the job deleted mid-run and made again (its history gone), then a
    create-before-delete replacement. The new create starts a run under the very id the old resource names (the
    chain's first generation is free again); the old resource's delete must not cancel it."""
    job = new_job(own_client, script=HELD)
    if face_name == "native":
        plugin: Any = NativePlugin(engine_log.address, own_emulator)
        name = urn("remade")
        checked = plugin.check("remade", {**AGENT, "jobName": job.job_name}).inputs
    else:
        plugin = configured_plugin(own_emulator)
        (registration,) = declare(job_name=job.job_name)
        name = registration.urn
        checked = plugin.stub.Check(provider_pb2.CheckRequest(urn=name, news=registration.inputs)).inputs
    stub = plugin.stub
    try:
        old = stub.Create(provider_pb2.CreateRequest(urn=name, properties=checked), timeout=60)
        plugin.kill()  # the next deployment runs in a plugin process of its own
        plugin = (
            NativePlugin(engine_log.address, own_emulator) if face_name == "native" else configured_plugin(own_emulator)
        )
        stub = plugin.stub
        own_emulator.forget(job.path)  # the job deleted mid-run, then made again under its name
        own_client.request("PUT", job.path, json={"properties": {"description": "made again"}})
        own_client.request(
            "PUT",
            f"{job.path}/steps/step1",
            json={
                "properties": {"targetGroup": f"{job.agent_path}/targetGroups/all-databases", "action": {"value": HELD}}
            },
        )
        new = stub.Create(provider_pb2.CreateRequest(urn=name, properties=checked), timeout=60)
        stub.Delete(provider_pb2.DeleteRequest(id=old.id, urn=name, properties=old.properties), timeout=60)
        assert new.id == old.id
        assert lifecycles(own_client, job) == [ACTIVE], "the replacement's new run was cancelled under it"
    finally:
        plugin.kill()
