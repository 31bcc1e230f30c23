// The TypeScript twin of examples/yaml: an Elastic Job run, then a reindex chained to it, both waited for, with
// their outcome exported. It uses the generated SDK in sdk/nodejs through the `file:` dependency in package.json;
// npm installs it as a copy (.npmrc) and the SDK compiles itself on install.
import * as pulumi from "@pulumi/pulumi";
import * as elasticjobs from "@pulumi-azure-elastic-jobs/azure-elastic-jobs";

const config = new pulumi.Config();
const agent = { resourceGroupName: "group1", serverName: "server1", jobAgentName: "agent1" };

const migration = new elasticjobs.JobExecution("migration", {
    ...agent,
    jobName: config.get("job") ?? "nightly-migration",
    waitForCompletion: config.getBoolean("wait") ?? true,
    pollInterval: 1,
    triggers: { script: config.get("script") ?? "v1" },
});

// Runs after the migration, and again after each new migration run: its triggers carry the migration's run id.
// Its job name is an output of the migration (the configured name, released once the migration has run), as a
// job name made by another resource would be: unknown until then, so a first preview shows it so.
const reindex = new elasticjobs.JobExecution("reindex", {
    ...agent,
    jobName: migration.jobExecutionId.apply(() => config.get("reindexJob") ?? "rebuild-indexes"),
    waitForCompletion: true,
    pollInterval: 1,
    triggers: { migration: migration.jobExecutionId },
}, { dependsOn: [migration] });

export const lifecycle = migration.lifecycle;
export const targetOutcomes = migration.targetOutcomes;
export const executionId = migration.jobExecutionId;
export const reindexLifecycle = reindex.lifecycle;
export const reindexExecutionId = reindex.jobExecutionId;
