"""The canonical program of a pull request that edits a job step: one file feeds the job step's script, the run's
`triggers` and its `step_scripts`, and the run depends on the step, so the merge's `up` updates the step (a new
job version) before it starts the run. The job step is a dynamic resource of the test's own that PUTs the step as
azure-native's `sql.JobStep` does. Config `face` picks the dynamic provider (`pulumi_azure_elastic_jobs`) or the
native plugin's generated SDK (`pulumi_azure_elastic_jobs_sdk`)."""

import json
import pathlib
import urllib.request
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult


class StepProvider(ResourceProvider):
    """A job step: created and updated by a PUT, which makes a new job version, as the service does."""

    def _put(self, props: dict[str, Any]) -> None:
        step = {"targetGroup": props["target_group"], "action": {"value": props["script"]}}
        request = urllib.request.Request(
            f"{props['endpoint']}{props['path']}?api-version=2025-01-01",
            data=json.dumps({"properties": {**step, "executionOptions": {"retryAttempts": 0}}}).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {props['token']}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request).read()

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._put(props)
        return CreateResult(props["path"], props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("script") != news.get("script"))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._put(news)
        return UpdateResult(news)


class JobStep(Resource):
    def __init__(self, name: str, **props: Any) -> None:
        super().__init__(StepProvider(), name, props)


config = pulumi.Config()
agent = pulumi.Config("azure-elastic-jobs")
script = (pathlib.Path(__file__).parent / "migration.sql").read_text()
step = JobStep(
    "add-columns",
    endpoint=agent.require("endpoint"),
    token=agent.require_secret("token"),
    path=config.require("stepPath"),
    target_group=config.require("targetGroup"),
    script=script,
)
if config.require("face") == "native":
    from pulumi_azure_elastic_jobs_sdk import JobExecution
else:
    from pulumi_azure_elastic_jobs import JobExecution  # type: ignore[assignment]
migration = JobExecution(
    "migration",
    resource_group_name="group1",
    server_name="server1",
    job_agent_name="agent1",
    job_name=config.require("job"),
    wait_for_completion=True,
    poll_interval=1,
    triggers={"script": script},
    step_scripts={"step1": script},
    expected_plan=config.get("plan"),
    opts=pulumi.ResourceOptions(depends_on=[step]),
)
pulumi.export("executionId", migration.job_execution_id)
pulumi.export("jobVersion", migration.job_version)
