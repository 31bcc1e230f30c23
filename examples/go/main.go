// The Go twin of examples/yaml: an Elastic Job run, then a reindex chained to it, both waited for, with their
// outcome exported. It uses the generated SDK in sdk/go through the replace directive in go.mod.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	azureelasticjobs "github.com/pulumi-azure-elastic-jobs/sdk/go/azureelasticjobs"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		job := cfg.Get("job")
		if job == "" {
			job = "nightly-migration"
		}
		reindexJob := cfg.Get("reindexJob")
		if reindexJob == "" {
			reindexJob = "rebuild-indexes"
		}
		script := cfg.Get("script")
		if script == "" {
			script = "v1"
		}
		wait := true
		if value, err := cfg.TryBool("wait"); err == nil {
			wait = value
		}
		migration, err := azureelasticjobs.NewJobExecution(ctx, "migration", &azureelasticjobs.JobExecutionArgs{
			ResourceGroupName: pulumi.String("group1"),
			ServerName:        pulumi.String("server1"),
			JobAgentName:      pulumi.String("agent1"),
			JobName:           pulumi.String(job),
			WaitForCompletion: pulumi.Bool(wait),
			PollInterval:      pulumi.Float64(1),
			Triggers:          pulumi.Map{"script": pulumi.String(script)},
		})
		if err != nil {
			return err
		}
		// Runs after the migration, and again after each new migration run: its triggers carry the migration's
		// run id. Its job name is an output of the migration (the configured name, released once the migration
		// has run), as a job name made by another resource would be: unknown until then, so a first preview
		// shows it so.
		reindex, err := azureelasticjobs.NewJobExecution(ctx, "reindex", &azureelasticjobs.JobExecutionArgs{
			ResourceGroupName: pulumi.String("group1"),
			ServerName:        pulumi.String("server1"),
			JobAgentName:      pulumi.String("agent1"),
			JobName:           migration.JobExecutionId.ApplyT(func(string) string { return reindexJob }).(pulumi.StringOutput),
			WaitForCompletion: pulumi.Bool(true),
			PollInterval:      pulumi.Float64(1),
			Triggers:          pulumi.Map{"migration": migration.JobExecutionId},
		}, pulumi.DependsOn([]pulumi.Resource{migration}))
		if err != nil {
			return err
		}
		ctx.Export("lifecycle", migration.Lifecycle)
		ctx.Export("targetOutcomes", migration.TargetOutcomes)
		ctx.Export("executionId", migration.JobExecutionId)
		ctx.Export("reindexLifecycle", reindex.Lifecycle)
		ctx.Export("reindexExecutionId", reindex.JobExecutionId)
		return nil
	})
}
