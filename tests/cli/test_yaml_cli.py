"""A YAML program (runtime: yaml) with the real CLI, the official YAML host and the native plugin.

The plugin is installed into the test's own plugin cache, as users install it; every command is checked for
warnings, and any plugin download fails the test. Runs are counted on the emulator, and what a command sent it
is read from its request log.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.native.install import PLUGIN_EXECUTABLE
from pulumi_azure_elastic_jobs.terms import TERMINAL_LIFECYCLES
from tests.cli.conftest import MARKER, Stack, YamlStackFor
from tests.cli.native_life import (
    CREATE,
    destroy_cancels_the_run_still_going,
    first_up_runs_the_chain_once,
    last_seq,
    mutating,
    new_chain,
    run_counts,
    runs_of,
    trigger_change_reruns_the_chain_once,
    unchanged_up_sends_nothing,
)
from tests.cli.yaml_support import install_native_plugin, warnings_in
from tests.conftest import new_job

PROGRAM = "tests/cli/programs/yaml-quickstart"
EXAMPLE = "examples/yaml"


needs_native_provider = pytest.mark.skipif(
    importlib.util.find_spec("pulumi_azure_elastic_jobs.native.main") is None,
    reason="the native provider (pulumi_azure_elastic_jobs.native.main) is not written yet",
)


def test_install_puts_a_launcher_for_the_server_into_the_plugin_cache(
    pulumi_cli: str, yaml_language_host: str, tmp_path: Path
) -> None:
    env = {"PULUMI_HOME": str(tmp_path / "home"), "PULUMI_SKIP_UPDATE_CHECK": "1", MARKER: uuid.uuid4().hex}
    install_native_plugin(pulumi_cli, env, ["/opt/elastic jobs/elastic-jobs-provider"])
    install_native_plugin(pulumi_cli, env, ["/opt/elastic jobs/elastic-jobs-provider"])  # again: replaced in place

    stack = Stack(pulumi_cli, tmp_path, env, "unused")
    listed = json.loads(stack.run_plain("plugin", "ls", "--json").stdout)
    assert [(p["name"], p["kind"], p["version"]) for p in listed] == [("azure-elastic-jobs", "resource", "0.1.0")]
    launcher = tmp_path / "home" / "plugins" / "resource-azure-elastic-jobs-v0.1.0" / PLUGIN_EXECUTABLE
    assert launcher.read_text().endswith("exec '/opt/elastic jobs/elastic-jobs-provider' \"$@\"\n")


@needs_native_provider
def test_yaml_program_finds_the_plugin_by_name_without_warning_or_download(
    yaml_stack_for: YamlStackFor, client: ElasticJobsClient
) -> None:
    stack = yaml_stack_for(PROGRAM)
    stack.config("job", new_job(client).job_name)

    preview = stack.run("preview", "--diff")
    assert CREATE in preview.stdout
    assert warnings_in(preview.stdout + preview.stderr) == []

    up = stack.run("up", "--yes")
    assert warnings_in(up.stdout + up.stderr) == []
    assert stack.outputs()["lifecycle"] in TERMINAL_LIFECYCLES

    schema = stack.run_plain("package", "get-schema", "azure-elastic-jobs")
    assert '"name": "azure-elastic-jobs"' in schema.stdout
    assert warnings_in(schema.stdout + schema.stderr) == []
    # No download is attempted: yaml_stack_for fails the test on any request to its plugin-download recorder.


@needs_native_provider
def test_the_yaml_example_lives_its_whole_life_with_one_run_per_intent(
    yaml_stack_for: YamlStackFor, client: ElasticJobsClient, emulator: Emulator, tmp_path: Path
) -> None:
    stack = yaml_stack_for(EXAMPLE)
    chain = new_chain(client, stack)
    job = chain.migration

    first_up_runs_the_chain_once(stack, client, emulator, chain)
    unchanged_up_sends_nothing(stack, emulator)
    trigger_change_reruns_the_chain_once(stack, client, emulator, chain)

    since = last_seq(emulator)
    refreshed = stack.run("refresh", "--yes", "--skip-preview")
    assert mutating(emulator, since) == [] and warnings_in(refreshed.stdout + refreshed.stderr) == []

    # Pulumi's update plans: a preview that shows a row per database saves a plan (views are not in it), and the
    # `up` it constrains (which publishes no view) is accepted, runs the chain once more and keeps no row in state.
    stack.config("script", "v2-reviewed")
    saved = tmp_path / "update-plan.json"
    reviewed = stack.run("preview", "--save-plan", str(saved))
    assert "PlannedDatabase migration/server1/app-db-1 create" in reviewed.stdout, reviewed.stdout
    before = run_counts(client, chain)
    stack.run("up", "--yes", "--skip-preview", "--plan", str(saved))
    assert run_counts(client, chain) == (before[0] + 1, before[1] + 1)
    assert "PlannedDatabase" not in stack.run("stack", "export").stdout

    other = job.execution(str(uuid.uuid4()))
    client.ensure_execution(other)
    imported = stack.run("import", "azure-elastic-jobs:index:JobExecution", "adopted", other.arm_id, "--yes")
    assert "1 imported" in imported.stdout and "jobName: " in imported.stdout
    assert len(runs_of(client, job)) == 4  # adopted, not run again
    stack.run("state", "unprotect", "--all", "--yes")  # import protects; the program does not declare it: let it go

    destroy_cancels_the_run_still_going(stack, client, emulator, chain)


def test_the_rollout_example_halts_on_a_failed_canary_then_resumes_once_and_releases_once(
    yaml_stack_for: YamlStackFor, client: ElasticJobsClient, emulator: Emulator
) -> None:
    """examples/rollout on the real CLI: the canary fails on one database, so the `up` fails, the fleet wave and the
    release send nothing and the stack says why; the fix (a new canary script) runs the canary once more, then the
    fleet and the release once each; an unchanged `up` sends nothing that changes anything."""
    stack = yaml_stack_for("examples/rollout")
    canary, fleet, release = (new_job(client, script="SELECT 1; -- emulator:duration=0") for _ in range(3))
    for key, job in (("canaryJob", canary), ("fleetJob", fleet), ("releaseJob", release)):
        stack.config(key, job.job_name)
    emulator.set_behavior(canary.job_name, failed_databases=["app-db-2"])

    halted = stack.run("up", "--yes", "--skip-preview", check=False)
    assert halted.returncode != 0
    said = halted.stdout + halted.stderr
    assert "the rollout halted at wave 1" in said and "server1/app-db-2" in said, said
    assert len(runs_of(client, canary)) == 1 and runs_of(client, fleet) == [] and runs_of(client, release) == []
    (recorded,) = [
        r
        for r in json.loads(stack.run("stack", "export").stdout)["deployment"]["resources"]
        if r["type"].endswith("JobExecutionSet")
    ]
    assert recorded["outputs"]["rollout"]["state"] == "halted"
    assert recorded["outputs"]["rollout"]["halted"]["failedTargets"] == ["server1/app-db-2"]
    assert recorded["outputs"]["rollout"]["notStarted"] == ["fleet"]

    emulator.set_behavior(canary.job_name, failed_databases=[])
    stack.config("canaryScript", "v2")
    stack.run("up", "--yes", "--skip-preview")
    outputs = stack.outputs()
    assert outputs["rolloutState"] == "complete" and outputs["releaseLifecycle"] == "Succeeded", outputs
    assert [wave["lifecycle"] for wave in outputs["waves"]] == ["Succeeded", "Succeeded"]
    assert (len(runs_of(client, canary)), len(runs_of(client, fleet)), len(runs_of(client, release))) == (2, 1, 1)

    since = last_seq(emulator)
    stack.run("up", "--yes", "--skip-preview")
    assert mutating(emulator, since) == []
