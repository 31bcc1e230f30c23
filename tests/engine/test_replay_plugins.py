"""The provider, through each real plugin over gRPC, through the lives the live service's recordings show.

Each test replays recorded exchanges verbatim (``tests/integration/replay.py``; the plugins get a static token
over plain HTTP to the replay on loopback, as the other engine tests get the emulator's), drives the dynamic
and the native plugin through the engine stand-in, and asserts the order of the answers served: every recorded
exchange a life relies on was served, and nothing else was asked (``replaying`` fails a test with a miss).

The provider reads an execution's id before it PUTs it (the recorded Python SDK PUT blind) and lists a finished
run's targets (the recorded Python session never did), so some lives add a ``synthesized`` exchange, named in the
test's docstring and built from recorded bodies. ``job_execution_id`` is pinned to the recorded id, so the
provider reads and PUTs exactly the recorded URLs; the derived ids of an unpinned resource were never recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import engine_pb2

from pulumi_azure_elastic_jobs.ids import ExecutionRef
from pulumi_azure_elastic_jobs.terms import DEFAULT_API_VERSION
from tests.engine.conftest import configured_plugin
from tests.engine.harness import (
    EXECUTION,
    EXECUTION_SET,
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
from tests.integration.replay import Exchange, Replay, replaying
from tests.integration.test_replay import (
    NET,
    NET_CANCEL,
    NET_JOB,
    NET_POLLS,
    NET_RUN,
    NET_SKIPPED,
    NET_TARGETS,
    PLAN,
    PY,
    PY_JOB,
    PY_POLL,
    PY_PUT,
    PY_PUT_RUN,
    empty_targets,
    listed_execution,
    not_found,
    parsed_time,
    plan_reads,
)

FACES = ["dynamic", "native"]
WAITED = {"wait_for_completion": True, "poll_interval": 0.05}
"""A waited run polled at most every 50 ms: the recordings carry no Retry-After, and the replay answers each
recorded poll whenever it is asked, so the test's pace never decides its outcome."""


def pinned(ref: ExecutionRef, **inputs: Any) -> dict[str, Any]:
    """A JobExecution's inputs for the recorded run ``ref``: its job's coordinates and its id, pinned."""
    job = ref.job
    return {
        "subscription_id": job.subscription_id,
        "resource_group_name": job.resource_group_name,
        "server_name": job.server_name,
        "job_agent_name": job.job_agent_name,
        "job_name": job.job_name,
        "job_execution_id": ref.job_execution_id,
        **inputs,
    }


@dataclass
class Face:
    """One plugin under the engine stand-in; ``up`` declares one resource anew, ``outputs`` reads its state back
    in the core's snake_case names."""

    engine: Engine
    declare: Callable[..., list[Registration]]
    to_core: Callable[[Any], Any]
    restart: Callable[[], None]
    """A new plugin process for the next deployment, as the engine starts one per ``pulumi up``/``destroy``: what
    one deployment's process remembers (the runs its creates attached to) is not the next one's."""
    log: EngineLog
    """The engine's ``Log`` service, to which both plugins send the resource's status and diagnostics."""

    def diagnostics(self, warning: bool = False) -> list[str]:
        """The lasting messages on the resource (not the row's passing status), warnings or the others."""
        severity = engine_pb2.WARNING if warning else engine_pb2.INFO
        lasting = [m.message for m in self.log.messages if not m.ephemeral and m.severity == severity]
        return [message for message in lasting if not message.startswith("will run ")]

    def plans(self) -> list[str]:
        """The plans shown on the resource (a dynamic plugin's Check shows one before each create)."""
        return [m.message for m in self.log.messages if not m.ephemeral and m.message.startswith("will run ")]

    def up(self, **inputs: Any) -> None:
        self.engine.up(self.declare(**inputs))

    def outputs(self) -> dict[str, Any]:
        (state,) = self.engine.state.values()
        outputs: dict[str, Any] = self.to_core(state.output_props)
        return outputs


@contextmanager
def face_on(kind: str, replay: Replay, resource: str = "execution") -> Iterator[Face]:
    """The ``kind`` plugin configured for ``replay``, declaring a JobExecution (or a JobExecutionSet)."""
    stack = f"replay-{uuid.uuid4().hex[:8]}"
    log = EngineLog()
    if kind == "dynamic":
        # url and token are all configured_plugin reads of what it is given
        engine = Engine(configured_plugin(replay, log.address))  # type: ignore[arg-type]

        def restart_dynamic() -> None:
            engine.plugin.kill()
            engine.plugin = configured_plugin(replay, log.address)  # type: ignore[arg-type]

        def declare_dynamic(**inputs: Any) -> list[Registration]:
            from pulumi_azure_elastic_jobs import JobExecution, JobExecutionSet

            cls = JobExecution if resource == "execution" else JobExecutionSet
            return run_program(lambda: cls("run", **inputs), project="tests", stack=stack)

        try:
            yield Face(engine, declare_dynamic, lambda value: value, restart_dynamic, log)
        finally:
            engine.plugin.kill()
            log.stop()
        return
    native_engine = Engine(NativeStubs(native_plugin(log, replay)))  # type: ignore[arg-type]

    def restart_native() -> None:
        native_engine.plugin.kill()
        native_engine.plugin = NativeStubs(native_plugin(log, replay))  # type: ignore[assignment]

    type_ = EXECUTION if resource == "execution" else EXECUTION_SET

    def declare_native(**inputs: Any) -> list[Registration]:
        return [Registration(type_, "run", urn("run", type_, stack), to_struct(camel_inputs(inputs)))]

    try:
        yield Face(native_engine, declare_native, snake_outputs, restart_native, log)
    finally:
        native_engine.plugin.kill()
        log.stop()


def native_plugin(log: EngineLog, replay: Replay) -> NativePlugin:
    native = NativePlugin(log.address)
    native.configure(replay)
    return native


def origins(*exchanges: Exchange) -> list[str]:
    return [exchange.origin for exchange in exchanges]


def lived(replay: Replay) -> list[str]:
    """The answers a run's life was served, in order, without its plan's reads (those go out in parallel; the
    Python session's recorded GET of its job answers the plan's read of the job)."""
    return [
        served.exchange.origin
        for served in replay.served
        if not served.exchange.origin.startswith(f"synthesized: {PLAN}") and not served.path.endswith("/jobs/myjob")
    ]


# --- the .NET session: a run observed WaitingForChildJobExecutions, waited to its end, its targets read --------


@pytest.mark.parametrize("kind", FACES)
def test_a_run_found_waiting_for_child_executions_is_attached_to_and_waited_to_its_recorded_end(kind: str) -> None:
    """Recorded only: the two polls of the started run (WaitingForChildJobExecutions, then Succeeded) and its
    target listing. The provider's read of the pinned id finds the run going, so it attaches (no PUT) and waits;
    were WaitingForChildJobExecutions taken for an end, it would record the run unfinished, with no targets."""
    waiting, succeeded = NET_POLLS
    with replaying([*NET, *plan_reads(NET_JOB)]) as replay, face_on(kind, replay) as face:
        face.up(**pinned(NET_RUN, **WAITED))
        outputs = face.outputs()
        assert lived(replay) == origins(waiting, succeeded, NET_TARGETS)
        assert outputs["lifecycle"] == "Succeeded" and outputs["provisioning_state"] == "Succeeded"
        assert outputs["last_message"] == "Job execution succeeded."
        assert outputs["current_attempts"] == 0 and outputs.get("current_attempt_start_time") is None
        assert parsed_time("2018-05-22T19:22:14.5979998Z").isoformat() == _instant(outputs["start_time"])
        assert parsed_time("2018-05-22T19:22:41.8803248Z").isoformat() == _instant(outputs["end_time"])
        assert parsed_time("2018-05-22T19:22:07.92Z").isoformat() == _instant(outputs["create_time"])
        assert outputs["target_outcomes"]["counts"] == {"Succeeded": 1}
        assert (outputs["target_outcomes"]["databases"], outputs["target_outcomes"]["complete"]) == (1, True)
        assert outputs["job_execution_id"] == NET_RUN.job_execution_id and outputs["in_history"] is True

        assert face.diagnostics(warning=True) == [
            f"attached to execution {NET_RUN.job_execution_id}, already WaitingForChildJobExecutions, instead of "
            "starting a second concurrent run: an earlier `pulumi up` was interrupted after starting it, or the run "
            "this resource replaced is still going (cancel_on_destroy=False). To run the job again once it ends, "
            "change triggers"
        ]
        assert face.diagnostics() == ["Succeeded in 33s: 1 step on 1 database"]  # created 07.92, ended 41.88

        face.up(**pinned(NET_RUN, **WAITED))  # no change: no request at all
        assert len(lived(replay)) == 3
        assert {served.api_version for served in replay.served} == {DEFAULT_API_VERSION}  # ours, not the recording's

        face.engine.refresh()  # one read; a finished run's targets are as recorded, never listed again
        assert lived(replay) == origins(waiting, succeeded, NET_TARGETS, succeeded)
        assert face.outputs()["target_outcomes"]["counts"] == {"Succeeded": 1}

        face.restart()
        face.engine.destroy()  # a finished run is forgotten, never cancelled
        assert lived(replay) == origins(waiting, succeeded, NET_TARGETS, succeeded, succeeded)
        assert replay.hits(NET_CANCEL) == 0


@pytest.mark.parametrize("kind", FACES)
def test_destroying_a_run_that_ends_as_it_is_cancelled_answered_200_with_an_empty_body_succeeds(kind: str) -> None:
    """Recorded only: the first poll served twice (the trimmed session dropped its repeated polls), the cancel of
    the run (200, empty body, ``Location``) and the poll that finds it Succeeded. A destroy must take that cancel
    for a success and the run's end, whatever lifecycle it ended in, as the run stopped."""
    waiting, succeeded = NET_POLLS
    with replaying([waiting, *NET, *plan_reads(NET_JOB)]) as replay, face_on(kind, replay) as face:
        face.up(**pinned(NET_RUN, poll_interval=0.05))
        assert face.outputs()["lifecycle"] == "WaitingForChildJobExecutions"
        face.restart()
        face.engine.destroy()
        assert face.engine.state == {}
        assert lived(replay) == origins(waiting, waiting, NET_CANCEL, succeeded)


@pytest.mark.parametrize("kind", FACES)
def test_destroying_a_set_whose_run_ends_as_it_is_cancelled_succeeds(kind: str) -> None:
    """Recorded only, as for a JobExecution: the first poll served three times (the set's start reads the pinned
    id, its one round of polls reads it again, the destroy reads it once more), the cancel (200, empty body,
    ``Location``) and the poll that finds the run Succeeded: every run stopped, so the destroy succeeds."""
    waiting, succeeded = NET_POLLS
    job = NET_RUN.job
    with (
        replaying([waiting, waiting, *NET, *plan_reads(NET_JOB)]) as replay,
        face_on(kind, replay, resource="set") as face,
    ):
        inputs = pinned(NET_RUN, poll_interval=0.05)
        del inputs["job_name"], inputs["job_execution_id"]
        face.up(members={"nightly": {"job_name": job.job_name, "job_execution_id": NET_RUN.job_execution_id}}, **inputs)
        assert face.outputs()["executions"]["nightly"]["lifecycle"] == "WaitingForChildJobExecutions"
        face.restart()
        face.engine.destroy()
        assert face.engine.state == {}
        assert lived(replay) == origins(waiting, waiting, waiting, NET_CANCEL, succeeded)


# --- the Python session: a run PUT under a caller-chosen id, answered 201 with no headers ---------------------


@pytest.mark.parametrize("kind", FACES)
def test_a_run_put_under_a_pinned_id_answered_201_without_headers_is_waited_to_its_end(kind: str) -> None:
    """Recorded: the PUT (201, the Created body, no ``Location`` or async headers) and the poll that finds the run
    Succeeded. Synthesized: the read of the id before the PUT (404, from the session's own 404 wording) and the
    target listing at the end (empty; the Python session never listed targets)."""
    free, targets = not_found(PY_PUT_RUN, PY_PUT.header("date")), empty_targets(PY_PUT_RUN)
    with replaying([free, *PY, targets, *plan_reads(PY_JOB)]) as replay, face_on(kind, replay) as face:
        face.up(**pinned(PY_PUT_RUN, **WAITED))
        outputs = face.outputs()
        assert lived(replay) == origins(free, PY_PUT, PY_POLL, targets)
        assert outputs["lifecycle"] == "Succeeded" and outputs["last_message"] == "Job execution succeeded."
        assert outputs["current_attempts"] == 0 and outputs["job_version"] == 1
        assert parsed_time("2020-09-03T06:44:53.56Z").isoformat() == _instant(outputs["create_time"])
        assert parsed_time("2020-09-03T06:45:03.8185542Z").isoformat() == _instant(outputs["end_time"])
        assert outputs["target_outcomes"]["complete"] is True and outputs["target_outcomes"]["counts"] == {}
        planned = "will run myjob v1: 1 step on 1 database in 1 server"
        assert outputs["plan"]["summary"] == planned  # read before the PUT, recorded with the run
        assert outputs["plan"]["steps"][0]["databases"] == ["sqlcrudtest-4623/sqlcrudtest-4805"]
        assert [plan.splitlines()[0] for plan in face.plans()] == ([planned] if kind == "dynamic" else [])


@pytest.mark.parametrize("kind", FACES)
def test_importing_a_recorded_run_by_its_id_reads_it_and_puts_nothing(kind: str) -> None:
    """Recorded: the poll that reads the run Succeeded (served to the import's read). Synthesized: its target
    listing (empty; the Python session never listed targets)."""
    targets = empty_targets(PY_PUT_RUN)
    with replaying([*PY, targets]) as replay, face_on(kind, replay) as face:
        (registration,) = face.declare(**pinned(PY_PUT_RUN))
        result = face.engine.import_(replace(registration, import_id=PY_PUT_RUN.arm_id))
        assert result.operations == {registration.urn: "import"}
        outputs = face.outputs()
        assert outputs["lifecycle"] == "Succeeded" and outputs["azure_id"] == PY_PUT_RUN.arm_id
        assert lived(replay) == origins(PY_POLL, targets)
        assert replay.hits(PY_PUT) == 0


# --- Skipped: the service's own end for a run it did not carry out (provisioningState Canceled) ---------------


@pytest.mark.parametrize("kind", FACES)
def test_a_skipped_run_ends_the_deployment_as_a_success_despite_its_canceled_provisioning_state(kind: str) -> None:
    """Synthesized from recorded bodies: the read of the skipped run is the agent listing's item for it, verbatim
    (the .NET session only listed it), and its target listing is empty. Skipped is not in the default ``fail_on``
    (Terraform azurerm's poller takes Skipped for success); its ``provisioningState`` of Canceled, which the
    default ``fail_on`` names as a lifecycle, must not make it a failure."""
    read, targets = listed_execution(NET_SKIPPED), empty_targets(NET_SKIPPED)
    with replaying([read, targets, *plan_reads(NET_JOB)]) as replay, face_on(kind, replay) as face:
        face.up(**pinned(NET_SKIPPED, **WAITED))
        outputs = face.outputs()
        assert (outputs["lifecycle"], outputs["provisioning_state"]) == ("Skipped", "Canceled")
        assert outputs["last_message"] == "Job execution skipped."
        assert lived(replay) == origins(read, targets)
        attached, skipped = face.diagnostics(warning=True)  # done, but not what was asked: said, as a warning
        assert attached == f"execution {NET_SKIPPED.job_execution_id} already existed (Skipped); no new run was started"
        assert skipped.startswith("Skipped in 20s: Job execution skipped. The service skipped this run")
        assert "add Skipped to `fail_on`" in skipped
        assert face.diagnostics() == []  # said once, as the warning, not also as the ordinary summary


@pytest.mark.parametrize("kind", FACES)
def test_a_skipped_run_fails_the_deployment_when_fail_on_names_skipped(kind: str) -> None:
    read, targets = listed_execution(NET_SKIPPED), empty_targets(NET_SKIPPED)
    fail_on = ["Failed", "TimedOut", "Canceled", "Skipped"]
    with replaying([read, targets, *plan_reads(NET_JOB)]) as replay, face_on(kind, replay) as face:
        with pytest.raises(grpc.RpcError) as failed:
            face.up(**pinned(NET_SKIPPED, fail_on=fail_on, **WAITED))
        details = str(failed.value.details())
        assert "ended Skipped: Job execution skipped. The service skipped the run because another run" in details
        assert "Fix the step's script" not in details  # nothing in the script to fix
        assert face.engine.state == {}  # a run that ended in fail_on is not recorded
        assert lived(replay) == origins(read, targets)


@pytest.mark.parametrize("kind", FACES)
def test_a_set_member_whose_run_was_skipped_is_not_a_failed_member(kind: str) -> None:
    read, targets = listed_execution(NET_SKIPPED), empty_targets(NET_SKIPPED)
    job = NET_SKIPPED.job
    with replaying([read, targets, *plan_reads(NET_JOB)]) as replay, face_on(kind, replay, resource="set") as face:
        member = {"job_name": job.job_name, "job_execution_id": NET_SKIPPED.job_execution_id}
        inputs = pinned(NET_SKIPPED, members={"nightly": member}, **WAITED)
        for name in ("job_name", "job_execution_id"):
            del inputs[name]
        face.up(**inputs)
        outputs = face.outputs()
        assert outputs["executions"]["nightly"]["lifecycle"] == "Skipped"
        assert outputs["failed_members"] == [] and outputs["finished"] is True
        assert lived(replay) == origins(read, read, targets)  # found, then read once more by the set's wait
        assert face.diagnostics() == ["1 run: 1 Skipped"]  # not "(not succeeded: nightly)"


def _instant(value: str) -> str:
    """An output timestamp as the instant it names, in ``datetime.isoformat`` form (the spelling may differ)."""
    return parsed_time(value.replace("+00:00", "Z")).isoformat()
