"""The rules of the policy pack, as pure functions over a resource's inputs (no pulumi_policy here: pack.py is the
face that hands them to Pulumi's policy SDK, and the tests call them directly).

A *run* is what one resource would start: a ``JobExecution``, or each member of a ``JobExecutionSet``. Inputs
arrive as the program's language spells them: camelCase from the native plugin (YAML, TypeScript, Go, the Python
SDK), snake_case from the dynamic provider (``pulumi-python:dynamic/azure-elastic-jobs:JobExecution``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..plan import parse_pin
from ..terms import UNKNOWN

EXECUTION_TYPES = ("azure-elastic-jobs:index:JobExecution", "azure-elastic-jobs:JobExecution")
SET_TYPES = ("azure-elastic-jobs:index:JobExecutionSet", "azure-elastic-jobs:JobExecutionSet")


@dataclass(frozen=True)
class Run:
    """One run a resource would start, as its inputs say: where the messages name it, its pin, how it waits."""

    name: str
    """``migration``, or ``fleet member app-1`` for a set's member."""
    pin_field: str
    """How the program's language spells the pin: ``expected_plan`` or ``expectedPlan``."""
    pin: Any
    waits: Any
    timeout: Any


def is_ours(resource_type: str) -> bool:
    return resource_type.endswith((*EXECUTION_TYPES, *SET_TYPES))


def runs_of(resource_type: str, name: str, props: Mapping[str, Any]) -> list[Run]:
    """The runs a resource of ours would start (none for any other type)."""
    camel = resource_type.startswith("azure-elastic-jobs:")
    pin_field = "expectedPlan" if camel else "expected_plan"
    waits, timeout = _get(props, "wait_for_completion", camel), _get(props, "timeout", camel)
    if resource_type.endswith(EXECUTION_TYPES):
        return [Run(name, pin_field, _get(props, "expected_plan", camel), waits, timeout)]
    if resource_type.endswith(SET_TYPES):
        return [
            Run(f"{name} member {key}", pin_field, _get(member, "expected_plan", camel), waits, timeout)
            for key, member in _members(props)
        ]
    return []


def _get(props: Mapping[str, Any], snake: str, camel: bool) -> Any:
    return props.get(re.sub(r"_(\w)", lambda m: m.group(1).upper(), snake) if camel else snake)


def _members(props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    members = props.get("members")
    if isinstance(members, Mapping):
        items: Sequence[tuple[Any, Any]] = list(members.items())
    elif isinstance(members, Sequence) and not isinstance(members, str):
        items = [(index, member) for index, member in enumerate(members)]
    else:
        return
    for key, member in items:
        if isinstance(member, Mapping):
            yield str(member.get("key") or member.get("name") or key), member


def is_unknown(value: Any) -> bool:
    """An input another resource computes (a preview does not know it yet): no rule judges it."""
    return value == UNKNOWN or type(value).__name__ == "_UnknownValue"


def stack_of(urn: str) -> str:
    """The stack a URN names (``urn:pulumi:<stack>::<project>::...``)."""
    return urn.removeprefix("urn:pulumi:").split("::", 1)[0]


def stack_is_named(stack: str, project: str, names: Sequence[str]) -> bool:
    """Whether the configuration names this stack: by its name, ``project/stack``, ``org/project/stack`` or ``*``."""
    for named in names:
        if named == "*" or named == stack or named.endswith(f"/{project}/{stack}") or named == f"{project}/{stack}":
            return True
    return False


# --- the rules: each returns the violations' messages (empty: the run keeps the rule) ----------------------------


def unpinned(run: Run) -> str | None:
    """A run on a stack that requires pins, without one."""
    if is_unknown(run.pin) or (isinstance(run.pin, str) and run.pin.strip()):
        return None
    return (
        f"{run.name}: `{run.pin_field}` is required on this stack: set it to the pin the pull request's preview "
        f"shows for this run (reviewed = run), or `pulumi up` would start a run nobody approved"
    )


def pinned_databases(pin: Any) -> int | None:
    """How many databases a pin says the run touches (its ``server=N`` parts), or None when it names none."""
    if not isinstance(pin, str):
        return None
    servers = parse_pin(pin).servers
    return sum(servers.values()) if servers is not None else None


def too_many_databases(run: Run, maximum: int, approved: int | None) -> str | None:
    """A pinned run that may touch more than ``maximum`` databases without an approval for at least as many.

    The count is the pin's (``server1=12 server2=2``: 14): a run whose live plan differs from its pin is refused
    by the provider itself, so the pin bounds what runs. A pin that names no counts (``v8``, a digest alone)
    cannot be judged and is reported; an unpinned run is left to the rule that requires pins."""
    if is_unknown(run.pin) or not (isinstance(run.pin, str) and run.pin.strip()):
        return None
    count = pinned_databases(run.pin)
    limit = max(maximum, approved or 0)
    if count is None:
        return (
            f"{run.name}: its pin names no databases per server, so how many it touches cannot be told before it "
            f"starts: pin it as the preview shows (`{run.pin_field}`: `v<version> <server>=<databases> ... sha256:...`)"
        )
    if count <= limit:
        return None
    resource = run.name.split(" member ", 1)[0]
    return (
        f"{run.name}: touches {count} databases, more than the {maximum} a run may touch without an approval; "
        f'approve it in the policy pack\'s configuration (`"approvedDatabases": {{"{resource}": {count}}}`)'
    )


def waits_without_timeout(run: Run, maximum_seconds: float) -> str | None:
    """A run that ``up`` waits for without a timeout, or with one longer than the stack allows."""
    if is_unknown(run.waits) or is_unknown(run.timeout) or run.waits is not True:
        return None
    if run.timeout is None:
        return f"{run.name}: waits for the run to finish but has no `timeout`: say how long `pulumi up` may wait"
    if float(run.timeout) > maximum_seconds:
        return (
            f"{run.name}: waits up to {float(run.timeout):g} s (`timeout`, 3600 when unset), more than the "
            f"{maximum_seconds:g} s this stack allows: set a shorter `timeout`"
        )
    return None
