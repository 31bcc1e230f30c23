"""The Pulumi package schema of ``azure-elastic-jobs``, generated from :mod:`..catalog` (never written by hand)."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from ..catalog import (
    CONFIG,
    EXECUTION_INPUTS,
    EXECUTION_OUTPUTS,
    GATE_PROPS,
    MEMBER_PROPS,
    ROLLOUT,
    ROLLOUT_HALT,
    ROLLOUT_WAVE,
    RUN_PLAN,
    SET_INPUTS,
    SET_OUTPUTS,
    TARGET_OUTCOMES,
    Prop,
    camel,
)

PACKAGE = "azure-elastic-jobs"
JOB_EXECUTION = f"{PACKAGE}:index:JobExecution"
JOB_EXECUTION_SET = f"{PACKAGE}:index:JobExecutionSet"

EXECUTION_DESCRIPTION = (
    'One run of an Azure SQL Elastic Job (ARM "Job Executions - Create Or Update"), as a resource: the first '
    "`up` starts it, later `up`s leave it alone until `triggers` or the job change, and other resources read its "
    "outcome (`lifecycle`, `targetOutcomes`, ...). One intent, one run: an interrupted `up` attaches to its run, "
    "never starts a second one.\n\n"
    "## Example\n\n```yaml\nresources:\n  migration:\n    type: azure-elastic-jobs:JobExecution\n    properties:\n"
    "      resourceGroupName: group1\n      serverName: server1\n      jobAgentName: agent1\n"
    "      jobName: nightly-migration\n      waitForCompletion: true\n      triggers:\n        script: v2\n"
    "outputs:\n  lifecycle: ${migration.lifecycle}\n```\n"
)
SET_DESCRIPTION = (
    "A set of Elastic Job executions on one job agent, started together and waited for together; each member keeps "
    "its own identity, so changing one member's triggers re-runs only that member. Member outcomes are outputs "
    "(`executions`, `failedMembers`, `finished`) and never fail the deployment by themselves. With `waves`, a staged "
    "rollout: a wave starts only when the one before passed its `gate`, and a halt is said in `rollout`."
)


def property_spec(prop: Prop) -> dict[str, Any]:
    """A catalog property as a schema property spec."""
    spec: dict[str, Any] = {"description": prop.description, **_type_spec(prop.type, prop.items)}
    if prop.secret:
        spec["secret"] = True
    if prop.replaces:
        spec["willReplaceOnChanges"] = True
    return spec


def _type_spec(kind: str, items: str | None) -> dict[str, Any]:
    if kind.startswith("#/types/"):
        return {"$ref": kind}
    if kind == "array":
        return {"type": "array", "items": _type_spec(items or "any", None)}
    if kind == "map":
        return {"type": "object", "additionalProperties": _type_spec(items or "any", None)}
    if kind == "any":
        return {"$ref": "pulumi.json#/Any"}
    return {"type": kind}


def _properties(props: tuple[Prop, ...]) -> dict[str, Any]:
    return {camel(prop.name): property_spec(prop) for prop in props}


def _required(props: tuple[Prop, ...]) -> list[str]:
    return sorted(camel(prop.name) for prop in props if prop.required)


def _resource(description: str, inputs: tuple[Prop, ...], outputs: tuple[Prop, ...]) -> dict[str, Any]:
    outputs_by_name = {prop.name: prop for prop in (*inputs, *outputs)}  # an output's own spec wins
    return {
        "description": description,
        "inputProperties": _properties(inputs),
        "requiredInputs": _required(inputs),
        "properties": _properties(tuple(outputs_by_name.values())),
        "required": _required(outputs),
    }


def _object(description: str, props: tuple[Prop, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": _properties(props),
        "required": _required(props),
    }


def schema() -> dict[str, Any]:
    """The whole package schema, as ``pulumi package get-schema azure-elastic-jobs`` prints it."""
    config = _properties(CONFIG)
    return {
        "name": PACKAGE,
        "displayName": "Azure SQL Elastic Jobs",
        "version": __version__,
        "description": "Azure SQL Elastic Job executions as declarative resources: one intent, one run.",
        "keywords": ["pulumi", "azure", "sql", "elastic-jobs", "category/database", "kind/native"],
        "license": "Apache-2.0",
        "publisher": "pulumi-azure-elastic-jobs",
        "config": {"variables": config},
        "provider": {
            "description": "The provider of Elastic Job executions: where ARM is and how to authenticate.",
            "inputProperties": config,
        },
        "types": {
            f"{PACKAGE}:index:TargetOutcomes": _object(
                "How a run's target executions (one per step and database) ended.", TARGET_OUTCOMES
            ),
            f"{PACKAGE}:index:Member": _object("One member of a JobExecutionSet.", MEMBER_PROPS),
            f"{PACKAGE}:index:RunPlan": _object("What a run will do where (see docs/resources.md).", RUN_PLAN),
            f"{PACKAGE}:index:RolloutGate": _object("When a wave of a rollout lets the next one start.", GATE_PROPS),
            f"{PACKAGE}:index:Rollout": _object("A JobExecutionSet's staged rollout, wave by wave.", ROLLOUT),
            f"{PACKAGE}:index:RolloutWave": _object("One wave of a rollout.", ROLLOUT_WAVE),
            f"{PACKAGE}:index:RolloutHalt": _object("What halted a rollout.", ROLLOUT_HALT),
        },
        "resources": {
            JOB_EXECUTION: _resource(EXECUTION_DESCRIPTION, EXECUTION_INPUTS, EXECUTION_OUTPUTS),
            JOB_EXECUTION_SET: _resource(SET_DESCRIPTION, SET_INPUTS, SET_OUTPUTS),
        },
        "language": {
            "nodejs": {"packageName": "@pulumi-azure-elastic-jobs/azure-elastic-jobs", "respectSchemaVersion": True},
            "go": {
                "importBasePath": "github.com/pulumi-azure-elastic-jobs/sdk/go/azureelasticjobs",
                "generateResourceContainerTypes": True,
                "respectSchemaVersion": True,
            },
            "python": {
                "packageName": "pulumi_azure_elastic_jobs_sdk",
                "respectSchemaVersion": True,
                "pyproject": {"enabled": True},
            },
        },
    }
