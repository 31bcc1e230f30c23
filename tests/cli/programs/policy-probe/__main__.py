"""Two runs of the seed's jobs: their pins and the migration's timeout come from the stack's configuration, so one
program keeps or breaks each policy of the pack (tests/cli/test_policy_pack_cli.py)."""

import pulumi

from pulumi_azure_elastic_jobs import JobExecution

config = pulumi.Config()
agent = {"resource_group_name": "group1", "server_name": "server1", "job_agent_name": "agent1"}

JobExecution(
    "migration",
    **agent,
    job_name="nightly-migration",
    wait_for_completion=True,
    timeout=config.get_float("timeout"),
    expected_plan=config.get("migrationPin"),
    triggers={"release": "r1"},
)
JobExecution(
    "reindex",
    **agent,
    job_name="rebuild-indexes",
    expected_plan=config.get("reindexPin"),
    triggers={"release": "r1"},
)
