"""The lives of a staged rollout, as a property: a model of which member runs when, checked against the server's own
list of runs, on both faces (the SDK's dynamic-provider plugin and the native plugin, each over gRPC).

A small Hypothesis state machine beside the big one (``test_run_lives.py``): one ``JobExecutionSet`` of three
members in three waves (``canary``, ``pool``, ``rest``), each member a job of its own over the seeded two
databases. Rules: ``up``; a member's job breaks on one database or is fixed (the emulator's ``failed_databases``);
a member's triggers change (a new intent: triggers only grow, so every change is one new run's worth); an ``up``
with a fault landing on the PUT of a member in any wave (the service acted and the answer was lost, or the request
was lost before it), asserted to have fired whenever the model says that member starts; the plugin restarted
between deployments (a new process: nothing remembered but state); a refresh.

The model: an ``up`` walks the waves in order; a member whose current intent has not run runs now if its wave is
reached, and ends Failed when its job is broken, else Succeeded; a wave passes when each member's latest run
succeeded; the first wave that does not pass halts the rollout, so later waves start nothing, and the ``up``
fails. After every step: each member's job has exactly one run per intent the model ran (one intent, one run:
never a second run of a finished wave, never a run of a wave after a failed gate), and the set's ``rollout``
says the state and the halted wave the model says.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.native.provider import to_core
from tests.conftest import new_job
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
    camel_inputs,
    to_struct,
    urn,
)
from tests.engine.test_exactly_once import declare_set

pytestmark = pytest.mark.timeout(1200)

WAVES = (("canary",), ("pool",), ("rest",))
KEYS = tuple(key for wave in WAVES for key in wave)
WAITING = {"wait_for_completion": True, "poll_interval": 0.1, "timeout": 120}
FAULTS = ("act-then-drop", "drop")
EXAMPLES, STEPS = 6, 12
"""What CI runs per face (derandomized, so the same lives every run): enough that every wave halts and every fault
kind lands in every wave (the test asserts it)."""


@dataclass
class Member:
    job: JobRef
    trigger: int = 0
    broken: bool = False
    ran: dict[int, bool] = field(default_factory=dict)
    """Per intent (trigger value) that ran: whether its run succeeded."""

    @property
    def passed(self) -> bool:
        return self.ran.get(self.trigger) is True


@dataclass
class Face:
    """How to reach one plugin: start it, declare the set, read its outputs in the core's names."""

    start: Callable[[], Any]
    declare: Callable[[str, dict[str, Any]], list[Registration]]
    to_core: Callable[[Any], Any]


def faces(emulator: Emulator, engine_log: EngineLog) -> dict[str, Face]:
    def start_native() -> Any:
        native = NativePlugin(engine_log.address)
        native.configure(emulator)
        return NativeStubs(native)

    def declare_native(stack: str, inputs: dict[str, Any]) -> list[Registration]:
        news = to_struct({**AGENT_CAMEL, **camel_inputs(inputs)})
        return [Registration(EXECUTION_SET, "fleet", urn("fleet", EXECUTION_SET, stack), news)]

    return {
        "dynamic": Face(
            lambda: configured_plugin(emulator),
            lambda stack, inputs: declare_set(stack=stack, **inputs),
            lambda value: value,
        ),
        "native": Face(start_native, declare_native, to_core),
    }


def rollout_lives(
    face: Face, emulator: Emulator, client: ElasticJobsClient, seen: Counter[str]
) -> type[RuleBasedStateMachine]:
    """The machine over one face; ``seen`` counts what its examples covered (halts and landed faults by wave)."""

    class RolloutLives(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.plugin = face.start()
            self.engine = Engine(self.plugin)
            self.stack = f"lives-{uuid.uuid4().hex[:8]}"
            self.members = {key: Member(new_job(client, script=QUICK)) for key in KEYS}
            self.deployed = False
            self.halted_at: int | None = None

        def teardown(self) -> None:
            self.plugin.kill()

        # --- the model ---------------------------------------------------------------------------------------

        def predict(self) -> tuple[list[str], int | None]:
            """The members this ``up`` starts, in order, and the wave (1-based) it halts at, if any."""
            starts: list[str] = []
            for number, wave in enumerate(WAVES, 1):
                for key in wave:
                    member = self.members[key]
                    if member.trigger not in member.ran:
                        starts.append(key)
                        member.ran[member.trigger] = not member.broken
                if not all(self.members[key].passed for key in wave):
                    return starts, number
            return starts, None

        def deploy(self) -> list[str]:
            inputs = {
                "members": {
                    key: {"job_name": m.job.job_name, "triggers": {"t": m.trigger}} for key, m in self.members.items()
                },
                "waves": [list(wave) for wave in WAVES],
                **WAITING,
            }
            starts, halted = self.predict()
            registrations = face.declare(self.stack, inputs)
            if halted is None:
                self.engine.up(registrations)
            else:
                with pytest.raises(grpc.RpcError) as failed:
                    self.engine.up(registrations)
                assert f"the rollout halted at wave {halted}" in str(failed.value.details())
            self.deployed, self.halted_at = True, halted
            if halted is not None:
                seen[f"halt at wave {halted}"] += 1
            return starts

        # --- rules -------------------------------------------------------------------------------------------

        @initialize()
        def a_wave_is_broken_from_the_start(self) -> None:
            """Every life begins with a broken wave, each wave in turn (a halt, and what follows it, is what each
            example tests, in every wave)."""
            seen["lives"] += 1
            self.job_breaks_or_is_fixed(KEYS[seen["lives"] % len(KEYS)], True)

        @rule()
        def up(self) -> None:
            self.deploy()

        @rule(key=st.sampled_from(KEYS), broken=st.booleans())
        def job_breaks_or_is_fixed(self, key: str, broken: bool) -> None:
            self.members[key].broken = broken
            emulator.set_behavior(self.members[key].job.job_name, failed_databases=["app-db-2"] if broken else [])

        @rule(key=st.sampled_from(KEYS))
        def triggers_change(self, key: str) -> None:
            self.members[key].trigger += 1

        @rule(key=st.sampled_from(KEYS), kind=st.sampled_from(FAULTS))
        def up_with_a_fault_on_a_members_put(self, key: str, kind: str) -> None:
            """A fault scheduled with work for the job it targets: the member's triggers change, so it starts a run
            when its wave is reached (and the fault must then land)."""
            self.members[key].trigger += 1
            emulator.add_fault(kind, path=f"/jobs/{self.members[key].job.job_name}/executions/", method="PUT")
            try:
                starts = self.deploy()
                hits = sum(int(rule_["hits"]) for rule_ in emulator.faults())
            finally:
                emulator.clear_faults()
            assert (hits > 0) == (key in starts), (key, kind, starts, hits)
            if hits:
                seen[f"{kind} landed"] += 1
                seen[f"a fault landed in wave {KEYS.index(key) + 1}"] += 1

        @rule()
        def plugin_restarts(self) -> None:
            self.plugin.kill()
            self.plugin = face.start()
            self.engine.plugin = self.plugin

        @rule()
        def refresh(self) -> None:
            if self.deployed:
                self.engine.refresh()

        # --- what must hold ----------------------------------------------------------------------------------

        @invariant()
        def one_run_per_intent_and_none_beyond_a_failed_gate(self) -> None:
            for key, member in self.members.items():
                runs = list(client.list_executions(member.job))
                assert len(runs) == len(member.ran), (key, len(runs), member.ran)

        @invariant()
        def the_rollout_output_says_what_the_model_says(self) -> None:
            if not self.deployed:
                return
            (state,) = self.engine.state.values()
            rollout = face.to_core(state.output_props)["rollout"]
            assert rollout["state"] == ("halted" if self.halted_at else "complete"), rollout
            if self.halted_at:
                assert int(rollout["halted"]["wave"]) == self.halted_at, rollout

    return RolloutLives


@pytest.mark.parametrize("face_name", ["dynamic", "native"])
def test_the_lives_of_a_rollout(face_name: str, own_emulator: Emulator, own_client: ElasticJobsClient) -> None:
    engine_log = EngineLog()
    seen: Counter[str] = Counter()
    try:
        machine = rollout_lives(faces(own_emulator, engine_log)[face_name], own_emulator, own_client, seen)
        run_state_machine_as_test(machine, settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS))
    finally:
        engine_log.stop()
    waves = range(1, len(WAVES) + 1)
    covered = {f"halt at wave {number}" for number in waves} | {f"a fault landed in wave {number}" for number in waves}
    covered |= {f"{kind} landed" for kind in FAULTS}
    assert covered <= set(seen), f"not covered: {sorted(covered - set(seen))}; seen: {dict(seen)}"
