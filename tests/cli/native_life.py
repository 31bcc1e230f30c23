"""The stages of a native-plugin program's life that the YAML, TypeScript and Python SDK tests all walk through.

Each stage asserts what users see (the CLI's output and the stack's outputs) and what must not happen (a second
run, a request from a preview or an unchanged `up`), counting runs on the emulator and reading what each command
sent it from its request log. Every program here declares one `JobExecution` named `migration` with config keys
`job`, `script` (its trigger) and `wait`, and exports `lifecycle`, `targetOutcomes` and `executionId`.
"""

from __future__ import annotations

from typing import Any

from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.emulator import Emulator
from pulumi_azure_elastic_jobs.ids import JobRef
from tests.cli.conftest import Stack
from tests.cli.yaml_support import warnings_in

CREATE = "+ azure-elastic-jobs:index:JobExecution: (create)"
REPLACE = "+-azure-elastic-jobs:index:JobExecution: (replace)"


def last_seq(emulator: Emulator) -> int:
    log = emulator.requests_log()
    return log[-1]["seq"] if log else 0


def sent(emulator: Emulator, since: int) -> list[str]:
    """What reached the emulator since ``since``, as ``METHOD path`` lines."""
    return [f"{e['method']} {e['path']}" for e in emulator.requests_log(since)]


def mutating(emulator: Emulator, since: int) -> list[str]:
    return [line for line in sent(emulator, since) if not line.startswith("GET ")]


def runs_of(client: ElasticJobsClient, job: JobRef) -> list[str]:
    return [e.name for e in client.list_executions(job)]


def first_up_runs_once(stack: Stack, client: ElasticJobsClient, emulator: Emulator, job: JobRef) -> dict[str, Any]:
    """A preview that shows the create and sends nothing, then a waited `up` that starts exactly one run."""
    since = last_seq(emulator)
    preview = stack.run("preview", "--diff")
    assert CREATE in preview.stdout and "triggers" in preview.stdout
    assert sent(emulator, since) == [], "a preview sends nothing"
    assert warnings_in(preview.stdout + preview.stderr) == []

    up = stack.run("up", "--yes", "--skip-preview")
    outputs = stack.outputs()
    assert outputs["lifecycle"] == "Succeeded", up.stdout
    assert outputs["targetOutcomes"]["complete"] is True and outputs["targetOutcomes"]["databases"] >= 1
    assert warnings_in(up.stdout + up.stderr) == []
    assert runs_of(client, job) == [outputs["executionId"]]
    return outputs


def unchanged_up_sends_nothing(stack: Stack, emulator: Emulator) -> None:
    since = last_seq(emulator)
    unchanged = stack.run("up", "--yes", "--skip-preview")
    assert mutating(emulator, since) == [] and "2 unchanged" in unchanged.stdout  # the stack and the run


def trigger_change_starts_exactly_one_new_run(stack: Stack, client: ElasticJobsClient, job: JobRef) -> None:
    before, previous = len(runs_of(client, job)), stack.outputs()["executionId"]
    stack.config("script", "v2")
    replaced = stack.run("preview", "--diff")
    assert REPLACE in replaced.stdout and "triggers" in replaced.stdout
    stack.run("up", "--yes", "--skip-preview")
    assert len(runs_of(client, job)) == before + 1
    assert stack.outputs()["executionId"] != previous


def destroy_cancels_the_run_still_going(
    stack: Stack, client: ElasticJobsClient, emulator: Emulator, job: JobRef
) -> None:
    """An `up` that does not wait leaves its new run going; `destroy` cancels it and starts nothing."""
    emulator.set_behavior(job.job_name, duration_seconds=360000.0)  # the next run stays active
    stack.config("wait", "false")
    stack.config("script", "v3")
    stack.run("up", "--yes", "--skip-preview")
    held = stack.outputs()["executionId"]
    runs = len(runs_of(client, job))
    assert client.get_execution(job.execution(held)).properties.lifecycle in ("Created", "InProgress")
    destroyed = stack.run("destroy", "--yes", "--skip-preview")
    assert "deleted" in destroyed.stdout, destroyed.stdout
    assert client.get_execution(job.execution(held)).properties.lifecycle == "Canceled"
    assert len(runs_of(client, job)) == runs, "destroy started nothing"
