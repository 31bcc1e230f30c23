"""The exception hierarchy: errors are data (ARM code, message, target, request ids), rendered once for a person.

Catch at the level you care about: :class:`ElasticJobsError` for anything from this package, :class:`ArmError`
for an answer from the service (with :class:`NotFound`, :class:`Conflict`, :class:`Throttled`,
:class:`AuthError`, :class:`BadRequest`, :class:`ServiceError` below it), :class:`TransportError` when no answer
came, :class:`ExecutionFailed` / :class:`WaitTimeout` for an execution that ended badly or took too long.
No secret is ever part of an error: tokens never enter these objects, and the URLs and answers they quote pass
through :func:`redact` as they are built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .terms import MAX_RESPONSE_BYTES_SETTING

MASK = "***"
_USERINFO = re.compile(r"//(?P<userinfo>[^/?#\s'\"<>]*)@")  # up to the netloc's last '@', as urlsplit reads it
_BEARER_TOKEN = re.compile(r"(?i)\b(?P<scheme>bearer\s+)(?![\w-]+=\")[\w\-.~+/]+=*")  # not an auth-param (realm="")


def redact(text: str) -> str:
    """``text`` fit for an error message or a log: every URL's userinfo password and every ``Bearer`` token masked.

    The one place secrets are taken out of what this package shows: each error runs the URLs and the answer
    text it quotes through it when built, so neither its message, its ``repr`` nor its attributes hold them.
    A userinfo without a password is masked whole (a token is often written there); the user name before a
    password is kept, so the message still says which URL it was. Masking twice changes nothing."""

    def userinfo(found: re.Match[str]) -> str:
        name, colon, _ = found["userinfo"].partition(":")
        return f"//{name}:{MASK}@" if colon else f"//{MASK}@"

    return _BEARER_TOKEN.sub(rf"\g<scheme>{MASK}", _USERINFO.sub(userinfo, text))


def _redacted(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string in it (an ARM error's nested ``details``)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


class ElasticJobsError(Exception):
    """Base of every error raised by this package: understood, so the CLI shows its message alone."""


class ConfigError(ElasticJobsError, ValueError):
    """A setting has a value it cannot have; the message names the config key or variable and what it takes."""


class CredentialUnavailable(ElasticJobsError):
    """No Azure credential could give a token for the endpoint; names the sources tried and the way out."""


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
        self.url = redact(self.url)
        self.message, self.target = _redacted(self.message), _redacted(self.target)
        self.details = _redacted(self.details)
        super().__init__(str(self))

    def hint(self) -> str:
        return ""

    def __str__(self) -> str:
        """One line: what ARM said, what to do about it, then where and the ids to quote to support."""
        text = f"{self.code or f'HTTP {self.status}'}: {(self.message or 'no message').rstrip('.')}"
        if self.target:
            text += f" (target: {self.target})"
        for detail in self.details:
            text += f"; {detail.get('code', '')}: {str(detail.get('message', '')).rstrip('.')}"
        hint = self.hint()
        ids = f"x-ms-request-id={self.request_id or '-'}, x-ms-correlation-request-id={self.correlation_id or '-'}"
        tries = f", after {self.attempts} tries" if self.attempts > 1 else ""
        where = f"{self.method} {self.url} answered {self.status}".strip()
        return f"{text}. {hint + ' ' if hint else ''}[{where}; {ids}{tries}]"


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


_NAMED_TYPE = re.compile(r"of type '(?P<type>[^']+)' with name '(?P<name>[^']*)'")
"""How the service names what is missing: "The requested resource of type 'T' with name 'N' was not found."."""


def resource_type(url: str) -> str | None:
    """The ARM resource type a URL addresses, item or collection: ``Microsoft.Sql/servers/jobAgents/jobs/executions``
    for ``…/jobs/{job}/executions/{id}`` and for ``…/jobs/{job}/executions``; None outside a provider namespace."""
    _, found, tail = urlsplit(url).path.partition("/providers/")
    namespace, *segments = tail.split("/")
    return "/".join([namespace, *segments[0::2]]).lower() if found and segments else None


def names_a_missing_parent(code: str | None, message: str | None, asked_type: str | None) -> bool:
    """Whether a 404 (its ARM code and message) is about a parent of a resource of ``asked_type`` (its server, agent
    or job), not the resource itself. The swagger's answer says so by its code (``ParentResourceNotFound``); the
    live service answers ``ResourceNotFound`` naming the parent ("The requested resource of type
    'Microsoft.Sql/servers/jobAgents/jobs' with name 'myjob' was not found.", recorded), so the type it names is
    compared with the type asked for."""
    if code == "ParentResourceNotFound":
        return True
    named = _NAMED_TYPE.search(message or "")
    return bool(named and asked_type and asked_type.lower().startswith(named["type"].lower() + "/"))


class NotFound(ArmError):
    @property
    def missing(self) -> tuple[str, str] | None:
        """The type and name of what the service says is missing, when its message names them."""
        named = _NAMED_TYPE.search(self.message or "")
        return (named["type"], named["name"]) if named else None

    @property
    def missing_parent(self) -> bool:
        """Whether what is missing is a parent of the resource this request asked for (:func:`names_a_missing_parent`,
        with the type of the request's URL)."""
        return names_a_missing_parent(self.code, self.message, resource_type(self.url))

    def hint(self) -> str:
        if not self.missing_parent:
            return "The resource does not exist (or its history was cleaned up)."
        named = self.missing
        kind = named[0].lower().rsplit("/", 1)[-1] if named else ""
        if named and kind in ("jobagents", "jobs"):
            what = "job agent" if kind == "jobagents" else "job"
            return f"The {what} '{named[1]}' does not exist; check the names, or create it first."
        return "A parent (server, job agent or job) does not exist; check the names, or create it first."


class SubscriptionNotFound(NotFound):
    """ARM does not know the subscription (or this identity cannot see it); ``source`` says where it came from."""

    source: str = "the subscription_id input, config azure-elastic-jobs:subscriptionId or AZURE_SUBSCRIPTION_ID"

    def hint(self) -> str:
        return (
            f"The subscription came from {self.source}: check that value (`az account list` shows the "
            "subscriptions this identity can use; the emulator knows 00000000-0000-0000-0000-000000000000 and the "
            "ones it was seeded or started with)."
        )


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


def arm_error_class(status: int, code: str | None = None) -> type[ArmError]:
    if status == 404 and code == "SubscriptionNotFound":
        return SubscriptionNotFound
    if status == 429:
        return Throttled
    if status >= 500:
        return ServiceError
    return _BY_STATUS.get(status, ArmError)


class TransportError(ElasticJobsError):
    """No usable answer: connection refused, dropped, or timed out, after retries; or TLS trust failed.

    ``kind`` is ``refused`` (nothing listening), ``tls`` (the certificate is not trusted), ``proxy`` (the proxy
    refused the tunnel: asked once, never again, as a 407 repeated is one more failed login), ``too-large`` (the
    answer passed config azure-elastic-jobs:maxResponseBytes) or ``no-answer``."""

    def __init__(self, method: str, url: str, cause: BaseException, attempts: int, kind: str = "no-answer") -> None:
        self.method, self.url, self.cause, self.attempts, self.kind = method, redact(url), cause, attempts, kind
        super().__init__(redact(self._describe()))

    def _describe(self) -> str:
        parts = urlsplit(self.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if self.kind == "refused":
            start = ""
            if (parts.hostname or "") in ("localhost", "127.0.0.1", "::1"):
                start = f"Start the local emulator there (elastic-jobs-emulator --port {parts.port or 80}), or "
            return (
                f"nothing is listening at {origin} (connection refused, {self.attempts} tries; {self.method} "
                f"{parts.path}). {start}point config azure-elastic-jobs:endpoint at a running service."
            )
        if self.kind == "tls":
            found = re.search(r"certificate verify failed: ([^(]+)", str(self.cause))
            reason = found.group(1).strip() if found else type(self.cause).__name__
            return (
                f"the TLS certificate of {origin} is not trusted ({reason}). For the emulator started with --tls, "
                "set config azure-elastic-jobs:caBundle to the certificate it printed at startup "
                "(emulator-cert.pem); otherwise fix the certificate or the endpoint"
            )
        if self.kind == "proxy":
            return (
                f"the proxy (environment variable HTTPS_PROXY or ALL_PROXY) would not open a tunnel to {origin}: "
                f"{self.cause}. It was asked once and not again; a 407 means it refused the credentials in the "
                "proxy URL (user and password, percent-encoded), a 403 that it does not allow that host"
            )
        if self.kind == "too-large":
            return (
                f"the answer to {self.method} {parts.path} was not read to its end: {self.cause}, the limit of "
                f"{MAX_RESPONSE_BYTES_SETTING} (default 64 MiB). Raise it if the service really answers that much"
            )
        return (
            f"{self.method} {self.url} got no answer after {self.attempts} tries: {type(self.cause).__name__}: "
            f"{self.cause}. Check the endpoint (config azure-elastic-jobs:endpoint) and the network."
        )


class UnsafeDestination(ElasticJobsError):
    """A request was not sent: its token may not go to that URL (plain HTTP, another host, or a redirect)."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        self.method, self.url, self.reason = method, redact(url), redact(reason)
        super().__init__(f"{self.reason[:1].upper()}{self.reason[1:]} (not sent: {method} {self.url})")


class EndlessListing(ElasticJobsError):
    """A listing would never end: a ``nextLink`` led back to a page it had read, or it ran past its page bound.

    Following such a service on would send GETs forever (an ``up`` that hangs), so the listing stops with this
    error, naming the link it did not follow (``pages`` is how many it read)."""

    def __init__(self, listing: str, next_link: str, pages: int, repeated: bool) -> None:
        self.listing, self.next_link, self.pages, self.repeated = redact(listing), redact(next_link), pages, repeated
        why = "leads back to a page already read" if repeated else f"asks for more than {pages} pages"
        super().__init__(
            f"the service's listing of {self.listing} does not end: after {pages} page(s), its nextLink "
            f"{self.next_link} {why}; it was not followed. The service is answering wrongly; try again later"
        )


class WaitTimeout(ElasticJobsError):
    """Waiting for an execution ran out of time; the execution is still running."""

    def __init__(self, arm_id: str, lifecycle: str | None, timeout: float) -> None:
        self.arm_id, self.lifecycle, self.timeout = arm_id, lifecycle, timeout
        super().__init__(
            f"the job execution is still running (lifecycle {lifecycle}) after waiting {timeout:g} s; it was "
            f"not cancelled. The resource records this run: the next `pulumi up` waits for it again, and never "
            f"starts another. Execution: {arm_id}"
        )


class ExecutionFailed(ElasticJobsError):
    """A waited execution ended in one of the lifecycles the resource's ``fail_on`` names."""

    def __init__(self, arm_id: str, lifecycle: str, explanation: str, recorded: bool = False) -> None:
        self.arm_id, self.lifecycle, self.explanation = arm_id, lifecycle, explanation
        again = (
            "this run is the resource's recorded run, so to run the job again change `triggers` (or "
            "`pulumi up --replace` the resource)"
            if recorded
            else "a failed run is not recorded, so the next `up` starts the job once more (the failed run stays in "
            "the job's history)"
        )
        fix = _WHAT_TO_DO.get(lifecycle, _WHAT_TO_DO["Failed"])
        super().__init__(
            f"the job execution ended {lifecycle}: {explanation.rstrip('.')}. {fix}, then run `pulumi up` again: "
            f"{again}. Execution: {arm_id}"
        )


_WHAT_TO_DO = {
    "Failed": "Fix the step's script or its data",
    "TimedOut": "Fix the step's script or its data, or raise the step's timeoutSeconds",
    "Canceled": "Someone or something cancelled the run (the portal, PowerShell, another deployment's destroy)",
    "Skipped": (
        "The service skipped the run because another run of the job was active (a scheduled one, or another "
        "deployment's); let that run end, or disable the job's schedule"
    ),
}
"""What a person does about a run that ended in ``fail_on``, by lifecycle: only a failure is fixed in the script."""


class CancelNotEffective(ElasticJobsError):
    """Runs were asked to cancel and are still active after the bounded wait: nothing was started beside them."""

    def __init__(self, arm_ids: list[Any]) -> None:
        self.arm_ids = [str(getattr(ref, "arm_id", ref)) for ref in arm_ids]
        listed = ", ".join(self.arm_ids)
        super().__init__(
            f"{len(self.arm_ids)} job execution(s) were asked to cancel and are still running: {listed}. No run "
            f"was started in their place; the next `pulumi up` asks again. If they never stop, cancel them from "
            f"the Azure portal"
        )


class Cancelled(ElasticJobsError):
    """The engine cancelled the deployment (Ctrl-C, or a failure elsewhere) while this call waited."""

    def __init__(self) -> None:
        super().__init__(
            "the deployment was cancelled while waiting for the job execution; the run itself was left as it was "
            "(not cancelled). The resource records this run: the next `pulumi up` waits for it again, and never "
            "starts another"
        )


class PlanChanged(ElasticJobsError):
    """A create refused to start a run: the job's live plan is not the one ``expected_plan`` pins (a reviewer saw
    another), or (``scripts``) its steps do not run the scripts ``step_scripts`` says this deployment gives them.
    Nothing was started; the message names what changed and the live plan's pin."""

    def __init__(self, job: str, changes: list[str], summary: str, pin: str, scripts: bool = False) -> None:
        self.job, self.changes, self.summary, self.pin = job, changes, summary, pin
        if scripts:
            what = "does not run the scripts step_scripts gives its steps"
            fix = (
                "A job step this deployment updates must be updated before the run starts: make the run depend on "
                "it (dependsOn); a step edited elsewhere since the review must be reviewed again"
            )
        else:
            what = "is not the one expected_plan pins"
            fix = "Review it (pulumi preview --diff), then set expected_plan to its pin to run it"
        super().__init__(
            f"not starting job {job}: its plan {what} ({'; '.join(changes)}). "
            f"The live plan: {summary}; pin: {pin}. {fix}"
        )


class StartedButUnsettled(ElasticJobsError):
    """A create started (or attached to) its run, then failed before it could report it: a wait that timed out,
    a Cancel, an answer lost past the retry budget.

    The run exists, so the resource must be recorded with it (Pulumi's "created but failed to initialize"):
    otherwise the next ``up`` would not know it, and once the run ended would start the job a second time. Faces
    turn this into a partial create with ``arm_id`` and ``outputs`` (the core's snake_case outputs); the next
    ``up`` updates the resource, which waits for this same run and never starts another."""

    def __init__(self, arm_id: str, outputs: dict[str, Any], cause: ElasticJobsError) -> None:
        self.arm_id, self.outputs, self.cause = arm_id, outputs, cause
        super().__init__(str(cause))


class RolloutHalted(ElasticJobsError):
    """A wave of a set's rollout failed its gate with a member the ``fail_on`` rule calls failed: later waves
    started nothing. The set is recorded as it stands (a partial create or update), so the next ``up`` resumes it:
    only members whose rules say so run again, then the later waves start."""

    def __init__(self, wave: int, reason: str, failed_targets: list[str], not_started: list[str]) -> None:
        self.wave, self.reason, self.failed_targets, self.not_started = wave, reason, failed_targets, not_started
        waiting = f" (members not started: {', '.join(not_started)})" if not_started else ""
        super().__init__(
            f"the rollout halted at wave {wave}: {reason.rstrip('.')}. Later waves started nothing{waiting}. Fix "
            "the cause, change the failed members' `triggers` (or the job they run), then run `pulumi up`: members "
            f"that succeeded never run again, and the rollout goes on from wave {wave}"
        )
