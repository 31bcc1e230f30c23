"""The ARM REST client for Elastic Jobs executions: one pool of connections, retries, polling, typed errors.

Usable on its own (it never imports pulumi). Requests go out through :mod:`.transport`, urllib3's pool of
keep-alive connections to the endpoint's origin, sized for the fleet operations' workers. Rules about ARM live
here:

* Retries (tenacity): 429, 500/502/503/504, dropped connections and timeouts are retried with exponential
  backoff and jitter, honouring ``Retry-After`` (seconds, HTTP date, or ``retry-after-ms``), for at most
  ``retry_budget_seconds`` per call. PUT/GET/DELETE and ``cancel`` are safe to repeat; ``start`` (a POST that
  creates a new run each time it is accepted) is repeated only when the service provably did not act on it.
  A 401 drops the cached token and is retried once with a fresh one.
* Long-running answers (202 with ``Azure-AsyncOperation`` or ``Location``) are followed to the end. A 2xx other
  than 202 is final, whatever headers it carries: the live service answers ``start`` 200 with the new run and a
  ``Location`` that is that run's own URL, and ``cancel`` 200 with an empty body and the same; neither is an
  operation to follow (a caller waits for the run by its id, :meth:`ElasticJobsClient.wait_for_terminal`).
* Exactly one run per execution id: :meth:`ElasticJobsClient.ensure_execution` reads the id first and PUTs it
  only when it is free, then tells a run it started from one that existed before by the execution's
  ``createTime`` against the service's own clock (the ``Date`` of the read), never by the PUT's status code:
  a retried PUT whose first answer was lost answers 200 for a run it did start, and a 202 may answer an id
  that already exists.
* Waiting for an execution polls at the pace the service asks for (``Retry-After``), else backs off to
  ``poll_interval``.
* Tokens go only to the configured endpoint's origin, judged as the connection will use it
  (:mod:`.destinations`), and through a proxy only inside a CONNECT tunnel: a loopback or plain-HTTP endpoint
  never uses a proxy; an HTTPS one honours ``HTTPS_PROXY``/``ALL_PROXY`` and ``NO_PROXY``.
"""

from __future__ import annotations

import email.utils
import functools
import itertools
import json as jsonlib
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter

from ._version import __version__
from .auth import TokenSource, token_problem, unreadable_endpoint
from .destinations import Origin, UnreadableDestination, destination
from .errors import (
    ArmError,
    ConfigError,
    CredentialUnavailable,
    ElasticJobsError,
    EndlessListing,
    InvalidResponse,
    NotFound,
    TransportError,
    UnsafeDestination,
    WaitTimeout,
    arm_error_class,
    redact,
)
from .ids import ExecutionRef, JobRef, segment
from .models import ExecutionStart, JobExecution, JobExecutionListResult
from .outcome import TargetOutcomes
from .terms import DEFAULT_API_VERSION, DEFAULT_MAX_RESPONSE_BYTES, is_terminal
from .transport import (
    ExchangeFailed,
    NotConnected,
    ProxyRefused,
    ResponseTooLarge,
    Transport,
    UntrustedPeer,
    Unusable,
)

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
REJECTED_STATUSES = frozenset({429, 503})  # the service did not act on the request
DEFAULT_POLL_INTERVAL = 30.0
MAX_PAGES = 10_000
"""Pages one listing follows before it is taken for endless: 100 items a page, a million runs, far past any job's
history, so only a service that pages wrongly ever reaches it."""
ModelT = TypeVar("ModelT", bound=BaseModel)
_ParsedRuns = dict[str, tuple[Any, JobExecution]]
"""What a wait's listings showed of each run, by name: the item as listed and the run parsed from it."""
ItemT = TypeVar("ItemT")
_PageKey = tuple[str, str, str, frozenset[tuple[str, str]]]
_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=30.0, jitter=0.5)  # 0.5 s, 1 s, 2 s, ... plus jitter
POOL_SIZE = 64
"""Keep-alive connections kept per origin: more than the workers of every fleet operation at once (16 each)."""
_SETTINGS_OF = {
    "proxy": "environment variable HTTPS_PROXY, or ALL_PROXY",
    "CA bundle": "config azure-elastic-jobs:caBundle, or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE",
}
"""Where each setting the transport may refuse comes from, for the message."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_UNDER_THE_ENDPOINT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:/?%-]*")
"""What may follow ``endpoint/`` for a URL to be the endpoint's own without judging it again: characters no URL
parser reads as ending the path or starting userinfo (no ``@``, ``\\``, ``#``, space, control or non-ASCII)."""


@dataclass(frozen=True)
class Response:
    """One answer as the client read it, body and all: what :meth:`ElasticJobsClient.request` returns."""

    method: str
    url: str
    """The URL asked, without its query."""
    status_code: int
    reason: str
    headers: Mapping[str, str]
    """Case-insensitive."""
    content: bytes

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` when it is not JSON."""
        return jsonlib.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def is_redirect(self) -> bool:
        return self.status_code in REDIRECT_STATUSES and "Location" in self.headers


class _Retryable(Exception):
    """One failed try that may be repeated; carries the answer or the exception, and the wait it asked for."""

    def __init__(
        self,
        response: Response | None,
        cause: BaseException | None,
        wait: float | None,
        refused: bool = False,
    ) -> None:
        super().__init__("retryable")
        self.response, self.cause, self.wait, self.refused = response, cause, wait, refused


REFUSED_ATTEMPTS = 3
"""Tries before a refused connection is reported: nothing listening is rarely fixed by waiting, and a user
watching the CLI deserves to hear it in seconds. Timeouts and resets keep the whole retry budget."""


class _StopPastBudget(stop_base):
    """Stop when the next wait would end past ``budget`` seconds after ``began`` (the first try's start, which
    came before tenacity's own start: the first try runs without it)."""

    def __init__(self, began: float, budget: float) -> None:
        self.began, self.budget = began, budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() - self.began + (retry_state.upcoming_sleep or 0.0) >= self.budget


class _StopWhenRefused(stop_base):
    def __call__(self, retry_state: RetryCallState) -> bool:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        return isinstance(error, _Retryable) and error.refused and retry_state.attempt_number >= REFUSED_ATTEMPTS


def is_refused(error: BaseException) -> bool:
    """Whether a connection error was a refused connection, anywhere along its causes."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        reason = getattr(current, "reason", None)
        nested = [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [current.__cause__, current.__context__, reason if isinstance(reason, BaseException) else None]
        pending += nested
    return False


CLOCK_SKEW_SECONDS = 5.0
"""How far the job service's clock (``createTime``) may trail ARM's front end (``Date``) before a run this call
started could be taken for an older one. Both are the service's clocks; the client's clock is never used."""
LISTING_SPREAD_SECONDS = 3600.0
"""Runs created further apart than this are waited for by a listing of the job's active runs, not by creation."""
LISTING_MARGIN_SECONDS = 0.05
"""How much earlier than the earliest waited run's ``createTime`` a listing of the job's runs starts
(``createTimeMin``). The filter and the value are one clock, so the margin only absorbs how the service rounds a
time it filters on (a SQL ``datetime`` keeps 1/300 s) against how it wrote the time out; a run it still leaves
out is read on its own. Small, because every run created within it is listed each round: a set starts
hundreds of runs a second."""


@dataclass(frozen=True)
class PutResult:
    execution: JobExecution
    status: int


@dataclass
class WaitResult:
    """The latest state of each waited execution, the ones that could not be read (gone, or failing), and
    whether every readable one ended in time."""

    latest: dict[ExecutionRef, JobExecution]
    errors: dict[ExecutionRef, ElasticJobsError]
    finished: bool


def server_time(headers: Any) -> datetime | None:
    """The service's clock when it answered (the ``Date`` header, one-second resolution), or None."""
    value = headers.get("Date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def created_since(execution: JobExecution, asked_at: datetime | None) -> bool:
    """Whether the execution was created after the service answered, at ``asked_at``, that the id was free.

    Without either time (no ``Date`` header, no ``createTime``) the free read stands on its own."""
    created = execution.properties.create_time
    if asked_at is None or created is None:
        return True
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created >= asked_at - timedelta(seconds=CLOCK_SKEW_SECONDS)


def retry_after_seconds(headers: Any) -> float | None:
    """The pause a response asks for: ``retry-after-ms`` / ``x-ms-retry-after-ms`` first, then ``Retry-After``."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _ratelimit_exhausted(headers: Any) -> bool:
    return any(
        key.lower().startswith("x-ms-ratelimit-remaining") and value.strip() == "0" for key, value in headers.items()
    )


class ElasticJobsClient:
    """Talks to ARM (or the emulator) for one endpoint; thread-safe, share one per process."""

    def __init__(
        self,
        endpoint: str,
        token_source: TokenSource,
        *,
        api_version: str = DEFAULT_API_VERSION,
        retry_budget_seconds: float = 120.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        max_pages: int = MAX_PAGES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._origin: Origin | None = None
        try:
            self._origin = destination(self.endpoint)
            self._endpoint_refusal = token_source.refusal(self.endpoint)  # the same for every URL of its origin
        except UnreadableDestination as error:
            self._endpoint_refusal = unreadable_endpoint(error)
        self.api_version = api_version
        self.retry_budget_seconds = retry_budget_seconds
        self.max_pages = max_pages
        self._token_source = token_source
        self._sleep = sleep
        self._endpoint_prefix = f"{self.endpoint}/"
        scheme, netloc = urlsplit(self.endpoint)[:2]
        self._endpoint_origin_text = f"{scheme}://{netloc}"
        """The endpoint up to its path, as written: what a URL under the endpoint drops to become a request target."""
        self._transport: Transport | None = None
        if self._origin is not None and not self._endpoint_refusal:
            # The environment's proxy and CA bundle are read once, here, never per request.
            proxy = proxies_for(self._origin, self.endpoint).get("https")
            if verify is True:
                verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            try:
                self._transport = Transport(
                    self._origin.scheme,
                    self._origin.host,
                    self._origin.port,
                    verify=verify,
                    proxy=proxy,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    keep=POOL_SIZE,
                    max_response_bytes=max_response_bytes,
                )
            except Unusable as error:
                source = _SETTINGS_OF[error.of]
                raise ConfigError(f"{error} (from {source})") from None
        self._user_agent = f"pulumi-azure-elastic-jobs/{__version__}"

    def __repr__(self) -> str:
        return f"ElasticJobsClient(endpoint={redact(self.endpoint)!r}, api_version={self.api_version!r})"

    def __reduce__(self) -> Any:
        raise TypeError("ElasticJobsClient holds a session and a token source and is never serialized")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> ElasticJobsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- executions -----------------------------------------------------------------------------------------

    def ensure_execution(self, ref: ExecutionRef) -> ExecutionStart:
        """The run at ``ref``: the one already there, or one started now, exactly once.

        Reads first and PUTs only a free id, so the PUT's status code (200, 201 or 202, retried or not) never
        decides anything. The run is this call's when its ``createTime`` is not before the service's clock at
        the read that found the id free (less :data:`CLOCK_SKEW_SECONDS`); an older one means another client
        took the id in between, and it is reported as found, not started.
        """
        found, asked_at = self.find_execution(ref)
        if found is not None:
            return ExecutionStart(found, started=False)
        return self.claim(ref, asked_at)

    def claim(self, ref: ExecutionRef, found_free_at: datetime | None) -> ExecutionStart:
        """PUT an id that a read found free at ``found_free_at`` (the service's clock); see ensure_execution."""
        execution = self.put_execution(ref).execution
        return ExecutionStart(execution, started=created_since(execution, found_free_at))

    def find_execution(self, ref: ExecutionRef) -> tuple[JobExecution | None, datetime | None]:
        """GET that reads 404 as "no execution with this id"; also the service's clock at the answer.

        A 404 about a missing parent (the job, its agent or server) is raised: no id is free under a job that
        does not exist, and a PUT would only be refused."""
        try:
            response = self.request("GET", ref.path)
        except NotFound as missing:
            if missing.missing_parent:
                raise
            return None, missing.server_time
        return self._parse(response, JobExecution), server_time(response.headers)

    def put_execution(self, ref: ExecutionRef, *, lro_timeout: float = 600.0) -> PutResult:
        """PUT "Job Executions - Create Or Update": idempotent on the execution id, so safe to retry."""
        response = self.request("PUT", ref.path)
        if response.status_code == 202:
            self._follow_long_running(response, lro_timeout)
            return PutResult(self.get_execution(ref), 202)
        if not response.content:
            return PutResult(self.get_execution(ref), response.status_code)
        return PutResult(self._parse(response, JobExecution), response.status_code)

    def get_execution(self, ref: ExecutionRef) -> JobExecution:
        return self._parse(self.request("GET", ref.path), JobExecution)

    def cancel_execution(self, ref: ExecutionRef) -> None:
        """Request cancellation; repeating it is harmless, so it is retried like a GET."""
        self.request("POST", f"{ref.path}/cancel", idempotent=True)

    def start_execution(self, job: JobRef, *, lro_timeout: float = 600.0) -> JobExecution:
        """POST ``start``: the service picks the id. Retried only when the service provably did not act.

        Returns the new run as the answer carries it: the live service answers 200 with it (``Created``, no
        ``startTime``); a 202 (the swagger's reading) is followed to the end first. Wait for the run with
        ``wait_for_terminal(ExecutionRef.parse(run.id))``: the service sends no ``Retry-After``, so polls back
        off from 1 s to ``poll_interval``."""
        response = self.request("POST", f"{job.path}/start", idempotent=False)
        if response.status_code == 202:
            final = self._follow_long_running(response, lro_timeout)
            if final is not None and final.content:
                return self._parse(final, JobExecution)
        return self._parse(response, JobExecution)

    def list_executions(self, job: JobRef, **filters: Any) -> Iterator[JobExecution]:
        """Executions of one job, newest first, following ``nextLink`` (filters: is_active, create_time_min…)."""
        yield from self._list(f"{job.path}/executions", filters)

    def list_step_executions(self, ref: ExecutionRef) -> Iterator[JobExecution]:
        yield from self._list(f"{ref.path}/steps", {})

    def list_target_executions(self, ref: ExecutionRef, step_name: str | None = None) -> Iterator[JobExecution]:
        path = f"{ref.path}/steps/{segment(step_name)}/targets" if step_name else f"{ref.path}/targets"
        yield from self._list(path, {})

    # --- what a plan reads (jobs, steps, target groups, servers, databases) ------------------------------------

    def read_document(self, path: str) -> dict[str, Any]:
        """GET one ARM resource as its JSON object (a job, a target group): read as data, not validated."""
        return self._json(self.request("GET", path))

    def list_documents(self, path: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every object of an ARM listing (``value``), following ``nextLink`` like the executions' listings."""

        def read_page(response: Response) -> tuple[list[dict[str, Any]], str | None]:
            body = self._json(response)
            items = body.get("value")
            if not isinstance(items, list):
                raise self._invalid(response, "the listing's value is not a list")
            next_link = body.get("nextLink")
            return [item for item in items if isinstance(item, dict)], next_link if isinstance(next_link, str) else None

        yield from self._pages(path, filters, read_page)

    def wait_for_terminal(
        self,
        ref: ExecutionRef,
        *,
        timeout: float,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: Callable[[Mapping[ExecutionRef, JobExecution]], None] | None = None,
    ) -> JobExecution:
        """Poll until the lifecycle is terminal; raises :class:`WaitTimeout` (the run is left running)."""
        waited = self.wait_for_all([ref], timeout=timeout, poll_interval=poll_interval, on_progress=on_progress)
        if ref in waited.errors:
            raise waited.errors[ref]
        if not waited.finished:
            latest = waited.latest.get(ref)
            raise WaitTimeout(ref.arm_id, latest.properties.lifecycle if latest else None, timeout)
        return waited.latest[ref]

    def wait_for_all(
        self,
        refs: list[ExecutionRef],
        *,
        timeout: float,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: Callable[[Mapping[ExecutionRef, JobExecution]], None] | None = None,
        on_terminal: Callable[[ExecutionRef, JobExecution], None] | None = None,
        workers: int = 16,
        known: Mapping[ExecutionRef, JobExecution] | None = None,
    ) -> WaitResult:
        """Poll many executions at once until all are terminal or unreadable.

        Runs are polled when they are due (the service's ``Retry-After``, else a backoff from 1 s to
        ``poll_interval``), due ones concurrently, so N executions of duration T take about T, not N x T. Two or
        more runs of one job are polled together, to the last, by one listing of the job's runs a round (every
        page; a job's last run left alone is listed too, as a listing costs a request as its read would): every
        run created since the earliest of them (``createTimeMin``, less :data:`LISTING_MARGIN_SECONDS`), which shows
        each run's state, ended or not; or, while a run's creation time is not known yet (``known``: what the
        caller last saw of the runs, such as the answers to their PUTs), or when the runs were created more than
        :data:`LISTING_SPREAD_SECONDS` apart, the job's active runs (``isActive``).
        A run is only ever ended by its own state, as its item in a listing or its own read says it; one a
        listing leaves out (a lagging listing, or an active-runs listing after it ended) is read on its own. So a
        set of N members on k jobs costs k listings a round (``ceil(n/100)`` pages for n runs) and no read of a
        run of its own, where it cost N reads a round. One that cannot be read (gone, or failing past the retry
        budget) stops being polled and is reported in ``errors``; it never hides the others' outcomes.
        ``on_progress`` sees the latest of every execution once per round of polls; ``on_terminal`` sees each
        execution once, as soon as it is terminal (so work on finished runs overlaps the wait for the rest).
        """
        deadline = time.monotonic() + timeout
        groups = _by_job(refs)
        due = dict.fromkeys(groups, time.monotonic())
        backoff = dict.fromkeys(groups, min(1.0, poll_interval))
        result = WaitResult({}, {}, finished=True)
        created = {ref: moment for ref, execution in (known or {}).items() if (moment := _created_at(execution))}
        parsed: _ParsedRuns = {}
        listed = {job for job, group in groups.items() if len(group) > 1}  # to the end, its last run alone too
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(refs)))) as pool:
            while due:
                now = time.monotonic()
                ready = [job for job, moment in due.items() if moment <= now]
                rounds = [(groups[job], job in listed) for job in ready]
                hints = self._poll_round(rounds, pool, result, on_terminal, created, parsed)
                for job, hint in zip(ready, hints, strict=True):
                    if not groups[job]:
                        del due[job]
                        continue
                    due[job] = time.monotonic() + (hint if hint is not None else backoff[job])
                    backoff[job] = min(backoff[job] * 1.5, poll_interval)
                if on_progress and ready:
                    on_progress(result.latest)
                if not due:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    result.finished = False
                    return result
                self._sleep(max(0.0, min(min(due.values()) - time.monotonic(), remaining)))
        return result

    def _poll_round(
        self,
        rounds: list[tuple[list[ExecutionRef], bool]],
        pool: ThreadPoolExecutor,
        result: WaitResult,
        on_terminal: Callable[[ExecutionRef, JobExecution], None] | None,
        created: dict[ExecutionRef, datetime],
        parsed: _ParsedRuns,
    ) -> list[float | None]:
        """One round over due groups (the pending runs of one job each, emptied as they end, and whether the job
        is listed: it had two or more): list the runs of every listed job, then read each run its listing did not
        show, all concurrently. Returns each group's pause hint; learns each run's creation time into
        ``created``, and each listed run into ``parsed``."""
        groups = [group for group, _ in rounds]
        together = [index for index, (_, listed) in enumerate(rounds) if listed]
        since = [_earliest([created.get(ref) for ref in groups[index]]) for index in together]
        jobs = [groups[index][0].job for index in together]
        listing = functools.partial(self._listed_runs, parsed=parsed)
        listed = dict(zip(together, pool.map(listing, jobs, since), strict=True))
        seen: dict[ExecutionRef, JobExecution] = {}
        for index in together:
            runs, _ = listed[index]
            for ref in groups[index]:
                execution = runs.get(ref.job_execution_id.lower())
                if execution is not None:  # its own state as listed; never its absence
                    seen[ref] = execution
        to_read = [ref for group in groups for ref in group if ref not in seen]
        reads = dict(zip(to_read, pool.map(self._poll_once, to_read), strict=True))
        hints: list[float | None] = []
        for index, group in enumerate(groups):
            own = [listed[index][1]] if index in listed else []
            for ref in list(group):
                polled = reads.get(ref)
                if polled is None:
                    execution = seen[ref]
                elif isinstance(polled, ElasticJobsError):
                    result.errors[ref] = polled
                    group.remove(ref)
                    continue
                else:
                    execution, hint = polled
                    own.append(hint)
                result.latest[ref] = execution
                if ref not in created and (moment := _created_at(execution)) is not None:
                    created[ref] = moment
                if is_terminal(execution.properties.lifecycle):
                    group.remove(ref)
                    if on_terminal:
                        on_terminal(ref, execution)
            known = [hint for hint in own if hint is not None]
            hints.append(min(known) if known else None)
        return hints

    def _listed_runs(
        self, job: JobRef, since: datetime | None, parsed: _ParsedRuns
    ) -> tuple[dict[str, JobExecution], float | None]:
        """The job's runs by lowercased id, and the listing's pause hint: every run created ``since`` (less
        :data:`LISTING_MARGIN_SECONDS`), else its active runs. Nothing when the job cannot be listed (each run is then
        read on its own, and says for itself what is wrong). A run listed exactly as an earlier listing of the
        wait showed it (``parsed``) is not parsed again: most runs are unchanged from one round to the next."""
        filters: dict[str, Any] = {"is_active": True}
        if since is not None:
            filters = {"create_time_min": since - timedelta(seconds=LISTING_MARGIN_SECONDS)}
        hints: list[float] = []
        try:
            read_page = functools.partial(self._runs_page, parsed=parsed)
            listed = list(self._pages(f"{job.path}/executions", filters, read_page, hints))
        except ElasticJobsError:
            return {}, None
        runs = {str(execution.name).lower(): execution for execution in listed if execution.name}
        return runs, min(hints) if hints else None

    def _poll_once(self, ref: ExecutionRef) -> tuple[JobExecution, float | None] | ElasticJobsError:
        try:
            response = self.request("GET", ref.path)
            return self._parse(response, JobExecution), retry_after_seconds(response.headers)
        except ElasticJobsError as error:
            return error

    def target_outcomes(self, ref: ExecutionRef) -> TargetOutcomes:
        """Which targets of a run did not succeed, read once (every page); empty and incomplete if unreadable.

        Best effort, whatever goes wrong (an ARM error, a dropped connection, a ``nextLink`` the token may not
        follow): the run it describes has happened, and a failed listing must never make a caller forget it."""
        try:
            return TargetOutcomes.of(self.list_target_executions(ref))
        except ElasticJobsError as error:  # the execution's own lifecycle and message still stand
            log.warning("could not list target executions of %s: %s", ref.arm_id, error)
            return TargetOutcomes()

    # --- generic ARM plumbing --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Response:
        """Send one ARM request with retries; returns a 2xx response or raises an :class:`ElasticJobsError`."""
        absolute = path_or_url[:8].lower().startswith(("http://", "https://"))  # a scheme is case-insensitive
        url = path_or_url if absolute else f"{self.endpoint}{path_or_url}"
        self._check_destination(method, url)
        query = dict(params or {})
        if "api-version=" not in url:
            query.setdefault("api-version", self.api_version)
        safe = idempotent if idempotent is not None else method in ("GET", "PUT", "DELETE", "HEAD")
        client_request_id = str(uuid.uuid4())
        refreshed_token = False

        def attempt() -> Response:
            nonlocal refreshed_token
            response = self._send(method, url, query, json, client_request_id, safe)
            if response.status_code == 401 and not refreshed_token:
                refreshed_token = True
                self._token_source.invalidate()
                raise _Retryable(response, None, 0.0)
            if response.status_code in TRANSIENT_STATUSES and (safe or response.status_code in REJECTED_STATUSES):
                wait = retry_after_seconds(response.headers)
                if wait is None and _ratelimit_exhausted(response.headers):
                    wait = 5.0
                raise _Retryable(response, None, wait)
            return response

        began = time.monotonic()
        try:  # most requests succeed at once: the retry machinery is built only for one that did not
            response, attempts = attempt(), 1
        except _Retryable as failed:
            response, attempts = self._retried(attempt, failed, began, method, url)
        if response.status_code >= 400:
            raise self._error(method, url, response, attempts)
        if response.is_redirect:
            reason = (
                f"the service answered {response.status_code} pointing at {response.headers.get('Location')!r}; "
                f"redirects are not followed, so the token stays with {self.endpoint}"
            )
            raise UnsafeDestination(method, url.split("?")[0], reason)
        return response

    def _retried(
        self, attempt: Callable[[], Response], failed: _Retryable, began: float, method: str, url: str
    ) -> tuple[Response, int]:
        """Go on after a first try that failed in a way worth repeating: tenacity replays that failure as its own
        first attempt (so waits and attempt numbers are as if it had made it), then tries again within the budget
        counted from ``began``. Returns the last answer and the number of tries."""
        pending = [failed]

        def again() -> Response:
            if pending:
                raise pending.pop()
            return attempt()

        retrying = Retrying(
            stop=_StopPastBudget(began, self.retry_budget_seconds) | _StopWhenRefused(),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=False,
        )
        try:
            response = retrying(again)
        except RetryError as exhausted:
            attempts = exhausted.last_attempt.attempt_number
            last = exhausted.last_attempt.exception()
            if not isinstance(last, _Retryable):  # only _Retryable is retried, so only it can exhaust the budget
                raise TypeError(f"unexpected end of retries: {last!r}") from None
            if last.response is not None:
                raise self._error(method, url, last.response, attempts) from None
            cause = last.cause or ConnectionError("no answer")
            kind = "refused" if last.refused else "no-answer"
            raise TransportError(method, url.split("?")[0], cause, attempts, kind) from None
        return response, int(retrying.statistics.get("attempt_number", 1))

    def _check_destination(self, method: str, url: str) -> None:
        """Refuse, before any connection, a URL the token may not reach: one the token source forbids, or one the
        service pointed at (``Location``, ``nextLink``, ``Azure-AsyncOperation``) on another origin, or one
        with no single destination. Origins compare normalized, so ``:443`` or a trailing dot is the same."""
        if self._endpoint_refusal:
            raise UnsafeDestination(method, url.split("?")[0], self._endpoint_refusal)
        if url.startswith(self._endpoint_prefix) and _UNDER_THE_ENDPOINT.fullmatch(url, len(self._endpoint_prefix)):
            return  # the endpoint's own origin, judged once (at construction) for every such URL
        try:
            target = destination(url)
        except UnreadableDestination as error:
            reason = f"the service pointed at {error}; the token stays with {self.endpoint}"
            raise UnsafeDestination(method, url.split("?")[0], reason) from None
        if target != self._origin:
            reason = (
                f"the service pointed at {target}, which is not the configured endpoint "
                f"{self.endpoint} (config azure-elastic-jobs:endpoint); the token goes nowhere else"
            )
            raise UnsafeDestination(method, url.split("?")[0], reason)
        if self._origin is not None and target.connects_to != self._origin.connects_to:
            refusal = self._token_source.refusal(url)  # the same origin by another name: `localhost.` is no loopback
            if refusal:
                raise UnsafeDestination(method, url.split("?")[0], refusal)

    def _send(
        self, method: str, url: str, query: dict[str, Any], body: Any, client_request_id: str, safe: bool
    ) -> Response:
        token = self._token_source.token()
        if problem := token_problem(token):  # else the HTTP library refuses the header, quoting it
            source = type(self._token_source).__name__
            raise CredentialUnavailable(f"the bearer token of {source} {problem}; it is not shown")
        headers = {
            "Authorization": f"Bearer {token}",
            "x-ms-client-request-id": client_request_id,
            "Accept": "application/json",
            "User-Agent": self._user_agent,
        }
        data = None
        if body is not None:
            data = jsonlib.dumps(body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        if query:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"
        self._check_destination(method, url)  # exactly what the connection will use
        if self._transport is None:  # never: _check_destination refuses every URL of an endpoint it cannot reach
            raise UnsafeDestination(method, url.split("?")[0], "the endpoint has no transport")
        started = time.monotonic()
        try:
            answer = self._transport.send(method, self._target(url), headers, data, repeatable=safe)
        except UntrustedPeer as error:  # retrying can fix neither trust, nor a proxy's refusal, nor a size
            raise TransportError(method, url.split("?")[0], error.cause, 1, "tls") from None
        except ProxyRefused as error:
            raise TransportError(method, url.split("?")[0], error, 1, "proxy") from None
        except ResponseTooLarge as error:
            raise TransportError(method, url.split("?")[0], error, 1, "too-large") from None
        except (NotConnected, ExchangeFailed) as error:
            never_sent = isinstance(error, NotConnected)
            log.debug("%s %s failed: %s", method, redact(url.split("?")[0]), type(error.cause).__name__)
            if safe or never_sent:
                raise _Retryable(None, error.cause, None, refused=never_sent and is_refused(error.cause)) from None
            raise TransportError(method, url.split("?")[0], error.cause, 1) from None
        response = Response(method, url.split("?")[0], answer.status, answer.reason, answer.headers, answer.data)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %s x-ms-request-id=%s %.0f ms",
                method,
                redact(response.url),
                response.status_code,
                response.headers.get("x-ms-request-id", "-"),
                (time.monotonic() - started) * 1000,
            )
        return response

    def _target(self, url: str) -> str:
        """The request target (path and query) of a URL already judged to be the endpoint's origin."""
        if url.startswith(self._endpoint_prefix) and _UNDER_THE_ENDPOINT.fullmatch(url, len(self._endpoint_prefix)):
            target = url[len(self._endpoint_origin_text) :]
            return target if target.startswith("/") else f"/{target}"  # an endpoint written with a query, no path
        from requests.utils import requote_uri  # a service-given URL, quoted as requests would send it

        parts = urlsplit(requote_uri(url))
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @staticmethod
    def _wait(state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome else None
        if isinstance(error, _Retryable) and error.wait is not None:
            return error.wait
        return float(_BACKOFF(state))

    def _follow_long_running(self, accepted: Response, timeout: float) -> Response | None:
        """Follow ``Azure-AsyncOperation`` (status document) or ``Location`` (202 until done) to the end."""
        async_url = accepted.headers.get("Azure-AsyncOperation")
        location = accepted.headers.get("Location")
        poll_url = async_url or location
        if not poll_url:
            return None
        deadline = time.monotonic() + timeout
        previous = accepted
        while True:
            self._sleep(min(retry_after_seconds(previous.headers) or 1.0, max(0.0, deadline - time.monotonic())))
            response = self.request("GET", poll_url)
            if async_url:
                status = str(self._json(response).get("status", "")).lower()
                if status in ("succeeded", "failed", "canceled", "cancelled"):
                    if status != "succeeded":
                        raise arm_error_class(500)(
                            status=500,
                            code="OperationFailed",
                            message=f"operation ended {status}",
                            method="GET",
                            url=poll_url,
                            request_id=response.headers.get("x-ms-request-id"),
                        )
                    return self.request("GET", location) if location else None
            elif response.status_code != 202:
                return response
            if time.monotonic() >= deadline:
                raise TransportError("GET", poll_url, TimeoutError(f"operation not done after {timeout:g} s"), 1)
            previous = response

    def _list(self, path: str, filters: dict[str, Any], hints: list[float] | None = None) -> Iterator[JobExecution]:
        """Every execution of a listing, page after page (see :meth:`_pages`)."""

        def read_page(response: Response) -> tuple[list[JobExecution], str | None]:
            page = self._parse(response, JobExecutionListResult)
            return page.value, page.next_link

        yield from self._pages(path, filters, read_page, hints)

    def _pages(
        self,
        path: str,
        filters: dict[str, Any],
        read_page: Callable[[Response], tuple[list[ItemT], str | None]],
        hints: list[float] | None = None,
    ) -> Iterator[ItemT]:
        """Every item of a listing, page after page; raises :class:`EndlessListing` rather than follow a
        ``nextLink`` back to a page this listing has read, or past ``max_pages`` pages. A page's pause hint
        (``Retry-After``) is added to ``hints`` when given."""
        params = {_filter_name(key): _filter_value(value) for key, value in filters.items() if value is not None}
        url = path
        followed = {self._page_key(url, params)}
        for pages in itertools.count(1):
            response = self.request("GET", url, params=params)
            if hints is not None and (hint := retry_after_seconds(response.headers)) is not None:
                hints.append(hint)
            items, next_link = read_page(response)
            yield from items
            if not next_link:
                return
            url, params = next_link, {}
            key = self._page_key(url, params)
            if key in followed or pages >= self.max_pages:
                raise EndlessListing(path, url, pages, repeated=key in followed)
            followed.add(key)

    def _page_key(self, path_or_url: str, params: Mapping[str, str]) -> _PageKey:
        """Which page a GET reads, however it is spelled: origin, path, and the query as :meth:`request` sends it
        (its parameters, and the api-version it adds) taken as a set, so ``?a=1&b=2`` and ``?b=2&a=1`` are one."""
        absolute = path_or_url[:8].lower().startswith(("http://", "https://"))
        parts = urlsplit(path_or_url if absolute else f"{self.endpoint}{path_or_url}")
        query = {*parse_qsl(parts.query, keep_blank_values=True), *params.items()}
        if not any(name == "api-version" for name, _ in query):
            query.add(("api-version", self.api_version))
        return parts.scheme.lower(), parts.netloc.lower(), parts.path, frozenset(query)

    def _parse(self, response: Response, model: type[ModelT]) -> ModelT:
        try:
            return model.model_validate(self._json(response))
        except ValidationError as error:
            raise self._unreadable(response, error) from None

    def _runs_page(self, response: Response, parsed: _ParsedRuns) -> tuple[list[JobExecution], str | None]:
        """A page of a job's runs, each parsed unless ``parsed`` holds it exactly as listed now (then the run as
        parsed before); every run parsed is added to ``parsed``, by its name."""
        body = self._json(response)
        items, next_link = body.get("value", []), body.get("nextLink")
        if not isinstance(items, list) or not (next_link is None or isinstance(next_link, str)):
            page = self._parse(response, JobExecutionListResult)  # says what is wrong, as every listing does
            return page.value, page.next_link
        runs = []
        for index, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            before = parsed.get(name) if isinstance(name, str) else None
            if before is not None and before[0] == item:
                runs.append(before[1])
                continue
            try:
                run = JobExecution.model_validate(item)
            except ValidationError as error:
                raise self._unreadable(response, error, ("value", index)) from None
            if isinstance(name, str):
                parsed[name] = (item, run)
            runs.append(run)
        return runs, next_link

    def _unreadable(
        self, response: Response, error: ValidationError, within: tuple[str | int, ...] = ()
    ) -> InvalidResponse:
        first = error.errors()[0]
        where = ".".join(str(part) for part in (*within, *first["loc"]))
        return self._invalid(response, f"the body's {where or 'root'} {first['msg'].lower()}")

    def _json(self, response: Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise self._invalid(response, f"the body is not JSON ({kind}): {response.text[:120]!r}") from None
        if not isinstance(body, dict):
            raise self._invalid(response, f"the body is a JSON {type(body).__name__}, not an object")
        return body

    def _invalid(self, response: Response, message: str) -> InvalidResponse:
        return InvalidResponse(
            status=response.status_code,
            code="InvalidResponse",
            message=message,
            method=response.method,
            url=response.url,
            request_id=response.headers.get("x-ms-request-id"),
            correlation_id=response.headers.get("x-ms-correlation-request-id"),
        )

    @staticmethod
    def _error(method: str, url: str, response: Response, attempts: int) -> ArmError:
        code, message, target, details = None, None, None, []
        try:
            body = response.json()
            error = body.get("error", body) if isinstance(body, dict) else {}
            code, message, target = error.get("code"), error.get("message"), error.get("target")
            details = [d for d in error.get("details") or [] if isinstance(d, dict)]
        except ValueError:
            text = " ".join(response.text.split())[:200]
            message = f"{response.reason or 'error'} (the body is not ARM JSON: {text!r})"
        return arm_error_class(response.status_code, code)(
            status=response.status_code,
            code=code,
            message=message,
            target=target,
            details=details,
            method=method,
            url=url.split("?")[0],
            request_id=response.headers.get("x-ms-request-id"),
            correlation_id=response.headers.get("x-ms-correlation-request-id"),
            attempts=attempts,
            server_time=server_time(response.headers),
        )


def proxies_for(origin: Origin, endpoint: str) -> dict[str, str]:
    """The environment's proxy for the endpoint (``{"https": url}``, or nothing): a loopback or plain-HTTP endpoint
    never uses one (a proxy would see a plain-HTTP token, and loopback means this machine); an HTTPS endpoint
    uses ``HTTPS_PROXY`` (else ``ALL_PROXY``) unless ``NO_PROXY`` covers it, reached through a CONNECT tunnel,
    so TLS runs end to end with the endpoint and the proxy never sees the token."""
    if origin.scheme != "https" or origin.is_loopback:
        return {}
    from requests.utils import get_environ_proxies  # how requests reads the environment, NO_PROXY's forms and all

    environment = get_environ_proxies(endpoint)  # {} when NO_PROXY covers the endpoint
    proxy = environment.get("https") or environment.get("all")
    return {"https": proxy} if proxy else {}


def _created_at(execution: JobExecution) -> datetime | None:
    """When the service created the run (aware, UTC when it gave no zone), or None when it did not say."""
    created = execution.properties.create_time
    if created is None:
        return None
    return created if created.tzinfo is not None else created.replace(tzinfo=UTC)


def _earliest(moments: list[datetime | None]) -> datetime | None:
    """The earliest of the runs' creation times: where a listing by creation time starts. None (list the active
    runs) while one of them is not known, or when they were created more than :data:`LISTING_SPREAD_SECONDS`
    apart: a set whose wait resumed beside new members would list every run of the job in between each round."""
    known = [moment for moment in moments if moment is not None]
    if not known or len(known) < len(moments) or max(known) - min(known) > timedelta(seconds=LISTING_SPREAD_SECONDS):
        return None
    return min(known)


def _by_job(refs: list[ExecutionRef]) -> dict[JobRef, list[ExecutionRef]]:
    """Runs grouped by their job (each run once), in the order given."""
    groups: dict[JobRef, list[ExecutionRef]] = {}
    for ref in dict.fromkeys(refs):
        groups.setdefault(ref.job, []).append(ref)
    return groups


def _filter_name(key: str) -> str:
    special = {"skip": "$skip", "top": "$top"}
    if key in special:
        return special[key]
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _filter_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)
