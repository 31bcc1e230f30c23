"""The pull-request renderer (examples/github-actions/plan_table.py) on `pulumi preview --json` shapes: a plan as
data (the native face) or as diagnostic text (the dynamic face), and the warning that the merge would refuse it.
The CLI's own output is exercised end to end in tests/cli/test_workflow_cli.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REFUSAL = (
    "expected_plan does not match the live plan of job migrate (version 1 -> 2): `pulumi up` will not start this "
    "run; the live pin is v2 server1=2 sha256:00"
)


def renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plan_table", ROOT / "examples" / "github-actions" / "plan_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def preview(*steps: dict[str, Any], diagnostics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"steps": list(steps), "diagnostics": diagnostics or []}


URN = "urn:pulumi:dev::p::azure-elastic-jobs:index:JobExecution::migration"
PLAN = {
    "summary": "will run migrate v2: 1 step on 2 databases in 1 server",
    "pin": "v2 server1=2 sha256:00",
    "steps": [
        {"stepId": 1, "name": "step1", "scriptFirstLine": "SELECT 1", "databases": ["server1/db1", "server1/db2"]}
    ],
}


def test_a_refused_pin_heads_its_resources_table_on_either_face() -> None:
    plan_table = renderer()
    warning = {"urn": URN, "severity": "warning", "message": REFUSAL}
    native = preview({"op": "create", "urn": URN, "newState": {"outputs": {"plan": PLAN}}}, diagnostics=[warning])
    (found,) = list(plan_table.plans(native))
    text = plan_table.table(*found)
    assert text.index("**Will not run on merge:** expected_plan does not match") < text.index("| step |")
    assert "| 1 `step1` | `SELECT 1` | server1 | 2: db1, db2 |" in text

    shown = {"urn": URN, "severity": "info", "message": "will run migrate v2: 1 step on 2 databases in 1 server"}
    dynamic = preview({"op": "create", "urn": URN}, diagnostics=[shown, warning])
    (found,) = list(plan_table.plans(dynamic))
    text = plan_table.table(*found)
    assert text.index("**Will not run on merge:**") < text.index("```\nwill run migrate v2")


def test_a_matching_pin_and_a_step_that_starts_no_run_add_nothing() -> None:
    plan_table = renderer()
    native = preview(
        {"op": "create", "urn": URN, "newState": {"outputs": {"plan": PLAN}}},
        {"op": "same", "urn": URN.replace("migration", "old"), "newState": {"outputs": {"plan": PLAN}}},
    )
    (found,) = list(plan_table.plans(native))
    assert found[2] is None and "Will not run" not in plan_table.table(*found)


def test_a_set_warning_once_a_job_keeps_every_warning_in_one_quote() -> None:
    plan_table = renderer()
    other = REFUSAL.replace("job migrate", "job reindex")
    warnings = [{"urn": URN, "severity": "warning", "message": text} for text in (REFUSAL, other)]
    shown = {"urn": URN, "severity": "info", "message": "will run 2 members (2 jobs) on 2 databases"}
    (found,) = list(plan_table.plans(preview({"op": "create", "urn": URN}, diagnostics=[shown, *warnings])))
    text = plan_table.table(*found)
    assert "live plan of job migrate" in text and "> expected_plan does not match the live plan of job reindex" in text


def test_a_refused_pin_heads_its_table_as_the_cli_writes_the_warning_with_its_prefix() -> None:
    plan_table = renderer()
    warning = {"urn": URN, "severity": "warning", "message": f"warning: {REFUSAL}\n"}
    shown = {"urn": URN, "severity": "info", "message": "will run migrate v2: 1 step on 2 databases in 1 server\n"}
    (found,) = list(plan_table.plans(preview({"op": "create", "urn": URN}, diagnostics=[shown, warning])))
    assert "**Will not run on merge:** expected_plan does not match" in plan_table.table(*found)
