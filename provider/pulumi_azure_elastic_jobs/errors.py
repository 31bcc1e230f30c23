"""The exception hierarchy: errors are data (ARM code, message, target, request ids), rendered once for a person.

Catch at the level you care about: :class:`ElasticJobsError` for anything from this package, :class:`ArmError`
for an answer from the service (with :class:`NotFound`, :class:`Conflict`, :class:`Throttled`,
:class:`AuthError`, :class:`BadRequest`, :class:`ServiceError` below it), :class:`TransportError` when no answer
came, :class:`ExecutionFailed` / :class:`WaitTimeout` for an execution that ended badly or took too long.
No secret is ever part of an error: tokens never enter these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ElasticJobsError(Exception):
    """Base of every error raised by this package."""


@dataclass
class ArmError(ElasticJobsError):
    """A non-success answer from ARM, with everything needed to look it up or report it."""

    status: int
    code: str | None = None
    message: str | None = None
    target: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    method: str = ""
    url: str = ""
    request_id: str | None = None
    correlation_id: str | None = None
    attempts: int = 1
    server_time: datetime | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def hint(self) -> str:
        return ""

    def __str__(self) -> str:
        head = f"{self.method} {self.url} answered {self.status}".strip()
        code = f" {self.code}" if self.code else ""
        text = f"{head}{code}: {self.message or 'no message'}"
        if self.target:
            text += f" (target: {self.target})"
        for detail in self.details:
            text += f"; {detail.get('code', '')}: {detail.get('message', '')}"
        ids = f"x-ms-request-id={self.request_id or '-'}, x-ms-correlation-request-id={self.correlation_id or '-'}"
        tries = f", after {self.attempts} tries" if self.attempts > 1 else ""
        hint = self.hint()
        return f"{text} [{ids}{tries}]" + (f"\n{hint}" if hint else "")


class BadRequest(ArmError):
    def hint(self) -> str:
        return "The service refused the request as malformed; check the names and the api_version."


class AuthError(ArmError):
    def hint(self) -> str:
        if self.status == 401:
            return (
                "The token was refused. Check which identity DefaultAzureCredential picked (az account show, "
                "AZURE_CLIENT_ID/AZURE_TENANT_ID), and that the token's audience matches the endpoint's cloud "
                "(config azure-elastic-jobs:environment)."
            )
        return (
            "The identity lacks permission: grant it a role with Microsoft.Sql/servers/jobAgents/jobs/executions/"
            "* on the server or resource group (for example 'SQL Server Contributor')."
        )


class NotFound(ArmError):
    def hint(self) -> str:
        if self.code == "ParentResourceNotFound":
            return "A parent (server, job agent or job) does not exist; check the names, or create it first."
        return "The resource does not exist (or its history was cleaned up)."


class Conflict(ArmError):
    def hint(self) -> str:
        return "The resource is in a state that does not allow this operation now; retry once it settles."


class Throttled(ArmError):
    def hint(self) -> str:
        return (
            "ARM throttled the requests and the retry budget ran out; raise azure-elastic-jobs:retryBudget "
            "or spread the deployment."
        )


class ServiceError(ArmError):
    def hint(self) -> str:
        return "The service failed; it was retried until the retry budget ran out. Try again later."


class InvalidResponse(ArmError):
    """A success status whose body is not what the API promises (not JSON, missing properties, HTML)."""

    def hint(self) -> str:
        return "The answer did not look like ARM's; is a proxy or a wrong endpoint in the way?"


_BY_STATUS: dict[int, type[ArmError]] = {
    400: BadRequest,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
}


def arm_error_class(status: int) -> type[ArmError]:
    if status == 429:
        return Throttled
    if status >= 500:
        return ServiceError
    return _BY_STATUS.get(status, ArmError)


class TransportError(ElasticJobsError):
    """No usable answer: connection refused, dropped, or timed out, after retries."""

    def __init__(self, method: str, url: str, cause: BaseException, attempts: int) -> None:
        self.method, self.url, self.cause, self.attempts = method, url, cause, attempts
        super().__init__(
            f"{method} {url} got no answer after {attempts} tries: {type(cause).__name__}: {cause}. "
            "Check the endpoint (config azure-elastic-jobs:endpoint) and the network."
        )


class UnsafeDestination(ElasticJobsError):
    """A request was not sent: its token may not go to that URL (plain HTTP, another host, or a redirect)."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        self.method, self.url, self.reason = method, url, reason
        super().__init__(f"{method} {url} was not sent: {reason}")


class WaitTimeout(ElasticJobsError):
    """Waiting for an execution ran out of time; the execution is still running."""

    def __init__(self, arm_id: str, lifecycle: str | None, timeout: float) -> None:
        self.arm_id, self.lifecycle, self.timeout = arm_id, lifecycle, timeout
        super().__init__(
            f"the job execution is still running (lifecycle {lifecycle}) after waiting {timeout:g} s; it was "
            f"not cancelled. The next `pulumi up` attaches to it again instead of starting another run. "
            f"Execution: {arm_id}"
        )


class ExecutionFailed(ElasticJobsError):
    """A waited execution ended in one of the lifecycles the resource's ``fail_on`` names."""

    def __init__(self, arm_id: str, lifecycle: str, explanation: str) -> None:
        self.arm_id, self.lifecycle, self.explanation = arm_id, lifecycle, explanation
        super().__init__(
            f"the job execution ended {lifecycle}: {explanation.rstrip('.')}. Fix the step's script or its data, "
            f"then change the resource's triggers to run the job again (the failed run stays in the job's "
            f"history). Execution: {arm_id}"
        )
