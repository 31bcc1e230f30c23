"""The official Azure SDK (azure-mgmt-sql, api-version 2025-01-01) works against the emulator unchanged."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from elastic_jobs_emulator import Emulator


class DevCredential:
    """A TokenCredential for the emulator: any non-empty bearer token is accepted."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("emulator-dev-token", int(time.time()) + 3600)


@pytest.fixture(scope="module")
def secure_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    # azure-core refuses to send bearer tokens over plain HTTP, so the SDK needs the emulator's --tls mode.
    with Emulator(tls=True, data_dir=Path(tmp_path_factory.mktemp("tls")), time_scale=200) as running:
        yield running


def until(read: Any, lifecycle: str, within: float = 20.0) -> Any:
    """Read until the run shows ``lifecycle`` (the emulator's clock moves it; this only waits to see it)."""
    deadline = time.monotonic() + within
    while (value := read()).lifecycle != lifecycle and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def test_the_official_sdk_creates_polls_cancels_and_lists_in_a_subscription_of_its_own(
    secure_emulator: Emulator,
) -> None:
    from azure.mgmt.sql import SqlManagementClient
    from azure.mgmt.sql import models as m

    subscription = str(uuid.uuid4())  # as a new user's own: no flag, no seed, nothing created before
    sdk = SqlManagementClient(
        DevCredential(),
        subscription,
        base_url=secure_emulator.url,
        connection_verify=secure_emulator.ca_bundle,
        polling_interval=0.05,
    )
    group, server, agent, job = "sdk-group", "sdk-server", "sdk-agent", "sdk-job"
    created_agent = sdk.job_agents.begin_create_or_update(
        group,
        server,
        agent,
        m.JobAgent(
            location="westeurope",
            database_id=f"/subscriptions/{subscription}/resourceGroups/{group}"
            f"/providers/Microsoft.Sql/servers/{server}/databases/jobs",
        ),
    ).result()
    assert created_agent.state == "Ready"
    target_group = sdk.job_target_groups.create_or_update(
        group,
        server,
        agent,
        "tg",
        m.JobTargetGroup(members=[m.JobTarget(type="SqlDatabase", server_name=server, database_name="db1")]),
    )
    sdk.jobs.create_or_update(group, server, agent, job, m.Job(description="via the SDK"))
    sdk.job_steps.create_or_update(
        group,
        server,
        agent,
        job,
        "step1",
        m.JobStep(target_group=target_group.id, action=m.JobStepAction(value="SELECT 1; -- emulator:duration=10")),
    )
    assert sdk.jobs.get(group, server, agent, job).version == 1

    execution_id = str(uuid.uuid4())
    execution = sdk.job_executions.begin_create_or_update(group, server, agent, job, execution_id).result()
    assert execution.job_execution_id == execution_id
    fetched = sdk.job_executions.get(group, server, agent, job, execution_id)
    assert fetched.lifecycle in ("Created", "WaitingForChildJobExecutions", "Succeeded")

    long_id = str(uuid.uuid4())
    sdk.job_steps.create_or_update(
        group,
        server,
        agent,
        job,
        "step1",
        m.JobStep(target_group=target_group.id, action=m.JobStepAction(value="SELECT 1; -- emulator:duration=100000")),
    )
    poller = sdk.job_executions.begin_create_or_update(group, server, agent, job, long_id, polling=False)
    poller.result()
    sdk.job_executions.cancel(group, server, agent, job, long_id)
    cancelled = until(lambda: sdk.job_executions.get(group, server, agent, job, long_id), "Canceled")
    assert cancelled.lifecycle == "Canceled" and cancelled.provisioning_state == "Canceled"

    started = sdk.job_executions.begin_create(group, server, agent, job).result()
    assert started.job_execution_id

    listed = list(sdk.job_executions.list_by_job(group, server, agent, job))
    assert {e.job_execution_id for e in listed} >= {execution_id, long_id}
    assert len(list(sdk.job_executions.list_by_agent(group, server, agent, is_active=True))) >= 1
    steps = list(sdk.job_step_executions.list_by_job_execution(group, server, agent, job, execution_id))
    assert [s.step_name for s in steps] == ["step1"]
    targets = list(sdk.job_target_executions.list_by_job_execution(group, server, agent, job, execution_id))
    assert targets[0].target.database_name == "db1"
    assert [v.name for v in sdk.job_versions.list_by_job(group, server, agent, job)] == ["1", "2"]


def test_the_official_sdk_reads_the_recorded_shapes(secure_emulator: Emulator) -> None:
    """What the live service answered in the recordings, through azure-mgmt-sql's own models and pollers: a start
    answered 200 with a Location (its poller follows it), a run waiting for its steps, no attempts at job level,
    7-digit times, step and target executions worded as recorded, a cancel of a finished run, a missing job."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.sql import SqlManagementClient
    from azure.mgmt.sql import models as m

    subscription = str(uuid.uuid4())
    sdk = SqlManagementClient(
        DevCredential(), subscription, base_url=secure_emulator.url, connection_verify=secure_emulator.ca_bundle
    )
    group, server, agent, job = "rec-group", "rec-server", "rec-agent", "rec-job"
    database = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Sql/servers/{server}"
    sdk.job_agents.begin_create_or_update(
        group, server, agent, m.JobAgent(location="westeurope", database_id=f"{database}/databases/jobs")
    ).result(timeout=30)
    members = [m.JobTarget(type="SqlDatabase", server_name=server, database_name="db1")]
    target_group = sdk.job_target_groups.create_or_update(group, server, agent, "tg", m.JobTargetGroup(members=members))
    sdk.jobs.create_or_update(group, server, agent, job, m.Job(description="recorded shapes"))
    script = "SELECT 1; -- emulator:duration=200"
    step = m.JobStep(target_group=target_group.id, action=m.JobStepAction(value=script))
    sdk.job_steps.create_or_update(group, server, agent, job, "step1", step)

    # No Retry-After: azure-core would wait its 30 s default between polls; a user passes polling_interval too.
    started = sdk.job_executions.begin_create(group, server, agent, job, polling_interval=0.05).result(timeout=30)
    # The poller follows the 200's Location to the run's own URL: what it reads there is the result.
    assert started.lifecycle in ("Created", "WaitingForChildJobExecutions") and started.current_attempts == 0
    run = str(started.job_execution_id)
    waiting = until(lambda: sdk.job_executions.get(group, server, agent, job, run), "WaitingForChildJobExecutions")
    assert waiting.provisioning_state == "InProgress" and waiting.current_attempt_start_time is None
    assert waiting.last_message == "Job execution waiting for job steps to complete."
    done = until(lambda: sdk.job_executions.get(group, server, agent, job, run), "Succeeded")
    assert done.current_attempts == 0 and done.start_time and done.end_time and done.create_time
    assert done.create_time.tzinfo is not None and done.end_time > done.start_time

    (step_run,) = sdk.job_step_executions.list_by_job_execution(group, server, agent, job, run)
    assert step_run.name == "step1" and step_run.last_message == "Step 1 succeeded." and step_run.current_attempts == 1
    assert step_run.create_time == done.start_time
    (target_run,) = sdk.job_target_executions.list_by_step(group, server, agent, job, run, "step1")
    assert target_run.name == str(uuid.UUID(target_run.name)) and target_run.target.database_name == "db1"
    assert target_run.last_message == f"Step 1 succeeded execution on target (server '{server}', database 'db1')."
    assert (
        sdk.job_target_executions.get(group, server, agent, job, run, "step1", target_run.name).name == target_run.name
    )

    assert sdk.job_executions.cancel(group, server, agent, job, run) is None  # finished: still a 200
    assert sdk.job_executions.get(group, server, agent, job, run).lifecycle == "Succeeded"
    with pytest.raises(ResourceNotFoundError) as missing:
        sdk.job_executions.get(group, server, agent, "no-such-job", run)
    assert "with name 'no-such-job' was not found" in str(missing.value)
