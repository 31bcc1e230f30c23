"""The Python twin of examples/yaml through the native plugin: one Elastic Job run, waited for, outcome exported.

It uses the SDK generated from the plugin's schema (sdk/python, package ``pulumi_azure_elastic_jobs_sdk``), not
the dynamic provider of ``pulumi_azure_elastic_jobs``: the same semantics, served by the plugin, so many waited
runs wait together and ``customTimeouts`` apply.
"""

import pulumi
import pulumi_azure_elastic_jobs_sdk as elasticjobs

config = pulumi.Config()
wait = config.get_bool("wait")

migration = elasticjobs.JobExecution(
    "migration",
    resource_group_name="group1",
    server_name="server1",
    job_agent_name="agent1",
    job_name=config.get("job") or "nightly-migration",
    wait_for_completion=True if wait is None else wait,
    poll_interval=1,
    triggers={"script": config.get("script") or "v1"},
)

pulumi.export("lifecycle", migration.lifecycle)
pulumi.export("targetOutcomes", migration.target_outcomes)
pulumi.export("executionId", migration.job_execution_id)
