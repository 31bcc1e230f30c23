"""A preview's row per database: the plan published to the engine as resource views (the native face only).

A native Create carries the address and token of the engine's resource-status service; steps published there
show as rows under the resource (``+ azure-elastic-jobs:index:PlannedDatabase server1/app-db-1 create``) and in
``pulumi preview --json`` / ``--diff`` with their properties. Only a *preview* publishes them. Views published by a
real Create are kept in state as resources of their own, and with the CLI this project pins (3.274.1) replacing a
resource that has views leaves the old ones beside the new (the snapshot then fails its integrity check,
"duplicate resource", and every later command refuses the stack): a plan row must never cost a user their state.
So ``up`` keeps the plan where it always did (the ``plan`` output, ``target_outcomes.by_database``); the rows are
the reviewer's, in the preview. The SDK's request objects drop the two fields, so the served call records them
(:data:`STATUS`) before the SDK's servicer runs.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..plan import Plan

log = logging.getLogger(__name__)

VIEW_TYPE = "azure-elastic-jobs:index:PlannedDatabase"
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


def database_rows(plan: Plan) -> list[dict[str, Any]]:
    """One row per database the run will touch: where it is, the steps that run there, and whether the service
    will skip it (an active run of the job holds it). Pure data, in the core's terms."""
    busy = set(plan.busy)
    on = [(step.name, frozenset(step.databases)) for step in plan.steps]
    rows = []
    for key in plan.databases:
        server, _, database = key.partition("/")
        steps = [name for name, databases in on if key in databases]
        row: dict[str, Any] = {"server": server, "database": database, "job": plan.job, "version": plan.version}
        row["steps"] = steps
        if key in busy:
            row["skipped"] = "an active run of the job holds this database: the service skips it"
        rows.append(row)
    return rows


def view_steps(plan: Plan) -> list[Any]:
    """The plan's rows as the engine's view steps: a ``create`` of each, its properties the row."""
    from google.protobuf import struct_pb2  # type: ignore[import-untyped]
    from pulumi.runtime.proto import resource_status_pb2 as rs

    steps = []
    for row in database_rows(plan):
        name = f"{row['server']}/{row['database']}"
        properties = struct_pb2.Struct()
        properties.update(row)
        state = rs.ViewStepState(type=VIEW_TYPE, name=name, inputs=properties, outputs=properties)
        steps.append(rs.ViewStep(status=rs.ViewStep.OK, op=rs.ViewStep.CREATE, type=VIEW_TYPE, name=name, new=state))
    return steps


def show(status: ResourceStatus, plan: Plan) -> str | None:
    """Publish the plan's rows (:func:`view_steps`, :func:`publish`): off the event loop, where its caller runs it."""
    return publish(status, view_steps(plan))


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
