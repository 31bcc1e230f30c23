"""examples/typescript with the real CLI, a Node.js language host, the generated TypeScript SDK and the native plugin.

The host is the one next to the CLI: this project's stand-in (scripts/pulumi_cli/nodejs_host.py) as
scripts/build-pulumi-cli.sh installs it, or the official ``pulumi-language-nodejs`` built from a pulumi/pulumi
snapshot when ``ELASTIC_JOBS_PULUMI_BIN`` points at a folder holding it; both must pass these tests. The program's
dependencies are installed by ``pulumi install`` through the host, as users install them: npm installs the SDK
from sdk/nodejs, and its postinstall step compiles it. Runs are counted on the emulator, and what each command
sent it is read from its request log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.emulator import Emulator
from tests.cli.conftest import TOOLS_BIN, Stack
from tests.cli.test_yaml_cli import last_seq, mutating, sent
from tests.cli.yaml_support import install_native_plugin, warnings_in
from tests.conftest import ROOT, new_job

EXAMPLE = ROOT / "examples" / "typescript"
SDK_PACKAGE = Path("node_modules", "@pulumi-azure-elastic-jobs", "azure-elastic-jobs")
CREATE = "+ azure-elastic-jobs:index:JobExecution: (create)"
INSTALL_TIMEOUT = 600  # seconds: npm from a cold cache, then tsc compiling the SDK


@pytest.fixture(scope="session")
def nodejs_language_host(pulumi_cli: str) -> Path:
    host = TOOLS_BIN / "pulumi-language-nodejs"
    if not host.exists():
        pytest.skip(f"no pulumi-language-nodejs in {TOOLS_BIN} (run bash scripts/build-pulumi-cli.sh)")
    if shutil.which("node", path=f"{TOOLS_BIN}:{os.environ.get('PATH', '')}") is None:
        pytest.skip("node is not installed (neither in .tools/bin nor on PATH)")
    return host


def copy_example(into: Path) -> Path:
    """The example, where its ``file:../../sdk/nodejs`` dependency still finds the repository's SDK."""
    project = into / "examples" / f"typescript-{uuid.uuid4().hex[:6]}"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("node_modules", "bin", "Pulumi.*.yaml"))
    (into / "sdk").symlink_to(ROOT / "sdk", target_is_directory=True)
    return project


@pytest.fixture
def typescript_stack(stack_for, nodejs_language_host: Path, tmp_path: Path) -> Stack:
    """A stack of a copy of examples/typescript, its dependencies installed by `pulumi install`, and the native
    plugin in the stack's plugin cache. Destroyed at the end; any plugin download attempt fails the test."""
    stack: Stack = stack_for(copy_example(tmp_path))
    install_native_plugin(stack.cli, stack.env)
    installed = stack.run_plain("install", timeout=INSTALL_TIMEOUT)
    assert "Finished installing dependencies" in installed.stdout + installed.stderr
    compiled = stack.directory / SDK_PACKAGE / "bin"
    assert (compiled / "index.js").exists() and (compiled / "package.json").exists(), "the SDK compiled on install"
    return stack


def test_the_typescript_example_deploys_waits_and_destroys_with_one_run_per_intent(
    typescript_stack: Stack, client: ElasticJobsClient, emulator: Emulator
) -> None:
    stack = typescript_stack
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    stack.config("job", job.job_name)

    since = last_seq(emulator)
    preview = stack.run("preview", "--diff")
    assert CREATE in preview.stdout and "triggers" in preview.stdout
    assert sent(emulator, since) == [], "a preview sends nothing"
    assert warnings_in(preview.stdout + preview.stderr) == []

    up = stack.run("up", "--yes", "--skip-preview")
    outputs = stack.outputs()
    assert outputs["lifecycle"] == "Succeeded", up.stdout
    assert outputs["targetOutcomes"]["complete"] is True and outputs["targetOutcomes"]["databases"] >= 1
    assert warnings_in(up.stdout + up.stderr) == []
    assert [e.name for e in client.list_executions(job)] == [outputs["executionId"]]

    since = last_seq(emulator)
    unchanged = stack.run("up", "--yes", "--skip-preview")
    assert mutating(emulator, since) == [] and "2 unchanged" in unchanged.stdout  # the stack and the run

    stack.config("script", "v2")
    replaced = stack.run("preview", "--diff")
    assert "+-azure-elastic-jobs:index:JobExecution: (replace)" in replaced.stdout and "triggers" in replaced.stdout
    stack.run("up", "--yes", "--skip-preview")
    assert len(list(client.list_executions(job))) == 2  # exactly one new run
    assert stack.outputs()["executionId"] != outputs["executionId"]

    emulator.set_behavior(job.job_name, duration_seconds=360000.0)  # the next run stays active
    stack.config("wait", "false")
    stack.config("script", "v3")
    stack.run("up", "--yes", "--skip-preview")
    held = stack.outputs()["executionId"]
    assert client.get_execution(job.execution(held)).properties.lifecycle in ("Created", "InProgress")
    destroyed = stack.run("destroy", "--yes", "--skip-preview")
    assert "1 deleted" in destroyed.stdout or "2 deleted" in destroyed.stdout, destroyed.stdout
    assert client.get_execution(job.execution(held)).properties.lifecycle == "Canceled"
    assert len(list(client.list_executions(job))) == 3  # destroy started nothing
    assert json.loads(stack.run("stack", "export").stdout)["deployment"].get("resources") in (None, [])


def test_a_program_error_fails_the_update_with_the_programs_message(
    typescript_stack: Stack, client: ElasticJobsClient, emulator: Emulator
) -> None:
    stack = typescript_stack
    index = stack.directory / "index.ts"
    program = index.read_text().replace(
        "const migration",
        'if (config.get("job") !== "") {\n    throw new Error("release notes are missing");\n}\nconst migration',
    )
    index.write_text(program)
    since = last_seq(emulator)
    failed = stack.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0
    assert "release notes are missing" in failed.stdout + failed.stderr
    assert mutating(emulator, since) == [], "a program that throws before its resources register starts nothing"


def test_about_names_node_npm_the_programs_dependencies_and_the_plugin(typescript_stack: Stack) -> None:
    about = json.loads(typescript_stack.run("about", "--json").stdout)
    node = about["runtime"]["executable"]
    printed = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert about["runtime"]["language"] == "nodejs" and about["runtime"]["version"] == printed
    assert about["runtime"]["packagemanager"] == "npm" and about["runtime"]["typescriptVersion"] == "4.9.5"
    dependencies = {d["name"]: d["version"] for d in about["dependencies"]}
    assert dependencies["@pulumi-azure-elastic-jobs/azure-elastic-jobs"] == "0.1.0"
    assert (
        dependencies["@pulumi/pulumi"]
        == json.loads((EXAMPLE / "package.json").read_text())["dependencies"]["@pulumi/pulumi"]
    )
    plugins = {(p["name"], p["kind"], p["version"]) for p in about["plugins"]}
    assert ("azure-elastic-jobs", "resource", "0.1.0") in plugins
