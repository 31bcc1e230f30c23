"""What the provider does for each resource, whatever face it wears: check, diff, create, read, update, delete.

The core both faces share, and imports no pulumi: the dynamic provider (``provider.py``) and the native plugin
(``native/``) only translate property maps and results around these calls, so a rule about a run lives here
once. Property maps are the snake_case names of ``terms.FIELDS`` / ``OUTPUT_NAMES``; results are plain data.
Rules about ARM stay in the client and rules about finding and starting runs in :mod:`.runs`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from .config import NAMESPACE, Settings, log_level
from .errors import (
    ArmError,
    CancelNotEffective,
    ElasticJobsError,
    ExecutionFailed,
    NotFound,
    RolloutHalted,
    StartedButUnsettled,
    SubscriptionNotFound,
    names_a_missing_parent,
)
from .ids import AGENT_NAMES, JOB_ID_NAMES, ExecutionRef, JobRef, named_by_job_id
from .outcome import (
    SKIPPED_MEANS,
    TargetOutcomes,
    set_status_line,
    set_summary_line,
    status_line,
    summary_line,
)
from .plan import Plan, changes, deploying
from .progress import Progress
from .runs import (
    Claim,
    Member,
    Run,
    attach_note,
    attach_or_choose,
    cancel_all,
    claim,
    job_runs,
    last_versions,
    may_have_started,
    refuse_unreviewed,
    start_members,
)
from .script_changes import FIRST, LastRun, StepChange, changes_text, step_changes
from .terms import (
    DEFAULT_API_VERSION,
    DEFAULT_POLL_INTERVAL_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    DEFAULTS,
    FIELDS,
    IDENTITY_FIELDS,
    MEMBER_FIELDS,
    SET_FIELDS,
    SET_IDENTITY_FIELDS,
    SET_WAITING_FIELDS,
    SKIPPED,
    UNKNOWN,
    WAITING_FIELDS,
    counted,
    is_terminal,
    is_unknown,
)
from .waves import Gate, halted_wave, judge, preview_lines, rollout

if TYPE_CHECKING:
    from .client import ElasticJobsClient
    from .inputs import ExecutionInputs, SetInputs
    from .models import JobExecution

log = logging.getLogger(__name__)

CANCEL_WAIT_SECONDS = 300.0
"""The longest a destroy or a replacement waits for a cancelled run to stop (the resource's timeout if shorter)."""


def cancel_wait(timeout: float) -> float:
    return min(float(timeout), CANCEL_WAIT_SECONDS)


CONFIG_KEYS = (
    "endpoint",
    "environment",
    "subscriptionId",
    "token",
    "caBundle",
    "tenantId",
    "clientId",
    "clientSecret",
    "retryBudget",
    "allowCustomEndpoint",
    "authorityHost",
    "fleetSubscriptions",
    "maxResponseBytes",
    "planRows",
)


# Outputs copied straight from the ARM execution's properties, then the ones shaped or added here.
PROPERTY_OUTPUTS = (
    "lifecycle",
    "last_message",
    "provisioning_state",
    "create_time",
    "start_time",
    "end_time",
    "current_attempts",
    "current_attempt_start_time",
    "job_version",
    "step_id",
    "step_name",
)
OUTPUT_NAMES = (
    *PROPERTY_OUTPUTS,
    "target",
    "system_data",
    "name",
    "type",
    "azure_id",
    "job_execution_id",
    "target_outcomes",
    "in_history",
    "plan",
)


def execution_outputs(execution: JobExecution, ref: ExecutionRef) -> dict[str, Any]:
    """Every property of the execution in snake_case, plus ``azure_id`` and ``job_execution_id``."""
    props = execution.properties
    wire = props.model_dump(mode="json", exclude_none=False)
    outputs = {key: wire.get(key) for key in PROPERTY_OUTPUTS}
    # {} rather than null for a job-level run: a null output reads as unknown in every preview
    outputs["target"] = props.target.model_dump(mode="json") if props.target else {}
    outputs["system_data"] = execution.system_data.model_dump(mode="json") if execution.system_data else None
    outputs["name"] = execution.name or ref.job_execution_id
    outputs["type"] = execution.type
    outputs["azure_id"] = ref.arm_id
    outputs["job_execution_id"] = ref.job_execution_id
    outputs["in_history"] = True
    return outputs


SET_OUTPUT_NAMES = ("executions", "failed_members", "finished", "rollout")


@dataclass(frozen=True)
class Checked:
    """Inputs with defaults filled, and one reason per field that failed (empty when all are valid)."""

    inputs: dict[str, Any]
    failures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Diffed:
    """Which changed inputs replace the resource (a new run) and which update it in place (never a run)."""

    replaces: list[str]
    updates: list[str]

    @property
    def changes(self) -> bool:
        return bool(self.replaces or self.updates)


@dataclass(frozen=True)
class Created:
    id: str
    outputs: dict[str, Any]


@dataclass(frozen=True)
class Found:
    """What a read found: the id ("" when there is nothing there), the outputs, and for an import or a get the
    inputs the id gives (None on refresh: the declared inputs stay as they were)."""

    id: str
    outputs: dict[str, Any]
    inputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class Announced:
    """What a preview showed of the runs these inputs start: a ``JobExecution``'s own ``plan``, or the plans of a
    set's starting ``members`` by member key (members of one job share its plan)."""

    plan: Plan | None = None
    members: Mapping[str, Plan] = field(default_factory=dict)
    changes: Mapping[str | None, list[StepChange]] = field(default_factory=dict)
    """Each run's steps against its last run's scripts, by whose run it is (``None``: a JobExecution's own)."""

    def by_member(self) -> dict[str | None, Plan]:
        """Every plan shown, by whose run it is: ``None`` for a ``JobExecution``'s own, else the member key."""
        plans: dict[str | None, Plan] = {} if self.plan is None else {None: self.plan}
        plans.update(self.members)
        return plans


class Connection:
    """Where the provider's settings and clients live in its process: resolved once, at first use, from the
    configuration the engine handed over; shared by every call (thread-safe)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._config: dict[str, Any] = {}
        self._settings: Settings | None = None
        self._clients: dict[str, ElasticJobsClient] = {}
        self._lock = threading.Lock()
        self._adopted: set[str] = set()
        self._started: dict[str, datetime | None] = {}
        self.sleep: Callable[[float], None] = time.sleep
        """How waits between polls and retries pause (the native face swaps in one that a Cancel interrupts)."""
        if config is not None:
            self.configure(config)

    def adopt(self, arm_id: str) -> None:
        """A create in this deployment attached to the run ``arm_id``: from now on it is that resource's run."""
        with self._lock:
            self._adopted.add(arm_id.lower())

    def adopted(self, arm_id: str) -> bool:
        """Whether a resource created in this deployment stands for the run ``arm_id``.

        A create-before-delete replacement (the program's ``deleteBeforeReplace: false``) creates first, and its
        create attaches to the active run of the same intent, which is the old resource's; the old resource's
        delete comes after and must not cancel the run the new one now stands for. The engine runs one provider
        process per deployment, so what this process saw is what this deployment did."""
        with self._lock:
            return arm_id.lower() in self._adopted

    def started(self, arm_id: str, execution: JobExecution) -> None:
        """A create in this deployment started the run ``arm_id`` (its PUT confirmed, created at ``createTime``)."""
        with self._lock:
            self._started[arm_id.lower()] = execution.properties.create_time

    def started_here(self, arm_id: str, execution: JobExecution) -> bool:
        """Whether ``execution`` is the very run a create in this deployment started (same id, same ``createTime``).

        A record whose PUT was never confirmed names an id with no ``createTime`` to tell its run from a later
        one: a create-before-delete replacement starts its run under that very id when it is still free (the
        chain's first free generation), and the old record's delete, after it, must leave that run alone."""
        with self._lock:
            key = arm_id.lower()
            return key in self._started and self._started[key] == execution.properties.create_time

    def configure(self, config: Mapping[str, Any]) -> None:
        """Take the provider configuration (``azure-elastic-jobs:<key>`` names); what was resolved is dropped."""
        with self._lock:
            self._config = {f"{NAMESPACE}:{key}": config.get(f"{NAMESPACE}:{key}") for key in CONFIG_KEYS}
            self._settings = None
            self._clients = {}

    def settings(self) -> Settings:
        """The resolved settings; a bad value raises :class:`ConfigError` naming its key, at the first use."""
        with self._lock:
            if self._settings is None:
                _enable_logging(log_level(os.environ.get("AZURE_ELASTIC_JOBS_LOG_LEVEL")))
                self._settings = Settings.resolve(self._config)
            return self._settings

    def client(self, api_version: str) -> ElasticJobsClient:
        settings = self.settings()
        with self._lock:
            client = self._clients.get(api_version)
            if client is None:
                from .client import ElasticJobsClient  # urllib3 and tenacity load on first use only

                client = ElasticJobsClient(
                    settings.endpoint,
                    settings.token_source(),
                    api_version=api_version,
                    retry_budget_seconds=settings.retry_budget_seconds,
                    max_response_bytes=settings.max_response_bytes,
                    verify=settings.ca_bundle or True,
                    sleep=self._pause,
                )
                self._clients[api_version] = client
            return client

    def _pause(self, seconds: float) -> None:
        self.sleep(seconds)


class Executions:
    """One Elastic Job execution per resource; see docs/resources.md for the identity and waiting semantics."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def settings(self) -> Settings:
        return self.connection.settings()

    def client(self, api_version: str) -> ElasticJobsClient:
        return self.connection.client(api_version)

    # --- lifecycle hooks ---------------------------------------------------------------------------------------

    @staticmethod
    def inputs_model() -> type[ExecutionInputs | SetInputs]:
        from .inputs import ExecutionInputs  # pydantic loads when inputs are first validated, not on import

        return ExecutionInputs

    field_names: tuple[str, ...] = FIELDS
    output_names: tuple[str, ...] = OUTPUT_NAMES
    """What only a run can tell (a preview shows these unknown)."""

    def check(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Checked:
        """Validate every input before any request: one failure per bad field, naming it.

        Inputs equal to the ones recorded at the last deployment (defaults filled the same way) were validated
        then: they are returned as recorded, without loading the validator (most of a no-change preview's
        time in this provider)."""
        news, named = self.named_by_job_ids(news)
        default_subscription = self.settings().subscription_id
        recorded = unchanged_inputs(self.field_names, olds, news, default_subscription) if not named else None
        if recorded is not None:
            return Checked(recorded)
        from .inputs import validate

        checked, problems = validate(self.inputs_model(), news, default_subscription)
        return Checked(checked, {**_with_job_id_alternative(problems, named), **named})

    @staticmethod
    def named_by_job_ids(news: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """``news`` with the names ``job_id`` (the job's ARM id) gives filled in, and the problems of it."""
        values = dict(news)
        return values, named_by_job_id(values, "job_id", JOB_ID_NAMES, UNKNOWN)

    def diff(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diffed:
        """Identity changes replace (a new run); waiting options update in place; nothing else is a change."""
        changed = [name for name in FIELDS if name != "execution_key" and _differs(name, olds, news)]
        replaces = [name for name in changed if name in IDENTITY_FIELDS]
        updates = [name for name in changed if name in WAITING_FIELDS]
        return Diffed(replaces, updates)

    def create(self, props: Mapping[str, Any], progress: Progress, time_limit: float | None = None) -> Created:
        """Start or attach to this resource's run, and wait for it if asked (at most ``time_limit`` seconds, the
        engine's custom timeout, when one is given)."""
        declared = _execution_inputs(props)
        client = self.client(declared.api_version)
        plan: Plan | None = None
        with self._naming_subscription_source(declared.subscription_id):
            runs = None if declared.job_execution_id else job_runs(client, declared.job)
            found = attach_or_choose(client, declared, runs)
            if isinstance(found, Claim):  # a run is about to start: read its plan, and refuse one not reviewed
                plan = self._plan(client, declared.job, runs.active if runs else None)
                refuse_unreviewed(declared.expected_plan, plan, declared.step_scripts)
            run = found if isinstance(found, Run) else _claim_or_record(client, declared, found, plan)
        log.info("%s %s", "started" if run.started else "attached to", run.ref.arm_id)
        note = attach_note(run)
        if note:
            progress.warn(note)
        if isinstance(found, Run):  # attached to a run already there, never one this create's PUT found taken
            self.connection.adopt(run.ref.arm_id)
        elif run.started:
            self.connection.started(run.ref.arm_id, run.execution)
        try:
            execution, targets = self._settle(client, run.ref, _limited(declared, time_limit), run.execution, progress)
        except ExecutionFailed:
            raise  # the run ended as the program said it must not: not recorded, so a fixed job runs again
        except ElasticJobsError as unsettled:
            outputs = _resource_outputs(declared, run.execution, run.ref, TargetOutcomes(), _planned(plan))
            raise StartedButUnsettled(run.ref.arm_id, outputs, unsettled) from unsettled
        return Created(run.ref.arm_id, _resource_outputs(declared, execution, run.ref, targets, _planned(plan)))

    def announce_plan(self, olds: Mapping[str, Any], inputs: Mapping[str, Any], progress: Progress) -> Announced:
        """When these inputs start a run (a new resource, or a replacing change), read its plan and put it in the
        resource's diagnostics, its first line the summary the row shows; else nothing, and no request. A pinned
        ``expected_plan`` the live plan no longer matches is a warning there: the reviewer learns in the preview
        that ``up`` will refuse to start this run. A Check that starts no run loads nothing (no validator)."""
        if olds and not self.diff(olds, inputs).replaces:
            return Announced()
        live = self.preview_plan(inputs)
        plan = _deploying(live, inputs.get("step_scripts"))
        if plan is None:
            return Announced()
        last = self._last_run(olds, live) if plan.steps else FIRST
        changes = step_changes(last, plan) if plan.steps else []
        progress.note(_with_changes(plan, last, changes))
        expected = _known_pin(inputs.get("expected_plan"))
        if expected is not None:
            _warn_unreviewed(progress, {"this run": expected}, plan)
        return Announced(plan, changes={None: changes})

    def _last_run(self, olds: Mapping[str, Any], live: Plan | None = None) -> LastRun:
        """The scripts the resource's last run ran (none: it never ran). Its job version is the one its recorded
        outputs name (the native face sends the old state), else that of the newest run of the chain its old
        inputs derive (the dynamic face's Check has the old inputs only): one listing of the job's runs."""
        if not olds:
            return FIRST
        try:
            declared = _execution_inputs(_coerce_numbers(_known_fields(olds, FIELDS)))
            client = self.client(declared.api_version)
            version = _recorded_version(olds.get("job_version"))
            if version is None and declared.job_execution_id:
                version = client.get_execution(declared.job.execution(declared.job_execution_id)).properties.job_version
            elif version is None:
                version = last_versions(client, declared.job, {"": declared.chain}).get("")
        except (ValueError, ElasticJobsError) as error:
            return LastRun(unread=str(error).splitlines()[0])
        if version is None:
            return LastRun(declared.job_name, unread="no run of it is in the job's history")
        from .planning import last_run  # the plan's reads load only where a plan is read

        return last_run(client, declared.job, version, live)

    def announce_update(self, olds: Mapping[str, Any], news: Mapping[str, Any], progress: Progress) -> None:
        """A preview of an update in place (the native face's Update with ``preview``): a run's update never starts
        one, so there is nothing to show and no request."""

    def preview_plan(self, inputs: Mapping[str, Any]) -> Plan | None:
        """What a run started now would do where, from reads alone (a preview's): None while an input that names
        the job is unknown. Never fails for what it cannot read: the plan says what it did not see."""
        if any(is_unknown(inputs.get(name)) for name in (*SET_IDENTITY_FIELDS, "job_name")):
            return None
        try:  # an input the plan does not read may still be unknown (another resource's output): leave it out
            declared = _execution_inputs({key: value for key, value in inputs.items() if not is_unknown(value)})
        except ValueError:  # Check reported it, naming the field; a preview shows no plan for it
            return None
        try:
            return self._plan(self.client(declared.api_version), declared.job, None)
        except ElasticJobsError as error:  # no client at all (settings, credentials): say so, do not fail
            return Plan(declared.job_name, 0, unseen=(str(error),))

    def _plan(self, client: ElasticJobsClient, job: JobRef, active: Mapping[str, Any] | None) -> Plan:
        from .planning import read_plan  # the plan's reads load only where a plan is read

        return read_plan(client, job, self.settings().fleet_subscriptions, active)

    def read(self, id_: str, props: Mapping[str, Any]) -> Found:
        """Refresh, ``.get`` and import: everything comes from the ARM id.

        A refresh of a run the service no longer knows (history retention, its job deleted) keeps the resource
        with its last recorded outputs and ``in_history`` false: dropping it from state would make the next
        ``up`` create it, running a one-shot job again. Only ``.get``/import of an unknown id reads as gone."""
        ref = ExecutionRef.parse(id_)
        known = {key: value for key, value in props.items() if key in FIELDS and value is not None}
        known.update(
            subscription_id=ref.job.subscription_id,
            resource_group_name=ref.job.resource_group_name,
            server_name=ref.job.server_name,
            job_agent_name=ref.job.job_agent_name,
            job_name=ref.job.job_name,
        )
        inputs = _execution_inputs(_coerce_numbers(known))
        client = self.client(inputs.api_version)
        try:
            execution = client.get_execution(ref)
        except NotFound:
            if "azure_id" not in props:
                return Found("", {})  # import or get of an id the service does not know: nothing to adopt
            if unconfirmed(props):  # its PUT may never have arrived: the next up ensures the id
                return Found(ref.arm_id, {key: value for key, value in props.items() if key != "__provider"})
            return Found(ref.arm_id, forgotten(props))  # a run that happened stays happened
        targets = _targets_of(client, ref, execution, props.get("target_outcomes"))
        outputs = _resource_outputs(inputs, execution, ref, targets, _recorded_plan(props))
        if "azure_id" in props:
            return Found(ref.arm_id, outputs)  # refresh: the declared inputs stay as they were
        return Found(ref.arm_id, outputs, known)  # import or get: inputs as the id and program give them

    def update(
        self,
        id_: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        progress: Progress,
        time_limit: float | None = None,
    ) -> dict[str, Any]:
        """Never a new run: apply the waiting options to the existing execution and read it again."""
        declared = _execution_inputs(news)
        ref = ExecutionRef.parse(id_)
        client = self.client(declared.api_version)
        try:
            execution = client.get_execution(ref) if not unconfirmed(olds) else client.ensure_execution(ref).execution
        except NotFound:  # forgotten by the service: nothing to wait for, the record stands
            return {**forgotten(olds), **_as_struct_numbers(_inputs_of(declared))}
        execution, targets = self._settle(
            client, ref, _limited(declared, time_limit), execution, progress, recorded=True
        )
        return _resource_outputs(declared, execution, ref, targets, _recorded_plan(olds))

    def delete(self, id_: str, props: Mapping[str, Any]) -> None:
        """ARM has no DELETE for executions: cancel an active one (unless cancel_on_destroy=False), then forget."""
        ref = ExecutionRef.parse(id_)
        inputs = _execution_inputs(
            _coerce_numbers({key: value for key, value in props.items() if key in FIELDS and value is not None})
        )
        if not inputs.cancel_on_destroy:
            return
        if self.connection.adopted(ref.arm_id):
            log.info("not cancelling %s: the resource that replaced this one stands for it", ref.arm_id)
            return
        client = self.client(inputs.api_version)
        try:
            execution = client.get_execution(ref)
            if is_terminal(execution.properties.lifecycle):
                return
            if not _the_recorded_run(execution, props) or (
                unconfirmed(props) and self.connection.started_here(ref.arm_id, execution)
            ):
                log.info("not cancelling %s: a later run under the id this resource recorded", ref.arm_id)
                return
            client.cancel_execution(ref)
            client.wait_for_terminal(ref, timeout=cancel_wait(inputs.timeout), poll_interval=inputs.poll_interval)
        except NotFound:
            return

    # --- helpers ----------------------------------------------------------------------------------------------

    @contextmanager
    def _naming_subscription_source(self, subscription_id: str) -> Iterator[None]:
        """An unknown subscription is reported with where its value came from: the input, or config/env."""
        try:
            yield
        except SubscriptionNotFound as error:
            settings = self.settings()
            from_default = subscription_id.lower() == (settings.subscription_id or "").lower()
            error.source = settings.subscription_source if from_default else "the resource's subscription_id input"
            raise

    @staticmethod
    def _settle(
        client: ElasticJobsClient,
        ref: ExecutionRef,
        inputs: ExecutionInputs,
        execution: JobExecution,
        progress: Progress,
        recorded: bool = False,
    ) -> tuple[JobExecution, TargetOutcomes]:
        """Wait for the run if asked, showing its status on the resource's row; then read how its targets did."""
        if not inputs.wait_for_completion:
            return execution, _targets_of(client, ref, execution, None)
        with progress:
            if not is_terminal(execution.properties.lifecycle):
                began = time.monotonic()

                def show(latest: Mapping[ExecutionRef, JobExecution]) -> None:
                    progress.status(status_line(latest[ref], time.monotonic() - began))

                execution = client.wait_for_terminal(
                    ref, timeout=inputs.timeout, poll_interval=inputs.poll_interval, on_progress=show
                )
            targets = client.target_outcomes(ref)
            lifecycle = str(execution.properties.lifecycle)
            if lifecycle == SKIPPED and lifecycle not in inputs.fail_on:
                progress.warn(f"{summary_line(execution, targets).rstrip('.')}. {SKIPPED_MEANS}")
            elif lifecycle not in inputs.fail_on:  # a failure is said once, by the error itself
                progress.note(summary_line(execution, targets))
        if lifecycle in inputs.fail_on:
            explanation = targets.failures() or str(execution.properties.last_message or "no message").rstrip(".")
            raise ExecutionFailed(ref.arm_id, lifecycle, explanation, recorded)
        return execution, targets


def _the_recorded_run(execution: JobExecution, recorded: Mapping[str, Any]) -> bool:
    """Whether ``execution`` is the run a resource recorded, not a later one under the same id: after the job was
    deleted and made again (its history gone), a create-before-delete replacement starts its run under the very
    id the old resource names, and the old resource's delete must leave that run alone. Told by ``create_time``;
    a record without one (never read back) counts as this run."""
    recorded_time = recorded.get("create_time")
    created = execution.properties.create_time
    if not recorded_time or created is None:
        return True
    try:
        return datetime.fromisoformat(str(recorded_time)) == created
    except ValueError:
        return True


def _claim_or_record(client: ElasticJobsClient, inputs: ExecutionInputs, chosen: Claim, plan: Plan | None) -> Run:
    """PUT the chosen id; when that fails in a way that may have started the run (every answer lost, a 5xx past
    the budget), the resource is recorded with the id it PUT, unconfirmed, so the next ``up`` ensures that id
    instead of choosing another beside a run that may exist."""
    try:
        return claim(client, chosen)
    except ElasticJobsError as error:
        if not may_have_started(error):
            raise
        outputs = {
            **dict.fromkeys(OUTPUT_NAMES),
            **_inputs_of(inputs),
            "azure_id": chosen.ref.arm_id,
            "job_execution_id": chosen.ref.job_execution_id,
            "in_history": True,
            "plan": _planned(plan),
            "target_outcomes": TargetOutcomes().output(),
        }
        raise StartedButUnsettled(chosen.ref.arm_id, _as_struct_numbers(outputs), error) from error


def unconfirmed(recorded: Mapping[str, Any]) -> bool:
    """Whether a JobExecution's record names an id whose start was never confirmed (its PUT's answers were lost:
    no lifecycle was ever read). The run may or may not exist: the next ``up`` ensures the id (reads it, PUTs it
    only if free) and a refresh that finds nothing keeps the record as it is."""
    return (
        bool(recorded.get("azure_id")) and recorded.get("lifecycle") is None and recorded.get("in_history") is not False
    )


def unchanged_inputs(
    names: tuple[str, ...], olds: Mapping[str, Any], news: Mapping[str, Any], default_subscription: str | None
) -> dict[str, Any] | None:
    """The recorded inputs when ``news`` would validate to exactly them, else None (validate ``news``)."""
    if not olds:
        return None
    given = {key: value for key, value in news.items() if key in names and value is not None}
    if "subscription_id" not in given and default_subscription:
        given["subscription_id"] = default_subscription
    recorded = {key: value for key, value in olds.items() if key in names}
    if any(key not in recorded for key in DEFAULTS if key in names):
        return None  # not inputs validation produced (say, the partial inputs of an import): validate
    same_given = all(
        key in recorded and (_same_members if key == "members" else _same)(recorded[key], value)
        for key, value in given.items()
    )
    defaulted = all(
        key in given or (key in DEFAULTS and _same(value, DEFAULTS[key])) for key, value in recorded.items()
    )
    return recorded if same_given and defaulted else None


def _with_job_id_alternative(problems: Mapping[str, str], named: Mapping[str, str]) -> dict[str, str]:
    """A missing name says it may come from a job's ARM id; none is reported beside a ``job_id`` problem (that
    id is where the names were to come from)."""
    found = {}
    for name, message in problems.items():
        if name in JOB_ID_NAMES and named:
            continue
        if name in JOB_ID_NAMES[1:] and message == f"{name} is required":
            message += " (or given by the job's ARM id)"
        found[name] = message
    return found


MEMBER_DEFAULTS: dict[str, Any] = {
    "triggers": {},
    "job_execution_id": None,
    "expected_plan": None,
    "step_scripts": None,
    "job_id": None,
}
"""What validation fills into a member that omits a field (``inputs.MemberInputs``)."""
MEMBER_KEYS = frozenset(MEMBER_FIELDS)


def _same_members(old: Any, new: Any) -> bool:
    """Whether ``new`` members validate to exactly the recorded ``old`` ones: the same keys, each member the same
    once its omitted fields take their defaults, values compared as JSON writes them (``1`` is not ``1.0``)."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping) or old.keys() != new.keys():
        return False
    for key, recorded in old.items():
        given = new[key]
        if not isinstance(recorded, Mapping) or not isinstance(given, Mapping) or not given.keys() <= MEMBER_KEYS:
            return False
        if _as_json({**MEMBER_DEFAULTS, **recorded}) != _as_json({**MEMBER_DEFAULTS, **given}):
            return False
    return True


def _as_json(value: Any) -> str | None:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None  # not what validation records: never the same


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
        return not isinstance(new, bool) and float(old) == float(new)
    return type(old) is type(new) and bool(old == new)


InputsT = TypeVar("InputsT", "ExecutionInputs", "SetInputs")


def _limited(inputs: InputsT, time_limit: float | None) -> InputsT:
    """The inputs with their wait cut to the engine's custom timeout for this step, when it is shorter."""
    if time_limit and 0 < time_limit < inputs.timeout:
        return inputs.model_copy(update={"timeout": float(time_limit)})
    return inputs


def _execution_inputs(values: Mapping[str, Any]) -> ExecutionInputs:
    from .inputs import ExecutionInputs

    return ExecutionInputs.model_validate(values)


def _set_inputs(values: Mapping[str, Any]) -> SetInputs:
    from .inputs import SetInputs

    return SetInputs.model_validate(values)


def forgotten(recorded: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs of a run the service no longer knows: as last recorded, with ``in_history`` false."""
    kept = {key: value for key, value in recorded.items() if key in FIELDS or key in OUTPUT_NAMES}
    return _as_struct_numbers({**kept, "in_history": False})


def forgotten_member(entry: Mapping[str, Any], gone: ElasticJobsError) -> dict[str, Any]:
    """A set member's entry when the service forgot its run: a finished run stays as recorded; an active one
    whose run vanished (its job deleted mid-run) gets the error, since how it ended is unknown."""
    finished = is_terminal(entry.get("lifecycle"))
    error = entry.get("error") if finished else error_output(gone)
    return _as_struct_numbers({**entry, "in_history": False, "error": error})


def _inputs_of(inputs: ExecutionInputs) -> dict[str, Any]:
    """The inputs as outputs: the optional ones only when given (the pinned id never: it is the ``azure_id``)."""
    return inputs.model_dump(exclude={"job_execution_id"}, exclude_none=True)


def _resource_outputs(
    inputs: ExecutionInputs,
    execution: JobExecution,
    ref: ExecutionRef,
    targets: TargetOutcomes,
    plan: dict[str, Any] | None,
) -> dict[str, Any]:
    """Every output; ``plan`` is the run's plan as recorded when it started (None when none was read)."""
    recorded = Plan.from_output(plan)
    planned = recorded.databases if recorded is not None and not recorded.unseen else None
    return _as_struct_numbers(
        {
            **_inputs_of(inputs),
            **execution_outputs(execution, ref),
            "target_outcomes": targets.output(planned),
            "plan": plan,
        }
    )


def _warn_unreviewed(progress: Progress, pins: Mapping[str, str], plan: Plan) -> None:
    """Warn, in a preview, which runs ``up`` will refuse to start (``pins``: what pins each run, by how the warning
    names it): those whose pin no longer matches the live plan."""
    if plan.unseen and not plan.steps:  # nothing was read (no client, no job): the plan says so, no pin is judged
        return
    refused = {what: found for what, pin in pins.items() if (found := changes(pin, plan))}
    if refused:
        differences = "; ".join(dict.fromkeys(change for found in refused.values() for change in found))
        progress.warn(
            f"expected_plan does not match the live plan of job {plan.job} ({differences}): `pulumi up` will not "
            f"start {', '.join(refused)}; the live pin is {plan.pin}"
        )


def _deploying(plan: Plan | None, scripts: Any) -> Plan | None:
    """The plan of the run this deployment starts (:func:`.plan.deploying`): the live one with the scripts
    ``step_scripts`` gives the job's steps; one still unknown (another resource's output) is said, not guessed."""
    if plan is None or not scripts:
        return plan
    if is_unknown(scripts) or not isinstance(scripts, Mapping):
        unseen = "the scripts step_scripts gives the steps: known only when this deployment runs"
        return replace(plan, unseen=(*plan.unseen, unseen))
    return deploying(plan, {str(name): str(script) for name, script in scripts.items()})


def _with_changes(plan: Plan, last: LastRun, changes: list[StepChange]) -> str:
    """The plan for a person, with its steps' script changes since the last run under it (once the job was read)."""
    return plan.text() if not plan.steps else f"{plan.text()}\n{changes_text(last, changes)}"


def _known_fields(values: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key in names and value is not None and not is_unknown(value)}


def _recorded_version(value: Any) -> int | None:
    """A job version as state records it (the wire carries numbers as floats)."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _planned(plan: Plan | None) -> dict[str, Any] | None:
    return plan.output() if plan is not None else None


def _recorded_plan(props: Mapping[str, Any]) -> dict[str, Any] | None:
    plan = props.get("plan")
    return dict(plan) if isinstance(plan, Mapping) and plan else None


def _targets_of(client: ElasticJobsClient, ref: ExecutionRef, execution: JobExecution, recorded: Any) -> TargetOutcomes:
    """A terminal run's target outcomes: as recorded when complete (they never change), else read once."""
    if not is_terminal(execution.properties.lifecycle):
        return TargetOutcomes()
    return TargetOutcomes.from_output(recorded) or client.target_outcomes(ref)


def _as_struct_numbers(values: dict[str, Any]) -> dict[str, Any]:
    """Every number as a float, as a protobuf Struct carries it, so outputs read the same before and after the
    engine's round trip (a direct ``read`` and a ``pulumi refresh`` agree to the type)."""
    return {key: _as_struct_number(value) for key, value in values.items()}


def _as_struct_number(value: Any) -> Any:
    if isinstance(value, dict):
        return _as_struct_numbers(value)
    if isinstance(value, list):
        return [_as_struct_number(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _differs(name: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    if name == "job_execution_id" and news.get(name) is None:
        return False  # chosen by the provider: whatever it chose stands
    old, new = olds.get(name), news.get(name)
    if name == "triggers":
        return (old or {}) != (new or {})
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) != float(new)
    return bool(old != new)


def _coerce_numbers(values: dict[str, Any]) -> dict[str, Any]:
    for name in ("timeout", "poll_interval"):
        if isinstance(values.get(name), int):
            values[name] = float(values[name])
    return values


def _enable_logging(level: int | None) -> None:
    """The plugin's stderr reaches the CLI's verbose log (``pulumi up -v=9 --logtostderr``); opt in by level."""
    package = logging.getLogger("pulumi_azure_elastic_jobs")
    if level is None or package.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    package.addHandler(handler)
    package.setLevel(level)


class ExecutionSets(Executions):
    """Starts a set of executions together and waits for all of them in one call.

    The plugin serves four calls at a time, so 32 waited ``JobExecution`` resources take about 8 x T; one set
    of 32 takes about T. Each member keeps its own identity (job, triggers, derived id chain), so changing
    one member's triggers re-runs only that member. Member outcomes never fail the deployment by themselves:
    they are outputs (``executions``, ``failed_members``, ``finished``). A member that cannot start, or whose
    run vanishes, is recorded with its error next to the others' runs, never raised past them (with the id it
    PUT when no answer said whether that started a run: the next ``up`` ensures that id); a timeout
    leaves the set recorded with its members still running, so the next ``up`` resumes waiting instead of
    losing track of them.
    """

    def announce_plan(self, olds: Mapping[str, Any], inputs: Mapping[str, Any], progress: Progress) -> Announced:
        """The plans of the jobs whose members would start a run (members added or changed, or every member when
        the set is new or replaced), one plan a job, read together and shown in one diagnostic whose first line
        counts them. A set records no plan of its own; each member's run starts as planned here. Returns each starting
        member's plan (the native face's rows)."""
        if any(is_unknown(inputs.get(name)) for name in SET_IDENTITY_FIELDS):
            return Announced()
        starting = _starting_members(olds if olds and not self.diff(olds, inputs).replaces else {}, inputs)
        jobs = sorted(set(starting.values()))
        if not jobs:
            return Announced()
        agent = {name: inputs.get(name) for name in (*SET_IDENTITY_FIELDS, "api_version")}
        with ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="elastic-jobs-plans") as pool:
            read = pool.map(lambda job: Executions.preview_plan(self, {**agent, "job_name": job}), jobs)
            live = dict(zip(jobs, read, strict=True))
        scripts = _scripts_of(inputs)
        planned = {key: _deploying(live[job], scripts.get(key)) for key, job in sorted(starting.items())}
        planned_keys = [key for key, plan in planned.items() if plan is not None and plan.steps]
        lasts = self._last_member_runs(olds, planned_keys, live)
        shown: dict[tuple[Plan, str | None, int | None, str | None], list[str]] = {}  # the same run, shown once
        for key, plan in planned.items():
            if plan is not None:
                last = lasts.get(key, FIRST)
                shown.setdefault((plan, last.job, last.version, last.unread), []).append(key)
        plans = [group[0] for group in shown]
        databases = len({key for plan in plans for key in plan.databases})
        runs, of_jobs = counted(len(starting), "member"), counted(len({plan.job for plan in plans}), "job")
        head = f"will run {runs} ({of_jobs}) on {counted(databases, 'database')}"
        texts: list[str] = []
        changes: dict[str | None, list[StepChange]] = {}
        by_member: dict[str, str] = {}
        for (plan, *_), members in shown.items():
            last = lasts.get(members[0], FIRST)
            changed = step_changes(last, plan) if plan.steps else []
            changes.update(dict.fromkeys(members, changed))
            text = _with_changes(plan, last, changed)
            texts.append(f"members {', '.join(members)}: {text}")
            by_member.update(dict.fromkeys(members, text))
        waves = inputs.get("waves")
        if isinstance(waves, list) and not is_unknown(waves):  # a rollout: its waves in order, each with its plans
            gate = Gate.of(inputs.get("gate") if not is_unknown(inputs.get("gate")) else None)
            texts = preview_lines(waves, list(starting), by_member, gate, _recorded_rollout(olds))
        progress.note("\n".join([head, *texts]))
        pins = {key: pin for key, value in _pins_of(inputs).items() if (pin := _known_pin(value)) is not None}
        for (plan, *_), members in shown.items():
            _warn_unreviewed(progress, {f"member {key}": pins[key] for key in members if key in pins}, plan)
        return Announced(
            members={key: group[0] for group, members in shown.items() for key in members}, changes=changes
        )

    def _last_member_runs(
        self, olds: Mapping[str, Any], keys: list[str], live: Mapping[str, Plan | None]
    ) -> dict[str, LastRun]:
        """The scripts each member's last run ran, for the members ``keys`` that had one: from the versions the
        recorded ``executions`` name (the native face), else from the newest run of each member's old chain, one
        listing a job (the dynamic face's old inputs); the scripts of each job version read once."""
        if not olds or not keys:
            return {}
        try:
            old = _set_inputs(_coerce_numbers(_known_fields(olds, SET_FIELDS)))
        except ValueError as error:
            return dict.fromkeys(keys, LastRun(unread=str(error).splitlines()[0]))
        members = {key: old.member(key) for key in keys if key in old.members}
        recorded = olds.get("executions") if isinstance(olds.get("executions"), Mapping) else None
        client = self.client(old.api_version)
        versions: dict[str, int | None] = {}
        if recorded is not None:
            versions = {key: _recorded_version((recorded.get(key) or {}).get("job_version")) for key in members}
        else:
            for job in {member.job for member in members.values()}:
                chains = {key: member.chain for key, member in members.items() if member.job == job}
                try:
                    versions.update(last_versions(client, job, chains))
                except ElasticJobsError as error:
                    versions.update(dict.fromkeys(chains))
                    log.info("the last runs of job %s could not be listed: %s", job.job_name, error)
        from .planning import last_run

        read: dict[tuple[JobRef, int], LastRun] = {}
        found: dict[str, LastRun] = {}
        for key, member in members.items():
            version = versions.get(key)
            if version is None:
                found[key] = FIRST
                continue
            if (member.job, version) not in read:
                read[(member.job, version)] = last_run(client, member.job, version, live.get(member.job_name))
            found[key] = read[(member.job, version)]
        return found

    def announce_update(self, olds: Mapping[str, Any], news: Mapping[str, Any], progress: Progress) -> None:
        """An update of a set starts the members added, changed or recorded without a run: their plans, as a Check
        shows them (the dynamic face's preview), from the recorded outputs."""
        self.announce_plan(olds, news, progress)

    field_names = SET_FIELDS
    output_names = SET_OUTPUT_NAMES

    @staticmethod
    def named_by_job_ids(news: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """A member may name its job by ARM id (``job_id``) instead of ``job_name``: its job's name is filled in,
        and the set's agent names, when the set gives none, from it; every id must name a job of the set's agent."""
        values, problems = dict(news), dict[str, str]()
        members = values.get("members")
        if not isinstance(members, Mapping):
            return values, problems
        named_members = {}
        for key, member in members.items():
            if not isinstance(member, Mapping) or member.get("job_id") is None:
                named_members[key] = member
                continue
            field, named = f"members.{key}.job_id", dict(member)
            agent = {name: values.get(name) for name in AGENT_NAMES} | {"job_id": member["job_id"]}
            found = named_by_job_id(named, "job_id", ("job_name",), UNKNOWN) or named_by_job_id(
                agent, "job_id", AGENT_NAMES, UNKNOWN
            )
            if found:
                problems[field] = found["job_id"].replace("job_id", field, 1)
            else:
                values.update({name: agent[name] for name in AGENT_NAMES if values.get(name) is None})
            named_members[key] = named
        values["members"] = named_members
        return values, problems

    @staticmethod
    def inputs_model() -> type[ExecutionInputs | SetInputs]:
        from .inputs import SetInputs

        return SetInputs

    def diff(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diffed:
        replaces = [name for name in SET_IDENTITY_FIELDS if _differs(name, olds, news)]
        updates = [name for name in SET_WAITING_FIELDS if _differs(name, olds, news)]
        guards_changed = _pins_of(olds) != _pins_of(news) or _scripts_of(olds) != _scripts_of(news)
        if _members_of(olds) != _members_of(news) or guards_changed:
            updates.append("members")  # a member added, removed or changed runs; a new pin alone runs nothing
        updates.extend(_rollout_changes(olds, news))
        recorded = olds.get("executions") or {}
        if news.get("wait_for_completion") and not olds.get("finished", True):
            updates.append("executions")  # members still running after a timeout: resume waiting
        elif any(not (item or {}).get("azure_id") or _unconfirmed(item) for item in recorded.values()):
            updates.append("executions")  # members that could not start, or whose start is unconfirmed: again
        return Diffed(replaces, updates)

    def create(self, props: Mapping[str, Any], progress: Progress, time_limit: float | None = None) -> Created:
        inputs = _set_inputs(props)
        set_id = f"jobexecutionset/{uuid.uuid5(uuid.NAMESPACE_URL, inputs.execution_key + inputs.job_agent_name)}"
        if inputs.waves is not None:
            outputs = self._roll_out(inputs, {}, list(inputs.members), {}, progress, {}, time_limit)
            return Created(set_id, _unless_halted(set_id, inputs, outputs))
        members = self._start_members(inputs, list(inputs.members))
        return Created(set_id, self._settle_set(inputs, members, progress, wait_limit=time_limit))

    def update(
        self,
        id_: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        progress: Progress,
        time_limit: float | None = None,
    ) -> dict[str, Any]:
        """Keep unchanged members' runs (one the service forgot stays as recorded, as :meth:`read` keeps it); ensure
        the id of an unchanged member whose start was unconfirmed; cancel superseded and removed ones first, then
        start the rest."""
        inputs = _set_inputs(news)
        recorded = _recorded_runs(olds)
        entries = olds.get("executions") or {}
        previous, wanted = _members_of(olds), _members_of(news)
        unchanged = [key for key in inputs.members if key in recorded and previous.get(key) == wanted.get(key)]
        unconfirmed = {key: recorded[key] for key in unchanged if _unconfirmed(entries.get(key))}
        kept = {key: Member(recorded[key]) for key in unchanged if key not in unconfirmed}
        retired = {key: ref for key, ref in recorded.items() if key not in kept and key not in unconfirmed}
        still_active: list[ExecutionRef] = []
        if retired and inputs.cancel_on_destroy:
            still_active = cancel_all(
                self.client(inputs.api_version),
                list(retired.values()),
                timeout=cancel_wait(_limited(inputs, time_limit).timeout),
                poll_interval=inputs.poll_interval,
            )
        # A member whose superseded run would not stop starts nothing beside it: it stays at its old identity
        # and run, with the error, so the next `up` sees the change again and tries the cancel once more.
        stuck = {
            key: Member(ref, error=CancelNotEffective([ref])) for key, ref in retired.items() if ref in still_active
        }
        starting = [key for key in inputs.members if key not in kept and key not in stuck]
        kept_entries = {key: entries[key] for key in kept}
        if inputs.waves is not None:
            members = self._roll_out(
                inputs, {**kept, **stuck}, starting, unconfirmed, progress, kept_entries, time_limit
            )
        else:
            started = self._start_members(inputs, starting, unconfirmed)
            members = self._settle_set(inputs, {**kept, **stuck, **started}, progress, kept_entries, time_limit)
        if stuck:
            members["members"] = {
                **members["members"],
                **{key: olds["members"][key] for key in stuck if key in (olds.get("members") or {})},
            }
        return _unless_halted(id_, inputs, members)

    def read(self, id_: str, props: Mapping[str, Any]) -> Found:
        """Refresh every recorded run; one the service forgot stays as recorded (``in_history`` false), so it is
        never re-run; the set stays in state even when every member's run is forgotten."""
        known = {key: value for key, value in props.items() if key in SET_FIELDS and value is not None}
        inputs = _set_inputs(_coerce_numbers(known))
        client = self.client(inputs.api_version)
        recorded = _recorded_runs(props)
        if not recorded and "executions" not in props:
            return Found("", {})  # import or get: a set is not adopted from an id
        members = {key: Member(ref, *_read_member(client, ref)) for key, ref in recorded.items()}
        members = self._with_targets(client, members, props.get("executions") or {})
        unstarted = {key: Member(error=_error_of(props, key)) for key in inputs.members if key not in recorded}
        entries = props.get("executions") or {}
        return Found(id_, self._outputs(inputs, {**members, **unstarted}, _forgotten_entries(members, entries)))

    def delete(self, id_: str, props: Mapping[str, Any]) -> None:
        """Cancel every active member run and wait; fail, naming them, when some would not stop (the set stays)."""
        if props.get("cancel_on_destroy") is False:
            return
        entries = props.get("executions") or {}
        recorded = {ref: entries[key] for key, ref in _recorded_runs(props).items()}

        def later(ref: ExecutionRef, execution: JobExecution) -> bool:
            """A later run under a member's recorded id, not this set's: one created at another time than the
            member recorded (its job was deleted and made again), or, for a member whose start was never
            confirmed, one a create of this deployment started."""
            entry = recorded[ref]
            return not _the_recorded_run(execution, entry) or (
                _unconfirmed(entry)
                and _error_code(entry) != "CancelNotEffective"  # a stuck member's run was seen: it is its own
                and self.connection.started_here(ref.arm_id, execution)
            )

        still_active = cancel_all(
            self.client(str(props.get("api_version") or DEFAULT_API_VERSION)),
            [ref for ref in _recorded_runs(props).values() if not self.connection.adopted(ref.arm_id)],
            timeout=cancel_wait(float(props.get("timeout") or DEFAULT_TIMEOUT_SECONDS)),
            poll_interval=float(props.get("poll_interval") or DEFAULT_POLL_INTERVAL_SECONDS),
            spare=later,
        )
        if still_active:
            raise CancelNotEffective(still_active)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _roll_out(
        self,
        inputs: SetInputs,
        standing: Mapping[str, Member],
        starting: list[str],
        unconfirmed: Mapping[str, ExecutionRef],
        progress: Progress,
        recorded: Mapping[str, Any],
        time_limit: float | None,
    ) -> dict[str, Any]:
        """Wave by wave: start the wave's ``starting`` members (new, changed, or never run), wait for them and the
        wave's ``standing`` ones (kept runs, members whose superseded run would not stop), and judge the wave by
        its gate; a wave that does not pass (failed, or still running when the wait ran out) ends the rollout here,
        and later waves start nothing. Members of waves not reached keep their recorded entry (or none, never
        started). The wait (``timeout``) is the whole rollout's."""
        gate = Gate.of(inputs.gate.model_dump() if inputs.gate else None)
        deadline = time.monotonic() + _limited(inputs, time_limit).timeout
        executions: dict[str, Any] = {}
        for number, keys in enumerate(inputs.waves or [], 1):
            wave = {key: standing[key] for key in keys if key in standing}
            wave.update(self._start_members(inputs, [key for key in keys if key in starting], unconfirmed))
            left = max(deadline - time.monotonic(), 0.001)
            kept = {key: recorded[key] for key in keys if key in recorded}
            executions.update(self._settle_set(inputs, wave, progress, kept, left)["executions"])
            verdict = judge(keys, executions, gate)
            if verdict.lifecycle != "Succeeded":
                log.warning("rollout stops at wave %d (%s): %s", number, verdict.lifecycle, verdict.reason)
                break
        for key in inputs.members:
            if key not in executions:
                entry = recorded.get(key)
                member = standing.get(key, Member())
                as_recorded = {"error": None, "lifecycle": None, **entry} if isinstance(entry, Mapping) else None
                executions[key] = as_recorded or _entry_of(inputs, key, member)  # as recorded, its nulls dropped
        return _set_outputs(inputs, executions)

    def _start_members(
        self, inputs: SetInputs, keys: list[str], unconfirmed: Mapping[str, ExecutionRef] | None = None
    ) -> dict[str, Member]:
        client = self.client(inputs.api_version)
        members = start_members(client, inputs, keys, unconfirmed, partial(self._plan, client))
        for member in members.values():
            if member.ref is not None and member.error is None and not member.started:
                self.connection.adopt(member.ref.arm_id)
            elif member.ref is not None and member.execution is not None and member.started:
                self.connection.started(member.ref.arm_id, member.execution)
        return members

    def _settle_set(
        self,
        inputs: SetInputs,
        members: dict[str, Member],
        progress: Progress,
        recorded: Mapping[str, Any] | None = None,
        wait_limit: float | None = None,
    ) -> dict[str, Any]:
        """Wait for every member's run (status on the set's row), reading each finished run's targets as soon as
        it ends, so those listings overlap the wait for the others. ``recorded``: the entries of members kept
        from state, so that one whose run the service forgot stays as recorded (:func:`forgotten_member`).
        ``wait_limit``: the engine's custom timeout, which cuts the wait but is never recorded as ``timeout``."""
        client = self.client(inputs.api_version)
        refs = [member.ref for member in members.values() if member.ref is not None and member.error is None]
        with progress, ThreadPoolExecutor(max_workers=4) as readers:
            began = time.monotonic()
            outcomes: dict[ExecutionRef, Future[TargetOutcomes]] = {}

            def show(latest: Mapping[ExecutionRef, JobExecution]) -> None:
                lifecycles = [execution.properties.lifecycle for execution in latest.values()]
                progress.status(set_status_line(lifecycles, len(members), time.monotonic() - began))

            def ended(ref: ExecutionRef, _: JobExecution) -> None:
                outcomes[ref] = readers.submit(client.target_outcomes, ref)

            timeout = _limited(inputs, wait_limit).timeout if inputs.wait_for_completion else 0  # else one read each
            started = {m.ref: m.execution for m in members.values() if m.ref is not None and m.execution is not None}
            waited = client.wait_for_all(
                refs,
                timeout=timeout,
                poll_interval=inputs.poll_interval,
                on_progress=show,
                on_terminal=ended,
                known=started,
            )
            if inputs.wait_for_completion and not waited.finished:
                log.warning("executions still running after %g s; the next up resumes waiting", timeout)
            settled = {
                key: Member(member.ref, waited.latest.get(member.ref), waited.errors.get(member.ref))
                if member.ref is not None and member.error is None
                else member
                for key, member in members.items()
            }
            read = {ref: future.result() for ref, future in outcomes.items()}
            settled = self._with_targets(client, settled, {}, read)
            outputs = self._outputs(inputs, settled, _forgotten_entries(settled, recorded or {}))
            if inputs.wait_for_completion:
                executions = outputs["executions"]
                progress.note(set_summary_line({key: _entry_lifecycle(item) for key, item in executions.items()}))
        return outputs

    @staticmethod
    def _with_targets(
        client: ElasticJobsClient,
        members: dict[str, Member],
        recorded: Mapping[str, Any],
        read: Mapping[ExecutionRef, TargetOutcomes] | None = None,
    ) -> dict[str, Member]:
        """Each finished member with its target outcomes: already ``read``, or as recorded when complete, else read
        once, together."""

        def attach(item: tuple[str, Member]) -> tuple[str, Member]:
            key, member = item
            if member.ref is None or member.execution is None:
                return item
            entry = recorded.get(key)
            outcomes = entry.get("target_outcomes") if isinstance(entry, dict) else None
            return key, replace(member, targets=_targets_of(client, member.ref, member.execution, outcomes))

        already = read or {}
        done = {
            key: replace(member, targets=already[member.ref])
            for key, member in members.items()
            if member.ref is not None and member.execution is not None and member.ref in already
        }
        rest = [(key, member) for key, member in members.items() if key not in done]
        if rest:  # a pool only for what was not read while the set waited
            with ThreadPoolExecutor(max_workers=max(1, min(16, len(rest)))) as pool:
                done.update(pool.map(attach, rest))
        return {key: done[key] for key in members}

    @staticmethod
    def _outputs(
        inputs: SetInputs, members: dict[str, Member], forgotten_entries: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        executions = {key: _entry_of(inputs, key, m) for key, m in sorted(members.items())}
        executions.update(forgotten_entries or {})
        return _set_outputs(inputs, executions)


def _entry_of(inputs: SetInputs, key: str, member: Member) -> dict[str, Any]:
    return {"job_name": inputs.members[key].job_name if key in inputs.members else None, **_member_outputs(member)}


def _set_outputs(inputs: SetInputs, executions: dict[str, Any]) -> dict[str, Any]:
    """A set's outputs from its members' entries; with waves, the ``rollout`` they add up to."""
    executions = dict(sorted(executions.items()))
    failed = [key for key, item in executions.items() if item["error"] or item["lifecycle"] in inputs.fail_on]
    gate = inputs.gate.model_dump() if inputs.gate else None
    return _as_struct_numbers(
        {
            **inputs.model_dump(),
            "executions": executions,
            "failed_members": sorted(failed),
            "finished": all(item["error"] or is_terminal(item["lifecycle"]) for item in executions.values()),
            "rollout": rollout(inputs.waves, executions, Gate.of(gate)) if inputs.waves is not None else None,
        }
    )


def _unless_halted(set_id: str, inputs: SetInputs, outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs of a set whose rollout did not halt on a failure; a halt the ``fail_on`` rule makes a failure
    (a member of the halted wave in ``failed_members``: it ended in ``fail_on``, or has no run) fails the
    deployment, with the set recorded as it stands (:class:`StartedButUnsettled`), so the next ``up`` resumes it.
    A halt for another reason (a wave ended SucceededWithSkipped under a gate that wants Succeeded) is recorded
    and said in the outputs only."""
    halted = halted_wave(outputs.get("rollout"))
    if halted is None or inputs.waves is None:
        return outputs
    number = int(halted["wave"])
    failing = [key for key in inputs.waves[number - 1] if key in outputs["failed_members"]]
    if not failing:
        return outputs
    not_started = list(outputs["rollout"]["not_started"])
    error = RolloutHalted(number, str(halted["reason"]), list(halted["failed_targets"]), not_started)
    raise StartedButUnsettled(set_id, outputs, error)


def _recorded_rollout(olds: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The set's last ``rollout`` output when ``olds`` are its recorded outputs (a native Update's preview); an empty
    one for a new set (nothing ran); None when only its inputs are at hand (a Check's): what ran is not known."""
    if not olds:
        return {}
    recorded = olds.get("rollout")
    if isinstance(recorded, Mapping):
        return recorded
    return {} if "executions" in olds else None


def _rollout_changes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """``waves`` and ``gate`` when they changed (a gate compared as the rule it makes, so an output that spells
    its defaults equals an input that leaves them out): an update, which runs only what the members' rules say."""
    changed = []
    if (olds.get("waves") or None) != (news.get("waves") or None):
        changed.append("waves")
    if is_unknown(news.get("gate")) or Gate.of(olds.get("gate")) != Gate.of(news.get("gate")):
        changed.append("gate")
    return changed


def _read_member(client: ElasticJobsClient, ref: ExecutionRef) -> tuple[JobExecution | None, ElasticJobsError | None]:
    try:
        return client.get_execution(ref), None
    except NotFound as gone:
        return None, gone


def _member_outputs(member: Member) -> dict[str, Any]:
    """A member's entry in ``executions``: the run's outputs, or as much as is known, plus its ``error``."""
    outputs: dict[str, Any] = dict.fromkeys(OUTPUT_NAMES)
    if member.ref is not None and member.execution is not None:
        outputs.update(execution_outputs(member.execution, member.ref))
    elif member.ref is not None:
        outputs.update(azure_id=member.ref.arm_id, job_execution_id=member.ref.job_execution_id)
    outputs["error"] = error_output(member.error) if member.error else None
    outputs["target_outcomes"] = member.targets.output()
    return outputs


def _entry_lifecycle(entry: Mapping[str, Any]) -> str:
    """A member's entry in ``executions`` as the set's summary line counts it."""
    error = entry.get("error")
    if error:
        return f"error {error['code']}"
    return str(entry.get("lifecycle") or "unknown")


def _unconfirmed(entry: Any) -> bool:
    """Whether a member's entry names an id whose start was never confirmed (:func:`unconfirmed`, with the error
    that said so: every answer to its PUT lost, :func:`.runs.may_have_started`). The run may or may not exist, so
    the next ``up`` ensures that id (reads it, PUTs it only if free), never a new one, and a refresh that finds
    nothing there keeps the entry as it is. An error saying the run itself is gone (``ResourceNotFound`` naming
    the run, not its job) marks a run that was seen and vanished: never ensured, so never run again."""
    if not isinstance(entry, Mapping) or not unconfirmed(entry):
        return False
    error = entry.get("error")
    if not isinstance(error, Mapping):
        return False
    from .models import EXECUTION_TYPE  # deferred like every models import here: pydantic only when a run is read

    return error.get("code") != "ResourceNotFound" or names_a_missing_parent(
        error.get("code"), error.get("message"), EXECUTION_TYPE
    )


def _error_code(entry: Mapping[str, Any]) -> Any:
    error = entry.get("error")
    return error.get("code") if isinstance(error, Mapping) else None


def _forgotten_entries(members: Mapping[str, Member], entries: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded entries of members whose run the service does not know, kept by :func:`forgotten_member` (read
    and update alike); an unconfirmed one stays exactly as recorded, so the next ``up`` still ensures its id."""
    return {
        key: dict(entries[key]) if _unconfirmed(entries[key]) else forgotten_member(entries[key], member.error)
        for key, member in members.items()
        if member.execution is None and isinstance(member.error, NotFound) and isinstance(entries.get(key), dict)
    }


class RecordedError(ElasticJobsError):
    """A member's error as state recorded it, read back on refresh and written out again unchanged."""

    def __init__(self, recorded: dict[str, Any]) -> None:
        self.recorded = dict(recorded)
        super().__init__(str(recorded.get("message") or ""))


def error_output(error: ElasticJobsError) -> dict[str, Any]:
    """An error as data a program can read: the ARM code and status when there was an answer, and the text."""
    if isinstance(error, RecordedError):
        return dict(error.recorded)
    if isinstance(error, ArmError):
        return {"code": error.code, "status": error.status, "message": error.message, "request_id": error.request_id}
    return {"code": type(error).__name__, "status": None, "message": str(error), "request_id": None}


def _recorded_runs(props: Mapping[str, Any]) -> dict[str, ExecutionRef]:
    """The runs a set's state remembers, by member key: every member that ever got an execution id."""
    recorded = props.get("executions") or {}
    return {
        key: ExecutionRef.parse(item["azure_id"])
        for key, item in recorded.items()
        if isinstance(item, dict) and item.get("azure_id")
    }


def _error_of(props: Mapping[str, Any], key: str) -> ElasticJobsError | None:
    item = (props.get("executions") or {}).get(key) or {}
    error = item.get("error")
    return RecordedError(error) if isinstance(error, dict) and error else None


def _starting_members(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, str]:
    """The members whose run a set's next ``up`` starts (new, changed since ``olds``, or recorded without a run: one
    that could not start, a refused pin among them, is tried again), by key: their job's name, when it is known."""
    before, after = _members_of(olds), _members_of(news)
    recorded = olds.get("executions") or {}
    never_ran = {key for key, item in recorded.items() if isinstance(item, Mapping) and not item.get("azure_id")}
    return {
        key: str(member["job_name"])
        for key, member in after.items()
        if isinstance(member, Mapping)
        and isinstance(member.get("job_name"), str)
        and member["job_name"] != UNKNOWN
        and (before.get(key) != member or key in never_ran)
    }


def _members_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """Member identities, normalized so that an omitted field and its default compare equal.

    A preview may send the members, or one member, unknown (another resource's output): it is kept as the
    UNKNOWN marker, which never equals a recorded member, so the diff says the members change."""
    members = props.get("members") or {}
    if not isinstance(members, Mapping):
        return {"": members}
    return {key: _member_identity(value) for key, value in members.items()}


def _known_pin(value: Any) -> str | None:
    """An ``expected_plan`` that can be judged now: given, and not another resource's output still unknown."""
    return value if isinstance(value, str) and value != UNKNOWN else None


def _pins_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """The ``expected_plan`` each member pins, by key, an unknown one as the UNKNOWN marker (it differs from any
    recorded pin, so a preview and the ``up`` after it agree that the members change). Not part of a member's
    identity, since a new pin alone starts nothing; yet a change of it is an update, so state records the pin in
    force."""
    members = props.get("members") or {}
    if not isinstance(members, Mapping):
        return {}
    return {
        key: member["expected_plan"]
        for key, member in members.items()
        if isinstance(member, Mapping) and member.get("expected_plan") is not None
    }


def _scripts_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """The ``step_scripts`` each member gives its job's steps, by key (like a pin: recorded, never an identity)."""
    members = props.get("members") or {}
    if not isinstance(members, Mapping):
        return {}
    return {
        key: member["step_scripts"]
        for key, member in members.items()
        if isinstance(member, Mapping) and member.get("step_scripts") is not None
    }


def _member_identity(member: Any) -> Any:
    if not isinstance(member, Mapping):
        return member
    return {
        "job_name": member.get("job_name"),
        "triggers": member.get("triggers") or {},
        "job_execution_id": member.get("job_execution_id"),
    }
