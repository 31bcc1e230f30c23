"""Azure SQL Elastic Job executions as a declarative Pulumi resource.

The public surface is loaded lazily: ``import pulumi_azure_elastic_jobs`` stays cheap (the dynamic-provider
plugin imports it on every deployment), and the client and errors can be used without importing pulumi. The local
emulator is a distribution of its own (``elastic_jobs_emulator``, the ``emulator`` extra).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    "JobExecution": ".resource",
    "JobExecutionSet": ".resource",
    "JobExecutionProvider": ".provider",
    "JobExecutionSetProvider": ".provider",
    "ElasticJobsClient": ".client",
    "Settings": ".config",
    "ElasticJobsError": ".errors",
    "ArmError": ".errors",
    "BadRequest": ".errors",
    "AuthError": ".errors",
    "NotFound": ".errors",
    "Conflict": ".errors",
    "Throttled": ".errors",
    "ServiceError": ".errors",
    "InvalidResponse": ".errors",
    "TransportError": ".errors",
    "WaitTimeout": ".errors",
    "ExecutionFailed": ".errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .client import ElasticJobsClient
    from .config import Settings
    from .errors import (
        ArmError,
        AuthError,
        BadRequest,
        Conflict,
        ElasticJobsError,
        ExecutionFailed,
        InvalidResponse,
        NotFound,
        ServiceError,
        Throttled,
        TransportError,
        WaitTimeout,
    )
    from .provider import JobExecutionProvider, JobExecutionSetProvider
    from .resource import JobExecution, JobExecutionSet


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
