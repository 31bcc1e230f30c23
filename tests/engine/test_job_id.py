"""Typed wiring to azure-native: a job named by its ARM id (`job_id` / `jobId`, as `sql.Job` exposes `id`) instead
of the four names, on both resources and both faces: checked before any request, one run on that job, and the
same run whether the program names the job by id or by its names."""

from __future__ import annotations

from typing import Any

from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.terms import UNKNOWN
from tests.conftest import lifecycles, new_job
from tests.engine.conftest import Declare
from tests.engine.harness import AGENT_CAMEL, EXECUTION, EXECUTION_SET, Engine, NativePlugin, to_struct, urn

NO_NAMES = {"resource_group_name": None, "server_name": None, "job_agent_name": None, "job_name": None}


def last_seq(emulator: Emulator) -> int:
    """The sequence number of the emulator's last request: what a later requests_log(since) counts from."""
    log = emulator.requests_log()
    return int(log[-1]["seq"]) if log else 0


def test_a_run_named_by_its_jobs_arm_id_runs_once_and_the_same_job_by_name_is_no_change(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    created = engine.up(declare(**NO_NAMES, job_id=job.path, triggers={"v": 1}))
    assert list(created.operations.values()) == ["create"] and not created.failures
    (state,) = engine.state.values()
    assert state.output_props["job_name"] == job.job_name and state.output_props["server_name"] == "server1"
    same = engine.up(declare(job_name=job.job_name, job_id=job.path, triggers={"v": 1}))
    assert list(same.operations.values()) == ["same"], same.operations
    assert len(lifecycles(client, job)) == 1


def test_a_bad_or_contradicting_job_id_is_a_check_failure_naming_it_with_no_request(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    since = last_seq(emulator)
    result = engine.up(declare(**NO_NAMES, job_id="/subscriptions/x/jobs/nightly"))
    ((field, reason),) = next(iter(result.failures.values()))
    assert field == "job_id" and reason.startswith("job_id must be the ARM id of an Elastic Job (/subscriptions/")
    result = engine.up(declare(server_name="server2", job_name=None, job_id=job.path))
    ((field, reason),) = next(iter(result.failures.values()))
    assert field == "job_id" and "names another job than the names given (server 'server2')" in reason
    result = engine.up(declare(**NO_NAMES))
    reasons = dict(next(iter(result.failures.values())))
    assert reasons["job_name"] == "job_name is required (or given by the job's ARM id)"
    assert emulator.requests_log(since) == []


def test_the_native_plugin_takes_job_id_in_camel_case_and_an_unknown_one_in_a_preview(
    native: NativePlugin, client: ElasticJobsClient, emulator: Emulator
) -> None:
    job = new_job(client)
    checked = native.check("wired", {"jobId": job.path, "triggers": {"v": 1}})
    assert not checked.failures
    assert {"jobName": job.job_name, "jobAgentName": "agent1"}.items() <= dict(checked.inputs).items()
    unknown = native.check("wired", {"jobId": UNKNOWN})
    assert not unknown.failures and dict(unknown.inputs)["jobName"] == UNKNOWN
    bad = native.check("wired", {**AGENT_CAMEL, "jobName": "other", "jobId": job.path})
    ((failure),) = bad.failures
    assert failure.property == "jobId" and failure.reason.startswith("jobId names another job than the names given")
    resource_id, outputs = native.create("wired", {"jobId": job.path})
    assert outputs["jobName"] == job.job_name and lifecycles(client, job)
    native.stub.Delete(provider_pb2.DeleteRequest(id=resource_id, urn=urn("wired"), properties=to_struct(outputs)))


def test_a_set_member_named_by_job_id_gives_the_set_its_agent_and_one_of_another_agent_is_refused(
    native: NativePlugin, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    members: dict[str, Any] = {"a": {"jobId": job.path}}
    checked = native.check("fleet", {"members": members}, type_=EXECUTION_SET)
    assert not checked.failures, checked.failures
    inputs = dict(checked.inputs)
    assert inputs["serverName"] == "server1" and dict(dict(inputs["members"])["a"])["jobName"] == job.job_name
    other = job.path.replace("/servers/server1/", "/servers/server9/")
    refused = native.check("fleet", {**AGENT_CAMEL, "members": {"a": {"jobId": other}}}, type_=EXECUTION_SET)
    ((failure),) = refused.failures
    assert failure.property == "members.a.jobId", failure
    assert "names another job than the names given (server 'server1')" in failure.reason
    assert EXECUTION != EXECUTION_SET
