"""Quickstart: run the nightly migration job once and export how it went.

Against the local emulator (the default of `scripts/quickstart.sh`) or real Azure (set the config keys of
docs/installation-configuration.md). The run starts on the first `pulumi up`; later `up`s leave it alone until
`triggers` change.
"""

import pulumi

from pulumi_azure_elastic_jobs import JobExecution

config = pulumi.Config()

migration = JobExecution(
    "nightly-migration",
    resource_group_name=config.get("resourceGroup") or "group1",
    server_name=config.get("server") or "server1",
    job_agent_name=config.get("jobAgent") or "agent1",
    job_name=config.get("job") or "nightly-migration",
    wait_for_completion=config.get_bool("wait") is not False,
    timeout=600,
    triggers={"release": config.get("release") or "2026.11"},
)

pulumi.export("lifecycle", migration.lifecycle)
pulumi.export("last_message", migration.last_message)
pulumi.export("target", migration.target)
pulumi.export("execution_id", migration.job_execution_id)
