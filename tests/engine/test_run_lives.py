"""Every life a run can have, as a property: a model of what must happen, checked against the server's own list,
on both faces (the SDK's dynamic-provider plugin and the native plugin, each over gRPC).

A Hypothesis state machine drives a plugin against one emulator through random sequences of what happens to
resources in real life: `up` (waited and not), an `up` interrupted after the PUT (state not saved), destroy,
`--replace` (delete-before-replace, and create-before-delete as a program's `deleteBeforeReplace: false` asks),
trigger changes and trigger values that come back, refresh, history clean-up of a job's oldest runs, a job
deleted mid-run, a `JobExecutionSet`'s members added, removed, changed and pinned, cancels that do not take
effect, and **faults that land**: each fault is scheduled together with a change that has work for the job it
targets (a trigger change or a replacement), and the rule asserts that a request hit it whenever the model
says the step makes that kind of request. Fault kinds: a dropped connection, an act-then-drop (the service
acted, the answer was lost), 503 and 429, a 202 for an execution PUT, a foreign `nextLink`, faults that outlast
the plugin's three-second retry budget (every answer lost after the service acted; every PUT, listing, read or
cancel lost before it arrived, or throttled), and faults chained on one request (a PUT that acted and lost its
answer, then throttled past the budget; a cancel accepted, then the run unreadable), which end in partial
creates, unconfirmed ids, stuck members and failed deletes. A set is replaced create-before-delete too, its
members pin ``expected_plan`` in every form (on plans read whole and not), and refreshes of a set whose members
are in mixed states are counted (the CI profile requires active, ended, forgotten and unstarted members seen).

The model is deliberately simple, and independent of how the provider finds runs: each resource and set member
has a job of its own, so a run that appears on a job belongs to the one intent that was created on it in that
step. After every step:

* never two active runs of one intent (job, triggers, pin) on the server;
* runs started equals intents: a first create, a trigger change, a replacement or a destroy-then-up starts
  exactly one run unless the intent's earlier run is still active (then it is attached to) or, pinned, its id
  already exists; a run whose start was never confirmed starts (once, under the id it was recorded with) at
  the next `up`;
* every resource and member in state names the run the model says it has, one it started or attached to;
* what the model believes active is exactly what the server says is active;
* after a refresh, every output a program may gate on (`lifecycle`, `in_history`, `error`, `failed_members`,
  `finished`) agrees with the server, or with the documented rule for forgotten and unconfirmed runs; a set's
  `finished` is false exactly when one of its members' runs is active on the server.

Time is the emulator's: held runs end only when a rule moves its service clock. CI runs the derandomized
profile (``ci``) and asserts the coverage table: every fault kind landed on every kind of request it applies
to; ``--hypothesis-profile=deep`` searches thousands of sequences (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.terms import DEFAULT_FAIL_ON, is_terminal
from tests.conftest import HOUR_AHEAD, SEED, TIME_SCALE, job_ref
from tests.engine.conftest import AGENT, configured_plugin
from tests.engine.harness import (
    AGENT_CAMEL,
    EXECUTION,
    EXECUTION_SET,
    Engine,
    EngineLog,
    Interrupted,
    NativePlugin,
    NativeStubs,
    Registration,
    camel_inputs,
    run_program,
    snake_outputs,
    to_struct,
    urn,
)

pytestmark = pytest.mark.timeout(1800)  # the CI profile takes about 3 minutes on two quiet cores; leave room

MEMBERS = ("m0", "m1", "m2")
PINS = (None, "1c4f2b0e-7d35-4a8e-9a55-0f6b3f0d2a11", "2e9a7d41-0b6c-4f5e-8c3a-5d1e9b7c6a22")
HELD_SECONDS = 360000.0
RETRY_BUDGET = "3"
"""Seconds each request may retry, in both plugins: a fault that outlasts it ends the request in an error. Room
for one backoff at least (0.5 s plus up to 0.5 s of jitter, after the failed try): with one second, the jitter
alone sometimes left a single dropped connection unretried, and the model then saw a run missing."""

OPERATIONS: dict[str, tuple[str, str]] = {
    "list": ("GET", "/executions$"),
    "put": ("PUT", "/executions/[^/]+$"),
    "get": ("GET", "/executions/[^/]+$"),
    "cancel": ("POST", "/executions/[^/]+/cancel$"),
    "targets": ("GET", "/executions/[^/]+/targets$"),
}
"""The kinds of request a run's life makes, as (method, path pattern under the job)."""
TRANSIENT = ("drop", "act-then-drop", "503", "429")
PAST_BUDGET = ("lost-requests", "throttled")
"""Faults that outlast the retry budget on every request of their kind, before the service acts."""
OUTLASTING = ("lost-answers", *PAST_BUDGET)
CHAINED = ("lost-then-throttled", "cancelled-then-unreadable")
FAULTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(TRANSIENT, tuple(OPERATIONS)),
    "async": ("put",),
    "next-link": ("list", "targets"),
    "lost-answers": ("put",),
    "lost-requests": ("put", "list", "get", "cancel"),
    "throttled": ("put", "list", "get", "cancel"),
    "lost-then-throttled": ("put",),
    "cancelled-then-unreadable": ("cancel",),
}
"""Each fault kind, and the kinds of request it applies to. ``lost-answers``: every answer to the PUT is lost after
the service acted; ``lost-requests``: every such request is lost before it arrives; ``throttled``: every such
request answered 429; all three past the retry budget. Chained on one request: ``lost-then-throttled``, the PUT
acts and its answer is lost, then every retry is throttled past the budget; ``cancelled-then-unreadable``, the run
about to be cancelled is read, its cancel accepted, and every later read of it fails past the budget."""
FAILURE_WORDS = ("no answer", "connection", "could not", "Injected fault", "429", "500", "still running")
"""What the error of a step that a fault past the retry budget ends says (one of them)."""
PLAN_PINS = (None, "full", "version", "counts", "stale")
"""The forms of a member's ``expected_plan``: none, the live plan's whole pin, its version alone, its version and
counts (no digest), and a version the job never had (refused whatever is read)."""
COVERAGE_FLOOR = 1
"""Each (fault kind, request kind) pair lands at least this often in the CI profile of each face."""

_world: dict[str, Any] = {}


def counted(method: Any) -> Any:
    """A rule that counts each time it is taken (the CI profile requires every rule at least once)."""

    def taken(self: RunLives, *args: Any, **kwargs: Any) -> None:
        type(self).rules_taken[method.__name__] += 1
        method(self, *args, **kwargs)

    taken.__name__ = method.__name__
    taken.__doc__ = method.__doc__
    return taken


@pytest.fixture(scope="module", autouse=True)
def world() -> Iterator[None]:
    """One emulator (no Retry-After hints: its clock jumps) for every sequence of this module, and a client."""
    with Emulator(time_scale=TIME_SCALE, seed=SEED, poll_hints=False) as emulator:
        client = ElasticJobsClient(emulator.url, StaticToken(emulator.token), retry_budget_seconds=10)
        _world.update(emulator=emulator, client=client, clock=0.0)
        try:
            yield
        finally:
            for plugin in _world.get("plugins", {}).values():
                plugin.kill()
            _world.get("engine_log") and _world["engine_log"].stop()
            client.close()
            _world.clear()


def plugin_for(face: str) -> Any:
    """The face's plugin process, started once for the module (the engine stand-in keeps state per sequence)."""
    plugins: dict[str, Any] = _world.setdefault("plugins", {})
    if face not in plugins:
        emulator = _world["emulator"]
        if face == "dynamic":
            plugins[face] = configured_plugin(emulator, AZURE_ELASTIC_JOBS_RETRY_BUDGET=RETRY_BUDGET)
        else:
            _world.setdefault("engine_log", EngineLog())
            native = NativePlugin(_world["engine_log"].address)
            native.configure(emulator, retryBudget=RETRY_BUDGET)
            plugins[face] = NativeStubs(native)
    return plugins[face]


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


@dataclass(frozen=True)
class Fault:
    """A fault scheduled on one key's job for one deployment."""

    key: str
    kind: str
    operation: str


class RunLives(RuleBasedStateMachine):
    """Resources ``a`` (not waited, held runs), ``b`` (waited, quick runs) and set ``fleet`` (members m0..m2)."""

    face = "dynamic"
    coverage: Counter[tuple[str, str]] = Counter()
    rules_taken: Counter[str] = Counter()
    mixed_states: set[str] = set()
    """The member states seen together in one refreshed set (the CI profile requires each of them)."""

    def __init__(self) -> None:
        super().__init__()
        self.emulator: Emulator = _world["emulator"]
        self.client: ElasticJobsClient = _world["client"]
        self.engine = Engine(plugin_for(self.face))
        self.stack = f"lives-{uuid.uuid4().hex[:8]}"
        self.jobs: dict[str, Job] = {}
        for name, held in (("a", True), ("b", False), *((m, True) for m in MEMBERS)):
            self.jobs[name] = Job(self._new_job(held), held)
        self.declared: dict[str, bool] = {"a": True, "b": True, "fleet": True}
        self.intents: dict[str, Intent] = {name: Intent(self.jobs[name].ref) for name in self.jobs}
        self.cancel_on_destroy: dict[str, bool] = {"a": True, "b": True, "fleet": True}
        self.members: set[str] = {"m0"}
        self.recorded: dict[str, str] = {}  # resource or member -> the run id state names ("?" until learned)
        self.recorded_label: dict[str, tuple[int, str | None]] = {}
        self.recorded_cod: dict[str, bool] = {}
        self.unconfirmed: set[str] = set()  # recorded with an id whose run may not exist (its PUT was lost)
        self.pending: dict[str, tuple[int, str | None]] = {}
        self.attach: dict[str, str] = {}
        self.requests: dict[str, set[str]] = {}  # key -> the kinds of request this step makes on its job
        self.fault: Fault | None = None
        self.fault_hits = 0
        self.errors: tuple[str, ...] = ()
        self.fleet_in_state = False
        self.expected: dict[str, tuple[str, str] | None] = dict.fromkeys(MEMBERS)  # a member's pin: form, text
        self.blind = False  # this deployment's plan reads cannot read the target group: no plan is whole
        self.remembered = False  # a run the plugin started is recorded without its state: next, a new process
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

    def _single(self, name: str, waited: bool) -> dict[str, Any]:
        intent = self.intents[name]
        return {
            "job_name": intent.job.job_name,
            "triggers": {"v": intent.triggers},
            "wait_for_completion": waited,
            "poll_interval": 0.1,
            "timeout": 0.5,
            "cancel_on_destroy": self.cancel_on_destroy[name],
        }

    def _fleet(self) -> dict[str, Any]:
        members: dict[str, Any] = {}
        for key in sorted(self.members):
            intent = self.intents[key]
            member: dict[str, Any] = {"job_name": intent.job.job_name, "triggers": {"v": intent.triggers}}
            if intent.pin:
                member["job_execution_id"] = intent.pin
            if (pinned := self.expected[key]) is not None:
                member["expected_plan"] = pinned[1]
            members[key] = member
        return {
            "members": members,
            "poll_interval": 0.1,
            "timeout": 0.5,
            "cancel_on_destroy": self.cancel_on_destroy["fleet"],
        }

    def registrations(self) -> list[Registration]:
        """The program, as the face's language would register it."""
        singles = [(name, waited) for name, waited in (("a", False), ("b", True)) if self.declared[name]]
        if self.face == "native":
            regs = [
                Registration(
                    EXECUTION, name, urn(name, EXECUTION, self.stack), native_inputs(self._single(name, waited))
                )
                for name, waited in singles
            ]
            if self.declared["fleet"]:
                fleet_urn = urn("fleet", EXECUTION_SET, self.stack)
                regs.append(Registration(EXECUTION_SET, "fleet", fleet_urn, native_inputs(self._fleet())))
            return regs

        def program() -> None:
            from pulumi_azure_elastic_jobs import JobExecution, JobExecutionSet

            for name, waited in singles:
                JobExecution(name, **AGENT, **self._single(name, waited))
            if self.declared["fleet"]:
                JobExecutionSet("fleet", **AGENT, **self._fleet())

        return run_program(program, project="lives", stack=self.stack)

    def deploy(self, replace: tuple[str, ...] = (), interrupt: str | None = None, create_first: bool = False) -> None:
        """One ``pulumi up`` of the declared program: predict with the model, run it, then learn what started."""
        expected_failure = self.predict(replace, interrupt, create_first)
        self.engine.interrupt = {interrupt} if interrupt else set()
        self.engine.create_first = set(replace) if create_first else set()
        try:
            result = self.engine.up(self.registrations(), replace=replace)
            assert not result.failures, result.failures
        except Interrupted:
            assert interrupt is not None
        except grpc.RpcError as error:
            assert expected_failure, f"unexpected failure: {error.details()}"
            assert any(words in (error.details() or "") for words in self.errors), error.details()
        else:
            assert not expected_failure, f"a failure went unreported (expected one of {self.errors}; {self.fault})"
        finally:
            self.engine.interrupt, self.engine.create_first = set(), set()
            self.fault_hits = sum(rule["hits"] for rule in self.emulator_faults())
            self.emulator.clear_faults()  # before the model's own reads
        attached, remembered = bool(self.attach), self.remembered
        self.remembered = False
        self.learn()
        if attached or remembered:
            self.next_deployment_in_a_new_process()

    def next_deployment_in_a_new_process(self) -> None:
        """The engine starts a plugin per deployment; this module keeps one running for speed, and starts a new one
        where it matters: after a deployment in which a create attached to a run (the plugin remembers that run as
        adopted for the rest of its deployment, so a replacement's delete leaves it alone), or in which a member
        whose run the plugin started was recorded without that run's state (stuck, or its read failed: the
        plugin remembers the run as started in its deployment, and the delete of an unconfirmed record leaves
        such a run alone)."""
        plugins: dict[str, Any] = _world["plugins"]
        plugins.pop(self.face).kill()
        self.engine.plugin = plugin_for(self.face)

    # --- the model ----------------------------------------------------------------------------------------------

    def predict(self, replace: tuple[str, ...], interrupt: str | None, create_first: bool = False) -> bool:
        """Apply the engine's steps to the model in the engine's order (the program's resources, then deletes of
        the undeclared ones in state order); True if the deployment must fail."""
        self.pending, self.attach, self.requests, self.errors = {}, {}, {}, ()
        for name in ("a", "b", "fleet"):
            if not self.declared[name]:
                continue
            if name == "fleet":
                outcome = self._declared_fleet(name in replace, interrupt == name, create_first)
            else:
                outcome = self._declared_single(name, name in replace, interrupt == name, create_first)
            if outcome != "done":
                return outcome == "failed"
        for urn_ in list(self.engine.state):
            name = urn_.rsplit("::", 1)[1]
            if not self.declared[name] and not self._delete(name):
                return True
        return False

    def _faulted(self, key: str, operation: str, *kinds: str) -> bool:
        """Whether this step's fault makes ``key``'s requests of that kind fail past the retry budget."""
        fault = self.fault
        return fault is not None and fault.key == key and fault.operation == operation and fault.kind in kinds

    def _made(self, key: str, *operations: str) -> None:
        self.requests.setdefault(key, set()).update(operations)

    def _fails(self, *words: str) -> str:
        self.errors = words
        return "failed"

    def _start(self, key: str) -> str:
        """What creating ``key``'s intent does: attach to its active run or existing pinned id, or start one.
        Returns "started", "attached", "failed", or, when every answer to its PUT was lost, "unconfirmed" (no run
        under the id it PUT) or "started, unconfirmed" (the service acted): either way recorded with that id."""
        job, intent = self.jobs[key], self.intents[key]
        self._made(key, "get" if intent.pin else "list")
        if intent.pin and self._faulted(key, "get", *PAST_BUDGET):
            return "failed"
        if not intent.pin and self._faulted(key, "list", *PAST_BUDGET, "next-link"):
            return "failed"
        if intent.pin and intent.pin in job.present:
            self.attach[key] = intent.pin
            return "attached"
        if not intent.pin and (running := job.active_run_of(intent.label())) is not None:
            self.attach[key] = running
            return "attached"
        if key in MEMBERS and self._plan_refused(key):
            return "failed"  # refused before its PUT: recorded without a run, with PlanChanged
        self._made(key, "put")
        if self._faulted(key, "put", *PAST_BUDGET):
            return "unconfirmed"
        self.pending[key] = intent.label()
        lost = self._faulted(key, "put", "lost-answers", "lost-then-throttled")
        return "started, unconfirmed" if lost else "started"

    def _expected_plan(self, key: str, form: str) -> str:
        """A member's ``expected_plan`` in its form, from its job's live plan (the model reads it as a reviewer;
        a job made again has the same plan)."""
        from pulumi_azure_elastic_jobs.planning import read_plan

        live = read_plan(self.client, self.jobs[key].ref)
        if form == "full":
            return live.pin
        if form == "counts":
            return " ".join(part for part in live.pin.split() if not part.startswith("sha256:"))
        return f"v{live.version + (1 if form == 'stale' else 0)}"

    def _plan_refused(self, key: str) -> bool:
        """Whether a member about to start a run is refused by its ``expected_plan``: a version the job does not
        have, or a pin with counts or a digest while the plan cannot be read whole."""
        pinned = self.expected.get(key)
        form = pinned[0] if pinned else None
        return form == "stale" or (self.blind and form in ("full", "counts"))

    def _record(self, key: str) -> None:
        self.recorded[key], self.recorded_label[key] = "?", self.intents[key].label()  # the run: learn() fills in

    def _cancel(self, key: str) -> str:
        """Cancel ``key``'s recorded run if it is active: "stopped", "ignored" (it keeps running) or "failed"."""
        job, run = self.jobs[key], self.recorded.get(key)
        if run is not None:
            self._made(key, "get")
            if self._faulted(key, "get", *PAST_BUDGET):
                return "failed"
        if run is None or run not in job.active:
            return "stopped"
        self._made(key, "cancel")
        if self._faulted(key, "cancel", *PAST_BUDGET):
            return "failed"
        if self._faulted(key, "cancel", "cancelled-then-unreadable"):
            if not job.ignores_cancel:
                job.active.discard(run)  # it stopped; nobody can tell
            return "unreadable"
        if job.ignores_cancel:
            return "ignored"
        job.active.discard(run)
        return "stopped"

    def _forget(self, key: str) -> None:
        self.recorded.pop(key, None)
        self.unconfirmed.discard(key)

    def _delete(self, name: str, keep_run: str | None = None) -> bool:
        """Destroy of a resource in state, with the cancel_on_destroy it was recorded with (``keep_run``: a run a
        create-before-delete replacement attached to in this deployment, which the delete leaves alone)."""
        keys = [key for key in MEMBERS if key in self.recorded] if name == "fleet" else [name]
        if self.recorded_cod[name]:
            outcomes = [self._cancel(key) for key in keys if self.recorded.get(key) != keep_run]
            if "failed" in outcomes or "unreadable" in outcomes:
                self.errors = ("the job execution", *FAILURE_WORDS)
                return False
            if "ignored" in outcomes:
                self.errors = ("still running",)
                return False
        for key in keys:
            self._forget(key)
        if name == "fleet":
            self.fleet_in_state = False
        return True

    def _declared_single(self, name: str, forced: bool, interrupted: bool, create_first: bool) -> str:
        in_state = name in self.recorded
        changed = in_state and self.recorded_label[name] != self.intents[name].label()
        if in_state and not (changed or forced):
            self.recorded_cod[name] = self.cancel_on_destroy[name]  # an update in place, or nothing
            if name in self.unconfirmed:
                self._ensure(name)
            return "done"
        if in_state and create_first:
            old_run = self.recorded[name]
            outcome = self._create_single(name, interrupted)
            if outcome != "done":
                return outcome
            kept = self.attach.get(name)
            old_label, old_cod = self.recorded_label[name], self.recorded_cod[name]
            self.recorded[name], self.recorded_label[name] = old_run, old_label  # the old one, being deleted
            self.recorded_cod[name] = old_cod
            if not self._delete(name, keep_run=kept):
                return "failed"
            self._record(name)
            if kept:
                self.recorded[name] = "?"
            self.recorded_cod[name] = self.cancel_on_destroy[name]
            return "done"
        if in_state and not self._delete(name):
            return "failed"
        return self._create_single(name, interrupted)

    def _create_single(self, name: str, interrupted: bool) -> str:
        started = self._start(name)
        if started == "failed":
            return self._fails(*FAILURE_WORDS, "unsafe", "not sent", "refus")
        if interrupted and started != "unconfirmed":
            return "interrupted"
        self._record(name)
        self.recorded_cod[name] = self.cancel_on_destroy[name]
        if started.endswith("unconfirmed"):
            self.unconfirmed.add(name)
            return self._fails(*FAILURE_WORDS)
        if name == "b":
            self._made(name, "get", "targets")
            if self._faulted(name, "get", *PAST_BUDGET):  # the wait cannot read the run: a partial create
                return self._fails(*FAILURE_WORDS)
        return "done"

    def _declared_fleet(self, forced: bool, interrupted: bool, create_first: bool = False) -> str:
        if self.fleet_in_state and forced and create_first:
            return self._replace_fleet_creating_first()
        if self.fleet_in_state and forced and not self._delete("fleet"):
            return "failed"
        if not self.fleet_in_state:
            outcomes = {key: self._start(key) for key in sorted(self.members)}
            if interrupted:
                return "interrupted"
            for key, outcome in outcomes.items():
                self._record_member(key, outcome)
            self.fleet_in_state = True
            self.recorded_cod["fleet"] = self.cancel_on_destroy["fleet"]
            return "done"
        cancel = self.cancel_on_destroy["fleet"]  # an update retires with the new inputs' setting
        retiring = [
            key
            for key in MEMBERS
            if key in self.recorded
            and not (key in self.members and self.recorded_label[key] == self.intents[key].label())
        ]
        if cancel and any(
            (self._faulted(key, "cancel", *PAST_BUDGET) and self.recorded[key] in self.jobs[key].active)
            or self._faulted(key, "get", *PAST_BUDGET)
            for key in retiring
        ):
            for key in retiring:
                self._made(key, "get", "cancel")
            return self._fails(*FAILURE_WORDS)
        for key in MEMBERS:
            wanted = key in self.members
            if key in self.recorded and wanted and self.recorded_label[key] == self.intents[key].label():
                if key in self.unconfirmed:
                    self._ensure(key)
                self._made(key, "get")
                continue
            if key in self.recorded:
                if cancel and self._cancel(key) in ("ignored", "unreadable"):
                    self.remembered = True
                    continue  # stuck: keeps its old run, with the error; nothing starts beside it
                self._forget(key)
            if wanted:
                self._record_member(key, self._start(key))
        self.recorded_cod["fleet"] = cancel
        return "done"

    def _replace_fleet_creating_first(self) -> str:
        """``up --replace`` of the set with ``deleteBeforeReplace: false``: the new set is created (each member
        attaching to its intent's active run, or starting one), then the old set is deleted, cancelling its runs
        but the ones the new set attached to."""
        old = {key: self.recorded[key] for key in MEMBERS if key in self.recorded}
        outcomes = {key: self._start(key) for key in sorted(self.members)}
        if self.recorded_cod["fleet"]:
            for key, run in old.items():
                if self.attach.get(key) != run:
                    self._cancel(key)
        for key in old:
            self._forget(key)
        for key, outcome in outcomes.items():
            self._record_member(key, outcome)
        self.recorded_cod["fleet"] = self.cancel_on_destroy["fleet"]
        return "done"

    def _record_member(self, key: str, outcome: str) -> None:
        """A member that could not start is recorded without a run (its next up tries again). One whose run could
        not be read after it started or was attached to is recorded with the id and the error, as unconfirmed."""
        if outcome == "failed":
            return
        self._record(key)
        unread = outcome in ("started", "attached") and self._faulted(key, "get", *PAST_BUDGET)  # its one read
        if outcome.endswith("unconfirmed") or unread:
            self.unconfirmed.add(key)
            self.remembered = True

    def _ensure(self, key: str) -> None:
        """The next ``up`` of a record whose start was never confirmed: the id it was recorded with is read, and
        PUT only if free (a run that never arrived, or vanished since, starts now under that id; never another)."""
        self.unconfirmed.discard(key)
        self._made(key, "get")
        if self.recorded[key] in self.jobs[key].present:
            self.attach[key] = self.recorded[key]
        elif key in MEMBERS and self._plan_refused(key):
            self.unconfirmed.add(key)  # its pin refuses the plan: the id stays recorded, nothing is PUT
        else:
            self._made(key, "put")
            self.pending[key] = self.recorded_label[key]

    def named(self) -> dict[str, str]:
        """The run each resource and member names in state, by key."""
        named: dict[str, str] = {}
        for urn_, resource in self.engine.state.items():
            outputs = snake_outputs(resource.output_props)
            if "::fleet" in urn_:
                for key, entry in (outputs.get("executions") or {}).items():
                    if entry.get("job_execution_id"):
                        named[key] = str(entry["job_execution_id"]).lower()
            elif outputs.get("job_execution_id"):
                named[urn_.rsplit("::", 1)[1]] = str(outputs["job_execution_id"]).lower()
        return named

    def learn(self) -> None:
        """Read every job's runs on the server: exactly the predicted new runs appeared, and state names them."""
        named = self.named()
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
                if self.recorded.get(key) not in (None, "?"):
                    assert run == self.recorded[key], f"{key}: ensured {self.recorded[key]}, but {run} started"
                if self.recorded.get(key) == "?":
                    self.recorded[key] = run
            elif key in self.attach and self.recorded.get(key) == "?":
                self.recorded[key] = self.attach[key]
            if key in self.unconfirmed and self.recorded.get(key) == "?":
                self.recorded[key] = named[key]  # the id its lost PUT claimed: the model learns it from state
                job.runs.setdefault(named[key], self.recorded_label[key])
            job.present = set(listed)
            job.active &= job.present  # forgotten by the service: no longer running anywhere
            server_active = {run for run, e in listed.items() if not is_terminal(e.properties.lifecycle)}
            assert server_active == job.active, f"{key}: active on the server {server_active}, model {job.active}"
        self.pending, self.attach = {}, {}

    # --- rules: deployments ---------------------------------------------------------------------------------------

    @rule(name=st.sampled_from(["a", "b"]), triggers=st.integers(0, 2))
    @counted
    def up_with_triggers(self, name: str, triggers: int) -> None:
        self.declared[name] = True
        self.intents[name].triggers = triggers
        self.deploy()

    @rule(name=st.sampled_from(["a", "b", "fleet"]))
    @counted
    def destroy(self, name: str) -> None:
        self.declared[name] = False
        self.deploy()

    @rule(name=st.sampled_from(["a", "b", "fleet"]))
    @counted
    def up_again(self, name: str) -> None:
        self.declared[name] = True
        self.deploy()

    @rule(name=st.sampled_from(["a", "b", "fleet"]))
    @counted
    def up_replace(self, name: str) -> None:
        self.declared[name] = True
        self.deploy(replace=(name,))

    @precondition(lambda self: "a" in self.recorded and not self.jobs["a"].ignores_cancel)
    @rule(triggers=st.integers(0, 2))
    @counted
    def up_replace_creating_first(self, triggers: int) -> None:
        """``deleteBeforeReplace: false``: the replacement is created before the old resource is deleted."""
        self.intents["a"].triggers = triggers
        self.deploy(replace=("a",), create_first=True)

    @rule(name=st.sampled_from(["a", "b", "fleet"]), triggers=st.integers(0, 2))
    @counted
    def up_interrupted_after_the_put(self, name: str, triggers: int) -> None:
        self.declared[name] = True
        if name != "fleet":
            self.intents[name].triggers = triggers
        self.deploy(interrupt=name)

    @rule(name=st.sampled_from(["a", "fleet"]), value=st.booleans())
    @counted
    def set_cancel_on_destroy(self, name: str, value: bool) -> None:
        self.cancel_on_destroy[name] = value
        self.deploy()

    @rule(key=st.sampled_from(MEMBERS), present=st.booleans(), triggers=st.integers(0, 2), pin=st.sampled_from(PINS))
    @counted
    def change_member(self, key: str, present: bool, triggers: int, pin: str | None) -> None:
        self.declared["fleet"] = True
        if present:
            self.members.add(key)
        elif len(self.members) > 1:
            self.members.discard(key)
        self.intents[key].triggers, self.intents[key].pin = triggers, pin
        self.deploy()

    @precondition(lambda self: self.fleet_in_state and not any(self.jobs[key].ignores_cancel for key in MEMBERS))
    @rule(key=st.sampled_from(MEMBERS), triggers=st.integers(0, 2))
    @counted
    def up_replace_fleet_creating_first(self, key: str, triggers: int) -> None:
        """``deleteBeforeReplace: false`` on the set, with a member added or changed in the same replacement."""
        self.declared["fleet"] = True
        self.members.add(key)
        self.intents[key].triggers = triggers
        self.deploy(replace=("fleet",), create_first=True)

    @rule(key=st.sampled_from(MEMBERS), form=st.sampled_from(PLAN_PINS), blind=st.booleans())
    @counted
    def pin_a_members_plan(self, key: str, form: str | None, blind: bool) -> None:
        """A member pins its ``expected_plan`` (each form) and its triggers change, so it would start a run; with
        ``blind``, this deployment cannot read the target group, so no plan is whole."""
        self.declared["fleet"] = True
        self.members.add(key)
        self.expected[key] = (form, self._expected_plan(key, form)) if form else None
        self.intents[key].triggers = (self.intents[key].triggers + 1) % 3
        self.blind = blind
        if blind:
            group = "/targetGroups/all-databases$"
            self.emulator.add_fault(
                "status", path=group, method="GET", status=403, code="AuthorizationFailed", count=-1
            )
        try:
            self.deploy()
        finally:
            self.blind = False
        type(self).coverage[(f"pin {form}{', blind' if blind else ''}", "plan")] += 1

    @rule()
    @counted
    def refresh(self) -> None:
        before = set(self.engine.state)
        result = self.engine.refresh()
        assert set(self.engine.state) == before, result.operations  # a run that happened stays happened
        self.learn()
        for key in list(self.unconfirmed):  # a refresh that finds the run confirms it
            if self.recorded.get(key) in self.jobs[key].present:
                self.unconfirmed.discard(key)
        self.outputs_agree_with_the_server()

    # --- rules: the world changes -----------------------------------------------------------------------------------

    @rule()
    @counted
    def held_runs_end(self) -> None:
        _world["clock"] += HOUR_AHEAD
        self.emulator.settings(clock_offset_seconds=_world["clock"])
        for job in self.jobs.values():
            job.active.clear()
        self.learn()

    @rule(key=st.sampled_from(["a", "b", *MEMBERS]), count=st.integers(1, 3))
    @counted
    def history_clean_up(self, key: str, count: int) -> None:
        job = self.jobs[key]
        finished = [
            e for e in reversed(list(self.client.list_executions(job.ref))) if is_terminal(e.properties.lifecycle)
        ]
        for execution in finished[:count]:
            self.emulator.forget(execution.id or "")
        self.learn()

    @rule(key=st.sampled_from(["a", *MEMBERS]))
    @counted
    def job_deleted_mid_run_and_made_again(self, key: str) -> None:
        job = self.jobs[key]
        self.emulator.forget(f"{job.ref.path}")
        self._new_job(job.held, job.ref.job_name)
        job.active.clear()
        self.learn()

    @rule(key=st.sampled_from(["a", *MEMBERS]), ignore=st.booleans())
    @counted
    def cancels_take_effect(self, key: str, ignore: bool) -> None:
        self.jobs[key].ignores_cancel = ignore
        self.emulator.set_behavior(self.jobs[key].ref.job_name, ignore_cancel=ignore)

    @rule(
        key=st.sampled_from(["a", "b", *MEMBERS]),
        fault=st.sampled_from([(kind, op) for kind, ops in FAULTS.items() for op in ops]),
        replace=st.booleans(),
    )
    @counted
    def a_fault_during_a_change(self, key: str, fault: tuple[str, str], replace: bool) -> None:
        """A fault on the next requests of one kind on ``key``'s job, during a change that has work there: a
        trigger change (a member's, for a set) or a replacement. When the model says the step makes that kind
        of request, a request must have hit the fault."""
        kind, operation = fault
        self._schedule(key, kind, operation)
        self.fault = Fault(key, kind, operation)
        try:
            if key in MEMBERS:
                self.declared["fleet"] = True
                self.members.add(key)
                if replace:
                    self.deploy(replace=("fleet",))
                else:
                    self.intents[key].triggers = (self.intents[key].triggers + 1) % 3
                    self.deploy()
            else:
                self.declared[key] = True
                if replace:
                    self.deploy(replace=(key,))
                else:
                    self.intents[key].triggers = (self.intents[key].triggers + 1) % 3
                    self.deploy()
        finally:
            self.fault = None
        if operation in self.requests.get(key, set()):
            assert self.fault_hits > 0, (
                f"{kind} on {operation} of {key}: the step made that request; none hit the fault"
            )
            type(self).coverage[(kind, operation)] += 1

    another_fault_during_a_change = a_fault_during_a_change
    """Faults weigh twice among the rules: most of the model's value is in what they do to a step with work."""

    def _schedule(self, key: str, kind: str, operation: str) -> int:
        method, path = OPERATIONS[operation]
        pattern = f"/jobs/{self.jobs[key].ref.job_name}{path}"
        spec: dict[str, Any] = {"path": pattern, "method": method}
        if kind == "next-link":
            page = {"value": [], "nextLink": "http://127.0.0.2:9/elsewhere?$skip=1"}
            spec.update(status=200, body=json.dumps(page), content_type="application/json", count=-1)
            return int(self.emulator.add_fault("status", **spec)["id"])
        if kind in ("503", "429"):
            return int(self.emulator.add_fault("status", status=int(kind), retry_after=0.05, count=1, **spec)["id"])
        if kind == "lost-answers":
            return int(self.emulator.add_fault("act-then-drop", count=-1, **spec)["id"])
        if kind == "lost-requests":
            return int(self.emulator.add_fault("drop", count=-1, **spec)["id"])
        if kind == "lost-then-throttled":
            self.emulator.add_fault("act-then-drop", count=1, **spec)
        if kind in ("throttled", "lost-then-throttled"):
            return int(self.emulator.add_fault("status", status=429, retry_after=0.05, count=-1, **spec)["id"])
        if kind == "cancelled-then-unreadable":  # the reads of the run being cancelled: its first answers
            run = self.recorded.get(key) or "no-run"
            read = {"path": f"/jobs/{self.jobs[key].ref.job_name}/executions/{run}$", "method": "GET"}
            self.emulator.add_fault("delay", delay_seconds=0, count=1, **read)
            self.emulator.add_fault("status", status=500, count=-1, **read)
            return int(self.emulator.add_fault("delay", delay_seconds=0, count=-1, **spec)["id"])
        return int(self.emulator.add_fault(kind, count=1, **spec)["id"])

    def grow_history(self, key: str, count: int) -> None:
        """``count`` runs of nobody's intent on ``key``'s job, ended at once (the clock moves for every job)."""
        job = self.jobs[key]
        foreign = [str(uuid.uuid4()) for _ in range(count)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda run: self.client.put_execution(job.ref.execution(run)), foreign))
        job.runs.update(dict.fromkeys(foreign, (-1, "nobody's")))
        job.present.update(foreign)
        self.held_runs_end()

    def emulator_faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self.emulator._admin("GET", "/faults")
        return faults

    # --- what must always hold -----------------------------------------------------------------------------------

    @invariant()
    def never_two_active_runs_of_one_intent(self) -> None:
        for key, job in self.jobs.items():
            labels = [job.runs[run] for run in job.active]
            assert len(labels) == len(set(labels)), f"{key}: two active runs of one intent: {labels}"

    @invariant()
    def state_names_the_runs_the_model_says(self) -> None:
        named = self.named()
        assert named == self.recorded, f"state names {named}, the model {self.recorded}"
        for key, run in named.items():
            assert run in self.jobs[key].runs, f"{key} names {run}, which it never started or attached to"

    def outputs_agree_with_the_server(self) -> None:
        """Right after a refresh: what a program may gate on is what the server says (or the documented rule)."""
        for urn_, resource in self.engine.state.items():
            outputs = snake_outputs(resource.output_props)
            if "::fleet" in urn_:
                entries = outputs.get("executions") or {}
                for key, entry in entries.items():
                    self._entry_agrees(key, entry)
                failed = sorted(
                    key
                    for key, entry in entries.items()
                    if entry.get("error") or entry.get("lifecycle") in DEFAULT_FAIL_ON
                )
                assert outputs["failed_members"] == failed, (outputs["failed_members"], failed)
                finished = all(entry.get("error") or is_terminal(entry.get("lifecycle")) for entry in entries.values())
                assert outputs["finished"] == finished
                running = [key for key in entries if self.recorded.get(key) in self.jobs[key].active]
                assert outputs["finished"] is not bool(running), (outputs["finished"], running)  # as the server says
                states = {self._member_state(key, entry) for key, entry in entries.items()}
                if len(states) > 1:
                    type(self).coverage[("mixed states", "refresh")] += 1
                    type(self).mixed_states.update(states)
            else:
                self._entry_agrees(urn_.rsplit("::", 1)[1], outputs)

    def _member_state(self, key: str, entry: dict[str, Any]) -> str:
        """What a refreshed member's entry says of its run: unstarted, unconfirmed, forgotten, active or ended."""
        if not entry.get("job_execution_id"):
            return "unstarted"
        if entry.get("lifecycle") is None:
            return "unconfirmed"
        if entry.get("in_history") is False:
            return "forgotten"
        return "active" if self.recorded.get(key) in self.jobs[key].active else "ended"

    def _entry_agrees(self, key: str, entry: dict[str, Any]) -> None:
        run = str(entry.get("job_execution_id") or "").lower()
        if not run:
            assert entry.get("error"), f"{key}: no run and no error"
            return
        on_server = {str(e.name).lower(): e for e in self.client.list_executions(self.jobs[key].ref)}
        if run in on_server:
            assert entry.get("lifecycle") == on_server[run].properties.lifecycle, (key, entry.get("lifecycle"))
            assert entry.get("in_history") is True and not entry.get("error"), (key, entry)
        elif entry.get("lifecycle") is None:
            assert key in self.unconfirmed, f"{key}: an unconfirmed record the model does not know: {entry}"
        else:
            assert entry.get("in_history") is False, f"{key}: a forgotten run must say in_history false: {entry}"

    def teardown(self) -> None:
        self.emulator.clear_faults()
        for job in self.jobs.values():
            if job.ignores_cancel:
                self.emulator.set_behavior(job.ref.job_name, ignore_cancel=False)


def native_inputs(inputs: dict[str, Any]) -> Any:
    """A resource's inputs as a native program registers them: the agent's coordinates, all in camelCase."""
    return to_struct({**AGENT_CAMEL, **camel_inputs(inputs)})


class NativeRunLives(RunLives):
    face = "native"
    coverage: Counter[tuple[str, str]] = Counter()
    rules_taken: Counter[str] = Counter()
    mixed_states: set[str] = set()


def long_history_walk(machine: type[RunLives]) -> None:
    """A job past the listing's budget (more than 1,000 executions), where a create finds runs by the active-run
    listing and reads of generations instead of one listing: an interrupted create then up again attaches, a
    replacement cancels and starts one, destroy-then-up starts one, a returning trigger value starts one."""
    life = machine()
    life.grow_history("a", 1001)
    steps = [
        lambda: life.up_interrupted_after_the_put(name="a", triggers=1),
        lambda: life.up_again(name="a"),
        lambda: life.up_replace(name="a"),
        lambda: life.destroy(name="a"),
        lambda: life.up_again(name="a"),
        lambda: life.up_with_triggers(name="a", triggers=2),
        lambda: life.held_runs_end(),
        lambda: life.up_with_triggers(name="a", triggers=1),
        lambda: life.refresh(),
    ]
    for step in steps:
        step()
        life.never_two_active_runs_of_one_intent()
        life.state_names_the_runs_the_model_says()
    life.teardown()


def fault_tour(machine: type[RunLives]) -> None:
    """Every fault kind on every kind of request it applies to, once each, in one life: the random sequences
    search combinations; this walk makes sure each pair lands at least once in CI, on a step that makes that
    request (``a``'s held runs are cancelled by its replacements; ``b`` is waited and reads its targets)."""
    life = machine()
    for kind, operations in FAULTS.items():
        for operation in operations:
            key = "b" if operation == "targets" else "a"
            if operation in ("cancel", "get"):  # a run of `a` to read and cancel: a new trigger value starts one
                life.up_with_triggers(name="a", triggers=(life.intents["a"].triggers + 1) % 3)
            life.a_fault_during_a_change(key=key, fault=(kind, operation), replace=False)
            life.never_two_active_runs_of_one_intent()
            life.state_names_the_runs_the_model_says()
    life.refresh()
    for form in PLAN_PINS[1:]:  # every form of expected_plan, on a plan read whole and on one that is not
        for blind in (False, True):
            life.pin_a_members_plan(key="m1", form=form, blind=blind)
            life.state_names_the_runs_the_model_says()
    life.pin_a_members_plan(key="m1", form=None, blind=False)
    steps = [  # a set whose members are in every state at once, refreshed: ended and active, then ...
        lambda: life.held_runs_end(),
        lambda: life.change_member(key="m2", present=True, triggers=1, pin=None),
        lambda: life.refresh(),
        lambda: life.history_clean_up(key="m1", count=50),  # ... forgotten, unstarted (a stale pin) and active
        lambda: life.pin_a_members_plan(key="m0", form="stale", blind=False),
        lambda: life.refresh(),
        lambda: life.up_replace_fleet_creating_first(key="m2", triggers=2),
        lambda: life.up_replace_creating_first(triggers=1),
        lambda: life.destroy(name="b"),  # and the plain deployments, so that every rule is taken on every face
        lambda: life.up_again(name="b"),
        lambda: life.set_cancel_on_destroy(name="fleet", value=True),
    ]
    for step in steps:
        step()
        life.never_two_active_runs_of_one_intent()
        life.state_names_the_runs_the_model_says()
    life.teardown()


SEQUENCES = 25
"""Sequences per face in the CI profile (``ci``: derandomized); ``deep`` searches many more."""


@pytest.mark.parametrize("machine", [RunLives, NativeRunLives], ids=["dynamic", "native"])
def test_the_lives_of_runs(machine: type[RunLives]) -> None:
    """The model over one face; then the coverage table: every fault kind landed on every request it applies to."""
    machine.coverage.clear()
    machine.rules_taken.clear()
    machine.mixed_states.clear()
    profile = settings()
    examples = profile.max_examples if profile.max_examples != settings.default.max_examples else SEQUENCES
    examples = int(os.environ.get("RUN_LIVES_SEQUENCES", examples))  # a search of a chosen size (docs/reliability.md)
    run_state_machine_as_test(machine, settings=settings(profile, max_examples=examples, stateful_step_count=12))
    rules = {
        getattr(machine, name).__name__
        for name in dir(machine)
        if getattr(getattr(machine, name), "hypothesis_stateful_rule", None)
    }
    fault_tour(machine)
    untaken = sorted(name for name in rules if machine.rules_taken[name] == 0)
    assert not untaken, f"rules never taken by the sequences or the tour: {untaken}"
    pairs = [(kind, op) for kind, ops in FAULTS.items() for op in ops]
    table = "\n".join(f"  {kind:>14} on {op:<8} {machine.coverage[(kind, op)]:>4}" for kind, op in pairs)
    print(f"\nfaults that landed ({machine.face} face, {examples} sequences and the tour):\n{table}")
    print("rules taken: " + ", ".join(f"{name} {count}" for name, count in sorted(machine.rules_taken.items())))
    missing = [pair for pair in pairs if machine.coverage[pair] < COVERAGE_FLOOR]
    assert not missing, f"fault kinds that never landed on these requests: {missing}\n{table}"
    shapes = [
        ("mixed states", "refresh"),
        *((f"pin {form}{blind}", "plan") for form in PLAN_PINS[1:] for blind in ("", ", blind")),
    ]
    print("\n".join(f"  {what:>20} on {of:<8} {machine.coverage[(what, of)]:>4}" for what, of in shapes))
    print(f"member states seen together in a refreshed set: {sorted(machine.mixed_states)}")
    assert not [shape for shape in shapes if machine.coverage[shape] < 1], "model shapes never walked"
    assert {"active", "ended", "forgotten", "unstarted"} <= machine.mixed_states, machine.mixed_states


@pytest.mark.parametrize("machine", [RunLives, NativeRunLives], ids=["dynamic", "native"])
def test_a_job_past_the_listing_budget_keeps_one_run_per_intent(machine: type[RunLives]) -> None:
    long_history_walk(machine)


def test_the_model_sees_a_run_nobody_asked_for() -> None:
    """The model is not vacuous: a run the provider did not ask for is caught by its next look."""
    machine = RunLives()
    machine.client.put_execution(machine.jobs["a"].ref.execution(str(uuid.uuid4())))
    with pytest.raises(AssertionError, match="1 new runs, the model expected 0"):
        machine.learn()
