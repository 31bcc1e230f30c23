"""Reading a run's plan: the job's version and steps, its target groups, and the fleet they expand to, in parallel.

The reads are the floor a plan can take: the job, the steps of its current version, each target group once, the
server listing of each subscription searched (only when a member names a server or a pool), each server's
database listing (servers targeted or excluded whole) or each pool's (pools on servers not listed whole), every
page, and the targets of the job's active runs (usually none). Reads of one stage go out together on a small
thread pool. Nothing here raises for what it cannot read: a refused or failed read becomes an ``unseen`` line (and
an unresolved member, where a member needed it), so a preview by an identity that cannot see the fleet still
succeeds and says what it missed, and a plan that was not read whole matches no pin with counts or a digest.
Expansion (:func:`expand`) is pure: members and what the reads found in, databases and reasons out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from .client import ElasticJobsClient
from .errors import ArmError, ElasticJobsError
from .ids import ExecutionRef, JobRef, segment, server_short_name
from .plan import Plan, PlannedStep, Unresolved, database_key, first_line, script_digest
from .script_changes import FIRST, LastRun
from .terms import SYSTEM_DATABASES, is_terminal

READERS = 8
"""Reads of one stage in flight at once: enough for 10 servers and 2 pools in one round trip."""
T = TypeVar("T")
R = TypeVar("R")


def short(error: ElasticJobsError) -> str:
    """An error as a plan line: the ARM code and message, without the request's URL."""
    if isinstance(error, ArmError):
        return f"{error.code or error.status}: {(error.message or '').strip()}"
    return str(error).splitlines()[0]


def last_segment(arm_id: str | None) -> str:
    return (arm_id or "").rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Fleet:
    """What the reads found of the servers, pools and databases the members name (servers by their own names).

    ``databases[server]`` is the server's databases (name → pool key or None) or why it could not be read;
    ``pools[(server, pool)]`` a pool's databases or why not; ``missing[server]`` why a server was not found."""

    databases: dict[str, dict[str, str | None] | str] = field(default_factory=dict)
    pools: dict[tuple[str, str], list[str] | str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def of_server(self, server: str) -> dict[str, str | None] | str:
        if server in self.missing:
            return self.missing[server]
        return self.databases.get(server, "its databases were not read")

    def of_pool(self, server: str, pool: str) -> list[str] | str:
        if server in self.missing:
            return self.missing[server]
        listed = self.databases.get(server)
        if isinstance(listed, dict):
            return [name for name, in_pool in listed.items() if in_pool == pool]
        return self.pools.get((server, pool), "its databases were not read")


def describe(member: Mapping[str, Any]) -> str:
    """A member as a reviewer reads it: ``SqlServer s1``, ``SqlElasticPool s1/pool1``, ``SqlDatabase s1/db``."""
    kind = str(member.get("type") or "?")
    server = str(member.get("serverName") or "?")
    detail = member.get("databaseName") or member.get("elasticPoolName") or member.get("shardMapName")
    exclude = "exclude " if member.get("membershipType") == "Exclude" else ""
    return f"{exclude}{kind} {server}" + (f"/{detail}" if detail else "")


def members_of(member: Mapping[str, Any], fleet: Fleet) -> tuple[set[str], str | None]:
    """The databases one member stands for, or why it cannot be expanded."""
    kind = member.get("type")
    server = server_short_name(str(member.get("serverName") or ""))
    if kind == "SqlDatabase":
        name = str(member.get("databaseName") or "")
        listed = fleet.databases.get(server)
        if isinstance(listed, dict) and name.lower() not in listed:
            return set(), f"no database {name!r} on server {server}"
        return {database_key(server, name)}, None
    if kind == "SqlServer":
        found = fleet.of_server(server)
        if isinstance(found, str):
            return set(), found
        return {database_key(server, name) for name in found if name not in SYSTEM_DATABASES}, None
    if kind == "SqlElasticPool":
        pool = str(member.get("elasticPoolName") or "").lower()
        pooled = fleet.of_pool(server, pool)
        if isinstance(pooled, str):
            return set(), pooled
        return {database_key(server, name) for name in pooled if name not in SYSTEM_DATABASES}, None
    if kind == "SqlShardMap":
        return set(), "a shard map is expanded by the service through its shard map manager, which ARM cannot read"
    return set(), f"a {kind} member is not expanded by the plan"


def expand(members: Sequence[Mapping[str, Any]], fleet: Fleet) -> tuple[tuple[str, ...], tuple[Unresolved, ...]]:
    """A target group's databases: includes expanded, excludes taken out, each once; and the members that could
    not be expanded (an include's databases are unknown; an exclude's may leave databases in that should not be)."""
    included: set[str] = set()
    excluded: set[str] = set()
    unresolved: list[Unresolved] = []
    for member in members:
        databases, reason = members_of(member, fleet)
        if reason is not None:
            unresolved.append(Unresolved(describe(member), reason))
        (excluded if member.get("membershipType") == "Exclude" else included).update(databases)
    return tuple(sorted(included - excluded)), tuple(unresolved)


# --- the reads ---------------------------------------------------------------------------------------------------


def read_plan(
    client: ElasticJobsClient,
    job: JobRef,
    subscriptions: Sequence[str] = (),
    active: Mapping[str, Any] | None = None,
) -> Plan:
    """The plan of a run of ``job`` started now, from reads alone. ``subscriptions`` are searched for target
    servers after the agent's own; ``active`` are the job's active runs when a caller already listed them."""
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="elastic-jobs-plan") as pool:
        return _Reader(client, job, pool).plan(subscriptions, active)


def last_run(client: ElasticJobsClient, job: JobRef, version: int | None, live: Plan | None = None) -> LastRun:
    """The scripts of ``job`` at ``version`` (the one the resource's last run used; None: it never ran), by step
    name, read through ``.../jobs/{job}/versions/{version}/steps``, or taken from the ``live`` plan's own read when
    that is the same version; what could not be read is said, not raised."""
    if version is None:
        return FIRST
    same = live is not None and live.version == version and live.job.lower() == job.job_name.lower()
    if live is not None and same and all(step.script is not None for step in live.steps):
        return LastRun(job.job_name, version, {step.name: step.script or "" for step in live.steps})
    try:
        listed = client.list_documents(f"{job.path}/versions/{int(version)}/steps")
        scripts = {str(step.get("name") or ""): _script(step) for step in listed}
    except ElasticJobsError as error:
        return LastRun(job.job_name, version, None, short(error))
    return LastRun(job.job_name, version, scripts)


def _script(step: Mapping[str, Any]) -> str:
    return str(((step.get("properties") or {}).get("action") or {}).get("value") or "")


def attempt(read: Callable[[], R]) -> R | ElasticJobsError:
    """``read()``, or the package error it raised: a plan says what it could not read rather than fail."""
    try:
        return read()
    except ElasticJobsError as error:
        return error


class _Reader:
    def __init__(self, client: ElasticJobsClient, job: JobRef, pool: ThreadPoolExecutor) -> None:
        self.client, self.job, self.pool = client, job, pool
        self.unseen: list[str] = []

    def each(self, call: Callable[[T], R], items: Iterable[T]) -> list[R | ElasticJobsError]:
        """``call`` on every item at once; an error comes back in the item's place."""
        return list(self.pool.map(lambda item: attempt(lambda: call(item)), list(items)))

    def plan(self, subscriptions: Sequence[str], active: Mapping[str, Any] | None) -> Plan:
        name = self.job.job_name
        version_read = self.pool.submit(attempt, self._job_version)
        runs_read = self.pool.submit(attempt, lambda: self._active(active))
        version = version_read.result()
        if isinstance(version, ElasticJobsError):
            return Plan(name, 0, unseen=(f"job {name}: {short(version)}",))
        steps_read = self.pool.submit(attempt, lambda: self._steps(version))
        busy = self._busy(runs_read.result())
        steps = steps_read.result()
        if isinstance(steps, ElasticJobsError):
            return Plan(name, version, busy=tuple(busy), unseen=(f"steps of {name} v{version}: {short(steps)}",))
        groups = self._groups(steps)
        fleet = self._fleet(groups.values(), [self.job.subscription_id, *subscriptions])
        planned = tuple(self._step(step, groups, fleet) for step in steps)
        return Plan(name, version, planned, tuple(busy), tuple(self.unseen))

    def _job_version(self) -> int:
        document = self.client.read_document(self.job.path)
        return int((document.get("properties") or {}).get("version") or 0)

    def _steps(self, version: int) -> list[dict[str, Any]]:
        if version == 0:
            return []  # a job with no steps has no version to read
        listed = self.client.list_documents(f"{self.job.path}/versions/{version}/steps")
        return sorted(listed, key=lambda step: int((step.get("properties") or {}).get("stepId") or 0))

    def _active(self, active: Mapping[str, Any] | None) -> list[str]:
        if active is not None:
            return sorted(active)
        listed = self.client.list_executions(self.job, is_active=True)
        return sorted(str(e.name).lower() for e in listed if e.name and not is_terminal(e.properties.lifecycle))

    def _busy(self, runs: list[str] | ElasticJobsError) -> list[str]:
        """Databases where an active run of the job has a target still running: the service skips them."""
        if isinstance(runs, ElasticJobsError):
            self.unseen.append(f"active runs of {self.job.job_name}: {short(runs)}")
            return []
        busy: set[str] = set()
        for run, found in zip(runs, self.each(self._running_targets, runs), strict=True):
            if isinstance(found, ElasticJobsError):
                self.unseen.append(f"targets of active run {run}: {short(found)}")
            else:
                busy.update(found)
        return sorted(busy)

    def _running_targets(self, run: str) -> set[str]:
        ref = ExecutionRef(self.job, run)
        return {
            database_key(target.properties.target.server_name or "", target.properties.target.database_name or "")
            for target in self.client.list_target_executions(ref)
            if target.properties.target
            and target.properties.target.database_name
            and not is_terminal(target.properties.lifecycle)
        }

    def _groups(self, steps: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]] | str]:
        """Each target group the steps name, read once: its members, or why it could not be read."""
        names = sorted({last_segment((step.get("properties") or {}).get("targetGroup")) for step in steps})
        read = self.each(
            lambda group: self.client.read_document(f"{self.job.agent_path}/targetGroups/{segment(group)}"), names
        )
        groups: dict[str, list[dict[str, Any]] | str] = {}
        for group, found in zip(names, read, strict=True):
            if isinstance(found, ElasticJobsError):
                groups[group] = short(found)
                self.unseen.append(f"target group {group}: {short(found)}")
            else:
                groups[group] = list((found.get("properties") or {}).get("members") or [])
        return groups

    def _fleet(self, groups: Iterable[list[dict[str, Any]] | str], subscriptions: Sequence[str]) -> Fleet:
        members = [member for group in groups if isinstance(group, list) for member in group]
        whole = {server_short_name(str(m.get("serverName") or "")) for m in members if m.get("type") == "SqlServer"}
        pools = {
            (server_short_name(str(m.get("serverName") or "")), str(m.get("elasticPoolName") or "").lower())
            for m in members
            if m.get("type") == "SqlElasticPool"
        }
        pools = {(server, pool) for server, pool in pools if server not in whole}
        fleet = Fleet()
        if not whole and not pools:
            return fleet
        located, fleet.missing = self._locate({*whole, *(server for server, _ in pools)}, subscriptions)
        server_reads = {
            server: self.pool.submit(attempt, partial(self._server_databases, located[server]))
            for server in sorted(whole - set(fleet.missing))
        }
        pool_reads = {
            (server, pool): self.pool.submit(attempt, partial(self._pool_databases, located[server], pool))
            for server, pool in sorted(pools)
            if server not in fleet.missing
        }
        for server, read in server_reads.items():
            listed = read.result()
            if isinstance(listed, ElasticJobsError):
                self.unseen.append(f"databases of server {server}: {short(listed)}")
            fleet.databases[server] = short(listed) if isinstance(listed, ElasticJobsError) else listed
        for (server, pool), pool_read in pool_reads.items():
            pooled = pool_read.result()
            if isinstance(pooled, ElasticJobsError):
                self.unseen.append(f"databases of pool {server}/{pool}: {short(pooled)}")
            fleet.pools[(server, pool)] = short(pooled) if isinstance(pooled, ElasticJobsError) else pooled
        return fleet

    def _locate(self, servers: set[str], subscriptions: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Each wanted server's ARM id, found by name in the subscriptions searched; and for each server not
        found, why (the subscriptions searched, and any listing that was refused)."""
        searched = list(dict.fromkeys(s.lower() for s in subscriptions))
        listed = self.each(
            lambda sub: list(
                self.client.list_documents(f"/subscriptions/{segment(sub)}/providers/Microsoft.Sql/servers")
            ),
            searched,
        )
        found: dict[str, str] = {}
        refused: list[str] = []
        for subscription, answer in zip(searched, listed, strict=True):
            if isinstance(answer, ElasticJobsError):
                refused.append(f"listing servers in subscription {subscription} failed ({short(answer)})")
                self.unseen.append(refused[-1])  # a read that failed: the plan is not whole, whatever it resolved
                continue
            for server in answer:
                key = server_short_name(str(server.get("name") or ""))
                if key in servers and key not in found and server.get("id"):
                    found[key] = str(server["id"])
        because = "; ".join(refused) if refused else "the provider's identity may not read it"
        where = ", ".join(searched)
        missing = {
            server: f"server {server} was not found in subscription(s) {where} ({because})"
            for server in servers - set(found)
        }
        return found, missing

    def _server_databases(self, server_id: str) -> dict[str, str | None]:
        """A server's databases (``master`` included, as ARM lists it), each with its pool's name or None."""
        listed = self.client.list_documents(f"{server_id}/databases")
        return {
            str(db.get("name") or "").lower(): last_segment((db.get("properties") or {}).get("elasticPoolId")).lower()
            or None
            for db in listed
        }

    def _pool_databases(self, server_id: str, pool: str) -> list[str]:
        listed = self.client.list_documents(f"{server_id}/elasticPools/{segment(pool)}/databases")
        return [str(db.get("name") or "").lower() for db in listed]

    def _step(
        self, step: dict[str, Any], groups: Mapping[str, list[dict[str, Any]] | str], fleet: Fleet
    ) -> PlannedStep:
        props = step.get("properties") or {}
        options = props.get("executionOptions") or {}
        group = last_segment(props.get("targetGroup"))
        script = _script(step)
        members = groups.get(group, "not read")
        if isinstance(members, str):
            databases: tuple[str, ...] = ()
            unresolved: tuple[Unresolved, ...] = (Unresolved(f"target group {group}", members),)
        else:
            databases, unresolved = expand(members, fleet)
        return PlannedStep(
            step_id=int(props.get("stepId") or 0),
            name=str(step.get("name") or ""),
            target_group=group,
            credential=last_segment(props.get("credential")) or None,
            script_digest=script_digest(script),
            script_first_line=first_line(script),
            timeout_seconds=int(options.get("timeoutSeconds") or 43200),
            retry_attempts=int(options.get("retryAttempts", 10)),
            databases=databases,
            unresolved=unresolved,
            script=script,
        )
