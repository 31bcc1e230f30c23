"""Render the run plans in `pulumi preview --json` as Markdown for a pull-request comment (standard library only).

    pulumi preview --json > preview.json
    python plan_table.py preview.json > plans.md

For each JobExecution a preview would create or replace, one table: the job and version, then a row per step and
server with its databases. The plan comes from the resource's `plan` output (the native plugin: YAML and the
generated SDKs, known during preview); a dynamic resource has no outputs in a preview, so its plan is read from the
resource's diagnostics (the text whose first line starts with "will run"). Resources without a plan are left out.
A pinned `expectedPlan` the live plan no longer matches (the preview's warning) heads its resource's table: the
merge's `up` would refuse to start that run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

STARTS_A_RUN = {"create", "replace", "create-replacement"}
UNREVIEWED = "expected_plan does not match the live plan"


def _diagnostics(preview: dict[str, Any], starting: str) -> dict[str, str]:
    """Each resource's diagnostics whose text starts with ``starting``, by URN (several joined by a blank line: a
    set warns once a job)."""
    found: dict[str, list[str]] = {}
    for d in preview.get("diagnostics") or []:
        text = str(d.get("message", "")).strip()
        text = text.removeprefix("warning: ") if d.get("severity") == "warning" else text  # as --json writes one
        if text.startswith(starting):
            found.setdefault(str(d.get("urn")), []).append(text)
    return {urn: "\n\n".join(texts) for urn, texts in found.items()}


def plans(preview: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any] | str, str | None]]:
    """(resource name, the plan as data or as text, the warning that ``up`` would refuse it) for every step that
    starts a run."""
    texts, refusals = _diagnostics(preview, "will run "), _diagnostics(preview, UNREVIEWED)
    for step in preview.get("steps") or []:
        if step.get("op") not in STARTS_A_RUN:
            continue
        urn = str(step.get("urn", ""))
        name = urn.rsplit("::", 1)[-1]
        outputs = (step.get("newState") or {}).get("outputs") or {}
        plan = outputs.get("plan")
        if isinstance(plan, dict) and plan.get("steps") is not None:
            yield name, plan, refusals.get(urn)
        elif urn in texts:
            yield name, texts[urn], refusals.get(urn)


def table(name: str, plan: dict[str, Any] | str, refusal: str | None = None) -> str:
    quoted = (refusal or "").replace("\n\n", "\n>\n> ")  # several warnings: paragraphs of one quote
    warning = f"> **Will not run on merge:** {quoted}\n\n" if refusal else ""
    if isinstance(plan, str):
        return f"### {name}\n\n{warning}```\n{plan}\n```\n"
    lines = [
        f"### {name}: {plan.get('summary', '')}",
        "",
        *([warning.rstrip("\n"), ""] if warning else []),
        f"Pin (`expectedPlan`): `{plan.get('pin', '')}`",
        "",
        "| step | script | server | databases |",
        "|---|---|---|---|",
    ]
    for step in plan.get("steps") or []:
        label = f"{step.get('stepId', step.get('step_id'))} `{step.get('name')}`"
        script = f"`{step.get('scriptFirstLine', step.get('script_first_line', ''))}`"
        by_server: dict[str, list[str]] = {}
        for key in step.get("databases") or []:
            server, _, database = str(key).partition("/")
            by_server.setdefault(server, []).append(database)
        for server, databases in sorted(by_server.items()) or [("-", [])]:
            lines.append(f"| {label} | {script} | {server} | {len(databases)}: {', '.join(databases)} |")
        for item in step.get("unresolved") or []:
            lines.append(f"| {label} | {script} | unresolved | {item.get('member')}: {item.get('reason')} |")
    for what in plan.get("unseen") or []:
        lines.append(f"\nNot seen: {what}")
    if plan.get("busy"):
        lines.append(f"\nBusy (an active run holds them; the service skips them): {', '.join(plan['busy'])}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    source = open(argv[1]) if len(argv) > 1 else sys.stdin  # noqa: SIM115 - stdin is not ours to close
    preview = json.load(source)
    found = [table(*found) for found in plans(preview)]
    sys.stdout.write("\n".join(found) if found else "No job execution would start a run.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
