"""Every lifecycle hook and identity rule, through the real dynamic-provider plugin over gRPC."""

from __future__ import annotations

from typing import Any

from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import ExecutionRef
from tests.conftest import new_job
from tests.engine.conftest import Declare
from tests.engine.harness import Engine


def mutating(emulator: Emulator, since: int) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emulator.requests_log(since) if r["method"] != "GET"]


def last_seq(emulator: Emulator) -> int:
    log = emulator.requests_log()
    return log[-1]["seq"] if log else 0


def executions_of(client: ElasticJobsClient, job_name: str) -> list[Any]:
    from tests.conftest import job_ref

    return list(client.list_executions(job_ref(job_name)))


def test_first_up_starts_one_run_and_records_its_outputs(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    result = engine.up(declare(job_name=job.job_name, wait_for_completion=True))
    ((urn, state),) = engine.state.items()
    outputs = state.output_props
    assert result.operations[urn] == "create"
    assert outputs["lifecycle"] == "Succeeded"
    assert outputs["provisioning_state"] == "Succeeded"
    assert outputs["azure_id"] == state.id and state.id.endswith(outputs["job_execution_id"])
    assert outputs["type"] == "Microsoft.Sql/servers/jobAgents/jobs/executions"
    assert outputs["end_time"] and outputs["start_time"] and outputs["create_time"]
    assert len(executions_of(client, job.job_name)) == 1


def test_second_up_with_no_change_has_no_diff_and_sends_no_request(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    engine.up(declare(job_name=job.job_name))
    since = last_seq(emulator)
    result = engine.up(declare(job_name=job.job_name))
    assert set(result.operations.values()) == {"same"}
    (diff,) = result.diffs.values()
    assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE
    assert emulator.requests_log(since) == []
    assert len(executions_of(client, job.job_name)) == 1


def test_trigger_change_is_a_replace_that_starts_exactly_one_new_run(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    engine.up(declare(job_name=job.job_name, triggers={"script": "v1"}))
    preview = engine.preview(declare(job_name=job.job_name, triggers={"script": "v2"}))
    (diff,) = preview.diffs.values()
    assert list(diff.replaces) == ["triggers"] and diff.deleteBeforeReplace
    engine.up(declare(job_name=job.job_name, triggers={"script": "v2"}))
    assert len(executions_of(client, job.job_name)) == 2
    since = last_seq(emulator)
    engine.up(declare(job_name=job.job_name, triggers={"script": "v2"}))
    assert mutating(emulator, since) == []


def test_reverting_triggers_to_an_earlier_value_still_starts_a_new_run(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    for value in ("v1", "v2", "v1"):
        engine.up(declare(job_name=job.job_name, triggers={"script": value}, wait_for_completion=True))
    assert len(executions_of(client, job.job_name)) == 3


def test_waiting_options_update_in_place_without_a_new_run(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    engine.up(declare(job_name=job.job_name))
    result = engine.up(declare(job_name=job.job_name, wait_for_completion=True, timeout=120, fail_on=["Failed"]))
    ((urn, operation),) = result.operations.items()
    (diff,) = result.diffs.values()
    assert operation == "update" and not diff.replaces
    assert engine.state[urn].output_props["lifecycle"] == "Succeeded"
    assert len(executions_of(client, job.job_name)) == 1


def test_forced_replace_and_destroy_then_up_each_start_one_new_run(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    engine.up(declare(job_name=job.job_name, wait_for_completion=True))
    engine.up(declare(job_name=job.job_name, wait_for_completion=True), replace=("run",))
    assert len(executions_of(client, job.job_name)) == 2
    engine.destroy()
    engine.up(declare(job_name=job.job_name, wait_for_completion=True))
    assert len(executions_of(client, job.job_name)) == 3


def test_new_package_version_changes_provider_but_is_no_diff(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    from google.protobuf import struct_pb2

    job = new_job(client)
    engine.up(declare(job_name=job.job_name))
    (registration,) = declare(job_name=job.job_name)
    changed = struct_pb2.Struct()
    changed.CopyFrom(registration.inputs)
    provider = changed.fields["__provider"].string_value
    assert len(provider) < 4096
    changed.fields["__provider"].string_value = provider + "AAAA"  # what another release would serialize
    olds = next(iter(engine.state.values()))
    checked = engine.plugin.Check(provider_pb2.CheckRequest(urn=registration.urn, olds=olds.inputs, news=changed))
    diff = engine.plugin.Diff(
        provider_pb2.DiffRequest(id=olds.id, urn=registration.urn, olds=olds.outputs, news=checked.inputs)
    )
    assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE and not diff.replaces


def test_refresh_of_a_finished_execution_reads_it_once_and_its_targets_once_ever(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    engine.up(declare(job_name=job.job_name))  # not waited: the run's targets are not known yet
    ((_urn, state),) = engine.state.items()
    assert state.output_props["target_outcomes"]["complete"] is False
    client.wait_for_terminal(job.execution(state.output_props["job_execution_id"]), timeout=60)
    since = last_seq(emulator)
    result = engine.refresh()
    ((_urn, state),) = engine.state.items()
    assert set(result.operations.values()) == {"refreshed"}
    assert state.output_props["lifecycle"] == "Succeeded"
    assert state.output_props["target_outcomes"]["complete"] is True
    paths = [r["path"].rsplit("/", 1)[-1] for r in emulator.requests_log(since)]
    assert paths == [state.output_props["job_execution_id"], "targets"]  # the run, then its targets once
    since = last_seq(emulator)
    engine.refresh()
    assert [r["method"] for r in emulator.requests_log(since)] == ["GET"]  # terminal targets never change


def test_refresh_of_a_forgotten_execution_keeps_it_out_of_history_without_a_new_run(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    engine.up(declare(job_name=job.job_name, wait_for_completion=True))
    (state,) = engine.state.values()
    emulator.forget(state.id)
    since = last_seq(emulator)
    result = engine.refresh()
    assert set(result.operations.values()) == {"refreshed"}
    (kept,) = engine.state.values()
    assert kept.id == state.id and kept.output_props["in_history"] is False
    assert kept.output_props["lifecycle"] == "Succeeded"
    assert mutating(emulator, since) == []


def test_import_from_an_arm_id_adopts_the_execution_without_a_new_run(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    import uuid

    from pulumi_azure_elastic_jobs import JobExecution
    from tests.engine.harness import run_program

    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    since = last_seq(emulator)

    def program() -> None:
        import pulumi

        JobExecution(
            "adopted",
            resource_group_name="group1",
            server_name="server1",
            job_agent_name="agent1",
            job_name=job.job_name,
            opts=pulumi.ResourceOptions(import_=ref.arm_id),
        )

    (registration,) = run_program(program, stack=f"import-{uuid.uuid4().hex[:6]}")
    assert registration.import_id == ref.arm_id
    result = engine.import_(registration)
    assert result.operations[registration.urn] == "import"
    assert engine.state[registration.urn].output_props["job_execution_id"] == ref.job_execution_id
    assert mutating(emulator, since) == []
    again = engine.up([registration])
    assert again.operations[registration.urn] == "same", again.diffs
    assert len(executions_of(client, job.job_name)) == 1


def test_get_reads_an_execution_from_its_id_alone(engine: Engine, client: ElasticJobsClient) -> None:
    import uuid

    from tests.engine.harness import run_program

    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)

    def program() -> None:
        from pulumi_azure_elastic_jobs import JobExecution

        JobExecution.get("looked-up", ref.arm_id)

    (registration,) = run_program(program, stack="get")
    assert registration.read_id == ref.arm_id
    state = engine.read(registration, registration.read_id)
    outputs = state.output_props
    assert state.id == ref.arm_id and outputs["job_name"] == job.job_name
    assert outputs["lifecycle"] in ("Created", "WaitingForChildJobExecutions", "Succeeded")


def test_destroy_cancels_an_active_execution_and_waits_for_it(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=3600")
    engine.up(declare(job_name=job.job_name))
    (state,) = engine.state.values()
    engine.destroy()
    assert client.get_execution(ExecutionRef.parse(state.id)).properties.lifecycle == "Canceled"


def test_destroy_with_cancel_on_destroy_false_leaves_the_run_alone(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=3600")
    engine.up(declare(job_name=job.job_name, cancel_on_destroy=False))
    (state,) = engine.state.values()
    engine.destroy()
    assert client.get_execution(ExecutionRef.parse(state.id)).properties.lifecycle in (
        "Created",
        "WaitingForChildJobExecutions",
    )


def test_a_failed_run_fails_the_deployment_and_names_the_failing_target(engine: Engine, declare: Declare) -> None:
    import grpc
    import pytest

    with pytest.raises(grpc.RpcError) as raised:
        engine.up(declare(job_name="broken-fix", wait_for_completion=True))
    text = raised.value.details()
    assert "ended Failed" in text and "app-db-1" in text and "fix" in text
    assert engine.state == {}


def test_bad_inputs_are_check_failures_naming_the_field(engine: Engine, declare: Declare, emulator: Emulator) -> None:
    since = last_seq(emulator)
    result = engine.up(declare(server_name="Server_1", job_execution_id="not-a-uuid", timeout=-5, fail_on=["Exploded"]))
    (failures,) = result.failures.values()
    fields = {field for field, _ in failures}
    assert fields == {"server_name", "job_execution_id", "timeout", "fail_on"}
    assert all(reason.startswith(field) for field, reason in failures)
    assert emulator.requests_log(since) == []


def plan_reads_of(sent: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What a preview sent, but the target listings of the job's active runs (the plan reads them when any)."""
    assert {r["method"] for r in sent} <= {"GET"}
    return sorted((r["method"], r["path"]) for r in sent if not r["path"].endswith("/targets"))


def test_preview_of_a_new_resource_and_of_a_trigger_change_reads_only_the_plan(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    plan_reads = [
        ("GET", job.path),
        ("GET", f"{job.path}/executions"),  # the job's active runs: the databases they hold are skipped
        ("GET", f"{job.path}/versions/1/steps"),
        ("GET", f"{job.agent_path}/targetGroups/all-databases"),
    ]
    since = last_seq(emulator)
    preview = engine.preview(declare(job_name=job.job_name, triggers={"v": 1}))
    assert list(preview.operations.values()) == ["create"]
    assert plan_reads_of(emulator.requests_log(since)) == sorted(plan_reads)
    engine.up(declare(job_name=job.job_name, triggers={"v": 1}))
    since = last_seq(emulator)
    preview = engine.preview(declare(job_name=job.job_name, triggers={"v": 2}))
    assert list(preview.operations.values()) == ["replace"]
    last_run = [("GET", f"{job.path}/executions")]  # the old inputs' last run, for its scripts (the plan's v1)
    assert plan_reads_of(emulator.requests_log(since)) == sorted(plan_reads + last_run)
    since = last_seq(emulator)
    engine.preview(declare(job_name=job.job_name, triggers={"v": 1}, timeout=60))  # an update in place: no run
    assert emulator.requests_log(since) == []


def test_outputs_are_the_same_read_directly_or_through_the_plugin(
    engine: Engine, declare: Declare, client: ElasticJobsClient
) -> None:
    import json

    from pulumi_azure_elastic_jobs.provider import JobExecutionProvider
    from tests.engine.harness import from_struct

    job = new_job(client)
    engine.up(declare(job_name=job.job_name, wait_for_completion=True))
    ((urn, state),) = engine.state.items()
    through_plugin = from_struct(
        engine.plugin.Read(
            provider_pb2.ReadRequest(id=state.id, urn=urn, properties=state.outputs, inputs=state.inputs)
        ).properties
    )
    through_plugin.pop("__provider")
    provider = JobExecutionProvider()
    provider.connection.configure(
        {
            "azure-elastic-jobs:endpoint": client.endpoint,
            "azure-elastic-jobs:token": "t",
            "azure-elastic-jobs:subscriptionId": job.subscription_id,
        }
    )
    direct = provider.read(state.id, dict(state.output_props)).outs or {}
    direct = {key: value for key, value in direct.items() if value is not None}  # a Struct omits nulls
    differing = {
        key
        for key in through_plugin.keys() | direct.keys()
        if json.dumps(through_plugin.get(key), sort_keys=True) != json.dumps(direct.get(key), sort_keys=True)
    }
    assert differing == set(), {key: (through_plugin.get(key), direct.get(key)) for key in differing}
    assert json.dumps(through_plugin, sort_keys=True) == json.dumps(direct, sort_keys=True)
