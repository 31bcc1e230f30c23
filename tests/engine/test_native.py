"""The native plugin (``pulumi-resource-azure-elastic-jobs``) over gRPC, as the engine speaks to it.

The plugin runs as its console script, started like the engine starts providers (the engine's address as its
argument), against the session's emulator. Properties are the schema's camelCase; runs are counted on the server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.catalog import (
    CONFIG,
    EXECUTION_INPUTS,
    EXECUTION_OUTPUTS,
    GATE_PROPS,
    MEMBER_PROPS,
    SET_INPUTS,
    SET_OUTPUTS,
    camel,
)
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.inputs import ExecutionInputs, GateInputs, MemberInputs, SetInputs
from pulumi_azure_elastic_jobs.operations import CONFIG_KEYS, OUTPUT_NAMES, SET_OUTPUT_NAMES
from tests.conftest import ACTIVE, HELD, HOUR_AHEAD, lifecycles, new_job
from tests.engine.harness import (
    AGENT_CAMEL as AGENT,
)
from tests.engine.harness import (
    EXECUTION,
    EXECUTION_SET,
    QUICK,
    EngineLog,
    NativePlugin,
    from_struct,
    to_struct,
    urn,
)

# --- the schema: one source of truth ----------------------------------------------------------------------------


def test_the_catalog_names_exactly_what_the_inputs_and_outputs_are() -> None:
    assert {p.name for p in EXECUTION_INPUTS} == set(ExecutionInputs.model_fields)
    assert {p.name for p in SET_INPUTS} == set(SetInputs.model_fields)
    assert {p.name for p in MEMBER_PROPS} == set(MemberInputs.model_fields)
    assert {p.name for p in EXECUTION_OUTPUTS} == set(OUTPUT_NAMES)
    assert {p.name for p in SET_OUTPUTS} == set(SET_OUTPUT_NAMES)
    assert {p.name for p in GATE_PROPS} == set(GateInputs.model_fields)
    assert {camel(p.name) for p in CONFIG} == set(CONFIG_KEYS)


def test_get_schema_describes_both_resources_in_camel_case_with_secret_config(native: NativePlugin) -> None:
    schema = json.loads(native.stub.GetSchema(provider_pb2.GetSchemaRequest(version=2)).schema)
    execution = schema["resources"][EXECUTION]
    assert set(execution["inputProperties"]) == {camel(p.name) for p in EXECUTION_INPUTS}
    assert {"lifecycle", "targetOutcomes", "inHistory", "azureId"} <= set(execution["properties"])
    assert execution["requiredInputs"] == []  # the four names, or a job's ARM id (jobId) for them: Check tells
    assert "jobId" in execution["inputProperties"]
    assert all(spec.get("description") for spec in execution["inputProperties"].values())
    assert schema["config"]["variables"]["token"]["secret"] is True
    assert schema["config"]["variables"]["clientSecret"]["secret"] is True
    assert set(schema["resources"][EXECUTION_SET]["inputProperties"]) >= {"members", "jobAgentName"}


# --- check, diff: before any request -------------------------------------------------------------------------------


def test_check_names_each_bad_field_in_camel_case_and_sends_nothing(native: NativePlugin, emulator: Emulator) -> None:
    before = len(emulator.requests_log())
    checked = native.check("bad", {**AGENT, "jobName": "a/b", "timeout": -1})
    reasons = {failure.property: failure.reason for failure in checked.failures}
    assert set(reasons) == {"jobName", "timeout"}
    assert reasons["jobName"].startswith("jobName ") and reasons["timeout"].startswith("timeout ")
    assert len(emulator.requests_log()) == before


def test_a_trigger_change_is_a_detailed_replace_and_a_wait_option_an_update(
    native: NativePlugin, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=HELD)
    resource_id, outputs = native.create("run", {**AGENT, "jobName": job.job_name, "triggers": {"v": 1}})
    news = native.check("run", {**AGENT, "jobName": job.job_name, "triggers": {"v": 2}, "timeout": 60}).inputs
    diff = native.stub.Diff(
        provider_pb2.DiffRequest(id=resource_id, urn=urn("run"), olds=to_struct(outputs), news=news)
    )
    assert list(diff.replaces) == ["triggers"] and diff.deleteBeforeReplace
    assert diff.detailedDiff["triggers"].kind == provider_pb2.PropertyDiff.UPDATE_REPLACE
    assert diff.detailedDiff["timeout"].kind == provider_pb2.PropertyDiff.UPDATE
    native.stub.Delete(provider_pb2.DeleteRequest(id=resource_id, urn=urn("run"), properties=to_struct(outputs)))
    assert lifecycles(client, job) == ["Canceled"]


# --- create, read, import, delete --------------------------------------------------------------------------------


def test_create_starts_one_run_with_camel_case_outputs_and_a_second_create_attaches(
    native: NativePlugin, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=HELD)
    resource_id, outputs = native.create("run", {**AGENT, "jobName": job.job_name})
    assert outputs["lifecycle"] in ("Created", "WaitingForChildJobExecutions") and outputs["inHistory"] is True
    assert outputs["azureId"] == resource_id and outputs["executionKey"] == urn("run")
    assert outputs["targetOutcomes"]["complete"] is False and "problemsOmitted" in outputs["targetOutcomes"]
    again_id, _ = native.create("run", {**AGENT, "jobName": job.job_name})  # an interrupted up, run again
    assert again_id == resource_id and len(lifecycles(client, job)) == 1
    native.stub.Delete(provider_pb2.DeleteRequest(id=resource_id, urn=urn("run"), properties=to_struct(outputs)))


def test_import_reads_a_run_from_its_id_alone(native: NativePlugin, client: ElasticJobsClient) -> None:
    job = new_job(client, script=QUICK)
    ref = job.execution(str(uuid.uuid4()))
    client.ensure_execution(ref)
    client.wait_for_terminal(ref, timeout=60, poll_interval=0.2)
    read = native.stub.Read(provider_pb2.ReadRequest(id=ref.arm_id, urn=urn("adopted")))
    inputs, outputs = from_struct(read.inputs), from_struct(read.properties)
    assert read.id == ref.arm_id and outputs["lifecycle"] == "Succeeded"
    assert inputs["jobName"] == job.job_name and inputs["resourceGroupName"] == "group1"
    assert len(lifecycles(client, job)) == 1


def test_refresh_of_a_forgotten_run_keeps_it_with_in_history_false(
    native: NativePlugin, client: ElasticJobsClient, emulator: Emulator
) -> None:
    job = new_job(client, script=QUICK)
    resource_id, outputs = native.create(
        "run", {**AGENT, "jobName": job.job_name, "waitForCompletion": True, "pollInterval": 0.2}
    )
    emulator.forget(resource_id)
    read = native.stub.Read(
        provider_pb2.ReadRequest(id=resource_id, urn=urn("run"), properties=to_struct(outputs), inputs=to_struct({}))
    )
    assert read.id == resource_id and from_struct(read.properties)["inHistory"] is False


# --- what the native protocol adds ---------------------------------------------------------------------------------


def test_custom_timeouts_bound_the_wait_and_leave_the_run_running(
    native: NativePlugin, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=HELD)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        native.create(
            "run", {**AGENT, "jobName": job.job_name, "waitForCompletion": True, "pollInterval": 0.2}, timeout=1
        )
    assert time.monotonic() - started < 30
    assert "still running" in (raised.value.details() or "") and "Traceback" not in (raised.value.details() or "")
    assert lifecycles(client, job) == [ACTIVE]


def test_cancel_ends_a_wait_at_once_without_touching_the_run(native: NativePlugin, client: ElasticJobsClient) -> None:
    job = new_job(client, script=HELD)
    errors: list[str] = []

    def waited_create() -> None:
        try:
            native.create("run", {**AGENT, "jobName": job.job_name, "waitForCompletion": True, "pollInterval": 5})
        except grpc.RpcError as error:
            errors.append(error.details() or "")

    thread = threading.Thread(target=waited_create)
    thread.start()
    deadline = time.monotonic() + 30
    while not list(client.list_executions(job)) and time.monotonic() < deadline:
        time.sleep(0.05)
    native.stub.Cancel(empty_pb2.Empty())
    thread.join(timeout=30)
    assert not thread.is_alive() and errors and "cancelled" in errors[0]
    assert lifecycles(client, job) == [ACTIVE]  # a Cancel stops our waiting, not the job


def test_a_waited_run_shows_its_status_on_its_own_row(
    own_emulator: Emulator, own_client: ElasticJobsClient, engine_log: EngineLog
) -> None:
    job = new_job(own_client, script=HELD)
    plugin = NativePlugin(engine_log.address, own_emulator)
    try:

        def release() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(
                "WaitingForChildJobExecutions" in m.message for m in engine_log.messages
            ):
                time.sleep(0.02)
            own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)

        releaser = threading.Thread(target=release)
        releaser.start()
        _, outputs = plugin.create(
            "row", {**AGENT, "jobName": job.job_name, "waitForCompletion": True, "pollInterval": 0.2}
        )
        releaser.join()
    finally:
        plugin.kill()
    assert outputs["lifecycle"] == "Succeeded"
    shown = [m for m in engine_log.messages if m.urn == urn("row")]
    assert any(m.ephemeral and "WaitingForChildJobExecutions" in m.message for m in shown)
    assert any(not m.ephemeral and m.message.startswith("Succeeded") for m in shown)


def test_waited_creates_run_concurrently_beyond_four(
    own_emulator: Emulator, own_client: ElasticJobsClient, engine_log: EngineLog
) -> None:
    """The dynamic plugin serves four calls at once; this one waits for every create together."""
    jobs = [new_job(own_client, script="SELECT 1; -- emulator:duration=100") for _ in range(12)]  # 1 s each
    plugin = NativePlugin(engine_log.address, own_emulator)
    try:
        results: list[dict[str, Any]] = []
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=lambda j=j: results.append(
                    plugin.create(
                        f"r-{j.job_name}",
                        {**AGENT, "jobName": j.job_name, "waitForCompletion": True, "pollInterval": 0.2},
                    )[1]
                )
            )
            for j in jobs
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - started
    finally:
        plugin.kill()
    assert [r["lifecycle"] for r in results] == ["Succeeded"] * 12
    assert took < 3 * 1.0 + 5, took  # four at a time would take three rounds of the 1 s run, plus start-up


def test_a_missing_job_is_one_line_with_arms_words(native: NativePlugin) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(grpc.RpcError) as raised:
        native.create("run", {**AGENT, "jobName": missing})
    details = raised.value.details() or ""
    assert "Traceback" not in details and 'File "' not in details and "\n" not in details.strip()
    assert "ResourceNotFound" in details and f"The job '{missing}' does not exist" in details


def test_the_plugin_needs_the_engine_address(tmp_path: Path) -> None:
    executable = shutil.which("elastic-jobs-provider", path=os.path.dirname(sys.executable))
    assert executable, "the console script is installed with the package"
    done = subprocess.run([executable], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "engine" in done.stderr


def test_a_secret_input_stays_secret_in_the_checked_inputs_and_the_outputs(
    native: NativePlugin, client: ElasticJobsClient
) -> None:
    signature, secret = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"

    def is_secret_map(value: struct_pb2.Value) -> bool:
        fields = value.struct_value.fields
        return (
            fields[signature].string_value == secret and fields["value"].struct_value.fields["v"].string_value == "s3"
        )

    job = new_job(client, script=QUICK)
    news = struct_pb2.Struct()
    news.update({**AGENT, "jobName": job.job_name, "triggers": {signature: secret, "value": {"v": "s3"}}})
    checked = native.stub.Check(provider_pb2.CheckRequest(urn=urn("secretive"), olds=to_struct({}), news=news))
    assert not checked.failures and is_secret_map(checked.inputs.fields["triggers"])
    created = native.stub.Create(provider_pb2.CreateRequest(urn=urn("secretive"), properties=checked.inputs))
    assert is_secret_map(created.properties.fields["triggers"])
