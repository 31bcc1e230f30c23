"""Hard to break: interrupted deployments, timeouts, bad input with zero requests, and no secret anywhere."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
import uuid
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.conftest import in_background, new_job
from tests.engine.conftest import SECRET_CLIENT_SECRET, Declare, configured_plugin
from tests.engine.harness import Engine, Plugin, from_struct


def wait_for(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def start_up_in_background(engine: Engine, registrations: Any) -> threading.Thread:
    def run() -> None:
        with contextlib.suppress(grpc.RpcError):  # the plugin is killed under it, as ^C^C or a crash would
            engine.up(registrations)

    return in_background(run)


def test_destroy_waits_for_the_cancel_to_take_effect(
    engine: Engine, declare: Declare, emulator: Emulator, client: ElasticJobsClient
) -> None:
    from pulumi_azure_elastic_jobs.ids import ExecutionRef

    job = new_job(client, script="SELECT 1; -- emulator:duration=3600")
    engine.up(declare(job_name=job.job_name))
    (state,) = engine.state.values()
    emulator.add_fault("status", path="/cancel", method="POST", status=503, retry_after=0, count=1)
    engine.destroy()
    assert client.get_execution(ExecutionRef.parse(state.id)).properties.lifecycle == "Canceled"


BAD_INPUTS: list[tuple[str, Any]] = [
    ("resource_group_name", ""),
    ("resource_group_name", "a" * 91),
    ("resource_group_name", "group/../x"),
    ("resource_group_name", "grp?x"),
    ("resource_group_name", "grüppe"),
    ("resource_group_name", 42),
    ("resource_group_name", "ends."),
    ("server_name", ""),
    ("server_name", "Server1"),
    ("server_name", "-srv"),
    ("server_name", "s" * 64),
    ("server_name", "srv/../x"),
    ("job_agent_name", ""),
    ("job_agent_name", "a/b"),
    ("job_agent_name", "a?b"),
    ("job_agent_name", "a#b"),
    ("job_agent_name", "a%2Fb"),
    ("job_agent_name", ".."),
    ("job_agent_name", "ägent"),
    ("job_agent_name", "a\nb"),
    ("job_agent_name", "x" * 129),
    ("job_agent_name", ["list"]),
    ("job_name", ""),
    ("job_name", "../other-job"),
    ("job_name", "job\x00"),
    ("job_name", "jöb"),
    ("job_name", True),
    ("job_execution_id", "not-a-uuid"),
    ("job_execution_id", "../../x"),
    ("job_execution_id", 12),
    ("subscription_id", "sub"),
    ("subscription_id", ""),
    ("api_version", ""),
    ("api_version", "latest"),
    ("api_version", "2025-1-1"),
    ("wait_for_completion", "yes"),
    ("cancel_on_destroy", "no"),
    ("timeout", -5),
    ("timeout", 0),
    ("timeout", 10**9),
    ("timeout", "60"),
    ("timeout", float("nan")),
    ("poll_interval", 0),
    ("poll_interval", -1),
    ("fail_on", ["Exploded"]),
    ("fail_on", "Failed"),
    ("fail_on", ["InProgress"]),
    ("triggers", "not-a-map"),
]


@pytest.mark.parametrize(("field", "value"), BAD_INPUTS, ids=[f"{f}={v!r:.20}" for f, v in BAD_INPUTS])
def test_bad_input_is_a_check_failure_naming_the_field_with_no_request(
    plugin: Plugin, declare: Declare, emulator: Emulator, field: str, value: Any
) -> None:
    (registration,) = declare(**{field: value})
    seq = (emulator.requests_log() or [{"seq": 0}])[-1]["seq"]
    checked = plugin.Check(provider_pb2.CheckRequest(urn=registration.urn, news=registration.inputs))
    failures = {failure.property: failure.reason for failure in checked.failures}
    assert field in failures, failures
    assert failures[field].startswith(field)
    assert emulator.requests_log(seq) == []


def test_no_secret_in_state_provider_logs_errors_or_reprs(
    emulator: Emulator, declare: Declare, client: ElasticJobsClient
) -> None:
    from pulumi_azure_elastic_jobs.auth import AzureIdentityToken, ServicePrincipal, StaticToken
    from pulumi_azure_elastic_jobs.config import Settings
    from pulumi_azure_elastic_jobs.provider import JobExecutionProvider

    secrets = [SECRET_CLIENT_SECRET, emulator.token]
    plugin = configured_plugin(emulator, AZURE_ELASTIC_JOBS_LOG_LEVEL="DEBUG")
    engine = Engine(plugin)
    job = new_job(client)
    texts: list[str] = []
    try:
        registrations = declare(job_name=job.job_name, wait_for_completion=True)
        engine.up(registrations)
        engine.up(declare(job_name=job.job_name, wait_for_completion=True, triggers={"v": 2}))
        engine.refresh()
        with pytest.raises(grpc.RpcError) as raised:
            engine.up(declare(name="broken", job_name="broken-fix", wait_for_completion=True))
        texts.append(raised.value.details())
        for state in engine.state.values():
            texts += [str(from_struct(state.inputs)), str(from_struct(state.outputs))]
            provider = from_struct(state.outputs)["__provider"]
            texts.append(base64.b64decode(provider).decode("latin-1"))
            assert len(provider) < 4096
        texts.append(str(registrations[0].props))
        engine.destroy()
    finally:
        texts.append(plugin.stderr())
    assert "DEBUG PUT http" in texts[-1] and "x-ms-request-id=" in texts[-1]  # the debug log really ran
    settings = Settings.resolve(
        {
            "azure-elastic-jobs:token": emulator.token,
            "azure-elastic-jobs:clientSecret": SECRET_CLIENT_SECRET,
            "azure-elastic-jobs:tenantId": "t",
            "azure-elastic-jobs:clientId": "c",
        },
        env={},
    )
    texts += [
        repr(settings),
        repr(StaticToken(emulator.token)),
        repr(JobExecutionProvider()),
        repr(ServicePrincipal("t", "c", SECRET_CLIENT_SECRET)),
        repr(client),
        repr(AzureIdentityToken(__import__("pulumi_azure_elastic_jobs.auth").auth.CLOUDS["public"])),
    ]
    for secret in secrets:
        leaks = [text[:200] for text in texts if secret in text]
        assert leaks == [], f"{secret!r} leaked"


def test_the_provider_pickles_by_reference_with_nothing_configured_in_it() -> None:
    import dill

    from pulumi_azure_elastic_jobs.provider import JobExecutionProvider

    provider = JobExecutionProvider()
    provider.connection.configure({"azure-elastic-jobs:clientSecret": SECRET_CLIENT_SECRET})
    provider.connection.settings  # noqa: B018 (attribute exists; nothing constructed yet)
    blob = dill.dumps(provider, recurse=True)
    assert SECRET_CLIENT_SECRET.encode() not in blob and len(blob) < 200
    assert b"pulumi_azure_elastic_jobs.provider" in blob and b"JobExecutionProvider" in blob
    assert isinstance(dill.loads(blob), JobExecutionProvider)


def test_many_executions_in_flight_do_not_block_each_other(
    emulator: Emulator, declare: Declare, client: ElasticJobsClient
) -> None:
    jobs = [new_job(client, script="SELECT 1; -- emulator:duration=50") for _ in range(4)]
    plugin = configured_plugin(emulator)
    try:
        threads = []
        for job in jobs:
            engine = Engine(plugin)
            threads.append(
                start_up_in_background(
                    engine, declare(name=f"r-{uuid.uuid4().hex[:4]}", job_name=job.job_name, wait_for_completion=True)
                )
            )
        started = time.monotonic()
        for thread in threads:
            thread.join(30)
        assert time.monotonic() - started < 2.0  # four 0.5 s waits ran side by side in the plugin's 4 threads
    finally:
        plugin.kill()
    for job in jobs:
        assert [e.properties.lifecycle for e in client.list_executions(job)] == ["Succeeded"]
