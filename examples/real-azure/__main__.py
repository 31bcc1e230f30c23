"""The quickstart against real Azure. Credentials come from DefaultAzureCredential (az login, a managed or
workload identity, or AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET), or from a service principal in
config (see docs/installation-configuration.md). Set, for example:

    pulumi config set azure-elastic-jobs:subscriptionId <subscription>
    pulumi config set resourceGroup my-group
    pulumi config set server my-sql-server          # without .database.windows.net
    pulumi config set jobAgent my-job-agent
    pulumi config set job my-migration-job
"""

import pulumi

from pulumi_azure_elastic_jobs import JobExecution

config = pulumi.Config()

run = JobExecution(
    "migration",
    resource_group_name=config.require("resourceGroup"),
    server_name=config.require("server"),
    job_agent_name=config.require("jobAgent"),
    job_name=config.require("job"),
    wait_for_completion=True,
    timeout=config.get_float("timeout") or 2 * 3600,
    triggers={"release": config.get("release") or "1"},
)

pulumi.export("lifecycle", run.lifecycle)
pulumi.export("last_message", run.last_message)
pulumi.export("execution_id", run.job_execution_id)
pulumi.export("portal_id", run.azure_id)
