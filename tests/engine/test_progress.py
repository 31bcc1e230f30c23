"""Live status on the resource's row: the plugin talks to the engine's Log service, as under the real CLI.

The fake engine here is a real gRPC ``Engine`` server whose address the plugin gets as its last argument, as
the CLI starts it. Runs are held by the emulator's service clock and released by moving it, never by a timer.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import ExecutionRef, JobRef
from tests.conftest import HELD, HOUR_AHEAD, in_background, new_job
from tests.engine.conftest import Declare, configured_plugin
from tests.engine.harness import Engine, EngineLog, Plugin


@pytest.fixture
def engine_log() -> Iterator[EngineLog]:
    log = EngineLog()
    yield log
    log.stop()


def only_run(client: ElasticJobsClient, job: JobRef) -> ExecutionRef:
    (execution,) = client.list_executions(job)
    return job.execution(execution.properties.job_execution_id or "")


def release_when_shown(emulator: Emulator, log: EngineLog, text: str) -> threading.Thread:
    """Move the service clock past the held run once the status line shows ``text`` (or after a minute)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(text in m.message for m in log.messages if m.ephemeral):
            time.sleep(0.02)
        emulator.settings(clock_offset_seconds=HOUR_AHEAD)

    return in_background(watch)


def test_a_waited_run_shows_its_status_on_its_own_row_and_ends_with_one_summary(
    own_emulator: Emulator, own_client: ElasticJobsClient, declare: Declare, engine_log: EngineLog
) -> None:
    job = new_job(own_client, script=HELD)
    plugin = configured_plugin(own_emulator, engine_log.address)
    try:
        registrations = declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2)
        watcher = release_when_shown(own_emulator, engine_log, "WaitingForChildJobExecutions")
        Engine(plugin).up(registrations)
        watcher.join()
        sent_while_creating = len(engine_log.messages)
    finally:
        plugin.kill()
    (registration,) = registrations
    assert {m.urn for m in engine_log.messages} == {registration.urn}  # the URN of the request being served
    statuses = [m.message for m in engine_log.messages if m.ephemeral]
    assert any(s.startswith("WaitingForChildJobExecutions · waited ") for s in statuses), statuses
    assert statuses[-1] == ""  # the row's status was cleared before create returned
    assert all(a != b for a, b in itertools.pairwise(statuses))  # only changes are sent
    plan, summary = [m.message for m in engine_log.messages if not m.ephemeral]  # Check's plan, then the end
    assert plan.startswith(f"will run {job.job_name} v1: 1 step on 2 databases in 1 server\npin: server1=2 steps=")
    assert summary.startswith("Succeeded in ") and summary.endswith(": 1 step on 2 databases"), summary
    assert len(engine_log.messages) == sent_while_creating  # nothing arrives after create returned


def test_a_failed_run_says_where_it_failed_once(
    own_emulator: Emulator, own_client: ElasticJobsClient, declare: Declare, engine_log: EngineLog
) -> None:
    job = new_job(own_client, "SELECT 1; -- emulator:fail emulator:duration=0", {"retryAttempts": 2})
    plugin = configured_plugin(own_emulator, engine_log.address)
    try:
        with pytest.raises(grpc.RpcError) as raised:
            Engine(plugin).up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
    finally:
        plugin.kill()
    error = raised.value.details()
    targets = own_client.list_target_executions(only_run(own_client, job))
    failed = [target for target in targets if target.properties.lifecycle == "Failed"]
    shown = min(3, len(failed))
    notes = [m.message for m in engine_log.messages if not m.ephemeral]
    assert [note.splitlines()[0] for note in notes] == [
        f"will run {job.job_name} v1: 1 step on 2 databases in 1 server"
    ]
    # the failure is said once, by the error itself
    assert error.count("failed on server1/") == error.count("the script raised an error") == shown, error
    assert "after 3 attempts" in error and "run `pulumi up` again" in error
    assert ".." not in error


def test_an_unreachable_engine_never_fails_the_deployment(
    own_emulator: Emulator, own_client: ElasticJobsClient, declare: Declare
) -> None:
    closed = EngineLog()
    closed.stop()  # an address where nothing listens any more
    job = new_job(own_client, script="SELECT 1; -- emulator:duration=0")
    plugin: Plugin = configured_plugin(own_emulator, closed.address)
    try:
        result = Engine(plugin).up(declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2))
    finally:
        plugin.kill()
    assert result.operations and set(result.operations.values()) == {"create"}
