"""One clear line in the CLI for every error this package understands; a genuine bug keeps its traceback.

The SDK's dynamic-provider plugin reports a failed ``Check``/``Diff``/``Create``/``Read``/``Delete`` as
``traceback.format_exc()``. Setting ``sys.tracebacklimit`` would shorten that for every dynamic provider in
the plugin process, and for bugs too, so this module leaves it alone. Instead it gives the plugin module a
``traceback`` whose ``format_exc`` renders an :class:`~.errors.ElasticJobsError` (an ARM answer, a failed or
timed-out run, a transport failure, bad configuration, missing credentials) as its message alone, each of
which names the cause and the fix; every other exception is formatted by the real ``traceback`` unchanged.
"""

from __future__ import annotations

import sys
import traceback
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ElasticJobsError, StartedButUnsettled

if TYPE_CHECKING:
    from google.protobuf import struct_pb2  # type: ignore[import-untyped]

PLUGIN_SERVICER = "DynamicResourceProviderServicer"
STATUS_DETAILS = "grpc-status-details-bin"


def init_failed(resource_id: str, properties: struct_pb2.Struct, reason: str) -> tuple[tuple[str, bytes]]:
    """The trailing metadata of a failed Create that nonetheless made a resource: Pulumi's
    ``ErrorResourceInitFailed`` detail, which makes the engine record ``resource_id`` and ``properties`` (with the
    reason as an init error) instead of forgetting them. Both faces send it when a run started but did not
    settle, so the next ``up`` updates the resource, waiting for that run, instead of creating it again."""
    import grpc
    from pulumi.runtime.proto import provider_pb2, status_pb2  # the SDK's own google.rpc.Status

    detail = provider_pb2.ErrorResourceInitFailed(id=resource_id, properties=properties, reasons=[reason])
    status = status_pb2.Status(code=grpc.StatusCode.UNKNOWN.value[0], message=reason)
    status.details.add().Pack(detail)
    return ((STATUS_DETAILS, status.SerializeToString()),)


class OneLineTracebacks:
    """Stands in for the ``traceback`` module inside the SDK's plugin module."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real

    def format_exc(self, limit: int | None = None, chain: bool = True) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, StartedButUnsettled):
            _record_partial_create(error, sys._getframe(1))
        if isinstance(error, ElasticJobsError):
            return str(error)
        text: str = self._real.format_exc(limit, chain)
        return text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def install(plugin: ModuleType | None = None) -> bool:
    """Install into the running plugin module (``python -m pulumi.dynamic``); False when not in one."""
    plugin = plugin if plugin is not None else sys.modules.get("__main__")
    if plugin is None or not hasattr(plugin, PLUGIN_SERVICER):
        return False
    current = getattr(plugin, "traceback", None)
    if isinstance(current, OneLineTracebacks):
        return True
    if current is not traceback:
        return False  # the SDK no longer formats errors this way; the engine tests say so loudly
    plugin.traceback = OneLineTracebacks(traceback)  # type: ignore[attr-defined]
    return True


def _record_partial_create(error: StartedButUnsettled, call: FrameType | None) -> None:
    """Attach the partial create's (or update's: a set whose rollout halted) id and outputs to the gRPC call being
    aborted.

    The SDK's plugin aborts a failed call from a wrapper whose locals hold the call's ``request`` and
    ``context``, and formats the error first (this module's ``format_exc``, called from that wrapper): that frame
    is the one place the plugin lets a provider reach the call. Outputs are serialized as the SDK's own
    ``Create`` serializes them, with the provider they belong to."""
    context = call.f_locals.get("context") if call is not None else None
    request = call.f_locals.get("request") if call is not None else None
    if context is None or request is None or not hasattr(context, "set_trailing_metadata"):
        return
    import asyncio

    from pulumi.runtime import rpc

    loop = asyncio.new_event_loop()
    try:
        properties: struct_pb2.Struct = loop.run_until_complete(rpc.serialize_properties(error.outputs, {}))
    finally:
        loop.close()
    sent = request.properties if hasattr(request, "properties") else request.news  # a Create's, or an Update's
    provider = sent.fields.get("__provider")
    if provider is not None:
        properties.fields["__provider"].CopyFrom(provider)
    context.set_trailing_metadata(init_failed(error.arm_id, properties, str(error)))
