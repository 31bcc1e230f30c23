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
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime.proto import provider_pb2, resource_status_pb2, resource_status_pb2_grpc

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.native.views import VIEW_TYPE
from tests.conftest import HELD, new_job
from tests.engine.harness import AGENT_CAMEL, EXECUTION, EXECUTION_SET, QUICK, NativePlugin, urn

TOKEN = "token-of-the-run"


@dataclass
class StatusService(resource_status_pb2_grpc.ResourceStatusServicer):  # type: ignore[misc]
    """The engine's resource-status service: the steps each token was sent; an unknown token is refused."""

    address: str = ""
    published: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    reserved: set[str] = field(default_factory=lambda: {TOKEN})

    def PublishViewSteps(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.token not in self.reserved:
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


def create(
    native: NativePlugin,
    name: str,
    job: str,
    *,
    preview: bool,
    address: str,
    token: str = TOKEN,
    members: dict[str, str] | None = None,
) -> Any:
    """A Create of ``JobExecution`` ``name`` of ``job``, or, given ``members`` (key: job name), of a set."""
    type_ = EXECUTION if members is None else EXECUTION_SET
    inputs = {"jobName": job} if members is None else {"members": {k: {"jobName": v} for k, v in members.items()}}
    checked = native.check(name, {**AGENT_CAMEL, **inputs}, type_=type_)
    assert not checked.failures, checked.failures
    request = provider_pb2.CreateRequest(
        urn=urn(name, type_),
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
    (script, *steps) = status_service.published[TOKEN]
    assert (script["type"], script["name"]) == ("azure-elastic-jobs:index:PlannedStep", "rows/step1")
    assert script["new"]["outputs"] == {
        "resource": "rows",
        "job": job.job_name,
        "version": 1,
        "step": "step1",
        "stepId": 1,
        "status": "first run",
    }
    assert [(step["op"], step["type"], step["name"]) for step in steps] == [
        ("CREATE", "azure-elastic-jobs:index:PlannedDatabase", "rows/server1/app-db-1"),
        ("CREATE", "azure-elastic-jobs:index:PlannedDatabase", "rows/server1/app-db-2"),
    ]
    row = steps[0]["new"]
    assert row["name"] == "rows/server1/app-db-1" and row["inputs"] == row["outputs"]
    assert row["outputs"] == {
        "resource": "rows",
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
    (first, second) = (step["new"]["outputs"] for step in status_service.published[TOKEN] if step["type"] == VIEW_TYPE)
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


# --- rows that never collide -------------------------------------------------------------------------------------

FLEETS = {"first": ("app-db-1",), "both": ("app-db-1", "app-db-2"), "second": ("app-db-2",)}
"""Target groups over overlapping fleets of the seeded server1, each the fleet of a job of its own."""
NAMES = st.text(alphabet="ab/%", min_size=1, max_size=3)
"""Resource names, ``/`` among their characters (a row's name is the resource's name, a set's member key, the
server and the database, joined by ``/``)."""
KEYS = st.from_regex(r"[ab][ab.-]{0,2}", fullmatch=True)
"""Member keys, as a set allows them (``^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$``)."""


def view_urn(resource_urn: str, view_type: str, view_name: str) -> str:
    """A view's URN as the engine forms it (pulumi/pulumi pkg/resource/deploy/resource_status.go,
    ``unmarshalViewStepState``: ``generateURN(viewOf, type, name)``, deployment.go): the stack and project of the
    resource, its *qualified type* (its parents' types and its own) as the parent type, the view's type and name."""
    stack, project, qualified_type, _ = resource_urn.split("::", 3)
    return f"{stack}::{project}::{qualified_type}${view_type}::{view_name}"


def job_over(client: ElasticJobsClient, fleet: str) -> str:
    """A job of its own whose one step runs on the databases of ``FLEETS[fleet]`` (a target group of its own)."""
    job = new_job(client)
    group = f"{job.agent_path}/targetGroups/{job.job_name}"
    members = [{"type": "SqlDatabase", "serverName": "server1", "databaseName": name} for name in FLEETS[fleet]]
    client.request("PUT", group, json={"properties": {"members": members}})
    step = {"targetGroup": group, "action": {"value": QUICK}, "executionOptions": {"retryAttempts": 0}}
    client.request("PUT", f"{job.path}/steps/step1", json={"properties": step})
    return job.job_name


Program = list[tuple[str, str, dict[str | None, str]]]


@st.composite
def programs(draw: st.DrawFn) -> Program:
    """1 to 5 resources: (``JobExecution`` or set, its name, the fleet of each run it starts: a ``JobExecution``'s
    own under ``None``, a set's by member key), names unique per type as the engine requires of URNs."""
    kinds = draw(
        st.lists(st.tuples(st.sampled_from([EXECUTION, EXECUTION_SET]), NAMES), min_size=1, max_size=5, unique=True)
    )
    fleets = st.sampled_from(sorted(FLEETS))
    program: Program = []
    for type_, name in kinds:
        runs: dict[str | None, str] = (
            {None: draw(fleets)} if type_ == EXECUTION else draw(st.dictionaries(KEYS, fleets, min_size=1, max_size=3))
        )
        program.append((type_, name, runs))
    return program


@given(program=programs())
@settings(max_examples=12)
def test_every_program_previews_one_row_per_resource_and_database_and_no_two_rows_share_a_urn(
    native: NativePlugin, client: ElasticJobsClient, status_service: StatusService, program: Any
) -> None:
    jobs = {fleet: job_over(client, fleet) for fleet in FLEETS}
    status_service.published.clear()
    expected: set[tuple[str, str | None, str]] = set()
    urns: list[str] = []
    for type_, name, runs in program:
        token = f"{type_}::{name}"
        status_service.reserved.add(token)
        if type_ == EXECUTION:
            create(native, name, jobs[runs[None]], preview=True, address=status_service.address, token=token)
        else:
            members = {str(key): jobs[fleet] for key, fleet in runs.items()}
            create(native, name, "", preview=True, address=status_service.address, token=token, members=members)
        expected |= {(name, key, database) for key, fleet in runs.items() for database in FLEETS[fleet]}
        published = status_service.published.get(token, [])
        urns += [view_urn(urn(name, type_), step["type"], step["name"]) for step in published]
    rows = [step["new"]["outputs"] for steps in status_service.published.values() for step in steps]
    rows = [row for row in rows if "database" in row]  # the database rows; each run's step rows come first
    seen = [(row["resource"], row.get("member"), row["database"]) for row in rows]
    assert sorted(seen, key=repr) == sorted(expected, key=repr), "one row per (resource, member, database)"
    steps = sum(len(runs) for _, _, runs in program)  # one step row per run: each job has one step
    assert len(set(urns)) == len(urns) == len(expected) + steps, urns
