"""A preview's row per database, on the native face over gRPC: a Create with ``preview`` publishes the plan to the
engine's resource-status service as views (one ``PlannedDatabase`` a database), and a Create that runs publishes
none (views a real Create publishes are kept in state, where a replacement with CLI 3.274.1 corrupts the
snapshot; the CLI tests hold that an ``up`` leaves no view in state). The engine's service is played by a gRPC
server of the test's own, which records what it is sent and refuses tokens it never reserved."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from pulumi.runtime.proto import provider_pb2, resource_status_pb2, resource_status_pb2_grpc

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.conftest import HELD, new_job
from tests.engine.harness import AGENT_CAMEL, NativePlugin, urn

TOKEN = "token-of-the-run"


@dataclass
class StatusService(resource_status_pb2_grpc.ResourceStatusServicer):  # type: ignore[misc]
    """The engine's resource-status service: the steps each token was sent; an unknown token is refused."""

    address: str = ""
    published: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def PublishViewSteps(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.token != TOKEN:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"token {request.token} not found")
        with self.lock:
            self.published.setdefault(request.token, []).extend(
                json_format.MessageToDict(step, preserving_proto_field_name=True) for step in request.steps
            )
        return resource_status_pb2.PublishViewStepsResponse()


@pytest.fixture
def status_service() -> Iterator[StatusService]:
    service = StatusService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    resource_status_pb2_grpc.add_ResourceStatusServicer_to_server(service, server)
    service.address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    yield service
    server.stop(None)


def create(native: NativePlugin, name: str, job: str, *, preview: bool, address: str, token: str = TOKEN) -> Any:
    checked = native.check(name, {**AGENT_CAMEL, "jobName": job})
    request = provider_pb2.CreateRequest(
        urn=urn(name),
        properties=checked.inputs,
        preview=preview,
        resource_status_address=address,
        resource_status_token=token,
    )
    return native.stub.Create(request)


def test_a_preview_publishes_a_row_per_planned_database_and_a_run_publishes_none(
    native: NativePlugin, client: ElasticJobsClient, status_service: StatusService
) -> None:
    job = new_job(client)
    create(native, "rows", job.job_name, preview=True, address=status_service.address)
    steps = status_service.published[TOKEN]
    assert [(step["op"], step["type"], step["name"]) for step in steps] == [
        ("CREATE", "azure-elastic-jobs:index:PlannedDatabase", "server1/app-db-1"),
        ("CREATE", "azure-elastic-jobs:index:PlannedDatabase", "server1/app-db-2"),
    ]
    row = steps[0]["new"]
    assert row["name"] == "server1/app-db-1" and row["inputs"] == row["outputs"]
    assert row["outputs"] == {
        "server": "server1",
        "database": "app-db-1",
        "job": job.job_name,
        "version": 1,
        "steps": ["step1"],
    }

    status_service.published.clear()
    created = create(native, "rows", job.job_name, preview=False, address=status_service.address)
    assert created.id and status_service.published == {}  # an up keeps the plan in outputs, never as views


def test_a_row_says_when_an_active_run_of_the_job_makes_the_service_skip_its_database(
    native: NativePlugin, client: ElasticJobsClient, emulator: Emulator, status_service: StatusService
) -> None:
    job = new_job(client, script=HELD)
    emulator.set_behavior(job.job_name, start_delay_seconds=0)  # on its databases as it is created: never raced
    create(native, "busy-first", job.job_name, preview=False, address=status_service.address)
    create(native, "busy-second", job.job_name, preview=True, address=status_service.address)
    (first, second) = (step["new"]["outputs"] for step in status_service.published[TOKEN])
    assert "an active run of the job holds this database" in first["skipped"] and "skipped" in second


def test_a_preview_without_a_status_service_or_refused_by_it_still_shows_its_plan(
    native: NativePlugin, client: ElasticJobsClient, status_service: StatusService
) -> None:
    job = new_job(client)
    for address, token in (("", ""), (status_service.address, "never-reserved")):
        preview = create(native, "no-rows", job.job_name, preview=True, address=address, token=token)
        plan = preview.properties.fields["plan"].struct_value.fields
        assert plan["summary"].string_value == f"will run {job.job_name} v1: 1 step on 2 databases in 1 server"
    assert status_service.published == {}
