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
    assert fetched.lifecycle in ("Created", "InProgress", "Succeeded")

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
    assert sdk.job_executions.get(group, server, agent, job, long_id).lifecycle == "Canceled"

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
