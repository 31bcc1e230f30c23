"""The Python twin of examples/yaml through the native plugin: a migration, then a reindex chained to it, both
waited for, outcomes exported.

It uses the SDK generated from the plugin's schema (sdk/python, package ``pulumi_azure_elastic_jobs_sdk``), not
the dynamic provider of ``pulumi_azure_elastic_jobs``: the same semantics, served by the plugin, so many waited
runs wait together and ``customTimeouts`` apply.
"""

import pulumi
import pulumi_azure_elastic_jobs_sdk as elasticjobs

config = pulumi.Config()
wait = config.get_bool("wait")
agent = {"resource_group_name": "group1", "server_name": "server1", "job_agent_name": "agent1"}

migration = elasticjobs.JobExecution(
    "migration",
    **agent,
    job_name=config.get("job") or "nightly-migration",
    wait_for_completion=True if wait is None else wait,
    poll_interval=1,
    triggers={"script": config.get("script") or "v1"},
)

# Runs after the migration, and again after each new migration run: its triggers carry the migration's run id.
# Its job name is an output of the migration (the configured name, released once the migration has run), as a
# job name made by another resource would be: unknown until then, so a first preview shows it so.
reindex = elasticjobs.JobExecution(
    "reindex",
    **agent,
    job_name=migration.job_execution_id.apply(lambda _: config.get("reindexJob") or "rebuild-indexes"),
    wait_for_completion=True,
    poll_interval=1,
    triggers={"migration": migration.job_execution_id},
    opts=pulumi.ResourceOptions(depends_on=[migration]),
)

pulumi.export("lifecycle", migration.lifecycle)
pulumi.export("targetOutcomes", migration.target_outcomes)
pulumi.export("executionId", migration.job_execution_id)
pulumi.export("reindexLifecycle", reindex.lifecycle)
pulumi.export("reindexExecutionId", reindex.job_execution_id)
