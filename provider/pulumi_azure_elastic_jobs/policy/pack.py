"""The policy pack's face: the rules of :mod:`.rules` as ``pulumi_policy`` policies, with their configuration.

Three policies, each with an enforcement level the user sets in ``--policy-pack-config`` (``enforcementLevel``:
``advisory``, ``mandatory`` or ``disabled``) and its own settings:

* ``elastic-jobs-pinned-runs`` (mandatory): on the stacks ``stacks`` names (``["prod"]``, ``["org/project/prod"]``,
  ``["*"]``), every run carries ``expected_plan`` / ``expectedPlan``. No stack is named by default: the rule is
  off until the configuration names one.
* ``elastic-jobs-databases-per-run`` (mandatory): a pinned run may touch at most ``maxDatabases`` (default 100)
  databases, counted from its pin (``server1=12 server2=2``: 14), unless ``approvedDatabases`` approves that
  resource for as many (``{"migration": 1200}``); a pin that names no counts cannot be judged and is reported.
  Unpinned runs are the first policy's to stop: the engine hands a policy the inputs, never the plan.
* ``elastic-jobs-waits-are-timed`` (mandatory): a run ``up`` waits for (``waitForCompletion: true``) has a
  ``timeout`` of at most ``maxTimeoutSeconds`` (default 3600, the provider's default). A policy sees the inputs as
  the provider's Check returns them, with the default filled in: an unset ``timeout`` arrives as 3600, so a stack
  that wants every waited run timed on purpose sets ``maxTimeoutSeconds`` below it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from ..terms import DEFAULT_TIMEOUT_SECONDS
from . import rules

DEFAULT_MAX_DATABASES = 100


def _each_run(judge: Callable[[rules.Run, Mapping[str, Any], str], str | None]) -> Any:
    """A resource validation that judges every run of one of our resources and reports each violation."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not rules.is_ours(args.resource_type):
            return
        config = args.get_config()
        for run in rules.runs_of(args.resource_type, args.name, args.props):
            message = judge(run, config, args.urn)
            if message:
                report(message, args.urn)

    return validate


def _pinned(run: rules.Run, config: Mapping[str, Any], urn: str) -> str | None:
    project = urn.removeprefix("urn:pulumi:").split("::")[1] if urn.count("::") >= 2 else ""
    if not rules.stack_is_named(rules.stack_of(urn), project, list(config.get("stacks") or [])):
        return None
    return rules.unpinned(run)


def _bounded(run: rules.Run, config: Mapping[str, Any], urn: str) -> str | None:
    approvals = config.get("approvedDatabases") or {}
    approved = approvals.get(run.name.split()[0])
    maximum = int(config.get("maxDatabases", DEFAULT_MAX_DATABASES))
    return rules.too_many_databases(run, maximum, int(approved) if approved is not None else None)


def _timed(run: rules.Run, config: Mapping[str, Any], urn: str) -> str | None:
    return rules.waits_without_timeout(run, float(config.get("maxTimeoutSeconds", DEFAULT_TIMEOUT_SECONDS)))


POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name="elastic-jobs-pinned-runs",
        description="On the stacks the configuration names, every job run carries the plan a reviewer approved "
        "(expected_plan / expectedPlan).",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_each_run(_pinned),
        config_schema=PolicyConfigSchema(
            properties={"stacks": {"type": "array", "items": {"type": "string"}}},
        ),
    ),
    ResourceValidationPolicy(
        name="elastic-jobs-databases-per-run",
        description="A job run touches at most maxDatabases databases (from its pin) unless approved for more.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_each_run(_bounded),
        config_schema=PolicyConfigSchema(
            properties={
                "maxDatabases": {"type": "integer", "minimum": 0, "default": DEFAULT_MAX_DATABASES},
                "approvedDatabases": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            },
        ),
    ),
    ResourceValidationPolicy(
        name="elastic-jobs-waits-are-timed",
        description="A job run that pulumi up waits for has a timeout of at most maxTimeoutSeconds.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_each_run(_timed),
        config_schema=PolicyConfigSchema(
            properties={"maxTimeoutSeconds": {"type": "number", "minimum": 1, "default": DEFAULT_TIMEOUT_SECONDS}}
        ),
    ),
]


def serve() -> None:
    """Serve the pack to the engine (the policy SDK prints its port and serves until the engine ends it)."""
    PolicyPack(name="elastic-jobs", policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
