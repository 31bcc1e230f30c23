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
from types import ModuleType
from typing import Any

from .errors import ElasticJobsError

PLUGIN_SERVICER = "DynamicResourceProviderServicer"


class OneLineTracebacks:
    """Stands in for the ``traceback`` module inside the SDK's plugin module."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real

    def format_exc(self, limit: int | None = None, chain: bool = True) -> str:
        error = sys.exc_info()[1]
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
