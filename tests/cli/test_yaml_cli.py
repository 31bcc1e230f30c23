"""A YAML program (runtime: yaml) with the real CLI, the official YAML host and the native plugin.

THE LEAD EXTENDS THIS: it was proved end to end with a throwaway stand-in server in place of
`pulumi_azure_elastic_jobs.native.main` (schema: JobExecution with a `lifecycle` output; create returns an id),
and is skipped until the real module exists. Add the real provider's assertions (runs in the emulator, a trigger
change replaces, refresh, destroy cancels) next to the ones on how the CLI finds the plugin.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

import pytest

from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.native.install import PLUGIN_EXECUTABLE
from pulumi_azure_elastic_jobs.terms import TERMINAL_LIFECYCLES
from tests.cli.conftest import MARKER, Stack, YamlStackFor
from tests.cli.yaml_support import install_native_plugin, warnings_in
from tests.conftest import new_job

PROGRAM = "tests/cli/programs/yaml-quickstart"

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
    assert "+ azure-elastic-jobs:index:JobExecution: (create)" in preview.stdout
    assert warnings_in(preview.stdout + preview.stderr) == []

    up = stack.run("up", "--yes")
    assert warnings_in(up.stdout + up.stderr) == []
    assert stack.outputs()["lifecycle"] in TERMINAL_LIFECYCLES

    schema = stack.run_plain("package", "get-schema", "azure-elastic-jobs")
    assert '"name": "azure-elastic-jobs"' in schema.stdout
    assert warnings_in(schema.stdout + schema.stderr) == []
    # No download is attempted: yaml_stack_for fails the test on any request to its plugin-download recorder.
