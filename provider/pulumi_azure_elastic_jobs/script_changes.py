"""The T-SQL a review is about: per step, what the resource's last run ran against what this deployment will run.

Pure data, like :mod:`.plan`: the scripts of the job version the last run used (read through
``.../jobs/{job}/versions/{v}/steps``) come in, with the plan of the run this deployment starts (its steps'
scripts the live ones, or those ``step_scripts`` gives); out come one :class:`StepChange` per step (a unified diff
for a changed one, new and removed steps named) and the lines a person reads under the plan. Imports no pulumi.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .plan import Plan
from .terms import counted

CHANGED, UNCHANGED, NEW, REMOVED, FIRST_RUN, NO_TEXT = "changed", "unchanged", "new", "removed", "first run", "no text"
"""A step's ``status``: how its script compares with the last run's (``no text``: only a digest is known)."""
MAX_DIFF_LINES = 400
"""Lines of one step's diff shown; the rest is counted (a generated script can be huge)."""


@dataclass(frozen=True)
class LastRun:
    """What the resource's last run ran: the job and version, and each step's script by name (None: a first run,
    or ``unread`` says why the scripts could not be read)."""

    job: str = ""
    version: int | None = None
    scripts: Mapping[str, str] | None = None
    unread: str | None = None


FIRST = LastRun()


@dataclass(frozen=True)
class StepChange:
    """One step of this deployment's run (or one the last run had and this one has not) against the last run."""

    step: str
    status: str
    step_id: int | None = None
    diff: str = ""
    from_version: int | None = None
    """The job version of the last run, compared with (None: a first run, or not known)."""

    def output(self) -> dict[str, Any]:
        """As data (a preview's row): ``step``, ``status``, and when known ``stepId``, ``fromVersion``, ``diff``."""
        found: dict[str, Any] = {"step": self.step, "status": self.status}
        if self.step_id is not None:
            found["stepId"] = self.step_id
        if self.from_version is not None:
            found["fromVersion"] = self.from_version
        if self.diff:
            found["diff"] = self.diff
        return found


def step_changes(last: LastRun, plan: Plan) -> list[StepChange]:
    """Each step of ``plan`` against ``last`` (by step name, as ARM compares names), then the steps ``last`` had
    that ``plan`` has not. A first run, or a last run whose scripts could not be read, compares nothing."""
    if last.version is None or last.scripts is None:
        status = FIRST_RUN if last.version is None and last.unread is None else NO_TEXT
        return [StepChange(step.name, status, step.step_id, from_version=last.version) for step in plan.steps]
    before = {name.lower(): (name, script) for name, script in last.scripts.items()}
    found = []
    for step in plan.steps:
        previous = before.pop(step.name.lower(), None)
        if previous is None:
            status, diff = NEW, _diff(step.name, last, "", step.script)
        elif step.script is None:
            status, diff = NO_TEXT, ""
        elif previous[1] == step.script:
            status, diff = UNCHANGED, ""
        else:
            status, diff = CHANGED, _diff(step.name, last, previous[1], step.script)
        found.append(StepChange(step.name, status, step.step_id, diff, last.version))
    found.extend(StepChange(name, REMOVED, from_version=last.version) for name, _ in before.values())
    return found


def _diff(step: str, last: LastRun, before: str, after: str | None) -> str:
    """The unified diff of one step's script, from the last run's version to this deployment's, cut at
    :data:`MAX_DIFF_LINES`."""
    if after is None:
        return ""
    lines = list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            fromfile=f"{step} ({last.job} v{last.version}, the last run)" if before else "/dev/null",
            tofile=f"{step} (this deployment)",
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {counted(len(lines) - MAX_DIFF_LINES, 'more line')}"]
    return "\n".join(lines)


def changes_text(last: LastRun, changes: list[StepChange]) -> str:
    """The lines under the plan: where the comparison starts, then per step its status and diff."""
    if last.version is None and last.unread is None:
        return "script changes: the first run of this resource, no earlier script to compare"
    if last.version is None:
        return f"script changes: the last run of this resource is not known ({last.unread})"
    if last.scripts is None:
        where = f"{last.job} v{last.version}"
        return f"script changes: the scripts of the last run ({where}) could not be read: {last.unread}"
    counts = {status: sum(change.status == status for change in changes) for status in (CHANGED, NEW, REMOVED)}
    said = [f"{counted(count, 'step')} {status}" for status, count in counts.items() if count]
    lines = [f"script changes since the last run ({last.job} v{last.version}): {', '.join(said) or 'none'}"]
    for change in changes:
        where = f"step {change.step_id} " if change.step_id is not None else "step "
        if change.status == NO_TEXT:
            lines.append(f"{where}{change.step!r}: only its digest is known here, no text to compare")
        elif change.status != UNCHANGED:
            lines.append(f"{where}{change.step!r}: {change.status}")
            lines.extend(change.diff.splitlines())
    return "\n".join(lines)
