"""The job lifecycle: when an execution starts, its whole timeline is planned; reads render it at "now".

Planning up front (steps in stepId order, each against every database its target group resolves to, with
attempts and retries per the step's executionOptions) makes every outcome deterministic, needs no background
threads, and survives an emulator restart: the plan is stored with the execution and time does the rest.
Cancelling records a moment; everything after it renders as Canceled.

Outcomes are controlled by markers in a step's script (``-- emulator:fail``, ``-- emulator:fail-once``,
``-- emulator:timeout``, ``-- emulator:duration=SECONDS``) or by a per-job behavior set on the admin API.
Durations are in emulated seconds; ``time_scale`` emulated seconds pass per real second.

What a read shows follows the live service as Azure SDK teams recorded it (``../shared/recordings``): while
steps run, the job execution waits for them (``WaitingForChildJobExecutions``); it never counts attempts of its
own (``currentAttempts`` 0, no attempt start time); a cancel lands a moment after it is asked for; a skipped
run is provisioned ``Canceled``; times are written as the service writes them (see :func:`iso`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pulumi_azure_elastic_jobs.ids import server_short_name
from pulumi_azure_elastic_jobs.models import JobExecutionLifecycle as L

START_DELAY = 0.5
CANCEL_LAG = 0.5
"""Emulated seconds between a cancel's 200 and the run showing ``Canceled`` (the service's "within a second")."""
CREATE_TICKS_PER_SECOND = 300
"""The service's creation times land on 1/300 s ticks (SQL Server's ``datetime``): ``.92``, ``.0433333``."""
DEFAULT_TARGET_SECONDS = 2.0
_DURATION = re.compile(r"--\s*emulator:duration=(\d+(?:\.\d+)?)")
_PROVISIONING = {
    L.CREATED: "Created",
    L.IN_PROGRESS: "InProgress",
    L.WAITING_FOR_RETRY: "InProgress",
    L.SUCCEEDED: "Succeeded",
    L.SUCCEEDED_WITH_SKIPPED: "Succeeded",
    L.WAITING_FOR_CHILD_JOB_EXECUTIONS: "InProgress",
    L.SKIPPED: "Canceled",
    L.FAILED: "Failed",
    L.TIMED_OUT: "Failed",
    L.CANCELED: "Canceled",
}


@dataclass(frozen=True)
class Behavior:
    """An admin override for every target of a job: how long it takes and how it ends."""

    duration_seconds: float | None = None
    outcome: str | None = None  # Succeeded | Failed | TimedOut | Skipped
    message: str | None = None
    ignore_cancel: bool = False
    """The service accepts a cancel of the job's runs (200) and carries on: a cancel that does not take effect."""
    start_delay_seconds: float | None = None
    """Emulated seconds from a run's creation to its start (default ``START_DELAY``; recorded: 0.2 to 6.7 s)."""
    skip_while_active: bool = False
    """The scheduler's rule: a run created while another run of the job is active is skipped (``Skipped``)."""
    failed_databases: tuple[str, ...] = ()
    """Databases (by name, case-insensitive) where every attempt of the job's steps fails, whatever ``outcome``
    says: a run that fails on chosen targets only (a canary that breaks one database)."""

    def fails_on(self, target: dict[str, Any]) -> bool:
        return str(target.get("databaseName") or "").lower() in {name.lower() for name in self.failed_databases}


def iso(timestamp: float | None) -> str | None:
    """A moment as the service writes it: UTC with ``Z``, the fraction in 100 ns ticks with trailing zeros
    trimmed (0 to 7 digits: ``...30:01Z``, ``...07.92Z``, ``...14.5979998Z``)."""
    if timestamp is None:
        return None
    ticks = round(timestamp * 10_000_000)
    seconds, fraction = divmod(ticks, 10_000_000)
    return _with_fraction(seconds, fraction)


def creation_time(timestamp: float) -> str:
    """A creation moment as the service writes it: on a 1/300 s tick, its 100 ns ticks truncated."""
    tick = round(timestamp * CREATE_TICKS_PER_SECOND)
    seconds, part = divmod(tick, CREATE_TICKS_PER_SECOND)
    return _with_fraction(seconds, part * 10_000_000 // CREATE_TICKS_PER_SECOND)


def on_creation_tick(timestamp: float) -> float:
    """The moment a creation is recorded at: the 1/300 s tick nearest to it."""
    return round(timestamp * CREATE_TICKS_PER_SECOND) / CREATE_TICKS_PER_SECOND


def _with_fraction(seconds: int, ticks: int) -> str:
    whole = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{ticks:07d}".rstrip("0")
    return f"{whole}.{digits}Z" if digits else f"{whole}Z"


def _attempt_outcomes(script: str, retries: int, behavior: Behavior, failing_target: bool = False) -> list[str]:
    if failing_target:
        return ["Failed"] * (retries + 1)
    if behavior.outcome in ("Failed", "TimedOut"):
        return [behavior.outcome] * (1 if behavior.outcome == "TimedOut" else retries + 1)
    if behavior.outcome == "Succeeded":
        return ["Succeeded"]
    if "emulator:timeout" in script:
        return ["TimedOut"]
    if "emulator:fail-once" in script:
        return ["Failed", "Succeeded"] if retries > 0 else ["Failed"]
    if "emulator:fail" in script:
        return ["Failed"] * (retries + 1)
    return ["Succeeded"]


def where_of(target: dict[str, Any]) -> str:
    """What a target names, unique within a step: its database, or the member that could not be expanded."""
    where = f"[{target.get('serverName')}].[{target.get('databaseName')}]"
    if target.get("type", "SqlDatabase") == "SqlDatabase":
        return where
    return f"{target['type']}:{where}.[{target.get('elasticPoolName') or target.get('shardMapName')}]"


def database_key(target: dict[str, Any]) -> tuple[str, str]:
    """The database a target runs on, as the service tells databases apart: server and database names, case
    insensitive, a server's public DNS name (``name.database.windows.net``) the same as its name."""
    return server_short_name(str(target.get("serverName") or "")), str(target.get("databaseName") or "").lower()


def _may_be_skipped(target: dict[str, Any]) -> bool:
    """A database of the modelled fleet: what the service skips while another run of the job is active on it. A
    database on a server the emulator does not model (``asNamed``) runs as every target ran before the fleet was
    modelled, overlapping runs included; a member that could not be expanded is no database."""
    is_database = target.get("type", "SqlDatabase") == "SqlDatabase"
    return is_database and not target.get("asNamed") and not target.get("problem")


BusyDatabases = dict[tuple[str, str], tuple[float, str]]
"""Databases where another run of the job is still active: ``database_key`` -> (until when, that run's id)."""


def busy_databases(runs: list[tuple[str, dict[str, Any]]], now: float) -> BusyDatabases:
    """Where the job's other runs (``(execution id, plan)``) that are active at ``now`` still have work: from now
    until the end of each one's last target on a database (or its cancel), the service would skip that database in
    a new run."""
    busy: BusyDatabases = {}
    for execution_id, plan in runs:
        if not is_active(plan, now):
            continue
        stop = plan["canceled_at"] if plan["canceled_at"] is not None else float("inf")
        for step in plan["steps"]:
            for target in step["targets"]:
                if target["outcome"] == L.SKIPPED or not _may_be_skipped(target["target"]):
                    continue
                until = min(target["end"], stop)
                key = database_key(target["target"])
                if until > now and until > busy.get(key, (0.0, ""))[0]:
                    busy[key] = (until, execution_id)
    return busy


def _plan_target(
    target: dict[str, Any],
    step: dict[str, Any],
    begin: float,
    scale: float,
    behavior: Behavior,
    seed: str,
    busy: BusyDatabases,
) -> dict[str, Any]:
    """A target's timeline: its attempts, outcome and message. A member that could not be expanded (``problem``)
    fails at once without retries; a database where another run of the job is still active is skipped."""
    planned = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/{step['name']}/{where_of(target)}")),
        "target": target,
        "start": begin,
    }
    if target.get("problem"):
        attempt = {"start": begin, "end": begin, "outcome": L.FAILED.value}
        return {**planned, "attempts": [attempt], "end": begin, "outcome": L.FAILED.value, "message": target["problem"]}
    holder = busy.get(database_key(target)) if _may_be_skipped(target) else None
    if holder is not None and begin < holder[0]:
        # Wording guessed: no recording shows a target the service skipped.
        message = (
            f"Step {step['properties'].get('stepId')} skipped execution on target (server '{target.get('serverName')}',"
            f" database '{target.get('databaseName')}'): job execution '{holder[1]}' of this job is still active on it."
        )
        return {**planned, "attempts": [], "end": begin, "outcome": L.SKIPPED.value, "message": message}
    props = step["properties"]
    options = props.get("executionOptions") or {}
    script = props["action"]["value"]
    marker = _DURATION.search(script)
    seconds = (
        behavior.duration_seconds
        if behavior.duration_seconds is not None
        else (float(marker.group(1)) if marker else DEFAULT_TARGET_SECONDS)
    )
    retries = int(options.get("retryAttempts", 10))
    interval = float(options.get("initialRetryIntervalSeconds", 1))
    attempts: list[dict[str, Any]] = []
    clock = begin
    for number, outcome in enumerate(_attempt_outcomes(script, retries, behavior, behavior.fails_on(target))):
        if number:
            clock += interval / scale
            interval = min(
                interval * float(options.get("retryIntervalBackoffMultiplier", 2.0)),
                float(options.get("maximumRetryIntervalSeconds", 120)),
            )
        attempts.append({"start": clock, "end": clock + seconds / scale, "outcome": outcome})
        clock += seconds / scale
    outcome = attempts[-1]["outcome"]
    # A success is worded as recorded; failure and timeout wording is not in any recording (a guess).
    message = (
        behavior.message
        or {
            "Succeeded": f"Step {props.get('stepId')} succeeded execution on target "
            f"(server '{target.get('serverName')}', database '{target.get('databaseName')}').",
            "Failed": "Command failed: the script raised an error (emulated). (Msg 50000, Level 16, State 1, Line 1)",
            "TimedOut": "Command timed out after the step's timeout.",
        }[outcome]
    )
    return {**planned, "attempts": attempts, "end": clock, "outcome": outcome, "message": message}


def plan_execution(
    created: float,
    steps: list[dict[str, Any]],
    targets_of: Any,
    scale: float,
    behavior: Behavior,
    seed: str,
    skipped: bool = False,
    busy: BusyDatabases | None = None,
) -> dict[str, Any]:
    """Plan a whole run; ``targets_of(step)`` resolves a step's target group to target dicts (a database, or a
    member that could not be expanded, with its ``problem``). A ``skipped`` run (or one under a ``Skipped``
    behavior) starts, runs no step and ends ``Skipped``, as the service ends one; within a run, a database in
    ``busy`` is skipped while another run of the job is still active on it."""
    created = on_creation_tick(created)
    delay = START_DELAY if behavior.start_delay_seconds is None else behavior.start_delay_seconds
    start = created + delay / scale
    if skipped or behavior.outcome == L.SKIPPED:
        return _skipped_plan(created, start, scale)
    clock, planned, outcome, message = start, [], L.SUCCEEDED.value, "Job execution succeeded."
    no_targets = skipped_targets = False
    for step in sorted(steps, key=lambda s: s["properties"].get("stepId") or 0):
        number = step["properties"].get("stepId")
        targets = [_plan_target(t, step, clock, scale, behavior, seed, busy or {}) for t in targets_of(step)]
        end = max((t["end"] for t in targets), default=clock)
        failures = [t for t in targets if t["outcome"] not in (L.SUCCEEDED, L.SKIPPED)]
        step_outcome = _step_outcome(targets)
        no_targets = no_targets or not targets
        skipped_targets = skipped_targets or any(t["outcome"] == L.SKIPPED for t in targets)
        planned.append(
            {
                "name": step["name"],
                "id": number,
                "start": clock,
                "end": end,
                "outcome": step_outcome,
                "targets": targets,
                "message": failures[0]["message"] if failures else _STEP_MESSAGES[step_outcome].format(number=number),
            }
        )
        clock = end
        if failures:
            outcome = step_outcome
            message = f"Step {number} ({step['name']}) {step_outcome}: {failures[0]['message']}"
            break
    if outcome == L.SUCCEEDED and (no_targets or skipped_targets):
        outcome = L.SUCCEEDED_WITH_SKIPPED.value
        message = (
            "Job execution succeeded; some steps had no targets."
            if no_targets
            else "Job execution succeeded; some targets were skipped."
        )
    return {
        "created": created,
        "start": start,
        "end": clock,
        "outcome": outcome,
        "message": message,
        "steps": planned,
        "canceled_at": None,
    }


def _step_outcome(targets: list[dict[str, Any]]) -> str:
    """A step ends as its first failed target; else ``Skipped`` when it ran on nothing, ``SucceededWithSkipped``
    when some of its databases were skipped, ``Succeeded`` when every one ran."""
    failures = [t for t in targets if t["outcome"] not in (L.SUCCEEDED, L.SKIPPED)]
    if failures:
        return str(failures[0]["outcome"])
    ran = sum(t["outcome"] != L.SKIPPED for t in targets)
    if not ran:
        return L.SKIPPED.value
    return L.SUCCEEDED_WITH_SKIPPED.value if ran < len(targets) else L.SUCCEEDED.value


_STEP_MESSAGES = {
    L.SUCCEEDED.value: "Step {number} succeeded.",  # recorded
    L.SKIPPED.value: "Step {number} skipped.",  # guessed, as the two below
    L.SUCCEEDED_WITH_SKIPPED.value: "Step {number} succeeded; some targets were skipped.",
}


def _skipped_plan(created: float, start: float, scale: float) -> dict[str, Any]:
    return {
        "created": created,
        "start": start,
        "end": start + START_DELAY / scale,
        "outcome": L.SKIPPED.value,
        "message": "Job execution skipped.",
        "steps": [],
        "canceled_at": None,
    }


def _state(start: float, end: float, outcome: str, now: float, canceled_at: float | None) -> tuple[str, float | None]:
    """Lifecycle at ``now`` and the end time if ended; a cancel ends it at the moment the cancel lands."""
    if canceled_at is not None and canceled_at < end and now >= canceled_at:
        return L.CANCELED.value, canceled_at
    if now < start:
        return L.CREATED.value, None
    if now < end:
        return L.IN_PROGRESS.value, None
    return outcome, end


def render_execution(plan: dict[str, Any], now: float) -> dict[str, Any]:
    """The ``properties`` of the job execution at ``now``: while its steps run it waits for them, it counts no
    attempts of its own, and one cancelled before it started shows ``startTime == endTime``."""
    lifecycle, ended = _state(plan["start"], plan["end"], plan["outcome"], now, plan["canceled_at"])
    if lifecycle == L.IN_PROGRESS:
        lifecycle = L.WAITING_FOR_CHILD_JOB_EXECUTIONS.value
    if ended is not None and lifecycle == L.CANCELED and ended < plan["start"]:
        started: float | None = ended
    else:
        started = plan["start"] if now >= plan["start"] else None
    message = {
        L.CREATED: "Job execution created.",
        L.WAITING_FOR_CHILD_JOB_EXECUTIONS: "Job execution waiting for job steps to complete.",
        L.CANCELED: "Job execution canceled.",
    }.get(L(lifecycle), plan["message"])
    return {
        "lifecycle": lifecycle,
        "provisioningState": _PROVISIONING[L(lifecycle)],
        "createTime": creation_time(plan["created"]),
        "startTime": iso(started),
        "endTime": iso(ended),
        "currentAttempts": 0,
        "lastMessage": message,
    }


def _child_properties(
    planned: dict[str, Any],
    name: str,
    lifecycle: str,
    ended: float | None,
    attempts: int,
    attempt_start: float | None,
    kind: str,
) -> dict[str, Any]:
    """The properties a step or target execution shares: its name, lifecycle, times, attempts and message."""
    return {
        "name": name,
        "lifecycle": lifecycle,
        "provisioningState": _PROVISIONING[L(lifecycle)],
        "createTime": iso(planned["start"]),
        "startTime": iso(planned["start"]),
        "endTime": iso(ended),
        "currentAttempts": attempts,
        "currentAttemptStartTime": iso(attempt_start),
        "lastMessage": planned["message"] if ended and lifecycle != L.CANCELED else f"{kind} {lifecycle}.",
    }


def render_steps(plan: dict[str, Any], now: float) -> list[dict[str, Any]]:
    out = []
    for step in plan["steps"]:
        if now < step["start"] or (plan["canceled_at"] is not None and plan["canceled_at"] < step["start"]):
            continue
        lifecycle, ended = _state(step["start"], step["end"], step["outcome"], now, plan["canceled_at"])
        properties = _child_properties(step, step["name"], lifecycle, ended, 1, step["start"], "Step")
        out.append({**properties, "stepName": step["name"], "stepId": step["id"], "targets": step["targets"]})
    return out


def render_target(target: dict[str, Any], step: dict[str, Any], plan: dict[str, Any], now: float) -> dict[str, Any]:
    canceled_at = plan["canceled_at"]
    effective = min(now, canceled_at) if canceled_at is not None else now
    started = [a for a in target["attempts"] if a["start"] <= effective]
    lifecycle, ended = _state(target["start"], target["end"], target["outcome"], now, canceled_at)
    if lifecycle == L.IN_PROGRESS and started and started[-1]["end"] <= effective:
        lifecycle = L.WAITING_FOR_RETRY.value
    info = target["target"]
    if target["attempts"]:
        attempts, attempt_start = max(1, len(started)), started[-1]["start"] if started else target["start"]
    else:  # skipped: the service made no attempt
        attempts, attempt_start = 0, None
    properties = _child_properties(target, target["id"], lifecycle, ended, attempts, attempt_start, "Target")
    return {
        **properties,
        "stepName": step["name"],
        "stepId": step["id"],
        "target": {
            "type": info.get("type"),
            "serverName": info.get("serverName"),
            "databaseName": info.get("databaseName"),
        },
    }


def next_change(plan: dict[str, Any], now: float) -> float | None:
    """Seconds until the execution's state next changes (the emulator's Retry-After), None when final."""
    if plan["canceled_at"] is not None and plan["canceled_at"] <= now:
        return None
    moments = [plan["start"], plan["end"], *([plan["canceled_at"]] if plan["canceled_at"] is not None else [])]
    for step in plan["steps"]:
        for target in step["targets"]:
            moments += [m for a in target["attempts"] for m in (a["start"], a["end"])]
    upcoming = [m - now for m in moments if m > now]
    return min(upcoming) if upcoming else None


def is_active(plan: dict[str, Any], now: float) -> bool:
    lifecycle, _ = _state(plan["start"], plan["end"], plan["outcome"], now, plan["canceled_at"])
    return lifecycle in (L.CREATED, L.IN_PROGRESS)
