"""The repository root as a Pulumi project (``main: examples/quickstart/``), used exactly as a newcomer does."""

from __future__ import annotations

import json

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.conftest import new_job


def test_root_project_installs_and_runs_the_whole_lifecycle(
    stack_for, emulator: Emulator, client: ElasticJobsClient
) -> None:
    stack = stack_for(".")
    installed = stack.run_plain("install")
    assert "Finished installing dependencies" in installed.stdout

    about = json.loads(stack.run_plain("about", "--json").stdout)
    assert about["errors"] == []
    # pulumi-plugin.json says the package brings no resource plugin: the language host is the only plugin
    assert [(plugin["kind"], plugin["name"]) for plugin in about["plugins"]] == [("language", "python")]
    # pip lists only what nothing else requires: the emulator, which requires the provider for its wire models
    dependencies = {dep["name"]: dep["version"] for dep in about["dependencies"]}
    assert dependencies["elastic-jobs-emulator"] == "0.1.0" and "pulumi-azure-elastic-jobs" not in dependencies
    everything = json.loads(stack.run_plain("about", "--json", "--transitive").stdout)
    transitive = {dep["name"]: dep["version"] for dep in everything["dependencies"]}
    assert transitive["pulumi-azure-elastic-jobs"] == transitive["elastic-jobs-emulator"] == "0.1.0"

    job = new_job(client)
    stack.config("job", job.job_name)
    assert "+ 2 to create" in stack.run("preview", "--diff").stdout
    stack.run("up", "--yes")
    assert stack.outputs()["lifecycle"] == "Succeeded"
    stack.run("refresh", "--yes")
    stack.run("destroy", "--yes")
    assert len(list(client.list_executions(job))) == 1
