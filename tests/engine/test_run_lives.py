"""Every life a run can have, as a property: a model of what must happen, checked against the server's own list.

A Hypothesis state machine drives the real dynamic-provider plugin over gRPC against one emulator through random
sequences of what happens to resources in real life: `up` (waited and not), an `up` interrupted after the PUT
(state not saved), destroy, `--replace`, trigger changes and trigger values that come back, refresh, history
clean-up of a job's oldest runs, a job deleted mid-run, transient faults on any request (drop, act-then-drop,
503, 429, and a `nextLink` the token may not follow on the best-effort target listing), a `JobExecutionSet`'s
members added, removed, changed and pinned, and cancels that do not take effect.

The model is deliberately simple, and independent of how the provider finds runs: each resource and set member
has a job of its own, so a run that appears on a job belongs to the one intent that was created on it in that
step. After every step:

* never two active runs of one intent (job, triggers, pin) on the server;
* runs started equals intents: a first create, a trigger change, a replacement or a destroy-then-up starts
  exactly one run unless the intent's earlier run is still active (then it is attached to) or, pinned, its id
  already exists;
* every resource and member in state names the run the model says it has, one it started or attached to;
* what the model believes active is exactly what the server says is active.

Time is the emulator's: held runs end only when a rule moves its service clock. CI runs the derandomized
profile (``ci``); ``--hypothesis-profile=deep`` searches thousands of sequences (docs/reliability.md).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.emulator import Emulator
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.terms import is_terminal
from tests.conftest import HOUR_AHEAD, SEED, TIME_SCALE, job_ref
from tests.engine.conftest import AGENT, configured_plugin
from tests.engine.harness import Engine, Interrupted, run_program

pytestmark = pytest.mark.timeout(1800)  # 100 sequences take about 2 minutes on two quiet cores; leave room

MEMBERS = ("m0", "m1", "m2")
PINS = (None, "1c4f2b0e-7d35-4a8e-9a55-0f6b3f0d2a11", "2e9a7d41-0b6c-4f5e-8c3a-5d1e9b7c6a22")
HELD_SECONDS = 360000.0

_world: dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def world() -> Iterator[None]:
    """One emulator (no Retry-After hints: its clock jumps) and one plugin for every sequence of this module."""
    with Emulator(time_scale=TIME_SCALE, seed=SEED, poll_hints=False) as emulator:
        plugin = configured_plugin(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken(emulator.token), retry_budget_seconds=10)
        _world.update(emulator=emulator, plugin=plugin, client=client, clock=0.0)
        try:
            yield
        finally:
            plugin.kill()
            client.close()
            _world.clear()


@dataclass
class Intent:
    """What one resource or member is declared as: the job it runs, and what makes a run *this* run."""

    job: JobRef
    triggers: int = 0
    pin: str | None = None

    def label(self) -> tuple[int, str | None]:
        return (self.triggers, self.pin)


@dataclass
class Job:
    """The model of one job's runs: every run seen, by id, with the intent label it ran for; which are active."""

    ref: JobRef
    held: bool
    runs: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)
    ignores_cancel: bool = False

    def active_run_of(self, label: tuple[int, str | None]) -> str | None:
        return next((run for run in sorted(self.active) if self.runs[run] == label), None)


class RunLives(RuleBasedStateMachine):
    """Resources ``a`` (not waited, held runs), ``b`` (waited, quick runs) and set ``fleet`` (members m0..m2)."""

    def __init__(self) -> None:
        super().__init__()
        self.emulator: Emulator = _world["emulator"]
        self.client: ElasticJobsClient = _world["client"]
        self.engine = Engine(_world["plugin"])
        self.stack = f"lives-{uuid.uuid4().hex[:8]}"
        self.jobs: dict[str, Job] = {}
        for name, held in (("a", True), ("b", False), *((m, True) for m in MEMBERS)):
            self.jobs[name] = Job(self._new_job(held), held)
        self.declared: dict[str, bool] = {"a": True, "b": True, "fleet": True}
        self.intents: dict[str, Intent] = {name: Intent(self.jobs[name].ref) for name in self.jobs}
        self.cancel_on_destroy: dict[str, bool] = {"a": True, "b": True, "fleet": True}
        self.members: set[str] = {"m0"}
        self.recorded: dict[str, str] = {}  # resource or member -> the run id state names
        self.recorded_label: dict[str, tuple[int, str | None]] = {}
        self.recorded_cod: dict[str, bool] = {}
        self.pending: dict[str, tuple[int, str | None]] = {}
        self.attach: dict[str, str] = {}
        self.fleet_in_state = False
        self.deploy()

    # --- the world ----------------------------------------------------------------------------------------------

    def _new_job(self, held: bool, name: str | None = None) -> JobRef:
        ref = job_ref(name or f"life-{uuid.uuid4().hex[:10]}")
        duration = HELD_SECONDS if held else 0
        self.client.request("PUT", ref.path, json={"properties": {"description": "a life"}})
        self.client.request(
            "PUT",
            f"{ref.path}/steps/step1",
            json={
                "properties": {
                    "targetGroup": f"{ref.agent_path}/targetGroups/all-databases",
                    "action": {"value": f"SELECT 1; -- emulator:duration={duration:g}"},
                    "executionOptions": {"retryAttempts": 0},
                }
            },
        )
        return ref

    def program(self) -> None:
        from pulumi_azure_elastic_jobs import JobExecution, JobExecutionSet

        for name, waited in (("a", False), ("b", True)):
            if self.declared[name]:
                intent = self.intents[name]
                JobExecution(
                    name,
                    **AGENT,
                    job_name=intent.job.job_name,
                    triggers={"v": intent.triggers},
                    wait_for_completion=waited,
                    poll_interval=0.1,
                    timeout=0.5,
                    cancel_on_destroy=self.cancel_on_destroy[name],
                )
        if self.declared["fleet"]:
            members: dict[str, Any] = {}
            for key in sorted(self.members):
                intent = self.intents[key]
                member: dict[str, Any] = {"job_name": intent.job.job_name, "triggers": {"v": intent.triggers}}
                if intent.pin:
                    member["job_execution_id"] = intent.pin
                members[key] = member
            JobExecutionSet(
                "fleet",
                **AGENT,
                members=members,
                poll_interval=0.1,
                timeout=0.5,
                cancel_on_destroy=self.cancel_on_destroy["fleet"],
            )

    def deploy(self, replace: tuple[str, ...] = (), interrupt: str | None = None) -> None:
        """One ``pulumi up`` of the declared program: predict with the model, run it, then learn what started."""
        expected_failure = self.predict(replace, interrupt)
        self.engine.interrupt = {interrupt} if interrupt else set()
        registrations = run_program(self.program, project="lives", stack=self.stack)
        try:
            self.engine.up(registrations, replace=replace)
        except Interrupted:
            assert interrupt is not None
        except grpc.RpcError as error:
            assert expected_failure, f"unexpected failure: {error.details()}"
            assert "still running" in (error.details() or "")
        else:
            assert not expected_failure, "a cancel that did not take effect went unreported"
        finally:
            self.engine.interrupt = set()
            self.emulator.clear_faults()
        self.learn()

    # --- the model ----------------------------------------------------------------------------------------------

    def predict(self, replace: tuple[str, ...], interrupt: str | None) -> bool:
        """Apply the engine's steps to the model in the engine's order (the program's resources, then deletes of
        the undeclared ones in state order); True if the deployment must fail on a cancel that does not take."""
        self.pending: dict[str, tuple[int, str | None]] = {}  # job -> label of the run this step must start
        self.attach: dict[str, str] = {}  # job -> the run this step attaches to
        for name in ("a", "b", "fleet"):
            if not self.declared[name]:
                continue
            step = self._declared_fleet if name == "fleet" else self._declared_single
            outcome = step(name, name in replace, interrupt == name)
            if outcome != "done":
                return outcome == "failed"
        for urn in list(self.engine.state):
            name = urn.rsplit("::", 1)[1]
            if not self.declared[name] and not self._delete(name):
                return True
        return False

    def _exists(self, key: str, run: str) -> bool:
        return run in self.jobs[key].present

    def _start(self, key: str) -> None:
        """What creating ``key``'s intent does: attach to its active run or existing pinned id, or start one."""
        job, intent = self.jobs[key], self.intents[key]
        if intent.pin and self._exists(key, intent.pin):
            self.attach[key] = intent.pin
        elif not intent.pin and (running := job.active_run_of(intent.label())) is not None:
            self.attach[key] = running
        else:
            self.pending[key] = intent.label()

    def _record(self, key: str) -> None:
        self.recorded[key], self.recorded_label[key] = "?", self.intents[key].label()  # the run: learn() fills in

    def _cancel(self, key: str) -> bool:
        """Cancel ``key``'s recorded run if it is active; False when the cancel does not take effect."""
        job, run = self.jobs[key], self.recorded.get(key)
        if run is None or run not in job.active:
            return True
        if job.ignores_cancel:
            return False
        job.active.discard(run)
        return True

    def _delete(self, name: str) -> bool:
        """Destroy of a resource in state, with the cancel_on_destroy it was recorded with."""
        keys = [key for key in MEMBERS if key in self.recorded] if name == "fleet" else [name]
        if self.recorded_cod[name]:
            stopped = [self._cancel(key) for key in keys]  # a set asks every member, then reports
            if not all(stopped):
                return False
        for key in keys:
            del self.recorded[key]
        if name == "fleet":
            self.fleet_in_state = False
        return True

    def _declared_single(self, name: str, forced: bool, interrupted: bool) -> str:
        in_state = name in self.recorded
        changed = in_state and self.recorded_label[name] != self.intents[name].label()
        if in_state and not (changed or forced):
            self.recorded_cod[name] = self.cancel_on_destroy[name]  # an update in place, or nothing
            return "done"
        if in_state and not self._delete(name):
            return "failed"
        self._start(name)
        if interrupted:
            return "interrupted"
        self._record(name)
        self.recorded_cod[name] = self.cancel_on_destroy[name]
        return "done"

    def _declared_fleet(self, name: str, forced: bool, interrupted: bool) -> str:
        if self.fleet_in_state and forced and not self._delete(name):
            return "failed"
        if not self.fleet_in_state:
            for key in sorted(self.members):
                self._start(key)
            if interrupted:
                return "interrupted"
            for key in sorted(self.members):
                self._record(key)
            self.fleet_in_state = True
            self.recorded_cod[name] = self.cancel_on_destroy[name]
            return "done"
        cancel = self.cancel_on_destroy[name]  # an update retires with the new inputs' setting
        for key in MEMBERS:
            wanted = key in self.members
            if key in self.recorded and wanted and self.recorded_label[key] == self.intents[key].label():
                continue
            if key in self.recorded:
                if cancel and not self._cancel(key):
                    continue  # stuck: keeps its old run, with the error; nothing starts beside it
                del self.recorded[key]
            if wanted:
                self._start(key)
                self._record(key)
        self.recorded_cod[name] = cancel
        return "done"

    def learn(self) -> None:
        """Read every job's runs on the server: exactly the predicted new runs appeared, and state names them."""
        for key, job in self.jobs.items():
            listed = {str(e.name).lower(): e for e in self.client.list_executions(job.ref)}
            new = [run for run in listed if run not in job.present]
            expected = 1 if key in self.pending else 0
            assert len(new) == expected, f"{key}: {len(new)} new runs, the model expected {expected}: {new}"
            if new:
                (run,) = new
                job.runs[run] = self.pending[key]
                if self.intents[key].pin:
                    assert run == self.intents[key].pin
                if job.held:
                    job.active.add(run)
                if self.recorded.get(key) == "?":
                    self.recorded[key] = run
            elif key in self.attach and self.recorded.get(key) == "?":
                self.recorded[key] = self.attach[key]
            job.present = set(listed)
            job.active &= job.present  # forgotten by the service: no longer running anywhere
            server_active = {run for run, e in listed.items() if not is_terminal(e.properties.lifecycle)}
            assert server_active == job.active, f"{key}: active on the server {server_active}, model {job.active}"
        self.pending, self.attach = {}, {}

    # --- rules: deployments ---------------------------------------------------------------------------------------

    @rule(name=st.sampled_from(["a", "b"]), triggers=st.integers(0, 2))
    def up_with_triggers(self, name: str, triggers: int) -> None:
        self.declared[name] = True
        self.intents[name].triggers = triggers
        self.deploy()

    @rule(name=st.sampled_from(["a", "b", "fleet"]))
    def destroy(self, name: str) -> None:
        self.declared[name] = False
        self.deploy()

    @rule(name=st.sampled_from(["a", "b", "fleet"]))
    def up_again(self, name: str) -> None:
        self.declared[name] = True
        self.deploy()

    @rule(name=st.sampled_from(["a", "b", "fleet"]))
    def up_replace(self, name: str) -> None:
        self.declared[name] = True
        self.deploy(replace=(name,))

    @rule(name=st.sampled_from(["a", "b", "fleet"]), triggers=st.integers(0, 2))
    def up_interrupted_after_the_put(self, name: str, triggers: int) -> None:
        self.declared[name] = True
        if name != "fleet":
            self.intents[name].triggers = triggers
        self.deploy(interrupt=name)

    @rule(name=st.sampled_from(["a", "fleet"]), value=st.booleans())
    def set_cancel_on_destroy(self, name: str, value: bool) -> None:
        self.cancel_on_destroy[name] = value
        self.deploy()

    @rule(key=st.sampled_from(MEMBERS), present=st.booleans(), triggers=st.integers(0, 2), pin=st.sampled_from(PINS))
    def change_member(self, key: str, present: bool, triggers: int, pin: str | None) -> None:
        self.declared["fleet"] = True
        if present:
            self.members.add(key)
        elif len(self.members) > 1:
            self.members.discard(key)
        self.intents[key].triggers, self.intents[key].pin = triggers, pin
        self.deploy()

    @rule()
    def refresh(self) -> None:
        before = set(self.engine.state)
        result = self.engine.refresh()
        assert set(self.engine.state) == before, result.operations  # a run that happened stays happened
        self.learn()

    # --- rules: the world changes -----------------------------------------------------------------------------------

    @rule()
    def held_runs_end(self) -> None:
        _world["clock"] += HOUR_AHEAD
        self.emulator.settings(clock_offset_seconds=_world["clock"])
        for job in self.jobs.values():
            job.active.clear()
        self.learn()

    @rule(key=st.sampled_from(["a", "b", *MEMBERS]), count=st.integers(1, 3))
    def history_clean_up(self, key: str, count: int) -> None:
        job = self.jobs[key]
        finished = [
            e for e in reversed(list(self.client.list_executions(job.ref))) if is_terminal(e.properties.lifecycle)
        ]
        for execution in finished[:count]:
            self.emulator.forget(execution.id or "")
        self.learn()

    @rule(key=st.sampled_from(["a", *MEMBERS]))
    def job_deleted_mid_run_and_made_again(self, key: str) -> None:
        job = self.jobs[key]
        self.emulator.forget(f"{job.ref.path}")
        self._new_job(job.held, job.ref.job_name)
        job.active.clear()
        self.learn()

    @rule(key=st.sampled_from(["a", *MEMBERS]), ignore=st.booleans())
    def cancels_take_effect(self, key: str, ignore: bool) -> None:
        self.jobs[key].ignores_cancel = ignore
        self.emulator.set_behavior(self.jobs[key].ref.job_name, ignore_cancel=ignore)

    @rule(
        key=st.sampled_from(["a", "b", *MEMBERS]),
        kind=st.sampled_from(["drop", "act-then-drop", "503", "429", "next-link"]),
        where=st.sampled_from(
            [
                ("PUT", "/executions/"),
                ("GET", "/executions/"),
                ("GET", "/executions$"),
                ("POST", "/cancel$"),
                ("GET", "/targets"),
            ]
        ),
    )
    def a_fault_in_the_next_request(self, key: str, kind: str, where: tuple[str, str]) -> None:
        method, path = where
        pattern = f"/jobs/{self.jobs[key].ref.job_name}{path}"
        if kind == "next-link":
            page = {"value": [], "nextLink": "http://127.0.0.2:9/targets?$skip=1"}
            self.emulator.add_fault(
                "status",
                path=f"/jobs/{self.jobs[key].ref.job_name}/executions/[^/]+/targets",
                method="GET",
                status=200,
                body=json.dumps(page),
                content_type="application/json",
                count=-1,
            )
        elif kind in ("503", "429"):
            self.emulator.add_fault("status", path=pattern, method=method, status=int(kind), retry_after=0.05, count=1)
        else:
            self.emulator.add_fault(kind, path=pattern, method=method, count=1)
        self.deploy()

    # --- what must always hold -----------------------------------------------------------------------------------

    @invariant()
    def never_two_active_runs_of_one_intent(self) -> None:
        for key, job in self.jobs.items():
            labels = [job.runs[run] for run in job.active]
            assert len(labels) == len(set(labels)), f"{key}: two active runs of one intent: {labels}"

    @invariant()
    def state_names_the_runs_the_model_says(self) -> None:
        named: dict[str, str] = {}
        for urn, resource in self.engine.state.items():
            outputs = resource.output_props
            if "::fleet" in urn:
                for key, entry in (outputs.get("executions") or {}).items():
                    if entry.get("job_execution_id"):
                        named[key] = str(entry["job_execution_id"]).lower()
            else:
                named[urn.rsplit("::", 1)[1]] = str(outputs["job_execution_id"]).lower()
        assert named == self.recorded, f"state names {named}, the model {self.recorded}"
        for key, run in named.items():
            assert run in self.jobs[key].runs, f"{key} names {run}, which it never started or attached to"

    def teardown(self) -> None:
        for job in self.jobs.values():
            if job.ignores_cancel:
                self.emulator.set_behavior(job.ref.job_name, ignore_cancel=False)


RunLives.TestCase.settings = settings(settings.default, stateful_step_count=12)
test_the_lives_of_runs = RunLives.TestCase


def test_the_model_sees_a_run_nobody_asked_for() -> None:
    """The model is not vacuous: a run the provider did not ask for is caught by its next look."""
    machine = RunLives()
    machine.client.put_execution(machine.jobs["a"].ref.execution(str(uuid.uuid4())))
    with pytest.raises(AssertionError, match="1 new runs, the model expected 0"):
        machine.learn()
