"""The plan comment of a pull request: ``pulumi preview --json`` in, Markdown out (a face: it translates, nothing more).

    pulumi preview --json > preview.json
    python -m pulumi_azure_elastic_jobs.pr preview.json > plans.md      # or: elastic-jobs-plan-comment < preview.json

Built only from what ``--json`` really carries, as the CLI 3.274.1 writes it (the fixture in tests/unit/fixtures is
a real preview of that CLI): a created resource's ``newState`` is written when its step starts, before the
provider's preview Create returns, so a create's outputs (the ``plan`` output) are *not* there. What is there:

* each resource's **diagnostics**: the plan as text (info, starting ``will run``; a set's names its members
  ``members a, b: will run ...``), and a warning when ``up`` would refuse a pinned run. In ``--json`` a diagnostic's
  message carries its severity's prefix (``warning: expected_plan does not match ...``), which this strips;
* the native plugin's **rows** (views of type ``azure-elastic-jobs:index:PlannedDatabase``, their ``viewOf`` the
  resource's URN): server, database, job, version, the steps that run there, and ``skipped`` for a busy database.

Per resource: a heading, the banner **Will not run on merge** with the reason when the preview warned, the job's
version, steps, databases, servers and pin, a table per step of its databases grouped by server (from the rows when
the resource has them, else from the plan's text: the dynamic face publishes none), unresolved members, busy
databases, what could not be read, and any other lines of the plan's diagnostics (a T-SQL diff, for one) as they
are. Standard library only: no pulumi import, so it runs anywhere the package is installed.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

VIEW_TYPE = "azure-elastic-jobs:index:PlannedDatabase"
PROVEN_WITH = ("3.274.1",)
"""The Pulumi CLI versions whose ``preview --json`` this reads, proven by a preview of each kept as a fixture."""

NOTHING_STARTS = "No job execution would start a run.\n"
SCRIPT_CHANGES = "script changes"
"""How the lines under a plan start that compare its scripts with the last run's (a unified diff a step)."""
_SEVERITY_PREFIX = re.compile(r"^(?:warning|error|info|info#err|debug):\s*", re.IGNORECASE)
_REFUSAL = re.compile(r"^(?:expected_plan|expectedPlan) does not match", re.IGNORECASE)
_MEMBERS = re.compile(r"^members (?P<members>.+?): (?P<rest>will run .*)$")
_STEP = re.compile(
    r"^step (?P<id>\d+) (?P<name>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") on target group "
    r"(?P<group>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") \((?P<details>[^)]*)\): ?(?P<first>.*)$"
)
_DATABASES = re.compile(r"^  (?P<server>[^\s:]+): (?P<databases>.*)$")
_UNRESOLVED = re.compile(r"^  unresolved (?P<member>.+?): (?P<reason>.*)$")
_BUSY = re.compile(r"^busy \([^)]*\): (?P<databases>.*)$")
_UNSEEN = re.compile(r"^not seen: (?P<what>.*)$")


@dataclass
class Step:
    """One step of a plan as its text shows it, with its databases by server."""

    step_id: int
    name: str
    target_group: str
    details: str
    first_line: str
    servers: dict[str, list[str]] = field(default_factory=dict)
    unresolved: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ShownPlan:
    """One plan of a resource's diagnostics (a set shows one a job, naming its members)."""

    summary: str
    members: str | None = None
    pin: str | None = None
    steps: list[Step] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    """Lines of the plan's text this renderer has no place for (a T-SQL diff, a newer CLI's or plugin's words)."""


@dataclass
class Row:
    """A ``PlannedDatabase`` row of ``--json``: one database the resource's run will touch."""

    server: str
    database: str
    job: str
    version: Any
    steps: list[str]
    skipped: str | None
    member: str | None = None
    """The set member whose run it is (a JobExecution's rows have none)."""


@dataclass
class ResourcePlans:
    """What ``--json`` says about one resource that would start runs."""

    urn: str
    op: str
    plans: list[ShownPlan]
    refusals: list[str]
    warnings: list[str]
    rows: list[Row]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        return self.urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1] if "::" in self.urn else ""


def message_of(diagnostic: Mapping[str, Any]) -> str:
    """A diagnostic's text without the severity prefix ``--json`` puts before it (``warning: ``)."""
    return _SEVERITY_PREFIX.sub("", str(diagnostic.get("message") or "").strip(), count=1)


def parse_plan_text(text: str) -> list[ShownPlan]:
    """The plans in one ``will run`` diagnostic: one for a JobExecution, one a job for a set (whose first line
    counts them all and is not a plan of its own)."""
    plans: list[ShownPlan] = []
    for line in text.splitlines():
        if members := _MEMBERS.match(line):
            plans.append(ShownPlan(summary=members["rest"], members=members["members"]))
        elif line.startswith("will run "):
            if not _is_set_head(line):
                plans.append(ShownPlan(summary=line))
        elif plans and (plans[-1].other or line.startswith(SCRIPT_CHANGES)):
            plans[-1].other.append(line)  # the T-SQL diff under the plan, and everything after it, as it is
        elif plans:
            _read_line(plans[-1], line)
    return plans


def _is_set_head(line: str) -> bool:
    """A set's first line (``will run 3 members (2 jobs) on 6 databases``) counts the plans after it."""
    return re.match(r"^will run \d+ members? \(", line) is not None


def _read_line(plan: ShownPlan, line: str) -> None:
    if line.startswith("pin: ") and plan.pin is None:
        plan.pin = line[len("pin: ") :].strip()
    elif step := _STEP.match(line):
        plan.steps.append(
            Step(
                step_id=int(step["id"]),
                name=str(ast.literal_eval(step["name"])),
                target_group=str(ast.literal_eval(step["group"])),
                details=step["details"],
                first_line=step["first"],
            )
        )
    elif plan.steps and (unresolved := _UNRESOLVED.match(line)):
        plan.steps[-1].unresolved.append((unresolved["member"], unresolved["reason"]))
    elif plan.steps and (databases := _DATABASES.match(line)):
        names = [name.strip() for name in databases["databases"].split(",") if name.strip()]
        plan.steps[-1].servers.setdefault(databases["server"], []).extend(names)
    elif busy := _BUSY.match(line):
        plan.busy.extend(key.strip() for key in busy["databases"].split(",") if key.strip())
    elif unseen := _UNSEEN.match(line):
        plan.unseen.append(unseen["what"])
    elif line.strip():
        plan.other.append(line)


def _rows(preview: Mapping[str, Any]) -> dict[str, list[Row]]:
    """The preview's ``PlannedDatabase`` rows, by the URN of the resource they belong to (``viewOf``)."""
    found: dict[str, list[Row]] = {}
    for step in preview.get("steps") or []:
        state = step.get("newState") or {}
        if state.get("type") != VIEW_TYPE or not state.get("viewOf"):
            continue
        row = state.get("outputs") or state.get("inputs") or {}
        found.setdefault(str(state["viewOf"]), []).append(
            Row(
                server=str(row.get("server", "")),
                database=str(row.get("database", "")),
                job=str(row.get("job", "")),
                version=row.get("version"),
                steps=[str(name) for name in row.get("steps") or []],
                skipped=row.get("skipped"),
                member=row.get("member"),
            )
        )
    return found


def resources(preview: Mapping[str, Any]) -> list[ResourcePlans]:
    """Every resource whose diagnostics show a plan: those a pin would refuse first, then by name (the engine
    registers resources in parallel, so the preview's own order is not stable). A plan shown twice (the dynamic
    face may log one twice) is shown once."""
    texts: dict[str, list[str]] = {}
    refusals: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    for diagnostic in preview.get("diagnostics") or []:
        urn, text = str(diagnostic.get("urn") or ""), message_of(diagnostic)
        if not urn or not text:
            continue
        if text.startswith("will run "):
            _add_once(texts, urn, text)
        elif _REFUSAL.match(text):
            _add_once(refusals, urn, text)
        elif str(diagnostic.get("severity")) == "warning":
            _add_once(warnings, urn, text)
    rows = _rows(preview)
    ops = {str(step.get("urn")): str(step.get("op")) for step in preview.get("steps") or []}
    order = sorted(texts, key=lambda urn: (urn not in refusals, urn.rsplit("::", 1)[-1], urn))
    return [
        ResourcePlans(
            urn=urn,
            op=ops.get(urn, ""),
            plans=[plan for text in texts[urn] for plan in parse_plan_text(text)],
            refusals=refusals.get(urn, []),
            warnings=warnings.get(urn, []),
            rows=rows.get(urn, []),
        )
        for urn in order
    ]


def _add_once(found: dict[str, list[str]], urn: str, text: str) -> None:
    if text not in found.setdefault(urn, []):
        found[urn].append(text)


# --- Markdown -----------------------------------------------------------------------------------------------------


def render(preview: Mapping[str, Any]) -> str:
    """The whole comment: one section per resource that would start runs, or a line saying none would."""
    found = resources(preview)
    if not found:
        return NOTHING_STARTS
    refused = sum(1 for resource in found if resource.refusals)
    head = f"## Job runs this change would start: {len(found)} resource{'' if len(found) == 1 else 's'}"
    if refused:
        head += f", **{refused} will not run on merge**"
    return "\n".join([head, "", *(section(resource) for resource in found)])


def section(resource: ResourcePlans) -> str:
    lines = [f"### {resource.name}" + (f" ({resource.op})" if resource.op else ""), ""]
    if resource.refusals:
        quoted = "\n>\n> ".join(resource.refusals)
        lines += [f"> **Will not run on merge:** {quoted}", ""]
    lines += [f"> warning: {text}" for text in resource.warnings]
    if resource.warnings:
        lines.append("")
    for plan in resource.plans:
        lines += plan_lines(plan, _rows_of(plan, resource.rows))
    return "\n".join(lines)


def plan_lines(plan: ShownPlan, rows: Sequence[Row] | None) -> list[str]:
    """One plan: its summary and pin, a table a step (databases by server: the rows' when there are any), and
    what the plan could not resolve or see."""
    members = f"members {plan.members}: " if plan.members else ""
    lines = [f"**{members}{plan.summary}**", ""]
    if plan.pin:
        lines += [f"Pin (`expected_plan` / `expectedPlan`): `{plan.pin}`", ""]
    for step in plan.steps:
        servers = _servers_from_rows(rows, step.name) if rows else step.servers
        lines += [
            f"Step {step.step_id} `{step.name}` on target group `{step.target_group}` ({step.details}): "
            f"`{step.first_line}`",
            "",
            "| server | databases |",
            "|---|---|",
            *(f"| {server} | {len(names)}: {', '.join(names)} |" for server, names in sorted(servers.items())),
            *(f"| unresolved | {member}: {reason} |" for member, reason in step.unresolved),
        ]
        if not servers and not step.unresolved:
            lines.append("| - | 0 |")
        lines.append("")
    if plan.busy:
        lines += [f"Busy (an active run holds them; the service skips them): {', '.join(plan.busy)}", ""]
    lines += [f"Not seen: {what}" for what in plan.unseen]
    if plan.unseen:
        lines.append("")
    if plan.other:
        lines += ["```diff" if _looks_like_diff(plan.other) else "```", *plan.other, "```", ""]
    return lines


def _job_of(summary: str) -> str:
    """The job a plan's summary names: ``will run <job> v<version>: ...``."""
    match = re.match(r"^will run (?P<job>.+) v\d+: ", summary)
    return match["job"] if match else ""


def _rows_of(plan: ShownPlan, rows: Iterable[Row]) -> list[Row]:
    """The rows of one plan: its job's, and for a set's plan those of the members it names."""
    members = {name.strip() for name in plan.members.split(",")} if plan.members else None
    job = _job_of(plan.summary)
    return [row for row in rows if row.job == job and (members is None or row.member in members)]


def _servers_from_rows(rows: Sequence[Row], step: str) -> dict[str, list[str]]:
    """A step's databases by server, each once (a set's members on one job share their databases)."""
    servers: dict[str, list[str]] = {}
    for row in rows:
        if step in row.steps and row.database not in servers.setdefault(row.server, []):
            servers[row.server].append(row.database)
    return {server: sorted(names) for server, names in servers.items()}


def _looks_like_diff(lines: Sequence[str]) -> bool:
    return any(line.startswith(("--- ", "+++ ", "@@")) for line in lines)


# --- the command --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Read ``pulumi preview --json`` (a file, or standard input) and write the comment's Markdown."""
    parser = argparse.ArgumentParser(
        prog="elastic-jobs-plan-comment",
        description="Markdown for a pull-request comment from `pulumi preview --json`: the run plans, per resource.",
    )
    parser.add_argument("preview", nargs="?", help="the preview's JSON (default: standard input)")
    parser.add_argument("-o", "--output", help="write the Markdown here (default: standard output)")
    args = parser.parse_args(argv)
    source = Path(args.preview).read_text() if args.preview else (stdin or sys.stdin).read()
    try:
        preview = json.loads(source)
    except json.JSONDecodeError as error:
        parser.error(f"not the JSON of `pulumi preview --json`: {error}")
    if not isinstance(preview, dict):
        parser.error("not the JSON of `pulumi preview --json`: expected an object with `steps` and `diagnostics`")
    markdown = render(preview)
    if args.output:
        Path(args.output).write_text(markdown)
    else:
        (stdout or sys.stdout).write(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
