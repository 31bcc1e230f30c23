"""Chained executions: the index rebuild runs only after the migration succeeded, and re-runs whenever a new
migration run happens (its triggers carry the migration's execution id). The stack fails loudly if the
report, which is not waited for by the resource itself, is known to have failed."""

import pulumi

from pulumi_azure_elastic_jobs import JobExecution

config = pulumi.Config()
agent = {"resource_group_name": "group1", "server_name": "server1", "job_agent_name": "agent1"}

migration = JobExecution(
    "migrate",
    **agent,
    job_name=config.get("migrationJob") or "nightly-migration",
    wait_for_completion=True,  # fails the deployment on Failed/TimedOut/Canceled, so nothing below runs
    triggers={"release": config.get("release") or "2026.11"},
)

reindex = JobExecution(
    "reindex",
    **agent,
    job_name="rebuild-indexes",
    wait_for_completion=True,
    triggers={"after_migration": migration.job_execution_id},
    opts=pulumi.ResourceOptions(depends_on=[migration]),
)


def require_success(lifecycle: str) -> str:
    if lifecycle in ("Failed", "TimedOut", "Canceled"):
        raise RuntimeError(f"the index rebuild ended {lifecycle}")
    return lifecycle


pulumi.export("migration", {"lifecycle": migration.lifecycle, "message": migration.last_message})
pulumi.export("reindex_lifecycle", reindex.lifecycle.apply(require_success))
pulumi.export("reindex_target", reindex.target)
