// The Go twin of examples/yaml: one Elastic Job run, waited for, with its outcome exported. It uses the
// generated SDK in sdk/go through the replace directive in go.mod.
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
		ctx.Export("lifecycle", migration.Lifecycle)
		ctx.Export("targetOutcomes", migration.TargetOutcomes)
		ctx.Export("executionId", migration.JobExecutionId)
		return nil
	})
}
