"""The plan comment (`python -m pulumi_azure_elastic_jobs.pr`) on what `pulumi preview --json` carries.

The fixture is a real preview of the CLI named in its file name (tests/cli/test_plan_comment_cli.py makes the same
preview live and checks it renders the same Markdown): a fleet of three servers and two pools, two resources, one
pin that is stale. The text parser is held to the core's own `Plan.text()` by a property, so the two cannot drift.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pulumi_azure_elastic_jobs import pr
from pulumi_azure_elastic_jobs.plan import Plan, PlannedStep, Unresolved

FIXTURES = Path(__file__).parent / "fixtures"
PREVIEW = FIXTURES / "pr-fleet.preview-3.274.1.json"
COMMENT = FIXTURES / "pr-fleet.comment.md"
URN = "urn:pulumi:dev::p::azure-elastic-jobs:index:JobExecution::migration"
REFUSAL = (
    "expected_plan does not match the live plan of job migrate (version 1 -> 2): `pulumi up` will not start this "
    "run; the live pin is v2 server1=2 sha256:0011223344556677"
)


def fixture() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(PREVIEW.read_text())
    return found


def test_the_cli_preview_of_a_fleet_renders_the_comment_a_reviewer_reads() -> None:
    assert pr.render(fixture()) == COMMENT.read_text()


def test_the_stale_pin_heads_its_resource_with_the_banner_and_the_other_has_none() -> None:
    comment = pr.render(fixture())
    reports, migration = comment.index("### reports"), comment.index("### migration")
    banner = comment.index("> **Will not run on merge:** expectedPlan does not match the live plan of job refresh")
    assert reports < banner and (banner < migration or migration < reports)
    assert comment.count("Will not run on merge:") == 1


def test_the_command_reads_a_file_or_standard_input_and_writes_the_same_markdown(tmp_path: Path) -> None:
    from_file = subprocess.run(
        [sys.executable, "-m", "pulumi_azure_elastic_jobs.pr", str(PREVIEW)], capture_output=True, text=True, check=True
    )
    from_stdin = subprocess.run(
        [sys.executable, "-m", "pulumi_azure_elastic_jobs.pr", "--output", str(tmp_path / "plans.md")],
        input=PREVIEW.read_text(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert from_file.stdout == COMMENT.read_text() == (tmp_path / "plans.md").read_text()
    assert from_stdin.stdout == ""


def test_the_command_imports_no_pulumi() -> None:
    probe = (
        "import sys, pulumi_azure_elastic_jobs.pr; print(sorted(m for m in sys.modules if m.split('.')[0] == 'pulumi'))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_input_that_is_not_a_preview_is_refused_naming_what_was_expected() -> None:
    failed = subprocess.run(
        [sys.executable, "-m", "pulumi_azure_elastic_jobs.pr"], input="[1]", capture_output=True, text=True, check=False
    )
    assert failed.returncode == 2 and "expected an object with `steps` and `diagnostics`" in failed.stderr


def test_a_warning_is_matched_with_the_prefix_the_cli_writes_before_it() -> None:
    shown = {"urn": URN, "severity": "info", "message": "will run migrate v2: 1 step on 2 databases in 1 server\n"}
    warning = {"urn": URN, "severity": "warning", "message": f"warning: {REFUSAL}\n"}
    comment = pr.render({"steps": [{"op": "create", "urn": URN}], "diagnostics": [shown, warning]})
    assert "> **Will not run on merge:** expected_plan does not match the live plan of job migrate" in comment


def test_a_preview_that_starts_no_run_says_so() -> None:
    out = io.StringIO()
    assert pr.main([], stdin=io.StringIO('{"steps": [], "diagnostics": []}'), stdout=out) == 0
    assert out.getvalue() == pr.NOTHING_STARTS


names = (
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-'\" ", min_size=1, max_size=12).map(str.strip).filter(bool)
)
keys = st.tuples(
    st.sampled_from(["server1", "server2", "sales-3"]), st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
)
steps = st.builds(
    PlannedStep,
    step_id=st.integers(1, 9),
    name=names,
    target_group=names,
    credential=st.none(),
    script_digest=st.just("sha256:001122334455"),
    script_first_line=st.text(alphabet="ABCDEFG ;()=1", max_size=20).map(str.strip),
    timeout_seconds=st.integers(0, 3600),
    retry_attempts=st.integers(0, 5),
    databases=st.lists(keys, max_size=6, unique=True).map(lambda found: tuple(f"{s}/{d}" for s, d in sorted(found))),
    unresolved=st.lists(
        st.builds(Unresolved, member=st.sampled_from(["SqlShardMap server3/map", "SqlServer gone"]), reason=names),
        max_size=2,
    ).map(tuple),
)
plans = st.builds(
    Plan,
    job=st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
    version=st.integers(1, 99),
    steps=st.lists(steps, max_size=3).map(tuple),
    busy=st.lists(st.just("server1/app-1"), max_size=1).map(tuple),
    unseen=st.lists(st.just("job agent2: NotFound"), max_size=1).map(tuple),
)


@given(plans)
def test_a_plan_read_back_from_its_text_has_every_step_database_and_member(plan: Plan) -> None:
    (shown,) = pr.parse_plan_text(plan.text())
    assert shown.summary == plan.summary() and shown.pin == plan.pin
    assert [(s.step_id, s.name, s.target_group, s.first_line) for s in shown.steps] == [
        (s.step_id, s.name, s.target_group, s.script_first_line) for s in plan.steps
    ]
    for read, step in zip(shown.steps, plan.steps, strict=True):
        assert [f"{server}/{db}" for server, dbs in read.servers.items() for db in dbs] == list(step.databases)
        assert read.unresolved == [(item.member, item.reason) for item in step.unresolved]
    assert shown.busy == list(plan.busy) and shown.unseen == list(plan.unseen) and shown.other == []


def test_a_set_warning_once_a_job_keeps_every_warning_in_one_quote() -> None:
    other = REFUSAL.replace("job migrate", "job reindex")
    warnings = [{"urn": URN, "severity": "warning", "message": f"warning: {text}"} for text in (REFUSAL, other)]
    shown = {"urn": URN, "severity": "info", "message": "will run 2 members (2 jobs) on 2 databases"}
    comment = pr.render({"steps": [{"op": "create", "urn": URN}], "diagnostics": [shown, *warnings]})
    assert "live plan of job migrate" in comment
    assert "> expected_plan does not match the live plan of job reindex" in comment


def test_a_resource_with_no_plan_and_a_step_that_starts_no_run_add_nothing() -> None:
    same = {"op": "same", "urn": URN.replace("migration", "old")}
    assert pr.render({"steps": [same], "diagnostics": []}) == pr.NOTHING_STARTS


def test_the_example_renderer_is_the_command() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "github-actions" / "plan_table.py"
    shown = subprocess.run([sys.executable, str(example), str(PREVIEW)], capture_output=True, text=True, check=True)
    assert shown.stdout == COMMENT.read_text()


def test_the_t_sql_diff_under_a_plan_is_shown_whole_in_a_diff_block() -> None:
    plan = Plan(
        job="migrate",
        version=3,
        steps=(PlannedStep(1, "add", "fleet", None, "sha256:001122334455", "ALTER TABLE t", 0, 0, ("server1/db1",)),),
    )
    changes = [
        "script changes since the last run (migrate v2): 1 step changed",
        "step 1 'add': changed",
        "--- add (migrate v2, the last run)",
        "+++ add (this deployment)",
        "@@ -1,2 +1,2 @@",
        "-ALTER TABLE t ADD a int;",
        "+ALTER TABLE t ADD b int;",
        "   server9: looks like a database line",
    ]
    shown = {"urn": URN, "severity": "info", "message": plan.text() + "\n" + "\n".join(changes)}
    comment = pr.render({"steps": [{"op": "create", "urn": URN}], "diagnostics": [shown]})
    assert "```diff\n" + "\n".join(changes) + "\n```" in comment
    assert "server9" not in comment.split("```diff")[0]  # a script's line is never read as databases
