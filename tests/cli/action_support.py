"""The composite action actions/plan-comment run step by step as a GitHub runner runs it, with a stand-in `gh`
that keeps the pull request's comments in a file (shared by the plan comment's CLI test and the workflow's)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

ACTION = ROOT / "actions" / "plan-comment" / "action.yml"
REMOTE_ACTION = "your-org/pulumi-azure-elastic-jobs/actions/plan-comment@v0.1.0"
"""How the example workflow names the action (a user's repository names it by where they keep the provider)."""

GH_STAND_IN = r"""#!/usr/bin/env python3
# `gh api` for the comments of one pull request, kept in $GH_STAND_IN_STORE; --jq through the machine's jq.
import json, os, subprocess, sys
args, store = sys.argv[1:], os.environ["GH_STAND_IN_STORE"]
comments = json.load(open(store)) if os.path.exists(store) else []
method, path, body, jq = "GET", "", None, None
rest = iter(args[1:])
for arg in rest:
    if arg == "--method": method = next(rest)
    elif arg == "--jq": jq = next(rest)
    elif arg == "-F":
        key, _, value = next(rest).partition("=")
        body = open(value[1:]).read() if value.startswith("@") else value
    elif arg == "--paginate": pass
    else: path = arg
with open(os.environ["GH_STAND_IN_STORE"] + ".calls", "a") as calls: calls.write(f"{method} {path}\n")
if method == "GET":
    out = json.dumps(comments)
    if jq:
        out = subprocess.run(["jq", "-r", jq], input=out, capture_output=True, text=True, check=True).stdout
    print(out, end="")
elif method == "POST":
    comments.append({"id": 1000 + len(comments), "body": body})
elif method == "PATCH":
    comment_id = int(path.rsplit("/", 1)[1])
    next(c for c in comments if c["id"] == comment_id)["body"] = body
json.dump(comments, open(store, "w"))
"""


def expand(text: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    """The action's `${{ ... }}` expressions this run knows: its inputs and the render step's outputs."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name.startswith("inputs."):
            return inputs[name.removeprefix("inputs.")]
        if name.startswith("steps.render.outputs."):
            return outputs[name.removeprefix("steps.render.outputs.")]
        raise AssertionError(f"an expression this local run does not know: {name}")

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def condition_holds(condition: str, inputs: dict[str, str]) -> bool:
    """The action's conditions, in the one form it uses: `inputs.a == 'x' && inputs.b != ''`."""
    for part in filter(None, (text.strip() for text in condition.split("&&"))):
        match = re.fullmatch(r"inputs\.([\w-]+) (==|!=) '([^']*)'", part)
        assert match, f"a condition this local run does not know: {part}"
        if (inputs[match[1]] == match[3]) != (match[2] == "=="):
            return False
    return True


def gh_stand_in(into: Path) -> Path:
    """A folder with the stand-in `gh` (for PATH); its comments are kept in $GH_STAND_IN_STORE."""
    into.mkdir(parents=True, exist_ok=True)
    (into / "gh").write_text(GH_STAND_IN.replace("/usr/bin/env python3", sys.executable, 1))
    (into / "gh").chmod(0o755)
    return into


def run_action(inputs: dict[str, str], workspace: Path, env: dict[str, str], temp: Path) -> dict[str, str]:
    """Every step of the composite action in bash, as a runner runs them; returns the render step's outputs."""
    action = yaml.safe_load(ACTION.read_text())
    given = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()} | inputs
    outputs: dict[str, str] = {}
    for step in action["runs"]["steps"]:
        if not condition_holds(step.get("if", ""), given):
            continue
        output_file = temp / f"output-{step['id']}"
        output_file.write_text("")
        step_env = {**env, **{k: expand(str(v), given, outputs) for k, v in (step.get("env") or {}).items()}}
        step_env |= {"GITHUB_OUTPUT": str(output_file), "RUNNER_TEMP": str(temp), "GITHUB_REPOSITORY": "o/infra"}
        cwd = workspace / expand(step.get("working-directory", "."), given, outputs)
        finished = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert finished.returncode == 0, f"step {step['id']} failed:\n{finished.stdout}\n{finished.stderr}"
        if step["id"] == "render":
            outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines())
    return outputs
