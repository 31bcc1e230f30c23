"""A preview's row per database: the plan published to the engine as resource views (the native face only).

A native Create carries the address and token of the engine's resource-status service; steps published there
show as rows under the resource (``+ azure-elastic-jobs:index:PlannedDatabase migration/server1/app-db-1 create``)
and in ``pulumi preview --json`` / ``--diff`` with their properties; a set shows a row per starting member and
database. The engine names a row ``<resource's type>$PlannedDatabase::<row name>``: unique in the stack only when
the row's name carries the resource's own name (and a set's member key), :func:`row_name`.

Only a *preview* publishes them. Views published by a real Create are kept in state as resources of their own,
and with the CLI this project pins (3.274.1) replacing a resource that has views leaves the old ones beside the new
(the snapshot then fails its integrity check, "duplicate resource", and every later command refuses the stack): a
plan row must never cost a user their state.
So ``up`` keeps the plan where it always did (the ``plan`` output, ``target_outcomes.by_database``); the rows are
the reviewer's, in the preview. The SDK's request objects drop the two fields, so the served call records them
(:data:`STATUS`) before the SDK's servicer runs.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..operations import Announced
from ..plan import Plan
from ..script_changes import StepChange
from ..terms import DATABASE_ROWS_UP_TO

log = logging.getLogger(__name__)

VIEW_TYPE = "azure-elastic-jobs:index:PlannedDatabase"
STEP_VIEW_TYPE = "azure-elastic-jobs:index:PlannedStep"
PUBLISH_TIMEOUT_SECONDS = 10.0
"""A preview never waits longer than this on the engine for its rows (the plan is in the diagnostics anyway)."""


@dataclass(frozen=True)
class ResourceStatus:
    """Where this call's views go: the engine's resource-status service and the token naming this resource."""

    address: str
    token: str

    @classmethod
    def of(cls, request: Any) -> ResourceStatus | None:
        """The request's service, when the engine offers one (older engines send neither field)."""
        address = getattr(request, "resource_status_address", "")
        token = getattr(request, "resource_status_token", "")
        return cls(address, token) if address and token else None


STATUS: contextvars.ContextVar[ResourceStatus | None] = contextvars.ContextVar("resource_status", default=None)
"""The resource-status service of the call being served (set per call, in its own task)."""


def resource_name(urn: str) -> str:
    """The resource's own name: what follows the URN's third ``::`` (a name may itself contain ``::``)."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else urn


def row_name(resource: str, server: str, database: str, member: str | None = None) -> str:
    """A row's name, unique in the stack: the engine names a view ``<resource's qualified type>$PlannedDatabase::
    <name>``, so two resources of one type (whose own names differ, as their URNs do) planning one database need the
    resource's name in it, and a set's members sharing a database the member key too:
    ``migration/server1/app-db-1``, ``fleet/tenant-a/server1/app-db-1``. No two (resource, member, server,
    database) give one name, though a resource's name may hold ``/``: the parts after it never do (a member key is
    ``[A-Za-z0-9._-]``, a server and a database are segments of an ARM id), so the name is read from its end."""
    return "/".join([resource, *([] if member is None else [member]), server, database])


def step_row_name(resource: str, step: str, member: str | None = None) -> str:
    """A step's row name, unique in the stack as :func:`row_name` is (a step's name holds no ``/``):
    ``migration/add-columns``, ``fleet/tenant-a/add-columns``."""
    return "/".join([resource, *([] if member is None else [member]), step])


def database_rows(plan: Plan, resource: str, member: str | None = None) -> list[dict[str, Any]]:
    """One row per database the run will touch: whose run it is (``resource``, and a set's ``member``), where it is,
    the steps that run there, and whether the service will skip it (an active run of the job holds it). Pure data,
    in the core's terms."""
    busy = set(plan.busy)
    on = [(step.name, frozenset(step.databases)) for step in plan.steps]
    rows = []
    for key in plan.databases:
        server, _, database = key.partition("/")
        steps = [name for name, databases in on if key in databases]
        row: dict[str, Any] = {"resource": resource}
        if member is not None:
            row["member"] = member
        row.update(server=server, database=database, job=plan.job, version=plan.version, steps=steps)
        if key in busy:
            row["skipped"] = "an active run of the job holds this database: the service skips it"
        rows.append(row)
    return rows


def step_rows(changes: list[StepChange], plan: Plan, resource: str, member: str | None = None) -> list[dict[str, Any]]:
    """One row per step of the run (and per step its last run had that this one has not): how its script compares
    with the last run's (``status``: changed, unchanged, new, removed, first run, no text), the unified ``diff``
    when there is one, and the job version compared with (``fromVersion``)."""
    rows = []
    for change in changes:
        row: dict[str, Any] = {"resource": resource}
        if member is not None:
            row["member"] = member
        row.update(job=plan.job, version=plan.version, **change.output())
        rows.append(row)
    return rows


def view_steps(resource: str, announced: Announced) -> list[Any]:
    """The rows of what a preview announced (a JobExecution's own run under ``None``, a set's by member key) as
    the engine's view steps: a ``create`` of each, named by :func:`row_name` (a step's row by the step's name,
    which holds no ``/``, in place of server and database), its properties the row."""
    from google.protobuf import struct_pb2  # type: ignore[import-untyped]
    from pulumi.runtime.proto import resource_status_pb2 as rs

    def step(type_: str, name: str, row: dict[str, Any]) -> Any:
        properties = struct_pb2.Struct()
        properties.update(row)
        state = rs.ViewStepState(type=type_, name=name, inputs=properties, outputs=properties)
        return rs.ViewStep(status=rs.ViewStep.OK, op=rs.ViewStep.CREATE, type=type_, name=name, new=state)

    steps = []
    for member, plan in announced.by_member().items():
        for row in step_rows(announced.changes.get(member, []), plan, resource, member):
            steps.append(
                step(STEP_VIEW_TYPE, "/".join([resource, *([] if member is None else [member]), row["step"]]), row)
            )
        for row in database_rows(plan, resource, member):
            steps.append(step(VIEW_TYPE, row_name(resource, row["server"], row["database"], member), row))
    return steps


def show(status: ResourceStatus, urn: str, announced: Announced) -> str | None:
    """Publish the rows of what the resource ``urn`` names announced (:func:`view_steps`, :func:`publish`): off
    the event loop, where its caller runs it."""
    return publish(status, view_steps(resource_name(urn), announced))


def publish(status: ResourceStatus, steps: Sequence[Any]) -> str | None:
    """Publish ``steps`` as this resource's views; the reason when the engine would not take them (a preview
    goes on without its rows: they repeat what the diagnostics say)."""
    if not steps:
        return None
    import grpc
    from pulumi.runtime.proto import resource_status_pb2, resource_status_pb2_grpc

    request = resource_status_pb2.PublishViewStepsRequest(token=status.token, steps=list(steps))
    try:
        with grpc.insecure_channel(status.address) as channel:
            stub = resource_status_pb2_grpc.ResourceStatusStub(channel)
            stub.PublishViewSteps(request, timeout=PUBLISH_TIMEOUT_SECONDS)
    except grpc.RpcError as refused:
        reason = f"the engine did not take the plan's rows ({refused.code().name}: {refused.details()})"
        log.warning("%s", reason)
        return reason
    return None


# --- how many rows: config planRows ------------------------------------------------------------------------------

SERVER_VIEW_TYPE = "azure-elastic-jobs:index:PlannedServer"
"""A row per server (config ``planRows: server``, or ``auto`` above :data:`~..terms.DATABASE_ROWS_UP_TO`): a view
type of its own, so its rows never share a URN with a resource's database rows."""


def server_rows(plan: Plan, resource: str, member: str | None = None) -> list[dict[str, Any]]:
    """One row per server the run will touch: its databases (and how many), the steps that run there with the
    databases of each, and the busy ones the service skips. The same facts as the database rows, grouped."""
    rows: dict[str, dict[str, Any]] = {}
    for key in plan.databases:
        server, _, database = key.partition("/")
        row = rows.setdefault(server, {"resource": resource, **({} if member is None else {"member": member})})
        row.setdefault("server", server)
        row.setdefault("databases", []).append(database)
    for step in plan.steps:
        for key in step.databases:
            server, _, database = key.partition("/")
            rows[server].setdefault("steps", {}).setdefault(step.name, []).append(database)
    for key in plan.busy:
        server, _, database = key.partition("/")
        if server in rows:
            rows[server].setdefault("skipped", []).append(database)
    for row in rows.values():
        row.update(count=len(row["databases"]), job=plan.job, version=plan.version)
    return [rows[server] for server in sorted(rows)]


def server_view_steps(resource: str, announced: Announced) -> list[Any]:
    """What a preview announced as the engine's view steps with a row per server in place of a row per database:
    each step's row (:func:`step_rows`, its T-SQL diff) as :func:`view_steps` has it, then the servers', named
    ``<resource>[/<member>]/<server>``."""
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import resource_status_pb2 as rs

    def step(type_: str, name: str, row: dict[str, Any]) -> Any:
        properties = struct_pb2.Struct()
        properties.update(row)
        state = rs.ViewStepState(type=type_, name=name, inputs=properties, outputs=properties)
        return rs.ViewStep(status=rs.ViewStep.OK, op=rs.ViewStep.CREATE, type=type_, name=name, new=state)

    steps = []
    for member, plan in announced.by_member().items():
        prefix = [resource, *([] if member is None else [member])]
        for row in step_rows(announced.changes.get(member, []), plan, resource, member):
            steps.append(step(STEP_VIEW_TYPE, "/".join([*prefix, row["step"]]), row))
        for row in server_rows(plan, resource, member):
            steps.append(step(SERVER_VIEW_TYPE, "/".join([*prefix, row["server"]]), row))
    return steps


def rows_of(mode: str, plans: Mapping[str | None, Plan]) -> str:
    """Which rows a preview shows (config ``planRows``): ``auto`` is ``database`` up to
    :data:`~..terms.DATABASE_ROWS_UP_TO` databases across the resource's plans, ``server`` above."""
    if mode != "auto":
        return mode
    databases = sum(len(plan.databases) for plan in plans.values())
    return "database" if databases <= DATABASE_ROWS_UP_TO else "server"


def show_rows(status: ResourceStatus, urn: str, announced: Announced, mode: str) -> str | None:
    """Publish the resource's rows as config ``planRows`` asks (:func:`rows_of`): none, a row per server, or a row
    per database (:func:`show`); the steps' rows (their T-SQL diffs) with either."""
    chosen = rows_of(mode, announced.by_member())
    if chosen == "none":
        return None
    if chosen == "server":
        return publish(status, server_view_steps(resource_name(urn), announced))
    return show(status, urn, announced)
