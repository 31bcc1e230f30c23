"""What a run will do where, as pure data: the job's version, its steps in order, and the databases each will touch.

A plan is computed from reads alone (:mod:`.planning` does them) and never imports pulumi, so both faces show the
same one: the row's line during a preview, the text a pull request's comment shows, the ``plan`` output recorded
when a run starts, and the guard that refuses a run whose live plan differs from the one a reviewer saw.

How far to trust it: the service expands a target group itself when the run starts, through SQL with the target
group's refresh credential; a plan reads the same fleet through ARM with the provider's identity. Both see the
same servers, pools and databases unless the fleet changes between the plan and the run, or the two identities
see different things; members neither can expand through ARM (shard maps) are listed as unresolved, never guessed.
``master`` is left out of server and pool targets, as the service leaves it out (a server target runs on the
server's user databases); a SqlDatabase member that names ``master`` runs there, and the plan says so.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from .ids import server_short_name
from .terms import counted

DIGEST_CHARS = 16
"""Hex characters of SHA-256 kept in a digest: 64 bits, ample to tell two plans of one job apart."""
SCRIPT_DIGEST_CHARS = 12
MAX_FIRST_LINE = 80


def database_key(server: str, database: str) -> str:
    """One database, by the key the plan and ``target_outcomes`` share: ``server/database``, lower case, the
    server by its own name however a member spelled it."""
    return f"{server_short_name(server)}/{database.strip().lower()}"


def script_digest(script: str) -> str:
    return "sha256:" + hashlib.sha256(script.encode()).hexdigest()[:SCRIPT_DIGEST_CHARS]


def first_line(script: str) -> str:
    """The script's first line with text, shortened: what a reviewer recognizes a step by."""
    line = next((text.strip() for text in script.splitlines() if text.strip()), "")
    return line if len(line) <= MAX_FIRST_LINE else line[: MAX_FIRST_LINE - 3] + "..."


@dataclass(frozen=True)
class Unresolved:
    """A target group member the plan could not turn into databases, and why."""

    member: str
    reason: str

    def output(self) -> dict[str, str]:
        return {"member": self.member, "reason": self.reason}


@dataclass(frozen=True)
class PlannedStep:
    """One step of the job's version, and every database it will run on after expansion."""

    step_id: int
    name: str
    target_group: str
    credential: str | None
    script_digest: str
    script_first_line: str
    timeout_seconds: int
    retry_attempts: int
    databases: tuple[str, ...] = ()
    unresolved: tuple[Unresolved, ...] = ()
    script: str | None = field(default=None, compare=False, repr=False)
    """The script's text when this process read or was given it (never recorded: the digest stands for it)."""

    def output(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "name": self.name,
            "target_group": self.target_group,
            "credential": self.credential,
            "script_digest": self.script_digest,
            "script_first_line": self.script_first_line,
            "timeout_seconds": self.timeout_seconds,
            "retry_attempts": self.retry_attempts,
            "databases": list(self.databases),
            "unresolved": [item.output() for item in self.unresolved],
        }

    @classmethod
    def from_output(cls, value: Mapping[str, Any]) -> PlannedStep:
        return cls(
            step_id=int(value.get("step_id") or 0),
            name=str(value.get("name") or ""),
            target_group=str(value.get("target_group") or ""),
            credential=value.get("credential"),
            script_digest=str(value.get("script_digest") or ""),
            script_first_line=str(value.get("script_first_line") or ""),
            timeout_seconds=int(value.get("timeout_seconds") or 0),
            retry_attempts=int(value.get("retry_attempts") or 0),
            databases=tuple(str(key) for key in value.get("databases") or ()),
            unresolved=tuple(
                Unresolved(str(item.get("member")), str(item.get("reason"))) for item in value.get("unresolved") or ()
            ),
        )

    def identity(self) -> dict[str, Any]:
        """What the digest covers: everything the step will do where, not why a member did not resolve (a reason
        may quote a request id)."""
        return {**self.output(), "unresolved": sorted(item.member for item in self.unresolved)}


@dataclass(frozen=True)
class Plan:
    """A run of ``job`` at ``version``: its steps in order, the databases each runs on, and what could not be seen.

    ``busy`` are databases where a run of the job is still active (the service skips the new run there); they are
    outside the digest, which says what the job will do where, not what happens to be running right now.
    ``unseen`` says what the reads could not tell (a job that does not exist, a listing the identity may not
    read): a plan with something unseen is incomplete, and says so."""

    job: str
    version: int
    steps: tuple[PlannedStep, ...] = ()
    busy: tuple[str, ...] = ()
    unseen: tuple[str, ...] = ()
    deployed: tuple[str, ...] = ()
    """Steps whose script is the one this deployment gives them (``step_scripts``), not yet the live job's: the
    plan of the run the deployment starts once it has updated them (:func:`deploying`)."""

    @cached_property
    def databases(self) -> tuple[str, ...]:
        return tuple(sorted({key for step in self.steps for key in step.databases}))

    @cached_property
    def servers(self) -> dict[str, int]:
        """Databases the run touches per server, by server key."""
        counts: dict[str, int] = {}
        for key in self.databases:
            server = key.split("/", 1)[0]
            counts[server] = counts.get(server, 0) + 1
        return dict(sorted(counts.items()))

    @cached_property
    def unresolved(self) -> tuple[str, ...]:
        return tuple(sorted({item.member for step in self.steps for item in step.unresolved}))

    @cached_property
    def digest(self) -> str:
        """A stable digest of what the run will do where (job, steps with their scripts, databases, unresolved
        members), by content: not the version number the service assigns, which an update of a step in the same
        deployment as the run bumps though the content is the one reviewed."""
        identity = {"job": self.job.lower(), "steps": [step.identity() for step in self.steps]}
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]

    @property
    def scripts(self) -> tuple[str, ...]:
        """Each step's script digest in order, without its ``sha256:`` prefix (the pin's ``steps=`` part)."""
        return tuple(step.script_digest.removeprefix("sha256:") for step in self.steps)

    @property
    def pin(self) -> str:
        """The plan as a reviewer pins it (``expected_plan``), by content: databases per server, each step's script
        digest in order, and the digest of the whole.

        Readable in a pull request, short enough for a config value, and detailed enough that a changed plan can
        be named (``+3 databases on server2``, ``step 2 'backfill' added``) without keeping the reviewed plan
        anywhere. No version: the same content under the next version (this deployment's own step update) is
        the reviewed run."""
        servers = " ".join(f"{server}={count}" for server, count in self.servers.items())
        steps = f"steps={','.join(self.scripts)}" if self.steps else ""
        return " ".join(part for part in (servers, steps, self.digest) if part)

    def summary(self) -> str:
        """One line for the row: ``will run nightly v8: 2 steps on 14 databases in 2 servers; 1 member unresolved``;
        ``will run nightly v8 with this deployment's step 'migrate': ...`` when the deployment changes steps."""
        deployed = ", ".join(repr(name) for name in self.deployed)
        changing = f" with this deployment's {'step' if len(self.deployed) == 1 else 'steps'} {deployed}"
        head = f"will run {self.job} v{self.version}{changing if self.deployed else ''}"
        head += f": {counted(len(self.steps), 'step')}"
        head += f" on {counted(len(self.databases), 'database')} in {counted(len(self.servers), 'server')}"
        tails = []
        if self.unresolved:
            tails.append(f"{counted(len(self.unresolved), 'member')} unresolved")
        if self.busy:
            tails.append(f"{counted(len(self.busy), 'database')} busy with an active run (skipped)")
        if self.unseen:
            tails.append(f"incomplete: {counted(len(self.unseen), 'read')} failed")
        return "; ".join([head, *tails])

    def text(self) -> str:
        """The whole plan for a person (the resource's diagnostics, a pull request's comment)."""
        lines = [self.summary(), f"pin: {self.pin}"]
        for step in self.steps:
            lines.append(
                f"step {step.step_id} {step.name!r} on target group {step.target_group!r}"
                f" ({step.script_digest}, timeout {step.timeout_seconds}s, {step.retry_attempts} retries):"
                f" {step.script_first_line}"
            )
            lines.extend(f"  {server}: {', '.join(names)}" for server, names in _by_server(step.databases).items())
            lines.extend(f"  unresolved {item.member}: {item.reason}" for item in step.unresolved)
        if self.busy:
            lines.append(f"busy (an active run holds them; the service skips them): {', '.join(self.busy)}")
        lines.extend(f"not seen: {what}" for what in self.unseen)
        return "\n".join(lines)

    def output(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "version": self.version,
            "digest": self.digest,
            "pin": self.pin,
            "summary": self.summary(),
            "steps": [step.output() for step in self.steps],
            "databases": len(self.databases),
            "servers": self.servers,
            "busy": list(self.busy),
            "unseen": list(self.unseen),
            "deployed": list(self.deployed),
        }

    @classmethod
    def from_output(cls, value: Any) -> Plan | None:
        """A plan recorded in state, or None when there is none (a run created before plans, or a preview's)."""
        if not isinstance(value, Mapping) or not isinstance(value.get("steps"), list):
            return None
        return cls(
            job=str(value.get("job") or ""),
            version=int(value.get("version") or 0),
            steps=tuple(PlannedStep.from_output(step) for step in value["steps"] if isinstance(step, Mapping)),
            busy=tuple(str(key) for key in value.get("busy") or ()),
            unseen=tuple(str(what) for what in value.get("unseen") or ()),
            deployed=tuple(str(name) for name in value.get("deployed") or ()),
        )


def _by_server(keys: Iterable[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key in keys:
        server, _, database = key.partition("/")
        grouped.setdefault(server, []).append(database)
    return grouped


# --- the guard ---------------------------------------------------------------------------------------------------

_PIN_VERSION = re.compile(r"^v(\d+)$", re.IGNORECASE)
_PIN_STEPS = re.compile(rf"^steps=((?:[0-9a-f]{{{SCRIPT_DIGEST_CHARS}}})(?:,[0-9a-f]{{{SCRIPT_DIGEST_CHARS}}})*)$")
_PIN_SERVER = re.compile(r"^([^=\s]+)=(\d+)$")
_PIN_DIGEST = re.compile(rf"^sha256:[0-9a-f]{{{DIGEST_CHARS}}}$")
_SCRIPT_DIGEST = re.compile(r"^sha256:([0-9a-f]{12,64})$")


@dataclass(frozen=True)
class Pin:
    """What a reviewer pinned: any of a version, databases per server, the steps' script digests in order, and a
    digest (all optional, at least one)."""

    version: int | None = None
    servers: dict[str, int] | None = None
    digest: str | None = None
    problems: list[str] = field(default_factory=list)
    scripts: tuple[str, ...] | None = None


def pin_problem(text: str) -> str | None:
    """Why ``text`` is not a plan pin, or None: checked with the other inputs, before any request."""
    pin = parse_pin(text)
    if pin.problems:
        return "; ".join(pin.problems)
    if pin.version is None and pin.servers is None and pin.digest is None and pin.scripts is None:
        return (
            "must name databases per server (server1=12), the steps' scripts (steps=9b1c2d3e4f50,...) or a digest "
            "(sha256:...), as a plan's pin"
        )
    return None


def parse_pin(text: str) -> Pin:
    version, servers, digest, scripts, problems = None, None, None, None, []
    for part in text.split():
        if match := _PIN_VERSION.match(part):
            version = int(match.group(1))
        elif _PIN_DIGEST.match(part.lower()):
            digest = part.lower()
        elif match := _PIN_STEPS.match(part.lower()):
            scripts = tuple(match.group(1).split(","))
        elif match := _PIN_SERVER.match(part):
            servers = {**(servers or {}), server_short_name(match.group(1)): int(match.group(2))}
        else:
            problems.append(
                f"cannot read {part!r}: a pin is '<server>=<databases>', 'steps=<{SCRIPT_DIGEST_CHARS} hex>,...' and "
                f"'sha256:<{DIGEST_CHARS} hex>' (and 'v<version>' to hold the version too)"
            )
    return Pin(version, servers, digest, problems, scripts)


def changes(expected: str, plan: Plan) -> list[str]:
    """How ``plan`` differs from the pinned one, in words (``+3 databases on server2``, ``step 1 'migrate' script
    sha256:9b1c2d3e4f50 -> sha256:77aa0e1c2b3d``, ``step 2 'backfill' added``); empty when it matches everything
    the pin names. A plan that could not see everything never matches a digest."""
    pin = parse_pin(expected)
    found: list[str] = []
    if pin.version is not None and pin.version != plan.version:
        found.append(f"version {pin.version} -> {plan.version}")
    if pin.servers is not None:
        for server in sorted({*pin.servers, *plan.servers}):
            delta = plan.servers.get(server, 0) - pin.servers.get(server, 0)
            if delta:
                found.append(f"{delta:+d} {'database' if abs(delta) == 1 else 'databases'} on {server}")
    if pin.scripts is not None:
        found.extend(_script_changes(pin.scripts, plan))
    if pin.digest is not None and pin.digest != plan.digest and not found:
        found.append(
            f"digest {pin.digest} -> {plan.digest} (a step's target group, credential or options, or the databases' "
            "names changed)"
        )
    if plan.unseen and (pin.digest is not None or pin.servers is not None or pin.scripts is not None):
        found.append("the plan could not be read whole: " + "; ".join(plan.unseen))
    return found


def _script_changes(pinned: tuple[str, ...], plan: Plan) -> list[str]:
    """Step by step, what differs from the pinned scripts: a step added, removed, or running another script."""
    found = []
    for index in range(max(len(pinned), len(plan.steps))):
        if index >= len(pinned):
            step = plan.steps[index]
            found.append(f"step {step.step_id} {step.name!r} added")
        elif index >= len(plan.steps):
            found.append(f"step {index + 1} removed")
        elif pinned[index] != plan.scripts[index]:
            step = plan.steps[index]
            found.append(f"step {step.step_id} {step.name!r} script sha256:{pinned[index]} -> {step.script_digest}")
    return found


# --- the steps this deployment deploys ---------------------------------------------------------------------------

DIGEST_ONLY_LINE = "(the script as its digest: this deployment gives no text)"


def given_digest(value: str) -> str:
    """The digest of a ``step_scripts`` value: a script's text, or the digest itself (``sha256:`` and 12 to 64
    hex, compared on the 12 a plan shows)."""
    match = _SCRIPT_DIGEST.match(value.strip().lower())
    return f"sha256:{match.group(1)[:SCRIPT_DIGEST_CHARS]}" if match else script_digest(value)


def is_digest(value: str) -> bool:
    return _SCRIPT_DIGEST.match(value.strip().lower()) is not None


def step_scripts_problem(value: object) -> str | None:
    """Why a ``step_scripts`` value is not a map of step names to scripts or digests, or None."""
    if not isinstance(value, dict):
        return "must be a map of step names to their scripts (or the scripts' sha256: digests)"
    for name, script in value.items():
        if not isinstance(script, str) or not script.strip():
            return f"must give step {name!r} its script's text or its digest (sha256:...), got {script!r}"
    return None


def deploying(plan: Plan, scripts: Mapping[str, str] | None) -> Plan:
    """The plan of the run this deployment starts: the live ``plan`` with each step that ``scripts`` names (step
    name: script text or digest, as the program gives the job step) running the script given, since the job step
    is updated in this deployment before the run starts. A step named that the job does not have yet is new in
    this deployment: where it runs is known only once it exists, so the plan says it could not see it."""
    if not scripts or (not plan.steps and plan.unseen):  # nothing given, or no job read to lay the scripts over
        return plan
    given = {name.lower(): value for name, value in scripts.items()}
    steps, deployed = [], []
    for step in plan.steps:
        value = given.get(step.name.lower())
        if value is None or given_digest(value) == step.script_digest:
            steps.append(step)
            continue
        line = DIGEST_ONLY_LINE if is_digest(value) else first_line(value)
        text = None if is_digest(value) else value
        steps.append(replace(step, script_digest=given_digest(value), script_first_line=line, script=text))
        deployed.append(step.name)
    live = {step.name.lower() for step in plan.steps}
    new = [name for name in scripts if name.lower() not in live]
    unseen = [f"step {name!r} is new in this deployment: where it runs is known once it exists" for name in new]
    return replace(plan, steps=tuple(steps), deployed=tuple(deployed), unseen=(*plan.unseen, *unseen))


def undeployed(scripts: Mapping[str, str] | None, plan: Plan) -> list[str]:
    """The steps ``scripts`` names whose live script is not the one given (read as a run is about to start, after
    this deployment updated its job steps): a step missing, or running another script. Empty when the job runs
    exactly what the deployment gives it."""
    live = {step.name.lower(): step for step in plan.steps}
    found = []
    for name, value in (scripts or {}).items():
        step = live.get(name.lower())
        if step is None:
            found.append(f"step {name!r} is not in job {plan.job} v{plan.version}")
        elif step.script_digest != given_digest(value):
            found.append(
                f"step {name!r} runs {step.script_digest} (v{plan.version}), not the {given_digest(value)} "
                "step_scripts gives it"
            )
    return found
