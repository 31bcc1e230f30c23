"""`pulumi preview/up/refresh/destroy` of the examples with the real CLI, against the emulator."""

from __future__ import annotations

import signal
import threading
import time

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.cli.conftest import kill_everything_of, processes_of
from tests.cli.native_life import last_seq, mutating
from tests.conftest import HELD, new_job
from tests.engine.test_exactly_once import end_held_runs_when_polled


def test_quickstart_preview_up_again_trigger_refresh_destroy(
    stack_for, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    stack = stack_for("examples/quickstart")
    stack.config("job", job.job_name)

    since = last_seq(emulator)
    previewed = stack.run("preview", "--diff")
    preview = previewed.stdout + previewed.stderr  # --diff writes diagnostics (the plan) to stderr
    assert "+ pulumi-python:dynamic/azure-elastic-jobs:JobExecution: (create)" in preview
    assert mutating(emulator, since) == []  # reads only: the plan's
    assert f"will run {job.job_name} v1: 1 step on 2 databases in 1 server" in preview, preview  # under the resource
    assert "server1: app-db-1, app-db-2" in preview, preview

    stack.run("up", "--yes")
    outputs = stack.outputs()
    assert outputs["lifecycle"] == "Succeeded" and outputs["last_message"] == "Job execution succeeded."
    assert len(list(client.list_executions(job))) == 1

    since = last_seq(emulator)
    again = stack.run("up", "--yes").stdout
    assert "1 unchanged" in again or "2 unchanged" in again
    assert mutating(emulator, since) == []

    stack.config("release", "2026.12")
    replacing = stack.run("preview", "--diff")
    changed = replacing.stdout + replacing.stderr
    assert "+-pulumi-python:dynamic/azure-elastic-jobs:JobExecution: (replace)" in changed
    assert "triggers" in changed and "2026.12" in changed
    assert f"will run {job.job_name} v1" in changed, changed  # a replacement starts a run: its plan is shown
    stack.run("up", "--yes")
    assert len(list(client.list_executions(job))) == 2

    since = last_seq(emulator)
    stack.run("refresh", "--yes")
    assert mutating(emulator, since) == []
    stack.run("destroy", "--yes")
    assert len(list(client.list_executions(job))) == 2


def test_destroy_cancels_an_active_execution(stack_for, client: ElasticJobsClient) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=360000")
    stack = stack_for("examples/quickstart")
    stack.config("job", job.job_name)
    stack.config("wait", "false")
    stack.run("up", "--yes")
    assert stack.outputs()["lifecycle"] in ("Created", "WaitingForChildJobExecutions")
    stack.run("destroy", "--yes")
    (execution,) = client.list_executions(job)
    assert execution.properties.lifecycle == "Canceled"


def test_an_interrupted_up_then_up_again_does_not_start_a_second_run(
    stack_for, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    """The run is held: it ends only when the test moves the service clock, once the second ``up`` polls it, so
    that ``up`` meets it still running however slow the machine (a run that ended before the next ``up`` is the
    documented limit, not this case)."""
    job = new_job(own_client, script=HELD)
    stack = stack_for("examples/quickstart")
    stack.config("azure-elastic-jobs:endpoint", own_emulator.url)
    stack.config("job", job.job_name)
    running = stack.popen("up", "--yes", "--skip-preview")
    deadline = time.monotonic() + 60
    while not list(own_client.list_executions(job)):
        assert time.monotonic() < deadline and running.poll() is None
        time.sleep(0.1)
    started = " ".join(processes_of(stack).values())
    assert "pulumi-language-python" in started and "pulumi.dynamic" in started, started
    running.send_signal(signal.SIGINT)
    time.sleep(0.5)
    kill_everything_of(stack)  # the CLI, and the language host, program and provider plugin it would orphan
    running.wait()
    stack.run("cancel", "--yes")  # what a user does after a killed CLI: release the stack lock
    assert [e.properties.lifecycle for e in own_client.list_executions(job)] != ["Succeeded"]
    threading.Thread(target=end_held_runs_when_polled, args=(own_emulator, last_seq(own_emulator)), daemon=True).start()
    result = stack.run("up", "--yes", "--skip-preview", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack.outputs()["lifecycle"] == "Succeeded"
    assert len(list(own_client.list_executions(job))) == 1
