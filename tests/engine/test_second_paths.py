"""Exactly once on the second paths (issue 35): each beside a well-tested first path, on both plugins over gRPC.

An outside audit's mutants survived on these paths because no test walked them: a pin with counts against a plan
that was not read whole, a PUT whose answer was lost and whose retries were then throttled past the budget, a set
whose wait was cut while a member still runs (and its refresh in mixed states), a superseded member's run that
was cancelled but cannot be read back, and a create-before-delete replacement of a set. Each test drives the real
dynamic-provider plugin and the real native plugin through the same engine stand-in, against an emulator of its
own, asserts that each injected fault fired, and counts the runs on the server. Held runs end only when the test
moves the emulator's service clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.planning import read_plan
from tests.conftest import HELD, HOUR_AHEAD, lifecycles, new_job
from tests.engine.conftest import AGENT, configured_plugin
from tests.engine.harness import (
    AGENT_CAMEL,
    EXECUTION,
    EXECUTION_SET,
    QUICK,
    Engine,
    EngineLog,
    NativePlugin,
    NativeStubs,
    Registration,
    camel_inputs,
    run_program,
    snake_outputs,
    to_struct,
    urn,
)

RETRY_BUDGET = "1"
"""Seconds each request may retry: a fault that outlasts it ends the request in an error within a second or two."""
OTHER_SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"
"""A subscription the plan searches for servers (``fleetSubscriptions``), whose reads a test may deny."""
FAILS = "SELECT 1; -- emulator:fail emulator:duration=0"


@dataclass
class Face:
    """One plugin, played by the engine stand-in, declaring one resource of a stack of its own."""

    name: str
    engine: Engine
    stack: str
    to_core: Callable[[Any], Any]
    start: Callable[[], Any]
    """A fresh plugin process, configured: the engine starts one per deployment."""

    def next_deployment_in_a_new_process(self) -> None:
        """What a plugin remembers of its deployment (runs it attached to or started) ends with its process."""
        self.engine.plugin.kill()
        self.engine.plugin = self.start()

    def single(self, name: str = "run", **inputs: Any) -> list[Registration]:
        return self._declare(EXECUTION, name, inputs)

    def fleet(self, name: str = "fleet", **inputs: Any) -> list[Registration]:
        return self._declare(EXECUTION_SET, name, inputs)

    def _declare(self, type_: str, name: str, inputs: dict[str, Any]) -> list[Registration]:
        if self.name == "native":
            news = to_struct({**AGENT_CAMEL, **camel_inputs(inputs)})
            return [Registration(type_, name, urn(name, type_, self.stack), news)]

        def program() -> None:
            from pulumi_azure_elastic_jobs import JobExecution, JobExecutionSet

            resource = JobExecution if type_ == EXECUTION else JobExecutionSet
            resource(name, **AGENT, **inputs)

        return run_program(program, project="second-paths", stack=self.stack)

    def outputs(self) -> dict[str, Any]:
        (state,) = self.engine.state.values()
        outputs: dict[str, Any] = self.to_core(state.output_props)
        return outputs


@pytest.fixture(params=["dynamic", "native"])
def face(request: pytest.FixtureRequest, own_emulator: Emulator) -> Iterator[Face]:
    stack = f"second-{uuid.uuid4().hex[:8]}"
    if request.param == "dynamic":

        def dynamic() -> Any:
            return configured_plugin(
                own_emulator,
                AZURE_ELASTIC_JOBS_RETRY_BUDGET=RETRY_BUDGET,
                AZURE_ELASTIC_JOBS_FLEET_SUBSCRIPTIONS=OTHER_SUBSCRIPTION,
            )

        face = Face("dynamic", Engine(dynamic()), stack, lambda value: value, dynamic)
        try:
            yield face
        finally:
            face.engine.plugin.kill()
        return
    engine_log = EngineLog()

    def native() -> Any:
        plugin = NativePlugin(engine_log.address)
        plugin.configure(own_emulator, retryBudget=RETRY_BUDGET, fleetSubscriptions=OTHER_SUBSCRIPTION)
        return NativeStubs(plugin)

    face = Face("native", Engine(native()), stack, snake_outputs, native)
    try:
        yield face
    finally:
        face.engine.plugin.kill()
        engine_log.stop()


def fired(emulator: Emulator) -> list[int]:
    """How often each fault rule was hit, in the order they were added: a fault no request hit proved nothing."""
    return [int(rule["hits"]) for rule in emulator.faults()]


def executions_path(job: JobRef, run: str | None = None) -> str:
    """A fault pattern for the job's listing, or for one run's own read (not its targets)."""
    return f"/jobs/{job.job_name}/executions" + (f"/{run}$" if run else "$")


# --- 1. a pin with counts never matches a plan that could not be read whole ------------------------------------


def server_in(client: ElasticJobsClient, subscription: str, name: str, databases: list[str]) -> None:
    path = f"/subscriptions/{subscription}/resourceGroups/rg-fleet/providers/Microsoft.Sql/servers/{name}"
    client.request("PUT", path, json={"location": "westeurope", "properties": {"administratorLogin": "admin1"}})
    for database in databases:
        client.request("PUT", f"{path}/databases/{database}", json={"location": "westeurope", "properties": {}})


def job_over_servers(client: ElasticJobsClient, seen: str, hidden: str) -> JobRef:
    """A job on the seeded agent whose target group names two servers: ``hidden`` lives in the other subscription."""
    job = new_job(client, script=QUICK)
    group = f"{job.agent_path}/targetGroups/servers-{job.job_name}"
    members = [{"type": "SqlServer", "serverName": seen}, {"type": "SqlServer", "serverName": hidden}]
    client.request("PUT", group, json={"properties": {"members": members}})
    step = {"targetGroup": group, "action": {"value": QUICK}, "executionOptions": {"retryAttempts": 0}}
    client.request("PUT", f"{job.path}/steps/step1", json={"properties": step})
    return job


def test_a_pin_with_counts_never_starts_a_run_whose_server_listing_was_refused(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    """A reviewer pins ``v1 seen=2`` (no digest) from a preview by an identity that cannot list the other
    subscription's servers: the counts coincide, yet the plan was not read whole, so ``up`` starts nothing, for a
    JobExecution and for a set member; a pin of the version alone judges no fleet and runs."""
    suffix = uuid.uuid4().hex[:6]
    seen, hidden = f"seen-{suffix}", f"hidden-{suffix}"
    server_in(own_client, "00000000-0000-0000-0000-000000000000", seen, ["app1", "app2"])
    server_in(own_client, OTHER_SUBSCRIPTION, hidden, ["tenant1"])
    job = job_over_servers(own_client, seen, hidden)
    own_emulator.deny_reads(OTHER_SUBSCRIPTION)
    blind = read_plan(own_client, job, [OTHER_SUBSCRIPTION])
    counts = f"v{blind.version} {seen}=2"  # the version and the counts the review saw, no step digests, no digest
    assert blind.servers == {seen: 2} and blind.unseen, blind  # and a refusal: the plan is not whole

    since = own_emulator.requests_log()[-1]["seq"]
    with pytest.raises(grpc.RpcError) as refused:
        face.engine.up(face.single(job_name=job.job_name, expected_plan=counts))
    assert "the plan could not be read whole: listing servers in subscription" in str(refused.value.details())
    assert {r["method"] for r in own_emulator.requests_log(since)} == {"GET"}  # reads only: nothing ran
    assert lifecycles(own_client, job) == [] and face.engine.state == {}

    members = {"pinned": {"job_name": job.job_name, "expected_plan": counts}}
    fleet = face.fleet(members=members)
    face.engine.up(fleet)
    entry = face.outputs()["executions"]["pinned"]
    assert entry["error"]["code"] == "PlanChanged" and "could not be read whole" in entry["error"]["message"]
    assert entry.get("azure_id") is None and lifecycles(own_client, job) == []

    version_only = face.single(job_name=job.job_name, expected_plan=f"v{blind.version}", wait_for_completion=True)
    face.engine.up([*fleet, *version_only])  # a pin of the version alone judges no fleet: it runs
    assert lifecycles(own_client, job) == ["Succeeded"]


# --- 2. a PUT that acted, lost its answer, then met 429 past the budget: recorded, never run twice -------------


def test_a_put_that_acted_then_was_throttled_past_the_budget_is_recorded_and_never_run_again(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    job, member_job = new_job(own_client, script=HELD), new_job(own_client, script=HELD)
    for throttled in (job, member_job):  # the first PUT acts and its answer is lost; every retry is throttled
        own_emulator.add_fault("act-then-drop", path=throttled.job_name, method="PUT", count=1)
        own_emulator.add_fault("status", path=throttled.job_name, method="PUT", status=429, retry_after=0.05, count=-1)

    with pytest.raises(grpc.RpcError) as throttled_up:
        face.engine.up(face.single(job_name=job.job_name))
    assert "429" in str(throttled_up.value.details())
    (started,) = own_client.list_executions(job)
    (recorded,) = face.engine.state.values()
    assert recorded.init_errors, "a create whose run may have started must be recorded as a partial create"
    assert face.to_core(recorded.output_props)["job_execution_id"] == started.name

    sets = Engine(face.engine.plugin)  # the set in a stack of its own
    fleet = face.fleet(members={"lost": {"job_name": member_job.job_name}})
    sets.up(fleet)
    (member_run,) = own_client.list_executions(member_job)
    entry = face.to_core(sets.state[fleet[0].urn].output_props)["executions"]["lost"]
    assert entry["error"]["status"] == 429 and entry["job_execution_id"] == member_run.name
    assert all(hits > 0 for hits in fired(own_emulator)), fired(own_emulator)
    own_emulator.clear_faults()

    own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)  # both runs end before the next up
    face.engine.up(face.single(job_name=job.job_name))
    sets.up(fleet)
    assert lifecycles(own_client, job) == ["Succeeded"] and lifecycles(own_client, member_job) == ["Succeeded"]
    assert face.outputs()["lifecycle"] == "Succeeded" and face.outputs()["job_execution_id"] == started.name
    entry = face.to_core(sets.state[fleet[0].urn].output_props)["executions"]["lost"]
    assert entry["job_execution_id"] == member_run.name and entry["lifecycle"] == "Succeeded"
    assert entry.get("error") is None


# --- 3. a set whose wait is cut while a member runs: unfinished, refreshed as it is, waited for again -----------


def test_a_set_whose_wait_is_cut_while_a_member_runs_stays_unfinished_and_the_next_up_waits_for_it(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    quick, failing, held, forgotten = (new_job(own_client, script=s) for s in (QUICK, FAILS, HELD, QUICK))
    members = {key: {"job_name": job.job_name} for key, job in (("quick", quick), ("held", held))}
    waiting = {"wait_for_completion": True, "poll_interval": 0.1, "timeout": 1.5}
    fleet = face.fleet(members=members, **waiting)
    face.engine.up(fleet)
    cut = face.outputs()
    assert cut["finished"] is False and cut["failed_members"] == []
    assert cut["executions"]["quick"]["lifecycle"] == "Succeeded"
    assert lifecycles(own_client, held) == ["active"]

    diff = face.engine.preview(fleet).diffs[fleet[0].urn]
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME, diff  # an update: it resumes waiting
    face.engine.up(fleet)  # still held: cut again, and nothing started beside the running member
    assert face.outputs()["finished"] is False and lifecycles(own_client, held) == ["active"]

    more = {**members, "failing": {"job_name": failing.job_name}, "forgotten": {"job_name": forgotten.job_name}}
    fleet = face.fleet(members=more, **waiting)
    face.engine.up(fleet)
    (gone,) = own_client.list_executions(forgotten)
    own_emulator.forget(gone.id or "")  # history retention, before the refresh
    face.engine.refresh()
    mixed = face.outputs()
    entries = mixed["executions"]
    assert {key: entries[key]["lifecycle"] for key in ("quick", "failing", "forgotten")} == {
        "quick": "Succeeded",
        "failing": "Failed",
        "forgotten": "Succeeded",
    }
    assert entries["held"]["lifecycle"] not in ("Succeeded", "Failed", "Canceled", "TimedOut")
    assert entries["forgotten"]["in_history"] is False and entries["forgotten"].get("error") is None
    assert entries["quick"]["in_history"] is True and entries["held"]["in_history"] is True
    assert mixed["finished"] is False and mixed["failed_members"] == ["failing"]

    own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)  # the held run ends; the next up waits and sees it
    face.engine.up(fleet)
    done = face.outputs()
    assert done["finished"] is True and done["executions"]["held"]["lifecycle"] == "Succeeded"
    assert done["failed_members"] == ["failing"]
    for job in (quick, held, forgotten):
        assert len(lifecycles(own_client, job)) == (0 if job is forgotten else 1)  # nothing ran twice
    assert lifecycles(own_client, failing) == ["Failed"]


# --- 5. a superseded member's run, cancelled but unreadable, is not taken as stopped --------------------------


def unreadable_after_one_read(emulator: Emulator, job: JobRef, run: str) -> None:
    """The run's first read answers (the read before its cancel); every later one fails past the retry budget."""
    emulator.add_fault("delay", path=executions_path(job, run), method="GET", delay_seconds=0, count=1)
    emulator.add_fault("status", path=executions_path(job, run), method="GET", status=500, count=-1)


def test_a_superseded_member_whose_cancelled_run_cannot_be_read_back_starts_nothing_and_destroy_fails(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    job = new_job(own_client, script=HELD)
    own_emulator.set_behavior(job.job_name, ignore_cancel=True)  # accepted, not carried out: it still runs
    face.engine.up(face.fleet(members={"m": {"job_name": job.job_name, "triggers": {"v": 1}}}))
    (first,) = own_client.list_executions(job)
    unreadable_after_one_read(own_emulator, job, str(first.name))

    face.engine.up(face.fleet(members={"m": {"job_name": job.job_name, "triggers": {"v": 2}}}))
    assert all(hits > 0 for hits in fired(own_emulator)), fired(own_emulator)
    own_emulator.clear_faults()
    entry = face.outputs()["executions"]["m"]
    assert entry["error"]["code"] == "CancelNotEffective" and entry["job_execution_id"] == first.name
    assert lifecycles(own_client, job) == ["active"]  # nothing started beside the run that may still be going

    face.next_deployment_in_a_new_process()  # the destroy is a deployment of its own
    unreadable_after_one_read(own_emulator, job, str(first.name))
    with pytest.raises(grpc.RpcError) as destroy:
        face.engine.destroy()
    assert str(first.name) in str(destroy.value.details()) and face.engine.state  # the set stays, naming it
    assert all(hits > 0 for hits in fired(own_emulator)), fired(own_emulator)
    own_emulator.clear_faults()
    own_emulator.set_behavior(job.job_name, ignore_cancel=False)
    face.engine.destroy()
    assert lifecycles(own_client, job) == ["Canceled"] and face.engine.state == {}


# --- 6. `up --replace` of a set, created before the old one is deleted, while its runs go on -----------------


def test_a_create_before_delete_replacement_of_a_set_keeps_the_runs_it_attached_to(
    face: Face, own_client: ElasticJobsClient
) -> None:
    """``deleteBeforeReplace: false``: the new set attaches to the kept member's active run and the old set's
    delete leaves it alone; a member whose triggers changed in the same replacement starts a new run, and only
    its superseded run is cancelled."""
    kept, changed = new_job(own_client, script=HELD), new_job(own_client, script=HELD)
    members = {"kept": {"job_name": kept.job_name}, "changed": {"job_name": changed.job_name}}
    face.engine.up(face.fleet(members=members))
    before = face.outputs()["executions"]

    face.engine.create_first = {"fleet"}
    replaced = {**members, "changed": {"job_name": changed.job_name, "triggers": {"v": 2}}}
    face.engine.up(face.fleet(members=replaced), replace=("fleet",))
    after = face.outputs()["executions"]
    assert after["kept"]["job_execution_id"] == before["kept"]["job_execution_id"]
    assert lifecycles(own_client, kept) == ["active"]  # the run the new set stands for was never cancelled
    assert after["changed"]["job_execution_id"] != before["changed"]["job_execution_id"]
    assert lifecycles(own_client, changed) == ["Canceled", "active"]


def test_a_create_before_delete_replacement_of_an_unconfirmed_record_keeps_the_run_it_starts_under_that_id(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    """A create whose every PUT was lost is recorded with the id it PUT, no run under it; ``up --replace`` with
    ``deleteBeforeReplace: false`` then starts the run under that very id (still the chain's first free one), and
    the old resource's delete must leave it alone: it is the new resource's run, started in this deployment."""
    job = new_job(own_client, script=HELD)
    own_emulator.add_fault("drop", path=job.job_name, method="PUT", count=-1)
    with pytest.raises(grpc.RpcError):
        face.engine.up(face.single(job_name=job.job_name))
    assert fired(own_emulator)[0] > 0
    own_emulator.clear_faults()
    recorded = face.outputs()["job_execution_id"]
    assert lifecycles(own_client, job) == []

    face.engine.create_first = {"run"}
    face.engine.up(face.single(job_name=job.job_name), replace=("run",))
    (started,) = own_client.list_executions(job)
    assert started.name == recorded == face.outputs()["job_execution_id"]
    assert lifecycles(own_client, job) == ["active"]  # not cancelled by the old resource's delete


def test_a_create_before_delete_replacement_of_a_set_with_an_unconfirmed_member_keeps_the_run_it_starts(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    """The set's face of the same path (found by the model's create-before-delete rule for sets): a member whose
    every PUT was lost keeps the id it PUT; the replacing set starts its run under that id, and the old set's
    delete leaves it alone, while a kept member's run, attached to, is left alone too."""
    lost, kept = new_job(own_client, script=HELD), new_job(own_client, script=HELD)
    members = {"lost": {"job_name": lost.job_name}, "kept": {"job_name": kept.job_name}}
    own_emulator.add_fault("drop", path=lost.job_name, method="PUT", count=-1)
    face.engine.up(face.fleet(members=members))
    assert fired(own_emulator)[0] > 0
    own_emulator.clear_faults()
    recorded = face.outputs()["executions"]["lost"]["job_execution_id"]
    assert recorded and lifecycles(own_client, lost) == []

    face.engine.create_first = {"fleet"}
    face.engine.up(face.fleet(members=members), replace=("fleet",))
    (started,) = own_client.list_executions(lost)
    assert started.name == recorded == face.outputs()["executions"]["lost"]["job_execution_id"]
    assert lifecycles(own_client, lost) == ["active"] and lifecycles(own_client, kept) == ["active"]


def test_a_create_before_delete_replacement_of_a_set_after_its_job_was_made_again_keeps_the_new_run(
    face: Face, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    """Found by the model's create-before-delete rule for sets (a limit docs/reliability.md used to state): the
    member's job deleted mid-run and made again (its history gone), then ``up --replace`` creating first. The new
    set starts the member's run under the very id the old set names; the old set's delete tells that run from the
    one it recorded by ``createTime`` and leaves it alone."""
    job = new_job(own_client, script=HELD)
    members = {"m": {"job_name": job.job_name}}
    face.engine.up(face.fleet(members=members))
    recorded = face.outputs()["executions"]["m"]["job_execution_id"]
    face.next_deployment_in_a_new_process()
    own_emulator.forget(job.path)  # the job deleted mid-run, then made again under its name
    own_client.request("PUT", job.path, json={"properties": {"description": "made again"}})
    step = {"targetGroup": f"{job.agent_path}/targetGroups/all-databases", "action": {"value": HELD}}
    own_client.request("PUT", f"{job.path}/steps/step1", json={"properties": step})

    face.engine.create_first = {"fleet"}
    face.engine.up(face.fleet(members=members), replace=("fleet",))
    (started,) = own_client.list_executions(job)
    assert started.name == recorded == face.outputs()["executions"]["m"]["job_execution_id"]
    assert lifecycles(own_client, job) == ["active"]  # the new set's run, not cancelled by the old set's delete
