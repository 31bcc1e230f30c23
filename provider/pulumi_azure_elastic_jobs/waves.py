"""A staged rollout: a set's members in ordered waves, each started only once the wave before passed its gate. No I/O.

The provider orders the waves (ARM has no wave or parallelism setting): a wave's members start together, the set
waits for all of them, and the gate judges how they ended. A wave that fails its gate halts the rollout: later
waves start nothing. Everything here is a pure function of the set's recorded ``executions`` entries (the same
entries a refresh reads back), so the ``rollout`` output says the same after an ``up``, a refresh, or a resumed
``up``; which members run again is never decided here but by the members' own rules (:mod:`.runs`): a member that
succeeded keeps its run, so a resumed rollout never runs a finished wave again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .terms import counted, is_terminal

DEFAULT_PASS_ON: tuple[str, ...] = ("Succeeded",)
PASSABLE_LIFECYCLES: frozenset[str] = frozenset({"Succeeded", "SucceededWithSkipped", "Skipped"})
"""What a gate's ``pass_on`` may name: ends that are no failure (``terms.SUCCESSFUL_LIFECYCLES``)."""
FAILED_TARGET_LIFECYCLES: frozenset[str] = frozenset({"Failed", "TimedOut", "Canceled"})
"""How a database (``target_outcomes.by_database``) ended when it counts as a failed target."""

NOT_STARTED, IN_PROGRESS, PASSED, HALTED = "NotStarted", "InProgress", "Succeeded", "Failed"
"""A wave's lifecycle: none of its members has a run; some still run; it passed its gate; it failed it."""
COMPLETE, RUNNING, HALTED_ROLLOUT = "complete", "running", "halted"
"""The rollout's state: every wave passed; a wave still runs (or waits to start); a wave failed its gate."""


@dataclass(frozen=True)
class Gate:
    """When a wave lets the next one start: every member ended in ``pass_on`` (default Succeeded), or ended
    Failed/TimedOut on some targets while the wave's failed targets stay within ``max_failed_targets`` and
    ``max_failed_share`` (a fraction of the wave's databases). Neither limit given: no failed target at all."""

    pass_on: tuple[str, ...] = DEFAULT_PASS_ON
    max_failed_targets: int | None = None
    max_failed_share: float | None = None

    @classmethod
    def of(cls, value: Any) -> Gate:
        """The gate a set declares (its ``gate`` input or output, numbers as floats or not): the default for none."""
        if not isinstance(value, Mapping):
            return cls()
        count, share = value.get("max_failed_targets"), value.get("max_failed_share")
        return cls(
            tuple(sorted(value.get("pass_on") or DEFAULT_PASS_ON)),
            int(count) if isinstance(count, int | float) and not isinstance(count, bool) else None,
            float(share) if isinstance(share, int | float) and not isinstance(share, bool) else None,
        )

    @property
    def count_limit(self) -> int | None:
        if self.max_failed_targets is None and self.max_failed_share is None:
            return 0
        return self.max_failed_targets

    def text(self) -> str:
        """The gate in words, as the preview and the halt's message say it."""
        limits = []
        if self.count_limit is not None:
            limits.append(f"at most {counted(self.count_limit, 'failed target')}")
        if self.max_failed_share is not None:
            limits.append(f"at most {self.max_failed_share:.0%} of its databases failed")
        return f"every member ended {' or '.join(self.pass_on)}, {' and '.join(limits)}"


@dataclass(frozen=True)
class Verdict:
    """What the gate says of one wave, from its members' entries."""

    lifecycle: str
    reason: str = ""
    failed_targets: tuple[str, ...] = ()
    databases_succeeded: int = 0
    databases_failed: int = 0


def judge(keys: Sequence[str], executions: Mapping[str, Any], gate: Gate) -> Verdict:
    """Judge one wave: NotStarted while none of its members has a run, InProgress while one still runs or waits to
    start, else Succeeded or Failed by ``gate`` (the reason names each member and limit that failed it)."""
    entries = {key: _entry(executions, key) for key in keys}
    outcomes = {key: _by_database(entry) for key, entry in entries.items()}
    succeeded = sorted(
        {db for found in outcomes.values() for db, lifecycle in found.items() if lifecycle == "Succeeded"}
    )
    failed = sorted(
        {db for found in outcomes.values() for db, lifecycle in found.items() if lifecycle in FAILED_TARGET_LIFECYCLES}
    )
    ran, lost = len(succeeded), len(failed)
    if not any(entry.get("azure_id") or entry.get("error") for entry in entries.values()):
        return Verdict(NOT_STARTED, databases_succeeded=ran, databases_failed=lost)
    problems = [problem for key, entry in entries.items() if (problem := _member_problem(key, entry, gate))]
    if any(not entry.get("error") and not is_terminal(entry.get("lifecycle")) for entry in entries.values()):
        return Verdict(IN_PROGRESS, "", tuple(failed), ran, lost)
    problems.extend(_limit_problems(failed, len(succeeded) + len(failed), gate))
    if problems:
        return Verdict(HALTED, "; ".join(problems), tuple(failed), ran, lost)
    return Verdict(PASSED, "", tuple(failed), ran, lost)


def _entry(executions: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    entry = executions.get(key)
    return entry if isinstance(entry, Mapping) else {}


def _by_database(entry: Mapping[str, Any]) -> dict[str, str]:
    outcomes = entry.get("target_outcomes")
    found = outcomes.get("by_database") if isinstance(outcomes, Mapping) else None
    return {str(db): str(lifecycle) for db, lifecycle in found.items()} if isinstance(found, Mapping) else {}


def _member_problem(key: str, entry: Mapping[str, Any], gate: Gate) -> str | None:
    """Why one member fails its wave's gate on its own, or None: it passed, it still runs, or it ended on failed
    targets only (judged by the limits, wave-wide)."""
    error = entry.get("error")
    if isinstance(error, Mapping) and error:
        return f"member {key} has no run ({error.get('code')}: {str(error.get('message') or '').rstrip('.')})"
    lifecycle = entry.get("lifecycle")
    if not entry.get("azure_id") or not is_terminal(lifecycle) or lifecycle in gate.pass_on:
        return None
    failed_here = any(value in FAILED_TARGET_LIFECYCLES for value in _by_database(entry).values())
    if lifecycle in ("Failed", "TimedOut") and failed_here:
        return None
    return f"member {key} ended {lifecycle}"


def _limit_problems(failed: Sequence[str], databases: int, gate: Gate) -> list[str]:
    problems = []
    limit = gate.count_limit
    if limit is not None and len(failed) > limit:
        problems.append(f"{counted(len(failed), 'failed target')} ({', '.join(failed)}), more than the {limit} allowed")
    share = gate.max_failed_share
    if share is not None and databases and len(failed) / databases > share:
        problems.append(f"{len(failed)} of {databases} databases failed, more than the {share:.0%} allowed")
    return problems


def rollout(waves: Sequence[Sequence[str]], executions: Mapping[str, Any], gate: Gate) -> dict[str, Any]:
    """The ``rollout`` output: per wave its members, lifecycle and databases succeeded/failed; the state
    (``complete``, ``running``, ``halted``); what halted it (``wave``, 1-based, ``reason``, ``failed_targets``);
    and the members that have no run yet (``not_started``)."""
    state, halted, shown = COMPLETE, None, []
    for number, keys in enumerate(waves, 1):
        verdict = judge(keys, executions, gate)
        shown.append(
            {
                "wave": number,
                "members": list(keys),
                "lifecycle": verdict.lifecycle,
                "databases_succeeded": verdict.databases_succeeded,
                "databases_failed": verdict.databases_failed,
            }
        )
        if state != COMPLETE:
            continue
        if verdict.lifecycle == HALTED:
            state = HALTED_ROLLOUT
            halted = {"wave": number, "reason": verdict.reason, "failed_targets": list(verdict.failed_targets)}
        elif verdict.lifecycle != PASSED:
            state = RUNNING
    not_started = [
        key
        for keys in waves
        for key in keys
        if not (_entry(executions, key).get("azure_id") or _entry(executions, key).get("error"))
    ]
    return {"state": state, "waves": shown, "halted": halted, "not_started": not_started, "gate": gate.text()}


def halted_wave(recorded: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The ``halted`` record of a ``rollout`` output, when the rollout is halted."""
    if not isinstance(recorded, Mapping) or recorded.get("state") != HALTED_ROLLOUT:
        return None
    halted = recorded.get("halted")
    return halted if isinstance(halted, Mapping) else None


def waves_problem(waves: Sequence[Sequence[str]], members: Sequence[str], waited: bool) -> str | None:
    """Why ``waves`` cannot order these members (the Check message after ``waves``), or None.

    Every member is in exactly one wave (a member left out would never be ordered, and a member in two would run
    twice or be judged twice); no wave is empty; and the set waits (``wait_for_completion``), since a gate judges
    how each wave's runs ended."""
    if not waited:
        return "needs wait_for_completion: true (a wave's gate judges how its runs ended)"
    known, seen = set(members), set()
    for number, keys in enumerate(waves, 1):
        if not keys:
            return f"must not hold an empty wave: wave {number} is empty"
        for key in keys:
            if key not in known:
                return f"must name members only: wave {number} names {key!r}, which is not a member"
            if key in seen:
                return f"must name each member once: wave {number} names {key!r} again"
            seen.add(key)
    left = [key for key in members if key not in seen]
    if left:
        return f"must place every member in a wave; not in any: {', '.join(sorted(left))}"
    return None


def preview_lines(
    waves: Sequence[Sequence[str]],
    starting: Sequence[str],
    plans: Mapping[str, str],
    gate: Gate,
    recorded: Mapping[str, Any] | None = None,
) -> list[str]:
    """The rollout as a preview shows it: the gate, then each wave in order with the members ``up`` would start in
    it (``starting``) and their plans (``plans``, by member), and whether ``up`` starts it outright or only once
    the waves before it pass. ``recorded``: the set's last ``rollout`` output, whose passed waves with nothing to
    start gate nothing, and whose halt is said."""
    lines = [f"rollout in {counted(len(waves), 'wave')}; a wave starts once the one before passed: {gate.text()}"]
    halted = halted_wave(recorded)
    if halted is not None:
        lines.append(
            f"halted at wave {int(halted.get('wave') or 0)} by the last up ({halted.get('reason')}): up judges it "
            "again, and runs again only the members changed since"
        )
    passed = _recorded_lifecycles(recorded)
    pending: list[str] = []
    for number, keys in enumerate(waves, 1):
        runs = [key for key in keys if key in starting]
        if not runs and recorded is None:  # the record is not at hand (a Check sees inputs only)
            waits = f", once wave {', '.join(pending)} passed" if pending else ""
            lines.append(f"wave {number} ({', '.join(keys)}): no member changed; up starts those that never ran{waits}")
        elif not runs:
            lines.append(f"wave {number} ({', '.join(keys)}): starts nothing; its members keep their runs")
        else:
            when = f"once wave {', '.join(pending)} passed" if pending else "up starts it"
            lines.append(f"wave {number} ({', '.join(keys)}): {when}: starts {', '.join(runs)}")
            # as a set's plans read without waves, so the pull request's plan comment (pr.py) finds them
            lines.extend(f"members {key}: {plans[key]}" for key in runs if key in plans)
        if runs or passed.get(number) != PASSED:
            pending.append(str(number))
    return lines


def _recorded_lifecycles(recorded: Mapping[str, Any] | None) -> dict[int, str]:
    shown = recorded.get("waves") if isinstance(recorded, Mapping) else None
    if not isinstance(shown, list):
        return {}
    return {
        int(wave["wave"]): str(wave.get("lifecycle"))
        for wave in shown
        if isinstance(wave, Mapping) and isinstance(wave.get("wave"), int | float)
    }
