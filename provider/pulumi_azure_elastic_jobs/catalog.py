"""What each property of each resource is, in the user's words: the one source of every schema. No I/O.

The native plugin's Pulumi schema (``native/schema.py``) is generated from these tables, and a test holds them
equal to the validated inputs (``inputs.ExecutionInputs``/``SetInputs``) and to the outputs the operations
produce (``operations.OUTPUT_NAMES``), so a property added in one place and not the other fails CI. Names are
the snake_case names the dynamic resource uses; the schema spells them in camelCase.
"""

from __future__ import annotations

from dataclasses import dataclass

from .terms import (
    DEFAULT_API_VERSION,
    DEFAULT_FAIL_ON,
    DEFAULT_POLL_INTERVAL_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    TERMINAL_LIFECYCLES,
)


@dataclass(frozen=True)
class Prop:
    """One property: its name, schema type (string, number, integer, boolean, array, map, or a ``#/types/``
    reference), what it means, and whether it is required, replaces the resource when changed, or is secret."""

    name: str
    type: str
    description: str
    required: bool = False
    replaces: bool = False
    secret: bool = False
    items: str | None = None
    """For ``array``/``map``: the type of each item (``any`` for a free-form map)."""


LIFECYCLES = ", ".join(sorted(TERMINAL_LIFECYCLES))

AGENT_INPUTS = (
    Prop(
        "subscription_id",
        "string",
        "The Azure subscription of the job agent. Defaults to the provider's `subscriptionId`, then the "
        "`AZURE_SUBSCRIPTION_ID` and `ARM_SUBSCRIPTION_ID` environment variables.",
        replaces=True,
    ),
    Prop(
        "resource_group_name",
        "string",
        "The resource group of the SQL server. Required unless a job's ARM id (`jobId`) gives it.",
        replaces=True,
    ),
    Prop(
        "server_name",
        "string",
        "The SQL server that hosts the job agent. Required unless a job's ARM id (`jobId`) gives it.",
        replaces=True,
    ),
    Prop(
        "job_agent_name",
        "string",
        "The Elastic Job agent. Required unless a job's ARM id (`jobId`) gives it.",
        replaces=True,
    ),
    Prop(
        "api_version",
        "string",
        f"The ARM api-version of the Microsoft.Sql calls (default `{DEFAULT_API_VERSION}`). Updated in place.",
    ),
    Prop(
        "wait_for_completion",
        "boolean",
        "`false` (default): done once ARM accepted the run. `true`: wait until its lifecycle is terminal and "
        "fail the deployment on a lifecycle listed in `failOn`. Updated in place.",
    ),
    Prop(
        "timeout",
        "number",
        f"Seconds to wait when waiting (default {DEFAULT_TIMEOUT_SECONDS:g}, at most 7 days); on timeout the run "
        "is left running and the next `pulumi up` attaches to it. A shorter `customTimeouts` wins. Also bounds "
        "how long a destroy waits for a cancelled run to stop (at most 5 minutes).",
    ),
    Prop(
        "poll_interval",
        "number",
        f"The longest pause between polls, in seconds (default {DEFAULT_POLL_INTERVAL_SECONDS:g}); the "
        "service's `Retry-After` wins.",
    ),
    Prop(
        "fail_on",
        "array",
        f"Terminal lifecycles that fail the deployment when waiting (default {', '.join(DEFAULT_FAIL_ON)}; any "
        f"of {LIFECYCLES}).",
        items="string",
    ),
    Prop(
        "cancel_on_destroy",
        "boolean",
        "Cancel an active run when the resource is destroyed or replaced (default `true`). With `false` the run "
        "is left going, and a replacement attaches to it while it runs instead of starting a second one.",
    ),
    Prop(
        "execution_key",
        "string",
        "The key the run ids derive from (default: the resource's URN). Resources that share a key share one "
        "chain of ids, so whichever deploys second attaches to the first one's active run.",
    ),
)

EXECUTION_INPUTS = (
    *AGENT_INPUTS,
    Prop("job_name", "string", "The job to run. Required unless `jobId` names it.", replaces=True),
    Prop(
        "job_execution_id",
        "string",
        "A UUID to pin the run to. By default one is derived from the execution key, the job and `triggers`, so "
        "an interrupted `up` attaches to its run instead of starting another.",
        replaces=True,
    ),
    Prop(
        "triggers",
        "map",
        "Any values; a change starts exactly one new run (like `triggers` of the Command provider).",
        replaces=True,
        items="any",
    ),
    Prop(
        "expected_plan",
        "string",
        "The plan a reviewer approved, as its `pin` (`server1=12 server2=2 steps=9b1c2d3e4f50 sha256:...`, or any "
        "part of it): a create or replace refuses, before any request that changes anything, to start a run whose "
        "plan differs, and names what changed (`+3 databases on server2`, `step 1 'migrate' script sha256:... -> "
        "sha256:...`). A pin holds content, not the job's version: it survives the new version an update of a job "
        "step in the same deployment makes. Updated in place.",
    ),
    Prop(
        "step_scripts",
        "map",
        "The job's steps this deployment deploys, by step name: each one's script (wire the text the job step's "
        "`action.value` is given) or its `sha256:` digest. A preview shows the plan with these scripts, the run "
        "this deployment will start, and its pin; a create or replace refuses to start a run whose steps do not "
        "run them (the run must depend on the job steps, so they are updated first). Updated in place.",
        items="string",
    ),
    Prop(
        "job_id",
        "string",
        "The job's ARM id (`/subscriptions/.../jobAgents/<agent>/jobs/<job>`, the `id` of azure-native's "
        "`sql.Job`), instead of `subscriptionId`, `resourceGroupName`, `serverName`, `jobAgentName` and "
        "`jobName`: the provider's Check fills them in from it (a name also given must agree with it). Wiring "
        "the job's id makes this run depend on the job.",
    ),
)

EXECUTION_OUTPUTS = (
    Prop(
        "lifecycle",
        "string",
        "The run's lifecycle: Created, InProgress, WaitingForChildJobExecutions, "
        f"WaitingForRetry, or a terminal one ({LIFECYCLES}).",
        required=True,
    ),
    Prop("last_message", "string", "The service's last message about the run."),
    Prop("provisioning_state", "string", "The ARM provisioning state of the execution."),
    Prop("create_time", "string", "When the run was created (RFC 3339)."),
    Prop("start_time", "string", "When the run started (RFC 3339)."),
    Prop("end_time", "string", "When the run ended (RFC 3339), once it has."),
    Prop("current_attempts", "integer", "How many attempts the run has made."),
    Prop("current_attempt_start_time", "string", "When the current attempt started (RFC 3339)."),
    Prop("job_version", "integer", "The version of the job the run executes."),
    Prop("step_id", "integer", "The step, for a step-level execution."),
    Prop("step_name", "string", "The step's name, for a step-level execution."),
    Prop(
        "target",
        "map",
        "Where a target-level execution ran (`type`, `serverName`, `databaseName`); empty for the job-level run.",
        required=True,
        items="any",
    ),
    Prop("system_data", "map", "ARM's system data of the execution.", items="any"),
    Prop("name", "string", "The execution's ARM name (its id).", required=True),
    Prop("type", "string", "The execution's ARM resource type.", required=True),
    Prop("azure_id", "string", "The execution's full ARM id; also the resource's id.", required=True),
    Prop("job_execution_id", "string", "The execution's id (a UUID).", required=True),
    Prop(
        "target_outcomes",
        "#/types/azure-elastic-jobs:index:TargetOutcomes",
        "How the run's target executions ended, read once when the run is terminal.",
        required=True,
    ),
    Prop(
        "in_history",
        "boolean",
        "`true` while the service still knows the run; `false` once a refresh found it "
        "gone (history retention, or its job deleted): the outputs are then as last recorded, and the run is "
        "never started again behind your back.",
        required=True,
    ),
    Prop(
        "plan",
        "#/types/azure-elastic-jobs:index:RunPlan",
        "What the run was planned to do where, read just before it started: the job version, its steps and every "
        "database each will run on. Known during preview on the native provider; empty when the run was started "
        "by an earlier attempt of this create (the plan is read only before a start).",
    ),
)

RUN_PLAN = (
    Prop("job", "string", "The job."),
    Prop("version", "integer", "The job's version when the plan was read."),
    Prop(
        "digest",
        "string",
        "A stable digest of what will run where, by content, not version (`sha256:` and 16 hex characters).",
    ),
    Prop("pin", "string", "Databases per server, the steps' scripts and the digest: the value `expectedPlan` takes."),
    Prop("summary", "string", "The plan in one line, as the resource's row shows it."),
    Prop(
        "steps",
        "array",
        "Each step in order: `stepId`, `name`, `targetGroup`, `credential`, `scriptDigest`, `scriptFirstLine`, "
        "`timeoutSeconds`, `retryAttempts`, `databases` (`server/database`) and `unresolved` members with reasons.",
        items="any",
    ),
    Prop("databases", "integer", "How many databases the run will touch."),
    Prop("servers", "map", "Databases per server.", items="number"),
    Prop("busy", "array", "Databases an active run of the job holds: the service skips them there.", items="string"),
    Prop("unseen", "array", "What the plan could not read (it is incomplete when any).", items="string"),
    Prop(
        "deployed",
        "array",
        "Steps whose script the plan shows as this deployment gives it (`stepScripts`), not as the live job has it.",
        items="string",
    ),
)

TARGET_OUTCOMES = (
    Prop("counts", "map", "How many target executions ended in each lifecycle.", items="number"),
    Prop("steps", "integer", "How many steps ran."),
    Prop("databases", "integer", "How many databases the run touched."),
    Prop(
        "complete",
        "boolean",
        "Whether every target execution was read (false until the run is terminal, or when the listing failed).",
    ),
    Prop(
        "problems",
        "array",
        "The first 20 target executions that did not succeed: server, database, step, lifecycle, attempts, message.",
        items="any",
    ),
    Prop("problems_omitted", "integer", "How many more did not succeed."),
    Prop(
        "by_database",
        "map",
        "Per database (`server/database`, the plan's key): how it ended (the worst lifecycle of its steps).",
        items="string",
    ),
    Prop(
        "unplanned",
        "array",
        "Databases the run touched that its plan did not name (the fleet changed, or the plan could not see them).",
        items="string",
    ),
)

MEMBER_PROPS = (
    Prop("job_name", "string", "The job this member runs. Required unless `jobId` names it."),
    Prop("triggers", "map", "Any values; a change re-runs just this member.", items="any"),
    Prop("job_execution_id", "string", "A UUID to pin this member's run to."),
    Prop(
        "expected_plan",
        "string",
        "The plan a reviewer approved for this member's run, as its `pin` (or any part of it), as on a "
        "JobExecution: the member starts no run while its job's live plan differs; it is recorded with a "
        "`PlanChanged` error naming what changed, and the other members go on (the next `up` tries it again). "
        "Changing it alone never re-runs a member that ran.",
    ),
    Prop(
        "step_scripts",
        "map",
        "The job's steps this deployment deploys, by step name (script text or `sha256:` digest), as on a "
        "JobExecution. Changing it alone never re-runs a member that ran.",
        items="string",
    ),
    Prop(
        "job_id",
        "string",
        "The job's ARM id (azure-native's `sql.Job` `id`) instead of `jobName`; it must name a job of the set's "
        "agent, whose names default to the id's when the set gives none.",
    ),
)

SET_INPUTS = (
    *AGENT_INPUTS,
    Prop(
        "members",
        "map",
        "The executions to run, by member key (1 to 1000; letters, digits, `.`, `_`, `-`): each a job, its "
        "triggers and optionally a pinned execution id. Adding, removing or changing a member updates the set "
        "in place and runs only that member.",
        required=True,
        items="#/types/azure-elastic-jobs:index:Member",
    ),
    Prop(
        "waves",
        "array",
        "A staged rollout: member keys in ordered waves (`[[canary], [pool1, pool2], [rest]]`). Every member is in "
        "exactly one wave, and the set must wait (`waitForCompletion: true`). A wave starts only when the one "
        "before passed its `gate`; a wave that fails it halts the rollout (later waves start nothing), and the "
        "next `up` resumes it: members re-run only as their own rules say (a `triggers` change), members that "
        "succeeded never run again, then the later waves start. Changing it updates the set in place.",
        items="any",
    ),
    Prop(
        "gate",
        "#/types/azure-elastic-jobs:index:RolloutGate",
        "When a wave lets the next one start (default: every member of the wave ended `Succeeded`).",
    ),
)

GATE_PROPS = (
    Prop(
        "pass_on",
        "array",
        "Lifecycles a member may end in for its wave to pass (default `Succeeded`; any of Succeeded, "
        "SucceededWithSkipped, Skipped).",
        items="string",
    ),
    Prop(
        "max_failed_targets",
        "integer",
        "How many databases of a wave may fail (a member that ended Failed or TimedOut on them then passes); "
        "with neither limit given, none may.",
    ),
    Prop("max_failed_share", "number", "The share (0 to 1) of a wave's databases that may fail."),
)

ROLLOUT_WAVE = (
    Prop("wave", "integer", "The wave's number, from 1.", required=True),
    Prop("members", "array", "The wave's member keys.", required=True, items="string"),
    Prop(
        "lifecycle",
        "string",
        "NotStarted, InProgress, Succeeded (it passed its gate) or Failed (it failed it).",
        required=True,
    ),
    Prop("databases_succeeded", "integer", "Databases the wave's runs succeeded on.", required=True),
    Prop("databases_failed", "integer", "Databases the wave's runs failed or timed out on.", required=True),
)

ROLLOUT_HALT = (
    Prop("wave", "integer", "The wave that failed its gate.", required=True),
    Prop("reason", "string", "Why: each member and limit that failed the gate.", required=True),
    Prop("failed_targets", "array", "The wave's failed databases (`server/database`).", required=True, items="string"),
)

ROLLOUT = (
    Prop(
        "state",
        "string",
        "`complete` (every wave passed), `halted` (a wave failed its gate) or `running` (a wave still runs after "
        "the wait, or waits to start).",
        required=True,
    ),
    Prop(
        "waves",
        "array",
        "Each wave in order.",
        required=True,
        items="#/types/azure-elastic-jobs:index:RolloutWave",
    ),
    Prop("halted", "#/types/azure-elastic-jobs:index:RolloutHalt", "What halted the rollout, when it is halted."),
    Prop("not_started", "array", "Members that have no run yet.", required=True, items="string"),
    Prop("gate", "string", "The gate, in words.", required=True),
)

SET_OUTPUTS = (
    Prop(
        "executions",
        "map",
        "Per member key: every output of a JobExecution, `jobName`, and `error` "
        "(`code`, `status`, `message`, `requestId`) when the member could not start or its run vanished.",
        required=True,
        items="any",
    ),
    Prop(
        "failed_members",
        "array",
        "Member keys whose lifecycle is in `failOn` or that have an `error`; members "
        "never fail the deployment by themselves.",
        required=True,
        items="string",
    ),
    Prop("finished", "boolean", "Whether every member's lifecycle is terminal (or it has an error).", required=True),
    Prop(
        "rollout",
        "#/types/azure-elastic-jobs:index:Rollout",
        "With `waves`: the rollout's state, each wave's lifecycle and databases, and what halted it; known after "
        "`up` (a resource that must wait for a complete rollout depends on `rollout.state`).",
    ),
)

CONFIG = (
    Prop(
        "endpoint",
        "string",
        "The ARM endpoint (default: the cloud's Resource Manager, "
        "`https://management.azure.com`); the local emulator's URL to use it.",
    ),
    Prop("environment", "string", "The Azure cloud: `public` (default), `usgovernment` or `china`."),
    Prop("subscription_id", "string", "The default subscription of every resource."),
    Prop(
        "token",
        "string",
        "A static bearer token, for the local emulator only (sent over plain HTTP only to loopback).",
        secret=True,
    ),
    Prop("ca_bundle", "string", "A PEM file of CA certificates to trust (the emulator's certificate)."),
    Prop("tenant_id", "string", "The tenant of a service principal."),
    Prop("client_id", "string", "The application (client) id of a service principal."),
    Prop("client_secret", "string", "The secret of a service principal.", secret=True),
    Prop("retry_budget", "number", "Seconds each request may spend on retries (default 120)."),
    Prop(
        "allow_custom_endpoint",
        "boolean",
        "Allow Azure AD tokens to go to an HTTPS endpoint other than the cloud's Resource Manager.",
    ),
    Prop("authority_host", "string", "The Microsoft Entra authority (default: the cloud's)."),
    Prop(
        "fleet_subscriptions",
        "string",
        "Subscriptions (comma-separated) where a run's plan looks for target servers, after the job agent's own.",
    ),
    Prop(
        "max_response_bytes",
        "integer",
        "The largest answer read from the service, in bytes (default 64 MiB); a larger one fails the request.",
    ),
    Prop(
        "plan_rows",
        "string",
        "A preview's rows under a resource that would start a run: `database` (a row per database), `server` (a "
        "row per server, its databases a property), `none`, or `auto` (default: a row per database up to 100 "
        "databases, a row per server above).",
    ),
)


def camel(name: str) -> str:
    """``job_execution_id`` -> ``jobExecutionId``: Pulumi schemas name properties in camelCase."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    """``jobExecutionId`` -> ``job_execution_id``: the inverse of :func:`camel` for this catalog's names."""
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)
