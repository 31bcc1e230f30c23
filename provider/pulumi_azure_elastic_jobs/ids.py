"""ARM resource ids of Elastic Jobs: build, parse, validate and percent-encode them. No I/O.

Every name that reaches a URL passes through :func:`segment`, which encodes it as exactly one path segment,
and the validators here refuse, before any request, names that ARM would refuse or that could address another
resource (``/``, ``?``, ``#``, ``%``, ``..``, control characters). The client, the provider's ``check`` and the
emulator's router all use these same rules, so they agree by construction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote, unquote

_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$", re.ASCII)
_SERVER = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_CHILD_NAME = re.compile(r"^[\x20-\x7e]{1,128}$")
_CHILD_NAME_FORBIDDEN = set('/?#%\\&:<>*"')
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")

_EXECUTION_PATH = re.compile(
    r"^/subscriptions/(?P<subscription_id>[^/]+)/resourceGroups/(?P<resource_group_name>[^/]+)"
    r"/providers/Microsoft\.Sql/servers/(?P<server_name>[^/]+)/jobAgents/(?P<job_agent_name>[^/]+)"
    r"/jobs/(?P<job_name>[^/]+)/executions/(?P<job_execution_id>[^/]+)/?$",
    re.IGNORECASE,
)


def segment(name: str) -> str:
    """Percent-encode ``name`` as a single URL path segment (``/`` included), so no input escapes its slot."""
    return quote(name, safe="")


def uuid_problem(value: str) -> str | None:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return f"must be a UUID such as 5a86bf65-43ac-f258-2524-9e92992f97ca, got {value!r}"
    return None


def resource_group_problem(value: str) -> str | None:
    if not _RESOURCE_GROUP.match(value) or value.endswith("."):
        return (
            "must be 1-90 characters of letters, digits, '-', '_', '.', '(' or ')' and must not end "
            f"with '.', got {value!r}"
        )
    return None


def server_problem(value: str) -> str | None:
    if not _SERVER.match(value):
        return (
            "must be 1-63 lowercase letters, digits or '-', not starting or ending with '-' "
            f"(the Azure SQL server name, without .database.windows.net), got {value!r}"
        )
    return None


SQL_SERVER_DOMAIN = ".database.windows.net"
"""The public DNS suffix of an Azure SQL logical server (``name.database.windows.net``)."""


def server_short_name(name: str) -> str:
    """A server as a target member may name it (its name or its DNS name in any cloud, ``.database.windows.net``,
    ``.database.usgovcloudapi.net``..., any case) as the server's own name: lowercased, up to the first dot (a
    server's name has none). Server names are globally unique, so this names one."""
    return name.strip().lower().split(".", 1)[0]


def child_name_problem(value: str) -> str | None:
    """Rule for job agent, job, step, target group and credential names."""
    if not _CHILD_NAME.match(value):
        return f"must be 1-128 printable ASCII characters, got {value!r}"
    bad = sorted(_CHILD_NAME_FORBIDDEN.intersection(value))
    if bad:
        return f"must not contain {' '.join(repr(c) for c in bad)}, got {value!r}"
    if value.strip(".") == "" or value.endswith((".", " ")) or value.startswith(" "):
        return f"must not be '.', '..', or start with a space or end with '.' or a space, got {value!r}"
    return None


def api_version_problem(value: str) -> str | None:
    if not _API_VERSION.match(value):
        return f"must look like 2025-01-01 (or 2025-01-01-preview), got {value!r}"
    return None


@dataclass(frozen=True)
class JobRef:
    """The job an execution belongs to; the parent of every execution path."""

    subscription_id: str
    resource_group_name: str
    server_name: str
    job_agent_name: str
    job_name: str

    @cached_property
    def agent_path(self) -> str:
        return (
            f"/subscriptions/{segment(self.subscription_id)}"
            f"/resourceGroups/{segment(self.resource_group_name)}"
            f"/providers/Microsoft.Sql/servers/{segment(self.server_name)}"
            f"/jobAgents/{segment(self.job_agent_name)}"
        )

    @cached_property
    def path(self) -> str:
        return f"{self.agent_path}/jobs/{segment(self.job_name)}"

    def execution(self, job_execution_id: str) -> ExecutionRef:
        return ExecutionRef(job=self, job_execution_id=job_execution_id)


@dataclass(frozen=True)
class ExecutionRef:
    """One job execution: its ARM id is also the Pulumi resource id."""

    job: JobRef
    job_execution_id: str

    @cached_property  # every request about a run builds on it: quoted once (the fields never change)
    def path(self) -> str:
        return f"{self.job.path}/executions/{segment(self.job_execution_id)}"

    @property
    def arm_id(self) -> str:
        """The ARM id, unencoded, as ARM itself renders ``id`` (names are validated to need no escaping)."""
        return unquote(self.path)

    @classmethod
    def parse(cls, arm_id: str) -> ExecutionRef:
        """Parse an execution's ARM id; raises ValueError naming the expected shape."""
        match = _EXECUTION_PATH.match(arm_id.strip())
        if not match:
            raise ValueError(
                "not a job execution ARM id; expected /subscriptions/{subscriptionId}/resourceGroups/{group}"
                "/providers/Microsoft.Sql/servers/{server}/jobAgents/{agent}/jobs/{job}/executions/{uuid}, "
                f"got {arm_id!r}"
            )
        parts = {key: unquote(value) for key, value in match.groupdict().items()}
        execution_id = parts.pop("job_execution_id")
        return cls(job=JobRef(**parts), job_execution_id=execution_id)


# --- a job by its ARM id (azure-native's sql.Job `id`) ---------------------------------------------------------

_JOB_PATH = re.compile(
    r"^/subscriptions/(?P<subscription_id>[^/]+)/resourceGroups/(?P<resource_group_name>[^/]+)"
    r"/providers/Microsoft\.Sql/servers/(?P<server_name>[^/]+)/jobAgents/(?P<job_agent_name>[^/]+)"
    r"/jobs/(?P<job_name>[^/]+)/?$",
    re.IGNORECASE,
)
JOB_ID_NAMES = ("subscription_id", "resource_group_name", "server_name", "job_agent_name", "job_name")
"""The names a job's ARM id gives, in its order: what ``job_id`` stands for."""
AGENT_NAMES = JOB_ID_NAMES[:4]
_NAME_WORDS = {
    "subscription_id": "subscription",
    "resource_group_name": "resource group",
    "server_name": "server",
    "job_agent_name": "job agent",
    "job_name": "job",
}
JOB_ID_SHAPE = (
    "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Sql/servers/<server>/jobAgents/<agent>/jobs/<job>"
)


def job_id_names(job_id: str) -> dict[str, str] | None:
    """The five names of a job's ARM id (names percent-decoded), or None when it is not one."""
    match = _JOB_PATH.match(job_id.strip())
    return {name: unquote(value) for name, value in match.groupdict().items()} if match else None


def named_by_job_id(values: dict[str, object], field: str, names: tuple[str, ...], unknown: object) -> dict[str, str]:
    """Fill ``values``' ``names`` from its ``field`` (a job's ARM id), in place; the problems, keyed by ``field``.

    A name the program also gives must agree with the id (case-insensitively, as ARM compares names); an id that
    is still unknown (the job is created in the same deployment) leaves the names it would give unknown."""
    job_id = values.get(field)
    if job_id is None:
        return {}
    if job_id == unknown:
        for name in names:
            values.setdefault(name, unknown)
        return {}
    parsed = job_id_names(job_id) if isinstance(job_id, str) else None
    if parsed is None:
        return {field: f"{field} must be the ARM id of an Elastic Job ({JOB_ID_SHAPE}), got {job_id!r}"}
    clashes = [
        f"{_NAME_WORDS[name]} {values[name]!r}"
        for name in names
        if values.get(name) not in (None, unknown) and str(values[name]).lower() != parsed[name].lower()
    ]
    if clashes:
        return {
            field: f"{field} names another job than the names given ({', '.join(clashes)}): give its id or its names"
        }
    for name in names:
        if values.get(name) in (None, unknown) or name not in values:
            values[name] = parsed[name]
    return {}
