"""The words every layer shares, importable without pydantic: lifecycles, defaults, property names.

The plugin imports the provider module on every call it serves and the program imports the resource module;
keeping what they need at import time free of pydantic (loaded only when inputs are validated or ARM answers
parsed) keeps both processes' start-up short.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_API_VERSION = "2025-01-01"
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest answer the client reads: ARM pages of a hundred runs are tens of kilobytes, and a limit keeps an
answer that never ends from taking the plugin's memory."""
MAX_RESPONSE_BYTES_SETTING = "config azure-elastic-jobs:maxResponseBytes"
TERMINAL_LIFECYCLES: frozenset[str] = frozenset(
    {"Succeeded", "SucceededWithSkipped", "Failed", "TimedOut", "Canceled", "Skipped"}
)
DEFAULT_FAIL_ON: tuple[str, ...] = ("Failed", "TimedOut", "Canceled")
SKIPPED = "Skipped"
"""The end of a run the service did not carry out because another run of its job was active (a scheduled one that
overlaps, for instance); recorded with provisioningState ``Canceled`` and "Job execution skipped."."""
SUCCESSFUL_LIFECYCLES: frozenset[str] = frozenset({"Succeeded", "SucceededWithSkipped", SKIPPED})
"""Ends that are no failure: a skipped run counts as done, as Terraform azurerm's poller takes it (``fail_on`` may
still name Skipped to fail a deployment on it). Status and summary lines never call these "not succeeded"."""

SYSTEM_DATABASES: frozenset[str] = frozenset({"master"})
"""What a server lists beside its user databases; the service runs a SqlServer target on user databases only."""

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi.runtime.rpc.UNKNOWN, without importing pulumi
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
DEFAULT_TIMEOUT_SECONDS = 3600.0
DEFAULT_POLL_INTERVAL_SECONDS = 30.0
DATABASE_ROWS_UP_TO = 100
"""With config planRows unset (``auto``), a preview shows a row per database up to this many databases a
resource, and a row per server above (benchmark 9d)."""

# Changing any of these means "a different execution": the resource is replaced and a new run starts.
IDENTITY_FIELDS = (
    "subscription_id",
    "resource_group_name",
    "server_name",
    "job_agent_name",
    "job_name",
    "job_execution_id",
    "triggers",
)
# Changing any of these changes how the provider waits, cleans up or guards a start, never the run itself:
# updated in place.
WAITING_FIELDS = (
    "expected_plan",
    "step_scripts",
    "wait_for_completion",
    "timeout",
    "poll_interval",
    "fail_on",
    "api_version",
    "cancel_on_destroy",
)
AGENT_FIELDS = (
    "subscription_id",
    "resource_group_name",
    "server_name",
    "job_agent_name",
    "api_version",
    "wait_for_completion",
    "timeout",
    "poll_interval",
    "fail_on",
    "cancel_on_destroy",
    "execution_key",
)
FIELDS = (*AGENT_FIELDS, "job_name", "job_execution_id", "triggers", "expected_plan", "step_scripts", "job_id")
"""Every input of a JobExecution (the fields of ``inputs.ExecutionInputs``, in order)."""

MEMBER_FIELDS = ("job_name", "triggers", "job_execution_id", "expected_plan", "step_scripts", "job_id")
SET_IDENTITY_FIELDS = ("subscription_id", "resource_group_name", "server_name", "job_agent_name")
SET_WAITING_FIELDS = ("wait_for_completion", "timeout", "poll_interval", "fail_on", "api_version", "cancel_on_destroy")
SET_FIELDS = (*AGENT_FIELDS, "members", "waves", "gate")
"""Every input of a JobExecutionSet (the fields of ``inputs.SetInputs``, in order)."""


DEFAULTS: dict[str, object] = {
    "api_version": DEFAULT_API_VERSION,
    "wait_for_completion": False,
    "timeout": DEFAULT_TIMEOUT_SECONDS,
    "poll_interval": DEFAULT_POLL_INTERVAL_SECONDS,
    "fail_on": list(DEFAULT_FAIL_ON),
    "cancel_on_destroy": True,
    "execution_key": "",
    "triggers": {},
}
"""What validation fills in for an input the program left out (the defaults of ``inputs.ExecutionInputs``; the
optional ``job_execution_id``, ``expected_plan``, ``step_scripts`` and ``job_id`` have none: left out, they
stay out)."""


def counted(number: int, noun: str) -> str:
    """``1 step``, ``14 databases``: how a line for a person counts things."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def is_unknown(value: object) -> bool:
    """Whether a value the engine sent is, or holds at any depth, an unknown (another resource's output in a
    preview). Here, not beside the validator, so that hooks which only need to ask load no pydantic."""
    if value == UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(item) for item in value)
    return False


def is_terminal(lifecycle: str | None) -> bool:
    """Unknown lifecycles from a newer service count as active: waiting longer beats reporting too early."""
    return lifecycle in TERMINAL_LIFECYCLES
