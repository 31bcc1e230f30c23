"""What a run *is*, apart from any Pulumi protocol: start or attach, fleets of members, cancel. Imports no pulumi.

Both provider faces call these functions and only translate property maps around them, so a rule about a run
is written once. The rules (docs/resources.md, Semantics):

* A resource's run is found before one is started: the job's runs are listed (one GET for a job with a short
  history; its active runs alone when the history is long) and one of this resource's chain that is active is
  attached to, wherever it sits in the chain. Only when none is active is a free generation PUT, exactly once:
  free in the complete listing, or read as free; ARM's PUT is idempotent on the id, so a retried PUT, or two
  deployments sharing an ``execution_key``, converge on one run.
* A pinned ``job_execution_id`` is read, and PUT only when free: the run under that id, whatever its state,
  is the resource's run.
* A fleet member whose PUT may have acted though no answer said so keeps the id it PUT, and its next start
  ensures that id as if pinned: never a new id beside a run that may exist.
* Reviewed = run: a run whose ``expected_plan`` pins another plan than the live one is refused before its PUT
  (:func:`refuse_unreviewed`); a fleet reads the plan of each job a pinned member names once, before any PUT.
* A cancel is a request, not a fact: callers get back the runs that are still active after the bounded wait,
  and must not start a replacement beside them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .chain import ExecutionChain
from .errors import ArmError, ElasticJobsError, NotFound, PlanChanged
from .ids import ExecutionRef, JobRef
from .outcome import TargetOutcomes
from .plan import Plan, changes, undeployed
from .terms import is_terminal

if TYPE_CHECKING:
    from .client import ElasticJobsClient
    from .inputs import ExecutionInputs, SetInputs
    from .models import ExecutionStart, JobExecution

log = logging.getLogger(__name__)

MAX_WORKERS = 16
"""Concurrent requests a fleet operation keeps in flight (the client's pool holds 64 connections)."""


@dataclass(frozen=True)
class Run:
    """The run a resource stands for, and whether this call's PUT started it (False: attached to it)."""

    ref: ExecutionRef
    execution: JobExecution
    started: bool


def first_free(is_free: Callable[[int], bool]) -> int:
    """A free generation of a chain: probes 0, 1, 3, 7, ... then bisects the last step (about 2·log2(k) reads).

    On a chain used in order this is the first free generation; where history clean-up left gaps it may be one
    inside a gap, which is just as good: the id is free when read, so its PUT starts a new run."""
    if is_free(0):
        return 0
    used, probe = 0, 1
    while not is_free(probe):
        used, probe = probe, probe * 2 + 1
    while probe - used > 1:
        middle = (used + probe) // 2
        used, probe = (used, middle) if is_free(middle) else (middle, probe)
    return probe


HISTORY_BUDGET = 1000
"""Executions of a job listed in full before the listing is given up for the active runs and reads of ids."""


@dataclass(frozen=True)
class JobRuns:
    """What one listing says about a job: its active runs, and every execution id when the listing was complete
    (then an id not in it is free without a read)."""

    active: Mapping[str, JobExecution]
    known: frozenset[str] | None = None


def job_runs(client: ElasticJobsClient, job: JobRef) -> JobRuns:
    """The job's runs: the whole history in one listing when it holds at most :data:`HISTORY_BUDGET` executions
    (a page or a few), else the active ones only."""
    listed: list[JobExecution] = []
    try:
        for execution in client.list_executions(job, top=HISTORY_BUDGET + 1):
            listed.append(execution)
            if len(listed) > HISTORY_BUDGET:
                return JobRuns(active_runs(client, job))
    except NotFound:
        return JobRuns({}, frozenset())  # no such job: the PUT that follows says so with ARM's own error
    names = {str(execution.name).lower(): execution for execution in listed if execution.name}
    active = {name: e for name, e in names.items() if not is_terminal(e.properties.lifecycle)}
    return JobRuns(active, frozenset(names))


def last_versions(client: ElasticJobsClient, job: JobRef, chains: Mapping[str, ExecutionChain]) -> dict[str, int]:
    """The job version the newest run of each chain used, by key (a chain with no run listed has none): one
    listing of the job's runs, newest first, read at most :data:`HISTORY_BUDGET` deep."""
    found: dict[str, int] = {}
    try:
        for seen, execution in enumerate(client.list_executions(job, top=HISTORY_BUDGET)):
            name, version = str(execution.name or ""), execution.properties.job_version
            for key, chain in chains.items():
                if key not in found and version is not None and chain.generation_of(name) is not None:
                    found[key] = int(version)
            if len(found) == len(chains) or seen >= HISTORY_BUDGET:
                break
    except NotFound:
        pass  # no such job any more: no run of it to compare with
    return found


def active_runs(client: ElasticJobsClient, job: JobRef) -> dict[str, JobExecution]:
    """The job's active runs by lowercased execution id (one listing, every page; usually none at all)."""
    try:
        listed = client.list_executions(job, is_active=True)
        return {
            str(execution.name).lower(): execution
            for execution in listed
            if execution.name and not is_terminal(execution.properties.lifecycle)
        }
    except NotFound:
        return {}  # no such job (or subscription): the PUT that follows says so with ARM's own error


@dataclass(frozen=True)
class Claim:
    """A free id this resource's run is to start under, and the service's clock when a read found it free (None
    when the listing stood for the read)."""

    ref: ExecutionRef
    found_free_at: datetime | None


def start_or_attach(client: ElasticJobsClient, inputs: ExecutionInputs, runs: JobRuns | None = None) -> Run:
    """The run this resource stands for: its chain's active run if there is one, else one started now.

    ``runs``: the job's runs (:func:`job_runs`), when the caller listed them already; a fleet lists once per
    job, before any of its PUTs, so its own new runs are never taken for a member's, and an id another member
    claims in the meantime is simply found taken by its PUT (ARM answers with the existing run)."""
    found = attach_or_choose(client, inputs, runs)
    return found if isinstance(found, Run) else claim(client, found)


def claim(client: ElasticJobsClient, chosen: Claim) -> Run:
    """PUT the chosen id (see :meth:`ElasticJobsClient.claim`)."""
    return _run(chosen.ref, client.claim(chosen.ref, chosen.found_free_at))


def attach_or_choose(client: ElasticJobsClient, inputs: ExecutionInputs, runs: JobRuns | None = None) -> Run | Claim:
    """The run to attach to, or the free id to PUT: :func:`start_or_attach` up to its PUT, so that a caller who
    loses the PUT's answer still knows which id it PUT."""
    if inputs.job_execution_id:
        ref = inputs.job.execution(inputs.job_execution_id)
        existing, asked_at = client.find_execution(ref)  # as ElasticJobsClient.ensure_execution reads it
        return Claim(ref, asked_at) if existing is None else Run(ref, existing, started=False)
    chain = inputs.chain
    runs = job_runs(client, inputs.job) if runs is None else runs
    running = chain.newest_of(runs.active)
    if running is not None:
        execution_id, execution = running
        return Run(inputs.job.execution(execution_id), execution, started=False)
    free_reads: dict[int, datetime | None] = {}

    def is_free(generation: int) -> bool:
        if runs.known is not None:
            free_reads[generation] = None  # the listing stands for the read: no service clock to compare with
            return chain.id(generation) not in runs.known
        found, asked_at = client.find_execution(inputs.job.execution(chain.id(generation)))
        if found is None:
            free_reads[generation] = asked_at
        return found is None

    generation = first_free(is_free)
    return Claim(inputs.job.execution(chain.id(generation)), free_reads[generation])


def refuse_unreviewed(expected_plan: str | None, plan: Plan, step_scripts: Mapping[str, str] | None = None) -> None:
    """Refuse, before any request that changes anything, a run whose live plan does not run the scripts
    ``step_scripts`` gives its steps (this deployment updates them first), or is not the pinned one (none pinned:
    any plan runs)."""
    missing = undeployed(step_scripts, plan)
    if missing:
        raise PlanChanged(plan.job, missing, plan.summary(), plan.pin, scripts=True)
    if expected_plan is None:
        return
    changed = changes(expected_plan, plan)
    if changed:
        raise PlanChanged(plan.job, changed, plan.summary(), plan.pin)


PlanOf = Callable[[JobRef, "Mapping[str, JobExecution] | None"], Plan]
"""Reads the plan of a run of a job started now, given the job's active runs when a listing found them."""


def _run(ref: ExecutionRef, start: ExecutionStart) -> Run:
    return Run(ref, start.execution, start.started)


def attach_note(run: Run) -> str | None:
    """What a create that attached says in the resource's diagnostics: the user asked for a run and got an
    existing one, which is right (never two at once) but must not go unsaid."""
    if run.started:
        return None
    lifecycle = run.execution.properties.lifecycle
    if is_terminal(lifecycle):
        return f"execution {run.ref.job_execution_id} already existed ({lifecycle}); no new run was started"
    return (
        f"attached to execution {run.ref.job_execution_id}, already {lifecycle}, instead of starting a second "
        "concurrent run: an earlier `pulumi up` was interrupted after starting it, or the run this resource "
        "replaced is still going (cancel_on_destroy=False). To run the job again once it ends, change triggers"
    )


@dataclass(frozen=True)
class Member:
    """One fleet member's outcome: the run it stands for (if one was found or started), and what went wrong."""

    ref: ExecutionRef | None = None
    execution: JobExecution | None = None
    error: ElasticJobsError | None = None
    targets: TargetOutcomes = field(default_factory=TargetOutcomes)
    started: bool = False


def may_have_started(error: ElasticJobsError) -> bool:
    """Whether a PUT that failed may still have started its run. Only ARM refusing the request (a 4xx other than
    429: malformed, not allowed, no such job, conflict) proves it did not: the PUT is idempotent, so a retry after
    a try that acted answers success, never a refusal. No answer, a 5xx or 429 after retries, a malformed
    success or a wait cut short may each follow a try that acted."""
    refused = isinstance(error, ArmError) and 400 <= error.status < 500 and error.status != 429
    return not refused


def start_members(
    client: ElasticJobsClient,
    inputs: SetInputs,
    keys: list[str],
    unconfirmed: Mapping[str, ExecutionRef] | None = None,
    plan_of: PlanOf | None = None,
) -> dict[str, Member]:
    """Start (or attach to) each member's run, concurrently; a member that cannot start is recorded with its error,
    and with the id it PUT when the PUT may have started a run (:func:`may_have_started`).

    ``unconfirmed``: the ids members were recorded with whose start was never confirmed; each is ensured (read,
    PUT only if free), never left for a new id beside it. The active runs of every job the other members name
    are listed first, once per job and before any PUT, so that members on one job each get their own run and
    none adopts another's. Then, still before any PUT, ``plan_of`` reads the plan of each job a member pins an
    ``expected_plan`` or names ``step_scripts`` for, once a job: a member about to start a run whose plan differs
    from its pin or does not run its scripts (or could not be read) is recorded with that error and sends nothing;
    the others go on."""
    if not keys:
        return {}
    unconfirmed = {key: ref for key, ref in (unconfirmed or {}).items() if key in keys}
    members = {key: inputs.member(key) for key in keys}
    for key, ref in unconfirmed.items():
        members[key] = members[key].model_copy(update={"job_execution_id": ref.job_execution_id})
    jobs = sorted({member.job for member in members.values() if not member.job_execution_id}, key=str)
    pinned = sorted({member.job for member in members.values() if _guarded(member)}, key=str)

    def listed(job: JobRef) -> JobRuns | ElasticJobsError:
        try:
            return job_runs(client, job)
        except ElasticJobsError as error:
            return error

    def planned(job: JobRef) -> Plan | ElasticJobsError:
        if plan_of is None:
            raise TypeError("members pin an expected_plan: start_members needs plan_of")
        runs = listings.get(job)
        if isinstance(runs, ElasticJobsError):
            return runs  # its members cannot start anyway, and say why
        try:
            return plan_of(job, runs.active if runs is not None else None)
        except ElasticJobsError as error:
            return error

    def start(key: str) -> tuple[str, Member]:
        member = members[key]
        runs = listings.get(member.job) if not member.job_execution_id else None
        claimed: Claim | None = None  # set only as its PUT is sent
        try:
            if isinstance(runs, ElasticJobsError):
                raise runs
            chosen = attach_or_choose(client, member, runs)
            if isinstance(chosen, Claim) and _guarded(member):
                plan = plans[member.job]
                if isinstance(plan, ElasticJobsError):
                    raise plan
                refuse_unreviewed(member.expected_plan, plan, member.step_scripts)
            claimed = chosen if isinstance(chosen, Claim) else None
            run = chosen if isinstance(chosen, Run) else claim(client, chosen)
        except ElasticJobsError as error:
            log.warning("member %s could not start: %s", key, error)
            put = claimed.ref if claimed is not None and may_have_started(error) else None
            return key, Member(unconfirmed.get(key, put), error=error)
        return key, Member(run.ref, run.execution, started=run.started)

    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(keys))) as pool:
        listings = dict(zip(jobs, pool.map(listed, jobs), strict=True))
        plans = dict(zip(pinned, pool.map(planned, pinned), strict=True))
        return dict(pool.map(start, keys))


def _guarded(member: ExecutionInputs) -> bool:
    """Whether a member's start waits on its job's plan: it pins one, or names the scripts its steps must run."""
    return member.expected_plan is not None or bool(member.step_scripts)


def cancel_all(
    client: ElasticJobsClient,
    refs: list[ExecutionRef],
    *,
    timeout: float,
    poll_interval: float,
    spare: Callable[[ExecutionRef, JobExecution], bool] | None = None,
) -> list[ExecutionRef]:
    """Cancel the active ones among ``refs`` and wait (at most ``timeout``) until the service says they stopped.

    Returns the runs still active after that: a cancel the service accepted but did not carry out in time.
    Runs the service no longer knows are done with; so are those ``spare`` says, read, are not the caller's.
    """

    def cancel(ref: ExecutionRef) -> ExecutionRef | None:
        try:
            execution = client.get_execution(ref)
            if is_terminal(execution.properties.lifecycle) or (spare is not None and spare(ref, execution)):
                return None
            client.cancel_execution(ref)
            return ref
        except NotFound:
            return None

    if not refs:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(refs))) as pool:
        cancelled = [ref for ref in pool.map(cancel, refs) if ref is not None]
    if not cancelled:
        return []
    waited = client.wait_for_all(cancelled, timeout=timeout, poll_interval=poll_interval)

    def stopped(ref: ExecutionRef) -> bool:
        if ref in waited.errors:  # gone is stopped; unreadable is not known to have stopped
            return isinstance(waited.errors[ref], NotFound)
        return is_terminal(waited.latest[ref].properties.lifecycle)

    return [ref for ref in cancelled if not stopped(ref)]
