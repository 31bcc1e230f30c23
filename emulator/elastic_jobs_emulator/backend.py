"""The emulator's rules for the Elastic Jobs resources: what each ARM operation on job agents, jobs, steps,
versions, target groups, credentials and executions does to the state, independent of HTTP.

Every operation takes names already split from the path and returns ``(status, body)`` or raises
:class:`ArmFailure` with a real ARM error code. Bodies are validated with the same pydantic models the client
uses; readOnly properties a client sends are ignored; ``id``, ``name``, ``type`` and ``systemData`` are filled
as ARM fills them. The fleet a run touches (servers, databases, elastic pools, and what a target group expands
to) is ``fleet``'s room, which a run asks for its targets; what every answer shares is ``arm``'s.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from pulumi_azure_elastic_jobs.ids import child_name_problem, resource_group_problem, server_problem, uuid_problem
from pulumi_azure_elastic_jobs.models import (
    EXECUTION_TYPE,
    STEP_EXECUTION_TYPE,
    TARGET_EXECUTION_TYPE,
    Job,
    JobAgent,
    JobCredential,
    JobStep,
    JobTargetGroup,
)

from . import engine
from .arm import PAGE_SIZE, ArmFailure, check_name, int_param, not_found, present, public, validated
from .fleet import Fleet
from .store import Document, Store, key_of

AsyncPut = Literal["never", "new", "always"]
"""When an execution PUT answers 202 + Location: never, for new ids only, or also for ids that exist."""

AGENT_TYPE = "Microsoft.Sql/servers/jobAgents"
JOB_TYPE = "Microsoft.Sql/servers/jobAgents/jobs"
STEP_TYPE = "Microsoft.Sql/servers/jobAgents/jobs/steps"
VERSION_TYPE = "Microsoft.Sql/servers/jobAgents/jobs/versions"
VERSION_STEP_TYPE = "Microsoft.Sql/servers/jobAgents/jobs/versions/steps"
TARGET_GROUP_TYPE = "Microsoft.Sql/servers/jobAgents/targetGroups"
CREDENTIAL_TYPE = "Microsoft.Sql/servers/jobAgents/credentials"
_CHILD_TYPES = {
    "jobs": JOB_TYPE,
    "steps": STEP_TYPE,
    "versions": VERSION_TYPE,
    "targetgroups": TARGET_GROUP_TYPE,
    "credentials": CREDENTIAL_TYPE,
    "executions": EXECUTION_TYPE,
}
"""The type of each collection below an agent, to name a missing parent as the service does."""


@dataclass(frozen=True)
class Agent:
    """The names that locate a job agent; every Elastic Jobs resource lives below one."""

    subscription: str
    resource_group: str
    server: str
    agent: str

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Sql/servers/{self.server}/jobAgents/{self.agent}"
        )

    @property
    def server_id(self) -> str:
        return self.id.rsplit("/jobAgents/", 1)[0]

    def job_id(self, job: str) -> str:
        return f"{self.id}/jobs/{job}"

    def validate(self) -> None:
        check_name("subscriptionId", self.subscription, uuid_problem)
        check_name("resourceGroupName", self.resource_group, resource_group_problem)
        check_name("serverName", self.server, server_problem)
        check_name("jobAgentName", self.agent, child_name_problem)


@dataclass
class Clock:
    """The service's clock: real time moved by ``offset_seconds``, and emulated seconds per real second.

    The offset lets tests run the service's clock ahead of or behind the client's (skew), or jump it forward
    so that a held run ends exactly when the test says, instead of racing a timer.
    """

    time_scale: float = 1.0
    offset_seconds: float = 0.0
    source: Callable[[], float] = time.time

    def now(self) -> float:
        return self.source() + self.offset_seconds


HISTORY_SIZE = 10_000
HISTORY_SECONDS = 3600.0


@dataclass(frozen=True)
class History:
    """How much bookkeeping the emulator keeps beside its resources: the request log, the operation records of
    202 answers and the tokens its Entra ID issued each hold at most ``size`` entries, and each entry lapses
    ``seconds`` (real time) after it was made, so a soak runs in constant memory. Resources are state, not
    bookkeeping: they stay until deleted."""

    size: int = HISTORY_SIZE
    seconds: float = HISTORY_SECONDS

    def __post_init__(self) -> None:
        if self.size < 1 or self.seconds <= 0:
            raise ValueError("history size and seconds must be positive")


class Bounded(OrderedDict[str, Any]):
    """Records by key, oldest first, at most ``history.size`` of them, each kept ``history.seconds``
    (``lapses`` says whether an old one may go: a token still valid stays until its count comes)."""

    def __init__(self, history: History, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.history, self.now = history, now
        self._made: dict[str, float] = {}

    def add(self, key: str, value: Any, lapses: Callable[[Any], bool] = lambda _: True) -> None:
        now = self.now()
        self[key] = value
        self._made[key] = now
        while len(self) > self.history.size:
            self._forget(next(iter(self)))
        while self:
            oldest = next(iter(self))
            if now - self._made[oldest] <= self.history.seconds or not lapses(self[oldest]):
                break
            self._forget(oldest)

    def _forget(self, key: str) -> None:
        del self[key]
        del self._made[key]

    def clear(self) -> None:
        super().clear()
        self._made.clear()


@dataclass
class Backend:
    store: Store
    clock: Clock = field(default_factory=Clock)
    history: History = field(default_factory=History)
    behaviors: dict[str, engine.Behavior] = field(default_factory=dict)
    async_put: AsyncPut = "never"
    poll_hints: bool = False
    """Tell pollers when an active execution next changes (Retry-After). The live service sends no such hint (it
    was never seen in a recording), so it is off unless asked for; tests turn it on to poll at the emulator's pace."""
    _operations: Bounded = field(init=False)
    """Operation records of 202 answers (polled through their URLs), bounded by ``history``; a lapsed one is
    404 ``ResourceNotFound``, as ARM forgets operations too."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fleet: Fleet = field(init=False)
    """Servers, databases and elastic pools, and the expansion of target groups into the databases a run touches."""
    _active_runs: dict[str, tuple[int, list[tuple[str, dict[str, Any]]]]] = field(default_factory=dict, repr=False)
    """A job's runs that were active when a run last started, (execution id, plan), by job key, with the store's
    epoch then: a start weighs the job's active runs (busy databases, skip while active), and reading every run of
    a job for that made each start as slow as the job's history is long (a set of a thousand runs on one job
    started at 30 a second). Kept only while nothing else writes to the store; read again after any other write."""

    def __post_init__(self) -> None:
        self._operations = Bounded(self.history)
        self.fleet = Fleet(self.store, self.clock.now, self.refuse_while_active)

    # --- common ----------------------------------------------------------------------------------------------

    def _system_data(self, existing: Document | None) -> dict[str, Any]:
        stamp = engine.iso(self.clock.now())
        created = (existing or {}).get("systemData") or {
            "createdBy": "emulator",
            "createdByType": "Application",
            "createdAt": stamp,
        }
        return {
            **created,
            "lastModifiedBy": "emulator",
            "lastModifiedByType": "Application",
            "lastModifiedAt": stamp,
        }

    def _require(self, arm_id: str, what: str) -> Document:
        """The document at ``arm_id``, else the service's 404: ``ResourceNotFound`` naming the outermost missing
        resource by type and name, whether that is the one asked for or a parent of it (as recorded: a step of a
        missing job names the job; never ``ParentResourceNotFound``)."""
        doc = self.store.get(arm_id)
        if doc is not None:
            return doc
        raise not_found(*(self._outermost_missing(arm_id) or (what, arm_id.rsplit("/", 1)[-1])))

    def _outermost_missing(self, arm_id: str) -> tuple[str, str] | None:
        """The first ancestor of ``arm_id`` from its agent down (job, execution, ...) that does not exist."""
        head, _, rest = arm_id.partition("/jobAgents/")
        agent, *pairs = rest.split("/")
        path = f"{head}/jobAgents/{agent}"
        ancestors = [(path, AGENT_TYPE, agent)] if pairs else []
        for index in range(0, len(pairs) - 2, 2):
            collection, name = pairs[index], pairs[index + 1]
            path = f"{path}/{collection}/{name}"
            ancestors.append((path, _CHILD_TYPES.get(collection.lower(), collection), name))
        return next(((kind, name) for path, kind, name in ancestors if self.store.get(path) is None), None)

    def _save(
        self,
        arm_id: str,
        parent: str,
        kind: str,
        name: str,
        body: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> tuple[int, Document]:
        existing = self.store.get(arm_id)
        doc = {
            "id": arm_id,
            "name": name,
            "type": kind,
            **body,
            "systemData": self._system_data(existing),
            **(extra or {}),
        }
        self.store.put(arm_id, parent, kind, doc)
        return (200 if existing else 201), public(doc)

    def get(self, arm_id: str, kind: str) -> tuple[int, Document]:
        return 200, public(self._require(arm_id, kind))

    def list_children(self, parent_id: str, kind: str, parent_kind: str) -> tuple[int, Document]:
        self._require(parent_id, parent_kind)
        return 200, {"value": [public(doc) for doc in self.store.children(parent_id, kind)]}

    def list_agents(self, server_id: str) -> tuple[int, Document]:
        """Servers are implicit in the emulator: any server lists the agents created under it."""
        return 200, {"value": [public(doc) for doc in self.store.children(server_id, AGENT_TYPE)]}

    def refuse_while_active(self, arm_id: str) -> None:
        """409 Conflict while a job execution below ``arm_id`` is still active (a guess: no recording deletes one)."""
        now = self.clock.now()
        active = [
            doc["name"] for doc in self.store.descendants(arm_id, EXECUTION_TYPE) if engine.is_active(doc["_plan"], now)
        ]
        if active:
            raise ArmFailure(
                409,
                "Conflict",
                f"Cannot delete '{arm_id.rsplit('/', 1)[-1]}' while "
                f"{len(active)} job execution(s) below it are active; cancel them first.",
            )

    def delete(self, arm_id: str) -> tuple[int, Document | None]:
        """Delete a resource and all below it; 409 Conflict while an execution below it is still active."""
        with self.store.transaction():
            self.refuse_while_active(arm_id)
            if self.store.delete(arm_id):
                return 200, None
            missing = self._outermost_missing(arm_id)
            if missing:  # as recorded: a child of a missing job is a 404 naming the job
                raise not_found(*missing)
            return 204, None

    # --- agents, jobs, steps, target groups, credentials -----------------------------------------------------

    def put_agent(self, agent: Agent, body: Any) -> tuple[int, Document]:
        agent.validate()
        data = validated(JobAgent, body)
        data["properties"]["state"] = "Ready"
        data.setdefault("sku", {"name": "JA100", "capacity": 100})
        data = {key: value for key, value in data.items() if key not in ("id", "name", "type", "systemData")}
        with self.store.transaction():
            return self._save(agent.id, agent.server_id, AGENT_TYPE, agent.agent, data)

    def patch_agent(self, agent: Agent, body: Any) -> tuple[int, Document]:
        doc = self._require(agent.id, AGENT_TYPE)
        if not isinstance(body, dict):
            raise ArmFailure(400, "InvalidRequestContent", "The request content must be a JSON object.")
        for key in ("tags", "sku", "identity"):
            if key in body:
                doc[key] = body[key]
        with self.store.transaction():
            return 200, self._save(agent.id, agent.server_id, AGENT_TYPE, agent.agent, public(doc))[1]

    def put_child(self, agent: Agent, collection: str, name: str, body: Any) -> tuple[int, Document]:
        """PUT a job, a target group or a credential under an existing agent."""
        agent.validate()
        check_name("name", name, child_name_problem)
        model, kind = {
            "jobs": (Job, JOB_TYPE),
            "targetGroups": (JobTargetGroup, TARGET_GROUP_TYPE),
            "credentials": (JobCredential, CREDENTIAL_TYPE),
        }[collection]
        data = {"properties": validated(model, body).get("properties", {})}
        arm_id = f"{agent.id}/{collection}/{name}"
        with self.store.transaction():
            self._require(agent.id, AGENT_TYPE)
            existing = self.store.get(arm_id)
            extra: dict[str, Any] = {}
            if collection == "jobs":
                data["properties"]["version"] = (existing or {}).get("properties", {}).get("version", 0)
                data["properties"].setdefault("description", "")
                data["properties"].setdefault("schedule", {"type": "Once", "enabled": False})
            if collection == "targetGroups":
                self._check_members(data["properties"]["members"])
            if collection == "credentials":
                extra["_password"] = data["properties"].pop("password", None)
            return self._save(arm_id, agent.id, kind, name, data, extra)

    @staticmethod
    def _check_members(members: list[dict[str, Any]]) -> None:
        for number, member in enumerate(members):
            if member["type"] == "SqlDatabase" and not (member.get("serverName") and member.get("databaseName")):
                raise ArmFailure(
                    400,
                    "InvalidParameter",
                    "A SqlDatabase target needs serverName and databaseName.",
                    f"properties.members[{number}]",
                )
            if member["type"] != "SqlDatabase" and not member.get("serverName") and member["type"] != "TargetGroup":
                raise ArmFailure(
                    400,
                    "InvalidParameter",
                    f"A {member['type']} target needs serverName.",
                    f"properties.members[{number}]",
                )

    def put_step(self, agent: Agent, job: str, step: str, body: Any) -> tuple[int, Document]:
        agent.validate()
        check_name("stepName", step, child_name_problem)
        data = {"properties": validated(JobStep, body)["properties"]}
        job_id = agent.job_id(job)
        with self.store.transaction():
            self._require(job_id, JOB_TYPE)
            steps = [s for s in self.store.children(job_id, STEP_TYPE) if s["name"].lower() != step.lower()]
            wanted = data["properties"].get("stepId") or (len(steps) + 1)
            if wanted > len(steps) + 1:
                raise ArmFailure(
                    400,
                    "InvalidParameter",
                    f"stepId must be between 1 and {len(steps) + 1}.",
                    "properties.stepId",
                )
            data["properties"]["stepId"] = wanted
            data["properties"].setdefault("executionOptions", {})
            for other in sorted(steps, key=lambda s: s["properties"]["stepId"]):
                if other["properties"]["stepId"] >= wanted:
                    other["properties"]["stepId"] += 1
                    self.store.put(other["id"], job_id, STEP_TYPE, other)
            result = self._save(f"{job_id}/steps/{step}", job_id, STEP_TYPE, step, data)
            self._bump_version(job_id)
            return result

    def delete_step(self, agent: Agent, job: str, step: str) -> tuple[int, Document | None]:
        job_id = agent.job_id(job)
        with self.store.transaction():
            status = self.delete(f"{job_id}/steps/{step}")
            if status[0] == 200:
                remaining = sorted(self.store.children(job_id, STEP_TYPE), key=lambda s: s["properties"]["stepId"])
                for number, other in enumerate(remaining, start=1):
                    other["properties"]["stepId"] = number
                    self.store.put(other["id"], job_id, STEP_TYPE, other)
                self._bump_version(job_id)
            return status

    def _bump_version(self, job_id: str) -> None:
        """A changed step makes a new job version; the version keeps a snapshot of the steps it had."""
        job = self._require(job_id, JOB_TYPE)
        version = int(job["properties"].get("version") or 0) + 1
        job["properties"]["version"] = version
        self.store.put(job_id, job_id.rsplit("/jobs/", 1)[0], JOB_TYPE, job)
        steps = [public(s) for s in self.store.children(job_id, STEP_TYPE)]
        version_id = f"{job_id}/versions/{version}"
        self.store.put(
            version_id,
            job_id,
            VERSION_TYPE,
            {"id": version_id, "name": str(version), "type": VERSION_TYPE, "_steps": steps},
        )

    def version_steps(self, agent: Agent, job: str, version: str, step: str | None) -> tuple[int, Document]:
        version_id = f"{agent.job_id(job)}/versions/{version}"
        doc = self._require(version_id, VERSION_TYPE)
        steps = [{**s, "id": f"{version_id}/steps/{s['name']}", "type": VERSION_STEP_TYPE} for s in doc["_steps"]]
        if step is None:
            return 200, {"value": steps}
        for candidate in steps:
            if candidate["name"].lower() == step.lower():
                return 200, candidate
        raise ArmFailure(404, "ResourceNotFound", f"Step '{step}' not found in version {version}.")

    # --- executions --------------------------------------------------------------------------------------------

    def put_execution(self, agent: Agent, job: str, execution_id: str) -> tuple[int, Document, bool, float | None]:
        """Create-or-get: an existing id answers 200 without a new run.

        Returns (status, body, accepted asynchronously, seconds until it next changes)."""
        agent.validate()
        check_name("jobExecutionId", execution_id, uuid_problem)
        arm_id = f"{agent.job_id(job)}/executions/{execution_id}"
        with self.store.transaction():
            existing = self.store.get(arm_id)
            if existing is None:
                created = self._start(agent, job, arm_id, execution_id)
                accepted_async = self.async_put != "never"
                return 201, self.render_execution(arm_id, created), accepted_async, self.poll_hint(arm_id, created)
        accepted_async = self.async_put == "always"
        return 200, self.render_execution(arm_id, existing), accepted_async, self.poll_hint(arm_id, existing)

    def start_execution(self, agent: Agent, job: str) -> Document:
        agent.validate()
        execution_id = str(uuid.uuid4())
        arm_id = f"{agent.job_id(job)}/executions/{execution_id}"
        with self.store.transaction():
            created = self._start(agent, job, arm_id, execution_id)
        return self.render_execution(arm_id, created)

    def _start(self, agent: Agent, job: str, arm_id: str, execution_id: str) -> Document:
        job_id = agent.job_id(job)
        job_doc = self.store.get(job_id)
        if job_doc is None:  # say which parent is missing: the agent, or just the job
            self._require(agent.id, AGENT_TYPE)
            job_doc = self._require(job_id, JOB_TYPE)
        steps = [public(s) for s in self.store.children(job_id, STEP_TYPE)]
        behavior = self.behaviors.get(job.lower(), engine.Behavior())
        now = self.clock.now()
        runs = self._runs_active_at(job_id, now)
        skipped = behavior.skip_while_active and any(engine.is_active(plan, now) for _, plan in runs)
        expanded: dict[str, list[Document]] = {}

        def targets_of(step: Document) -> list[Document]:
            """A step's targets, its group expanded once per run however many steps share it."""
            group = step["properties"]["targetGroup"].rstrip("/").rsplit("/", 1)[-1].lower()
            if group not in expanded:
                expanded[group] = self._targets(agent, group)
            return expanded[group]

        plan = engine.plan_execution(
            now,
            steps,
            targets_of,
            self.clock.time_scale,
            behavior,
            arm_id.lower(),
            skipped,
            engine.busy_databases(runs, now),
        )
        plan["job_version"] = job_doc["properties"].get("version", 0)
        doc = {
            "id": arm_id,
            "name": execution_id,
            "type": EXECUTION_TYPE,
            "_plan": plan,
            "systemData": self._system_data(None),
        }
        self.store.put(arm_id, job_id, EXECUTION_TYPE, doc)
        self._active_runs[key_of(job_id)] = (self.store.epoch, [*runs, (execution_id, plan)])
        return doc

    def _runs_active_at(self, job_id: str, now: float) -> list[tuple[str, dict[str, Any]]]:
        """The job's runs active at ``now``, (execution id, plan): as kept by the last start when the store has not
        changed since (a run that ended never runs again, so dropping ended ones keeps it exact), else read.
        Called inside the start's transaction, so no other write comes between this read and the start's own."""
        kept = self._active_runs.get(key_of(job_id))
        if kept is not None and kept[0] == self.store.epoch:
            runs = kept[1]
        else:
            runs = [(doc["name"], doc["_plan"]) for doc in self.store.children(job_id, EXECUTION_TYPE)]
        return [(name, plan) for name, plan in runs if engine.is_active(plan, now)]

    def _targets(self, agent: Agent, group_name: str) -> list[dict[str, Any]]:
        """The targets of one of the agent's target groups, expanded by the fleet (none when it is gone)."""
        group = self.store.get(f"{agent.id}/targetGroups/{group_name}")
        return [] if group is None else self.fleet.expand(group["properties"]["members"])

    def _execution(self, arm_id: str) -> Document:
        return self._require(arm_id, EXECUTION_TYPE)

    def render_execution(self, arm_id: str, doc: Document | None = None, now: float | None = None) -> Document:
        """The run as the service shows it at ``now`` (the clock's now by default); an answer that also carries a
        poll hint renders and hints at one instant, so an active run always comes with a hint."""
        doc = doc or self._execution(arm_id)
        plan = doc["_plan"]
        properties = engine.render_execution(plan, self.clock.now() if now is None else now)
        properties.update(jobVersion=plan.get("job_version"), jobExecutionId=doc["name"])
        return {**public(doc), "properties": present(properties)}

    def poll_hint(self, arm_id: str, doc: Document | None = None, now: float | None = None) -> float | None:
        if not self.poll_hints:
            return None
        doc = doc or self.store.get(arm_id)
        return engine.next_change(doc["_plan"], self.clock.now() if now is None else now) if doc else None

    def cancel_execution(self, agent: Agent, job: str, execution_id: str) -> tuple[int, None]:
        """200 with no body for a run in any state, as recorded; an active run shows ``Canceled`` a moment
        later (``engine.CANCEL_LAG``), and asking again before it lands changes nothing."""
        arm_id = f"{agent.job_id(job)}/executions/{execution_id}"
        with self.store.transaction():
            doc = self._execution(arm_id)
            now = self.clock.now()
            plan = doc["_plan"]
            if (
                engine.is_active(plan, now)
                and plan["canceled_at"] is None
                and not self.behaviors.get(job.lower(), engine.Behavior()).ignore_cancel
            ):
                plan["canceled_at"] = now + engine.CANCEL_LAG / self.clock.time_scale
                self.store.put(arm_id, agent.job_id(job), EXECUTION_TYPE, doc)
        return 200, None

    def list_executions(
        self, parent_id: str, by_agent: bool, query: dict[str, str], base_url: str, now: float | None = None
    ) -> Document:
        parent_kind = AGENT_TYPE if by_agent else JOB_TYPE
        self._require(parent_id, parent_kind)
        docs = (
            self.store.descendants(parent_id, EXECUTION_TYPE)
            if by_agent
            else self.store.children(parent_id, EXECUTION_TYPE)
        )
        rendered = [self.render_execution(doc["id"], doc, now) for doc in reversed(docs)]
        return self._page(_filtered(rendered, query), query, base_url)

    def listing_hint(self, job_id: str, now: float | None = None) -> float | None:
        """With poll hints on, seconds until any active run of the job next changes (a listing's Retry-After)."""
        if not self.poll_hints:
            return None
        now = self.clock.now() if now is None else now
        moments = [engine.next_change(doc["_plan"], now) for doc in self.store.children(job_id, EXECUTION_TYPE)]
        known = [moment for moment in moments if moment is not None]
        return min(known) if known else None

    def step_executions(self, execution_arm_id: str, step: str | None) -> list[Document]:
        doc = self._execution(execution_arm_id)
        steps = engine.render_steps(doc["_plan"], self.clock.now())
        out = []
        for rendered in steps:
            if step is not None and rendered["name"].lower() != step.lower():
                continue
            rendered.pop("targets")
            name = rendered.pop("name")
            out.append(
                {
                    "id": f"{doc['id']}/steps/{name}",
                    "name": name,
                    "type": STEP_EXECUTION_TYPE,
                    "properties": present(
                        {**rendered, "jobVersion": doc["_plan"].get("job_version"), "jobExecutionId": doc["name"]}
                    ),
                }
            )
        if step is not None and not out:
            raise ArmFailure(404, "ResourceNotFound", f"Step execution '{step}' was not found.")
        return out

    def target_executions(self, execution_arm_id: str, step: str | None, target_id: str | None) -> list[Document]:
        doc = self._execution(execution_arm_id)
        plan, now = doc["_plan"], self.clock.now()
        out = []
        for step_plan in plan["steps"]:
            if step is not None and step_plan["name"].lower() != step.lower():
                continue
            for target in step_plan["targets"]:
                started = target["start"] <= now and (
                    plan["canceled_at"] is None or target["start"] <= plan["canceled_at"]
                )
                if not started or (target_id is not None and target["id"] != target_id.lower()):
                    continue
                props = engine.render_target(target, step_plan, plan, now)
                name = props.pop("name")
                out.append(
                    {
                        "id": f"{doc['id']}/steps/{step_plan['name']}/targets/{name}",
                        "name": name,
                        "type": TARGET_EXECUTION_TYPE,
                        "properties": present(
                            {**props, "jobVersion": plan.get("job_version"), "jobExecutionId": doc["name"]}
                        ),
                    }
                )
        if target_id is not None and not out:
            raise ArmFailure(404, "ResourceNotFound", f"Target execution '{target_id}' was not found.")
        return out

    def list_target_executions(
        self, execution_arm_id: str, step: str | None, query: dict[str, str], base_url: str
    ) -> Document:
        """Target executions of a run (or of one of its steps), with the executions list's filters and paging."""
        items = self.target_executions(execution_arm_id, step, None)
        return self._page(_filtered(items, query), query, base_url)

    @staticmethod
    def _page(items: list[Document], query: dict[str, str], base_url: str) -> Document:
        """One page of an already filtered list, by ``$skip`` and ``$top`` (the executions' swagger parameters)."""
        skip = int_param(query.get("$skip"), "$skip")
        top = int_param(query.get("$top"), "$top")
        window = items[skip:]
        if top is not None:
            window = window[:top]
        page = window[:PAGE_SIZE]
        body: Document = {"value": page}
        if len(window) > PAGE_SIZE:
            rest = {k: v for k, v in query.items() if k not in ("$skip", "$top")}
            rest["$skip"] = str((skip or 0) + PAGE_SIZE)
            if top is not None:
                rest["$top"] = str(top - PAGE_SIZE)
            body["nextLink"] = f"{base_url}?{urlencode(rest)}"
        return body

    # --- asynchronous answers ----------------------------------------------------------------------------------

    def new_operation(self, resource_id: str, polls: int) -> str:
        operation_id = str(uuid.uuid4())
        with self._lock:
            self._operations.add(operation_id, {"resource": resource_id, "polls_left": polls})
        return operation_id

    def poll_operation(self, operation_id: str) -> tuple[bool, str]:
        with self._lock:
            operation = self._operations.get(operation_id)
            if operation is None:
                raise ArmFailure(404, "ResourceNotFound", f"Operation '{operation_id}' was not found.")
            operation["polls_left"] -= 1
            return operation["polls_left"] < 0, operation["resource"]


def _utc_moment(value: str) -> datetime:
    """A date-time filter as the emulator reads it: at its offset, or, written without one, as UTC (every time the
    service stores and answers is UTC). A naive time is never compared with an aware one (a 500 before this).
    Raises ``ValueError`` for text that is no ISO 8601 date-time, which callers answer as a 400."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _filtered(items: list[Document], query: dict[str, str]) -> list[Document]:
    def moment(name: str) -> datetime | None:
        value = query.get(name)
        if value is None:
            return None
        try:
            return _utc_moment(value)
        except ValueError:
            raise ArmFailure(400, "InvalidParameter", f"{name} must be an ISO 8601 date-time.", name) from None

    def when(item: Document, name: str) -> datetime | None:
        value = item["properties"].get(name)
        return _utc_moment(value) if value else None

    bounds = {name: moment(name) for name in ("createTimeMin", "createTimeMax", "endTimeMin", "endTimeMax")}
    active = query.get("isActive")
    if active is not None and active.lower() not in ("true", "false"):
        raise ArmFailure(400, "InvalidParameter", "isActive must be true or false.", "isActive")
    out = []
    for item in items:
        created, ended = when(item, "createTime"), when(item, "endTime")
        if bounds["createTimeMin"] and (not created or created < bounds["createTimeMin"]):
            continue
        if bounds["createTimeMax"] and (not created or created > bounds["createTimeMax"]):
            continue
        if bounds["endTimeMin"] and (not ended or ended < bounds["endTimeMin"]):
            continue
        if bounds["endTimeMax"] and (not ended or ended > bounds["endTimeMax"]):
            continue
        if active is not None and (
            item["properties"]["lifecycle"]
            in ("Created", "InProgress", "WaitingForRetry", "WaitingForChildJobExecutions")
        ) != (active.lower() == "true"):
            continue
        out.append(item)
    return out
