"""The Pulumi resource a program declares: typed inputs, declared outputs, and the semantics in one place.

A ``JobExecution`` is one run of an Elastic Job. Declaring it starts the run on the first ``pulumi up``;
later deployments leave it alone unless an identity input (the job's coordinates, ``job_execution_id`` or
``triggers``) changes, which replaces the resource and so starts exactly one new run. Waiting options
(``wait_for_completion``, ``timeout``, ``poll_interval``, ``fail_on``, ``api_version``, ``cancel_on_destroy``)
change in place without a new run. Destroying an active execution cancels it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .provider import OUTPUT_NAMES, JobExecutionProvider, JobExecutionSetProvider


def _with_delete_before_replace(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Replacing an execution cancels the old run before starting the new one, never two at once."""
    opts = opts or pulumi.ResourceOptions()
    if opts.delete_before_replace is None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True))
    return opts


def _execution_key(
    cls: type[Resource], resource_name: str, opts: pulumi.ResourceOptions, given: pulumi.Input[str] | None
) -> pulumi.Input[str]:
    """Where the resource sits, as the key of its derived execution ids: organization and full URN.

    The URN carries the project, the stack, the type and the whole parent chain, so two resources of one name
    under different components never share an id chain. ``given`` (the ``execution_key`` input) overrides it.
    """
    if given is not None:
        return given
    parent = _urn_as_value(opts.parent) if opts.parent is not None else None
    urn = pulumi.create_urn(resource_name, f"pulumi-python:{cls._resource_type_name}", parent=parent)
    return urn.apply(lambda value: f"{_organization()}/{value}")


def _urn_as_value(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The parent's URN without a dependency on the parent: a component stands for its children, so depending
    on it would make this resource wait for itself."""
    urn: Awaitable[str] = parent.urn.future()  # type: ignore[assignment]  # a registered parent has a URN
    return pulumi.Output(set(), urn, parent.urn.is_known())


def _organization() -> str:
    try:
        return pulumi.get_organization() or "organization"
    except Exception:  # an engine too old to say: every stack of it is in one organization anyway
        return "organization"


class JobExecution(Resource, module="azure-elastic-jobs", name="JobExecution"):
    """One run of an Azure SQL Elastic Job, started with ARM "Job Executions - Create Or Update"."""

    lifecycle: pulumi.Output[str]
    """Created, InProgress, WaitingForRetry, Succeeded, SucceededWithSkipped, Failed, TimedOut, Canceled, ..."""
    last_message: pulumi.Output[str | None]
    target: pulumi.Output[dict[str, Any]]
    """{type, server_name, database_name} of the execution's target; {} for a whole-job execution."""
    target_outcomes: pulumi.Output[dict[str, Any]]
    """How the run's target executions ended, read once when the run is terminal: ``counts`` by lifecycle,
    ``problems`` (the first 20 that did not succeed: server, database, step, lifecycle, attempts, message),
    ``problems_omitted``, ``steps``, ``databases``, ``by_database`` (how each ``server/database`` ended),
    ``unplanned`` (databases the run touched that its plan did not name) and ``complete`` (False until the run is
    terminal)."""
    plan: pulumi.Output[dict[str, Any] | None]
    """What the run was planned to do where, read just before it started: ``job``, ``version``, ``digest``,
    ``pin``, ``summary``, ``steps`` (each with its ``databases``), ``busy``, ``unseen`` (docs/resources.md)."""
    provisioning_state: pulumi.Output[str | None]
    create_time: pulumi.Output[str | None]
    start_time: pulumi.Output[str | None]
    end_time: pulumi.Output[str | None]
    current_attempts: pulumi.Output[float | None]
    """Numbers reach programs as floats, as every number in Pulumi state does."""
    current_attempt_start_time: pulumi.Output[str | None]
    job_version: pulumi.Output[float | None]
    step_id: pulumi.Output[float | None]
    step_name: pulumi.Output[str | None]
    system_data: pulumi.Output[dict[str, Any] | None]
    name: pulumi.Output[str]
    type: pulumi.Output[str]
    azure_id: pulumi.Output[str]
    """The ARM id of the execution; also this resource's Pulumi id."""
    job_execution_id: pulumi.Output[str]
    in_history: pulumi.Output[bool]
    """True while the service still knows the run; false once a refresh found it gone (history retention, or its
    job deleted): the outputs are then as last recorded, and the run is never started again behind your back."""

    def __init__(
        self,
        resource_name: str,
        *,
        resource_group_name: pulumi.Input[str] | None = None,
        server_name: pulumi.Input[str] | None = None,
        job_agent_name: pulumi.Input[str] | None = None,
        job_name: pulumi.Input[str] | None = None,
        job_id: pulumi.Input[str] | None = None,
        subscription_id: pulumi.Input[str] | None = None,
        job_execution_id: pulumi.Input[str] | None = None,
        api_version: pulumi.Input[str] | None = None,
        wait_for_completion: pulumi.Input[bool] | None = None,
        timeout: pulumi.Input[float] | None = None,
        poll_interval: pulumi.Input[float] | None = None,
        fail_on: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        triggers: pulumi.Input[Mapping[str, Any]] | None = None,
        cancel_on_destroy: pulumi.Input[bool] | None = None,
        execution_key: pulumi.Input[str] | None = None,
        expected_plan: pulumi.Input[str] | None = None,
        step_scripts: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare one execution of ``job_name`` (or of the job ``job_id`` names).

        :param job_id: the job's ARM id (azure-native's ``sql.Job`` ``id``), instead of ``resource_group_name``,
            ``server_name``, ``job_agent_name`` and ``job_name`` (and ``subscription_id``); a name also given must
            agree with it. Checked before any request.
        :param subscription_id: defaults to config ``azure-elastic-jobs:subscriptionId``, then the
            ``AZURE_SUBSCRIPTION_ID`` / ``ARM_SUBSCRIPTION_ID`` environment variables.
        :param job_execution_id: a UUID to pin the run to; by default one is derived from the stack, this
            resource's name, the job and ``triggers``, so an interrupted ``up`` re-attaches instead of re-running.
        :param wait_for_completion: False (default) returns once ARM accepted the run; True waits until its
            lifecycle is terminal and fails the deployment on a lifecycle listed in ``fail_on``.
        :param timeout: seconds to wait when waiting (default 3600); on timeout the run is left running.
        :param poll_interval: the longest pause between polls, in seconds (default 30; ``Retry-After`` wins).
        :param fail_on: terminal lifecycles that fail the deployment (default Failed, TimedOut, Canceled).
        :param triggers: any map; a change starts a new run (like ``triggers`` of pulumi-command).
        :param cancel_on_destroy: cancel an active run when the resource is destroyed (default True).
        :param execution_key: the key of the derived ids (default: the organization and this resource's URN);
            resources that share a key share one id chain, so one attaches to the other's active run.
        :param expected_plan: the plan a reviewer approved, as its pin (``server1=12 steps=9b1c2d3e4f50
            sha256:...``, or a part): a create refuses, before any request that changes anything, a run whose live
            plan differs.
        :param step_scripts: the job's steps this deployment deploys, by step name: each one's script (the text the
            job step's ``action.value`` is given) or its ``sha256:`` digest. The preview's plan shows these scripts,
            not the live job's, and its pin holds through the new job version the step's update makes; a create
            refuses a run whose steps do not run them (make the run depend on the job steps).
        """
        opts = _with_delete_before_replace(opts)
        props: dict[str, Any] = {
            "subscription_id": subscription_id,
            "resource_group_name": resource_group_name,
            "server_name": server_name,
            "job_agent_name": job_agent_name,
            "job_name": job_name,
            "job_id": job_id,
            "job_execution_id": job_execution_id,
            "api_version": api_version,
            "wait_for_completion": wait_for_completion,
            "timeout": timeout,
            "poll_interval": poll_interval,
            "fail_on": fail_on,
            "triggers": triggers,
            "cancel_on_destroy": cancel_on_destroy,
            "execution_key": _execution_key(JobExecution, resource_name, opts, execution_key),
            "expected_plan": expected_plan,
            "step_scripts": step_scripts,
        }
        props.update({name: None for name in OUTPUT_NAMES if name not in props})
        super().__init__(JobExecutionProvider(), resource_name, props, opts)

    @staticmethod
    def get(resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> JobExecution:
        """Look up an existing execution by its ARM id (read-only: nothing is started or cancelled)."""
        resource = JobExecution.__new__(JobExecution)
        props: dict[str, Any] = {name: None for name in OUTPUT_NAMES}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id))
        Resource.__init__(resource, JobExecutionProvider(), resource_name, props, opts)
        return resource


SET_OUTPUT_NAMES = ("executions", "failed_members", "finished", "rollout")


class JobExecutionSet(Resource, module="azure-elastic-jobs", name="JobExecutionSet"):
    """Many executions on one job agent, started together and waited for together in one plugin call.

    Use it for a fleet of jobs per deployment: 32 waited ``JobExecution`` resources queue behind the plugin's
    four worker threads (about 8 x T), one set of 32 takes about T. ``members`` maps a stable key to
    ``{"job_name": ..., "triggers": {...}}`` (or ``"job_id"``, the job's ARM id, instead of ``"job_name"``: the set's
    agent names then default to the id's; optionally ``"job_execution_id"``, ``"expected_plan"``, the pin of
    the plan a reviewer approved: a member whose job's live plan differs starts nothing and records a
    ``PlanChanged`` error, and ``"step_scripts"``, as on ``JobExecution``); changing one member's triggers re-runs
    only that member, adding one starts it, removing one cancels it if active. ``waves`` (member keys in order,
    every member once; needs ``wait_for_completion``) makes it a staged rollout: a wave starts only when the one
    before passed ``gate`` (``pass_on``, ``max_failed_targets``, ``max_failed_share``); a failed gate halts it, and
    the next ``up`` resumes it (docs/resources.md, Staged rollouts).
    """

    executions: pulumi.Output[dict[str, Any]]
    """Per member key: job_name, job_execution_id, azure_id, lifecycle, last_message, times, target,
    ``target_outcomes`` (as on JobExecution), ..., and ``error`` ({code, status, message, request_id}) when the
    member could not start or its run vanished."""
    failed_members: pulumi.Output[list[str]]
    """Member keys whose lifecycle is in ``fail_on`` or that have an ``error``; members never fail the deployment
    on their own."""
    finished: pulumi.Output[bool]
    """True when every member's lifecycle is terminal (or it has an error)."""
    rollout: pulumi.Output[dict[str, Any] | None]
    """With ``waves``: ``state`` (complete, halted, running), ``waves`` (each one's ``lifecycle``,
    ``databases_succeeded``, ``databases_failed``), ``halted`` (``wave``, ``reason``, ``failed_targets``) and
    ``not_started``."""

    def __init__(
        self,
        resource_name: str,
        *,
        members: pulumi.Input[Mapping[str, pulumi.Input[Mapping[str, Any]]]],
        resource_group_name: pulumi.Input[str] | None = None,
        server_name: pulumi.Input[str] | None = None,
        job_agent_name: pulumi.Input[str] | None = None,
        subscription_id: pulumi.Input[str] | None = None,
        api_version: pulumi.Input[str] | None = None,
        wait_for_completion: pulumi.Input[bool] | None = None,
        timeout: pulumi.Input[float] | None = None,
        poll_interval: pulumi.Input[float] | None = None,
        fail_on: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        cancel_on_destroy: pulumi.Input[bool] | None = None,
        execution_key: pulumi.Input[str] | None = None,
        waves: pulumi.Input[Sequence[pulumi.Input[Sequence[str]]]] | None = None,
        gate: pulumi.Input[Mapping[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        opts = _with_delete_before_replace(opts)
        props: dict[str, Any] = {
            "subscription_id": subscription_id,
            "resource_group_name": resource_group_name,
            "server_name": server_name,
            "job_agent_name": job_agent_name,
            "members": members,
            "waves": waves,
            "gate": gate,
            "api_version": api_version,
            "wait_for_completion": wait_for_completion,
            "timeout": timeout,
            "poll_interval": poll_interval,
            "fail_on": fail_on,
            "cancel_on_destroy": cancel_on_destroy,
            "execution_key": _execution_key(JobExecutionSet, resource_name, opts, execution_key),
            **dict.fromkeys(SET_OUTPUT_NAMES),
        }
        super().__init__(JobExecutionSetProvider(), resource_name, props, opts)
