"""The stages of a native-plugin program's life that the YAML, TypeScript, Python SDK and Go tests all walk through.

Each stage asserts what users see (the CLI's output and the stack's outputs) and what must not happen (a second
run, a request from a preview or an unchanged `up`), counting runs on the emulator and reading what each command
sent it from its request log. Every program here declares a chain of two `JobExecution`s: `migration` (config keys
`job`, `script` as its trigger, and `wait`) and `reindex` (config key `reindexJob`), which depends on it, waits,
carries the migration's execution id in its `triggers` and takes its job name from an output of the migration, so
that both are unknown at a first preview. They export `lifecycle`, `targetOutcomes`, `executionId`,
`reindexLifecycle` and `reindexExecutionId`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from tests.cli.conftest import Stack
from tests.cli.yaml_support import warnings_in
from tests.conftest import new_job

CREATE = "+ azure-elastic-jobs:index:JobExecution: (create)"
REPLACE = "+-azure-elastic-jobs:index:JobExecution: (replace)"
PLANNED_DATABASE = "azure-elastic-jobs:index:PlannedDatabase"
UNKNOWN = "[unknown]"  # how `pulumi preview --diff` shows a value no one knows before the update runs


@dataclass(frozen=True)
class Chain:
    """The jobs of a program's two resources: each test's own, so runs are counted per test."""

    migration: JobRef
    reindex: JobRef


def new_chain(client: ElasticJobsClient, stack: Stack) -> Chain:
    """Two fresh jobs that end at once, configured as the program's `job` and `reindexJob`."""
    chain = Chain(*(new_job(client, script="SELECT 1; -- emulator:duration=0") for _ in range(2)))
    stack.config("job", chain.migration.job_name)
    stack.config("reindexJob", chain.reindex.job_name)
    return chain


def last_seq(emulator: Emulator) -> int:
    log = emulator.requests_log()
    return log[-1]["seq"] if log else 0


def sent(emulator: Emulator, since: int) -> list[str]:
    """What reached the emulator since ``since``, as ``METHOD path`` lines."""
    return [f"{e['method']} {e['path']}" for e in emulator.requests_log(since)]


def mutating(emulator: Emulator, since: int) -> list[str]:
    return [line for line in sent(emulator, since) if not line.startswith("GET ")]


def runs_of(client: ElasticJobsClient, job: JobRef) -> list[str]:
    return [str(e.name) for e in client.list_executions(job)]  # every listed run has its name


def run_counts(client: ElasticJobsClient, chain: Chain) -> tuple[int, int]:
    return len(runs_of(client, chain.migration)), len(runs_of(client, chain.reindex))


def reindex_ran_after_the_migration(client: ElasticJobsClient, chain: Chain, outputs: dict[str, Any]) -> None:
    """Both runs succeeded, and the reindex's was created only once the migration's had ended."""
    assert outputs["lifecycle"] == "Succeeded" and outputs["reindexLifecycle"] == "Succeeded", outputs
    migration = client.get_execution(chain.migration.execution(outputs["executionId"])).properties
    reindex = client.get_execution(chain.reindex.execution(outputs["reindexExecutionId"])).properties
    assert migration.end_time is not None and reindex.create_time is not None
    assert reindex.create_time >= migration.end_time, (migration, reindex)


def preview_reads_only(stack: Stack, emulator: Emulator) -> str:
    """`pulumi preview --diff`, which must send no request but its plans' reads and print no warning; its output
    (in `--diff` mode the CLI writes a resource's diagnostics, the plans among them, to stderr)."""
    since = last_seq(emulator)
    preview = stack.run("preview", "--diff")
    assert mutating(emulator, since) == [], "a preview changes nothing"
    assert warnings_in(preview.stdout + preview.stderr) == []
    return preview.stdout + preview.stderr


def shows_the_plan(preview: str, job: JobRef) -> None:
    """The migration's plan, under the resource: its summary line, its pin and the databases by server."""
    assert f"will run {job.job_name} v1: 1 step on 2 databases in 1 server" in preview, preview
    assert re.search(r"pin: server1=2 steps=[0-9a-f]{12} sha256:[0-9a-f]{16}", preview), preview
    assert "server1: app-db-1, app-db-2" in preview, preview
    for database in ("app-db-1", "app-db-2"):  # a row each, the plan's views: a preview's only (never in state)
        assert f"{PLANNED_DATABASE}::migration/server1/{database}]" in preview, preview


def first_up_runs_the_chain_once(
    stack: Stack, client: ElasticJobsClient, emulator: Emulator, chain: Chain
) -> dict[str, Any]:
    """A preview that shows both creates, the reindex's job name and trigger unknown, and sends nothing; then a
    waited `up` that runs the migration, then the reindex: exactly one run of each job."""
    preview = preview_reads_only(stack, emulator)
    shows_the_plan(preview, chain.migration)  # the reindex's job is unknown until the migration ran: no plan yet
    assert preview.count("will run ") == 1, preview
    assert preview.count(CREATE) == 2 and "triggers" in preview, preview
    assert re.search(rf"jobName\s*: {re.escape(UNKNOWN)}", preview), preview
    assert f"migration: {UNKNOWN}" in preview, preview

    up = stack.run("up", "--yes", "--skip-preview")
    outputs = stack.outputs()
    assert outputs["targetOutcomes"]["complete"] is True and outputs["targetOutcomes"]["databases"] >= 1, up.stdout
    assert outputs["targetOutcomes"]["unplanned"] == [], outputs  # every database the run touched was planned
    assert warnings_in(up.stdout + up.stderr) == []
    assert runs_of(client, chain.migration) == [outputs["executionId"]]
    assert runs_of(client, chain.reindex) == [outputs["reindexExecutionId"]]
    reindex_ran_after_the_migration(client, chain, outputs)
    return outputs


def unchanged_up_sends_nothing(stack: Stack, emulator: Emulator) -> None:
    since = last_seq(emulator)
    unchanged = stack.run("up", "--yes", "--skip-preview")
    assert mutating(emulator, since) == [] and "3 unchanged" in unchanged.stdout  # the stack and both runs


def trigger_change_reruns_the_chain_once(
    stack: Stack, client: ElasticJobsClient, emulator: Emulator, chain: Chain
) -> None:
    """A new migration trigger replaces the migration and, through its new execution id (unknown at preview), the
    reindex: one new run of each job, the reindex's after the migration's."""
    before, previous = run_counts(client, chain), stack.outputs()
    stack.config("script", "v2")
    preview = preview_reads_only(stack, emulator)
    shows_the_plan(preview, chain.migration)
    assert preview.count(REPLACE) == 2 and 'script: "v1" => "v2"' in preview, preview
    assert f'migration: "{previous["executionId"]}" => {UNKNOWN}' in preview, preview

    stack.run("up", "--yes", "--skip-preview")
    outputs = stack.outputs()
    assert run_counts(client, chain) == (before[0] + 1, before[1] + 1)
    assert outputs["executionId"] != previous["executionId"]
    assert outputs["reindexExecutionId"] != previous["reindexExecutionId"]
    reindex_ran_after_the_migration(client, chain, outputs)


def destroy_cancels_the_run_still_going(
    stack: Stack, client: ElasticJobsClient, emulator: Emulator, chain: Chain
) -> None:
    """An `up` that does not wait for the migration leaves its new run going (the reindex still runs, after the
    migration was accepted); `destroy` cancels it and starts nothing."""
    emulator.set_behavior(chain.migration.job_name, duration_seconds=360000.0)  # the next run stays active
    stack.config("wait", "false")
    stack.config("script", "v3")
    before = run_counts(client, chain)
    stack.run("up", "--yes", "--skip-preview")
    held = stack.outputs()["executionId"]
    assert run_counts(client, chain) == (before[0] + 1, before[1] + 1)
    held_run = chain.migration.execution(held)
    assert client.get_execution(held_run).properties.lifecycle in ("Created", "WaitingForChildJobExecutions")
    destroyed = stack.run("destroy", "--yes", "--skip-preview")
    assert "deleted" in destroyed.stdout, destroyed.stdout
    assert client.get_execution(held_run).properties.lifecycle == "Canceled"
    assert run_counts(client, chain) == (before[0] + 1, before[1] + 1), "destroy started nothing"
