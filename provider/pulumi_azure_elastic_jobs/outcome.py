"""What a run did, in words and as bounded data: the status line, the closing summary, per-target outcomes.

A job that runs on a target group ends with one job-level lifecycle; its target executions say which databases
failed. They are read once, when the run is terminal, and summarised into a small, capped structure so that a
fleet of thousands of databases does not bloat the state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .plan import database_key
from .progress import duration
from .terms import SUCCESSFUL_LIFECYCLES, counted, is_terminal

if TYPE_CHECKING:
    from .models import JobExecution

MAX_LISTED_PROBLEMS = 20
FINE = SUCCESSFUL_LIFECYCLES
SKIPPED_MEANS = (
    "The service skipped this run (it skips a run that would overlap an active run of the job, such as a scheduled "
    "one): no step ran. A skipped run counts as done: the resource records it and the next `up` does not run the "
    "job again; change `triggers` to run it, or add Skipped to `fail_on` to fail the deployment instead"
)
"""Said as a warning when a waited run ends Skipped and ``fail_on`` lets it pass: done, but not what was asked."""


@dataclass(frozen=True)
class TargetOutcomes:
    """Counts of target executions by lifecycle, and the first few that did not succeed, with their messages."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    omitted: int = 0
    complete: bool = False
    steps: int = 0
    databases: int = 0
    by_database: dict[str, str] = field(default_factory=dict)
    """How each database ended, by the plan's key (``server/database``): its worst lifecycle over the steps."""

    @classmethod
    def of(cls, targets: Iterable[JobExecution], limit: int = MAX_LISTED_PROBLEMS) -> TargetOutcomes:
        counts: Counter[str] = Counter()
        problems: list[dict[str, Any]] = []
        steps: set[str | None] = set()
        by_database: dict[str, str] = {}
        for target in targets:
            props = target.properties
            lifecycle = str(props.lifecycle or "Unknown")
            counts[lifecycle] += 1
            steps.add(props.step_name)
            if props.target and props.target.database_name:
                key = database_key(props.target.server_name or "", props.target.database_name)
                if by_database.get(key) in (None, *FINE):
                    by_database[key] = lifecycle  # the first that did not succeed stands for the database
            if lifecycle not in FINE:
                problems.append(
                    {
                        "server": props.target.server_name if props.target else None,
                        "database": props.target.database_name if props.target else None,
                        "step": props.step_name,
                        "lifecycle": lifecycle,
                        "attempts": props.current_attempts,
                        "message": props.last_message,
                    }
                )
        omitted = max(0, len(problems) - limit)
        databases = dict(sorted(by_database.items()))
        return cls(dict(sorted(counts.items())), problems[:limit], omitted, True, len(steps), len(databases), databases)

    @classmethod
    def from_output(cls, value: Any) -> TargetOutcomes | None:
        """Outcomes recorded in state, if complete (a terminal run's targets never change)."""
        if not isinstance(value, dict) or not value.get("complete"):
            return None
        counts = {str(k): int(v) for k, v in (value.get("counts") or {}).items()}
        problems = list(value.get("problems") or [])
        omitted, steps, databases = (int(value.get(key) or 0) for key in ("problems_omitted", "steps", "databases"))
        by_database = {str(k): str(v) for k, v in (value.get("by_database") or {}).items()}
        return cls(counts, problems, omitted, True, steps, databases, by_database)

    def output(self, planned: Iterable[str] | None = None) -> dict[str, Any]:
        """As recorded; with the databases a plan named, also those the run touched beyond them (``unplanned``)."""
        recorded: dict[str, Any] = {
            "counts": self.counts,
            "problems": self.problems,
            "problems_omitted": self.omitted,
            "steps": self.steps,
            "databases": self.databases,
            "by_database": self.by_database,
            "complete": self.complete,
        }
        if planned is not None and self.complete:
            named = set(planned)
            recorded["unplanned"] = sorted(key for key in self.by_database if key not in named)
        return recorded

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def failures(self) -> str:
        """The failed targets, each once: where, which step, how many attempts, and its own message."""
        shown = [
            f"step {p['step']!r} {str(p['lifecycle']).lower()} on {p['server'] or '?'}/{p['database'] or '?'}"
            f"{_attempts(p['attempts'])}: {str(p['message'] or 'no message').rstrip('.')}"
            for p in self.problems[:3]
        ]
        more = len(self.problems) - len(shown) + self.omitted
        return "; ".join(shown) + (f"; and {more} more (see the target_outcomes output)" if more else "")


def _attempts(count: Any) -> str:
    return f" after {int(count)} attempts" if isinstance(count, int | float) and count > 1 else ""


def status_line(execution: JobExecution, waited_seconds: float) -> str:
    """The row's status while waiting: lifecycle, attempt and time waited (all from the poll itself)."""
    props = execution.properties
    parts = [str(props.lifecycle or "Unknown")]
    if props.step_name:
        parts.append(f"step {props.step_id or '?'} {props.step_name!r}")
    if props.current_attempts and props.current_attempts > 1:
        parts.append(f"attempt {props.current_attempts}")
    parts.append(f"waited {duration(waited_seconds)}")
    return " · ".join(parts)


def set_status_line(lifecycles: Iterable[str | None], total: int, waited_seconds: float) -> str:
    """A set's status: how many members ended, how many of those badly, how many still run."""
    seen = [str(lifecycle) for lifecycle in lifecycles if lifecycle]
    ended = [lifecycle for lifecycle in seen if is_terminal(lifecycle)]
    bad = [lifecycle for lifecycle in ended if lifecycle not in FINE]
    failed = f" ({len(bad)} not succeeded)" if bad else ""
    return f"{len(ended)}/{total} runs ended{failed} · waited {duration(waited_seconds)}"


def set_summary_line(lifecycles: Mapping[str, str]) -> str:
    """One line when a set ends: ``32 runs: 30 Succeeded, 2 Failed (members a, b)``."""
    counts = Counter(lifecycles.values())
    bad = sorted(key for key, lifecycle in lifecycles.items() if lifecycle not in FINE)
    listed = ", ".join(f"{n} {lifecycle}" for lifecycle, n in sorted(counts.items()))
    named = f" (not succeeded: {', '.join(bad[:10])}{', ...' if len(bad) > 10 else ''})" if bad else ""
    return f"{counted(len(lifecycles), 'run')}: {listed}{named}"


def summary_line(execution: JobExecution, outcomes: TargetOutcomes) -> str:
    """One line when a run ends: ``Succeeded in 4m12s: 3 steps on 12 databases``, or what failed where."""
    props = execution.properties
    took = ""
    if props.create_time and props.end_time:
        took = f" in {duration((props.end_time - props.create_time).total_seconds())}"
    head = f"{props.lifecycle}{took}"
    if not outcomes.complete or not outcomes.total:
        return f"{head}: {props.last_message or 'no message'}"
    if outcomes.problems:
        return f"{head}: {outcomes.failures()}"
    return f"{head}: {counted(outcomes.steps, 'step')} on {counted(outcomes.databases, 'database')}"
