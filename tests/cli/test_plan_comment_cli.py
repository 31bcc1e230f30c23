"""The plan comment on a real CLI preview: the fleet program's `pulumi preview --json` (three servers, two pools,
two resources, one stale pin) through `python -m pulumi_azure_elastic_jobs.pr`, compared with the Markdown kept
beside the preview's JSON in tests/unit/fixtures (made by this CLI; the unit tests render that JSON without one),
and the repository's composite action (actions/plan-comment) run step by step as GitHub runs it, posting one
comment and then updating it. `gh` is a stand-in here that keeps the pull request's comments in a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs import pr
from tests.cli.action_support import ACTION, REMOTE_ACTION, gh_stand_in, run_action
from tests.cli.conftest import TOOLS_BIN, YamlStackFor
from tests.conftest import ROOT, TIME_SCALE

PROGRAM = ROOT / "tests" / "cli" / "programs" / "pr-fleet"
FIXTURES = ROOT / "tests" / "unit" / "fixtures"
COMMENT = FIXTURES / "pr-fleet.comment.md"


def test_a_fleet_preview_renders_the_kept_comment_and_the_action_posts_it_once_then_updates_it(
    yaml_stack_for: YamlStackFor, tmp_path: Path
) -> None:
    with Emulator(time_scale=TIME_SCALE, seed=PROGRAM / "fleet.yaml", poll_hints=True) as fleet:
        stack = yaml_stack_for(PROGRAM)
        stack.config("azure-elastic-jobs:endpoint", fleet.url)
        stack.config("azure-elastic-jobs:token", fleet.token, secret=True)
        fleet.clear_requests()
        preview = json.loads(stack.run("preview", "--json").stdout)
        if os.environ.get("ELASTIC_JOBS_KEEP_PREVIEW"):  # how the fixture was made: this preview, as the CLI wrote it
            (FIXTURES / f"pr-fleet.preview-{pr.PROVEN_WITH[-1]}.json").write_text(json.dumps(preview, indent=4) + "\n")
            COMMENT.write_text(pr.render(preview))
        assert pr.render(preview) == COMMENT.read_text()
        assert [r["method"] for r in fleet.requests_log() if r["method"] != "GET"] == []  # a preview only reads

        bin_dir = gh_stand_in(tmp_path / "bin")
        store = tmp_path / "comments.json"
        env = {
            **stack.env,
            "PATH": f"{bin_dir}:{TOOLS_BIN}:{stack.env['PATH']}",
            "GH_STAND_IN_STORE": str(store),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        }
        inputs = {"stack-name": stack.name, "python": sys.executable, "pull-request": "7", "github-token": "t"}
        for _ in range(2):
            outputs = run_action(inputs, stack.directory, env, tmp_path)
    assert outputs["will-not-run"] == "true"
    (comment,) = json.loads(store.read_text())  # posted once, then updated in place
    assert comment["body"] == f"<!-- elastic-jobs-plan-comment stack={stack.name} -->\n" + COMMENT.read_text()
    calls = (tmp_path / "comments.json.calls").read_text().split()
    assert calls[1::2] == [
        "repos/o/infra/issues/7/comments",
        "repos/o/infra/issues/7/comments",
        "repos/o/infra/issues/7/comments",
        "repos/o/infra/issues/comments/1000",
    ]
    assert calls[0::2] == ["GET", "POST", "GET", "PATCH"]
    assert COMMENT.read_text() in (tmp_path / "summary.md").read_text()


ACTION_USER = """
on: pull_request
jobs:
  preview:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./actions/plan-comment
        with:
          %s: dev
"""


def lint(repository: Path, workflow: str) -> subprocess.CompletedProcess[str]:
    (repository / ".github" / "workflows" / "preview.yml").write_text(workflow)
    command = [str(TOOLS_BIN / "actionlint"), ".github/workflows/preview.yml"]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=repository)


def test_the_action_and_the_example_workflow_pass_actionlint(tmp_path: Path) -> None:
    """actionlint checks a local action's metadata and inputs where a workflow uses it by path: a repository with
    the action, the example workflow using it there, and a workflow that misspells an input (which must fail)."""
    if not (TOOLS_BIN / "actionlint").exists():
        pytest.skip("actionlint is not built (bash scripts/build-pulumi-cli.sh builds it from the Go module proxy)")
    repository = tmp_path / "infra"
    (repository / ".github" / "workflows").mkdir(parents=True)
    (repository / "actions" / "plan-comment").mkdir(parents=True)
    (repository / "actions" / "plan-comment" / "action.yml").write_text(ACTION.read_text())
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    example = (ROOT / "examples" / "github-actions" / "preview.yml").read_text()
    assert example.count(REMOTE_ACTION) == 2, f"the example workflow no longer uses {REMOTE_ACTION}"
    for workflow in (example.replace(REMOTE_ACTION, "./actions/plan-comment"), ACTION_USER % "stack-name"):
        linted = lint(repository, workflow)
        assert linted.returncode == 0, linted.stdout + linted.stderr
    misspelt = lint(repository, ACTION_USER % "stack")
    assert misspelt.returncode != 0 and 'missing input "stack-name"' in misspelt.stdout, misspelt.stdout
