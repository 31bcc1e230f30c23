// The TypeScript twin of examples/yaml: one Elastic Job run, waited for, with its outcome exported. It uses the
// generated SDK in sdk/nodejs through the `file:` dependency in package.json; npm installs it as a copy (.npmrc)
// and the SDK compiles itself on install.
import * as pulumi from "@pulumi/pulumi";
import * as elasticjobs from "@pulumi-azure-elastic-jobs/azure-elastic-jobs";

const config = new pulumi.Config();

const migration = new elasticjobs.JobExecution("migration", {
    resourceGroupName: "group1",
    serverName: "server1",
    jobAgentName: "agent1",
    jobName: config.get("job") ?? "nightly-migration",
    waitForCompletion: config.getBoolean("wait") ?? true,
    pollInterval: 1,
    triggers: { script: config.get("script") ?? "v1" },
});

export const lifecycle = migration.lifecycle;
export const targetOutcomes = migration.targetOutcomes;
export const executionId = migration.jobExecutionId;
