"""The emulator's HTTP layer: the ARM route table, auth, api-version, request ids, faults, and the admin API.

ARM paths are matched case-insensitively on the raw (still percent-encoded) path, one segment per name, so
an encoded ``/`` stays inside its name and is refused by the name rules rather than addressing another
resource. Admin endpoints live under ``/_emulator`` (outside the ARM namespace), need the admin token when one
is set (always, when bound beyond loopback) and are not logged as ARM requests. In front of every route,
``guard`` refuses what a web page could send: on loopback a foreign ``Host`` (DNS rebinding), anywhere a
cross-origin ``Origin``, and non-JSON bodies to the admin API. A minimal Microsoft Entra ID
token endpoint (``identity``) issues tokens that ARM routes accept until they lapse.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from pulumi_azure_elastic_jobs.ids import uuid_problem

from .access import TOKEN_CLIENT_ID
from .arm import ArmFailure
from .backend import (
    AGENT_TYPE,
    CREDENTIAL_TYPE,
    JOB_TYPE,
    STEP_TYPE,
    TARGET_GROUP_TYPE,
    VERSION_TYPE,
    Agent,
    Backend,
)
from .emulation import Emulation
from .faults import FaultRule
from .fleet import Fleet, ServerRef
from .guard import RequestGuard
from .identity import identity_router

log = logging.getLogger("elastic_jobs_emulator")

SUPPORTED_API_VERSIONS = frozenset(
    {
        # Microsoft.Sql api-versions that carry the Elastic Jobs routes, stable and preview, including the
        # 2026-08-01-preview that the Azure SDK for Go beta defaults to.
        "2017-03-01-preview",
        "2020-02-02-preview",
        "2020-08-01-preview",
        "2020-11-01-preview",
        "2021-02-01-preview",
        "2021-05-01-preview",
        "2021-08-01-preview",
        "2021-11-01",
        "2021-11-01-preview",
        "2022-02-01-preview",
        "2022-05-01-preview",
        "2022-08-01-preview",
        "2022-11-01-preview",
        "2023-02-01-preview",
        "2023-05-01-preview",
        "2023-08-01",
        "2023-08-01-preview",
        "2024-05-01-preview",
        "2024-11-01-preview",
        "2025-01-01",
        "2025-02-01-preview",
        "2026-08-01-preview",
    }
)


FLEET_API_VERSIONS = SUPPORTED_API_VERSIONS | {
    # Microsoft.Sql api-versions that carry servers, databases or elastic pools but not the jobs routes, which older
    # clients still send (azure-mgmt-sql before 1.0, azurerm's retired azurerm_sql_* resources).
    "2014-04-01",
    "2015-05-01-preview",
    "2017-10-01-preview",
    "2019-06-01-preview",
}
"""What the routes of servers, databases and elastic pools accept (azure-mgmt-sql 4.0.0 sends 2025-01-01)."""


def newest_first(versions: frozenset[str]) -> list[str]:
    """As ARM lists them: by date, newest first, a stable version before the preview of the same date."""
    return sorted(versions, key=lambda v: (v[:10], not v.endswith("-preview")), reverse=True)


MAX_BODY_BYTES = 1024 * 1024
_SEG = r"([^/]+)"
_SERVERS = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/microsoft\.sql/servers"
_SERVER = rf"{_SERVERS}/{_SEG}"
_AGENT = rf"{_SERVER}/jobagents/{_SEG}"
_EXECUTION = rf"{_AGENT}/jobs/{_SEG}/executions/{_SEG}"
_OPERATION = (
    rf"/subscriptions/{_SEG}/providers/microsoft\.sql/locations/emulator/(operationresults|operationstatuses)/{_SEG}"
)

Answer = tuple[int, Any, dict[str, str]]
Route = tuple[str, re.Pattern[str], Callable[..., Answer], frozenset[str]]
"""(method, path pattern, handler(context, *names), the api-versions it accepts)."""


@dataclass
class RequestContext:
    method: str
    body: Any
    query: dict[str, str]
    base_url: str
    path: str
    async_polls: int | None = None

    @property
    def url(self) -> str:
        """The request's URL without its query: what a list's ``nextLink`` extends."""
        return self.base_url + self.path


def _arm_error(
    status: int, code: str, message: str, target: str | None = None, headers: dict[str, str] | None = None
) -> Answer:
    return status, ArmFailure(status, code, message, target).body(), headers or {}


def _compiled(table: list[tuple[str, str, Callable[..., Answer]]], versions: frozenset[str]) -> list[Route]:
    return [(method, re.compile(f"^{path}/?$", re.IGNORECASE), handler, versions) for method, path, handler in table]


def _fleet_routes(fleet: Fleet) -> list[Route]:
    """The routes of servers, their databases and elastic pools (Microsoft.Sql's Servers, Databases and
    ElasticPools operations)."""

    def ok(result: tuple[int, Any]) -> Answer:
        return result[0], result[1], {}

    def listed(body: Any) -> Answer:
        return 200, body, {}

    table: list[tuple[str, str, Callable[..., Answer]]] = [
        (
            "GET",
            rf"/subscriptions/{_SEG}/providers/microsoft\.sql/servers",
            lambda c, s: listed(fleet.list_servers(s, None, c.query, c.url)),
        ),
        ("GET", _SERVERS, lambda c, s, g: listed(fleet.list_servers(s, g, c.query, c.url))),
        ("GET", _SERVER, lambda c, s, g, v: ok(fleet.get_server(ServerRef(s, g, v)))),
        ("PUT", _SERVER, lambda c, s, g, v: ok(fleet.put_server(ServerRef(s, g, v), c.body))),
        ("DELETE", _SERVER, lambda c, s, g, v: ok(fleet.delete_server(ServerRef(s, g, v)))),
        (
            "GET",
            rf"{_SERVER}/databases",
            lambda c, s, g, v: listed(fleet.list_databases(ServerRef(s, g, v), c.query, c.url)),
        ),
        ("GET", rf"{_SERVER}/databases/{_SEG}", lambda c, s, g, v, d: ok(fleet.get_database(ServerRef(s, g, v), d))),
        (
            "PUT",
            rf"{_SERVER}/databases/{_SEG}",
            lambda c, s, g, v, d: ok(fleet.put_database(ServerRef(s, g, v), d, c.body)),
        ),
        (
            "DELETE",
            rf"{_SERVER}/databases/{_SEG}",
            lambda c, s, g, v, d: ok(fleet.delete_database(ServerRef(s, g, v), d)),
        ),
        (
            "GET",
            rf"{_SERVER}/elasticpools",
            lambda c, s, g, v: listed(fleet.list_pools(ServerRef(s, g, v), c.query, c.url)),
        ),
        ("GET", rf"{_SERVER}/elasticpools/{_SEG}", lambda c, s, g, v, e: ok(fleet.get_pool(ServerRef(s, g, v), e))),
        (
            "PUT",
            rf"{_SERVER}/elasticpools/{_SEG}",
            lambda c, s, g, v, e: ok(fleet.put_pool(ServerRef(s, g, v), e, c.body)),
        ),
        (
            "DELETE",
            rf"{_SERVER}/elasticpools/{_SEG}",
            lambda c, s, g, v, e: ok(fleet.delete_pool(ServerRef(s, g, v), e)),
        ),
        (
            "GET",
            rf"{_SERVER}/elasticpools/{_SEG}/databases",
            lambda c, s, g, v, e: listed(fleet.list_pool_databases(ServerRef(s, g, v), e, c.query, c.url)),
        ),
    ]
    return _compiled(table, frozenset(FLEET_API_VERSIONS))


def _routes(backend: Backend) -> list[Route]:
    """The ARM route table: the jobs' routes, then the fleet's."""

    def agent_of(s: str, g: str, v: str, a: str) -> Agent:
        return Agent(s, g, v, a)

    def ok(result: tuple[int, Any]) -> Answer:
        return result[0], result[1], {}

    def child(collection: str, kind: str) -> list[tuple[str, str, Callable[..., Answer]]]:
        base = rf"{_AGENT}/{collection.lower()}"
        return [
            ("GET", base, lambda c, s, g, v, a: ok(backend.list_children(agent_of(s, g, v, a).id, kind, AGENT_TYPE))),
            (
                "GET",
                rf"{base}/{_SEG}",
                lambda c, s, g, v, a, n: ok(backend.get(f"{agent_of(s, g, v, a).id}/{collection}/{n}", kind)),
            ),
            (
                "PUT",
                rf"{base}/{_SEG}",
                lambda c, s, g, v, a, n: ok(backend.put_child(agent_of(s, g, v, a), collection, n, c.body)),
            ),
            (
                "DELETE",
                rf"{base}/{_SEG}",
                lambda c, s, g, v, a, n: ok(backend.delete(f"{agent_of(s, g, v, a).id}/{collection}/{n}")),
            ),
        ]

    def put_execution(c: RequestContext, s: str, g: str, v: str, a: str, j: str, e: str) -> Answer:
        status, body, accepted_async, hint = backend.put_execution(agent_of(s, g, v, a), j, e)
        if accepted_async or c.async_polls is not None:
            operation = backend.new_operation(body["id"], c.async_polls if c.async_polls is not None else 1)
            return 202, None, _operation_headers(c.base_url, s, operation)
        return status, body, _poll_headers(hint)

    def get_execution(c: RequestContext, s: str, g: str, v: str, a: str, j: str, e: str) -> Answer:
        arm_id = f"{agent_of(s, g, v, a).job_id(j)}/executions/{e}"
        now = backend.clock.now()  # the run and its hint at one instant: an active run always has a hint
        body = backend.render_execution(arm_id, now=now)
        return 200, body, _poll_headers(backend.poll_hint(arm_id, now=now))

    def list_job_executions(c: RequestContext, s: str, g: str, v: str, a: str, j: str) -> Answer:
        job_id = agent_of(s, g, v, a).job_id(j)
        now = backend.clock.now()  # the runs and the hint at one instant, as for one run
        body = backend.list_executions(job_id, False, c.query, c.base_url + c.path, now)
        return 200, body, _poll_headers(backend.listing_hint(job_id, now))

    def start(c: RequestContext, s: str, g: str, v: str, a: str, j: str) -> Answer:
        """200 with the new run (``Created``) and its own URL as ``Location``, as recorded; 202 with operation
        URLs only under an ``async`` fault (the swagger's long-running reading)."""
        body = backend.start_execution(agent_of(s, g, v, a), j)
        if c.async_polls is not None:
            operation = backend.new_operation(body["id"], c.async_polls)
            return 202, None, _operation_headers(c.base_url, s, operation)
        return 200, body, {"Location": _resource_url(c, body["id"])}

    def cancel(c: RequestContext, s: str, g: str, v: str, a: str, j: str, e: str) -> Answer:
        """200, no body, ``Location`` the run's URL: for a run in any state, as recorded."""
        backend.cancel_execution(agent_of(s, g, v, a), j, e)
        return 200, None, {"Location": _resource_url(c, execution_id(s, g, v, a, j, e))}

    def targets(c: RequestContext, *n: str) -> Answer:
        step = n[6] if len(n) > 6 else None
        return 200, backend.list_target_executions(execution_id(*n[:6]), step, c.query, c.base_url + c.path), {}

    def execution_id(s: str, g: str, v: str, a: str, j: str, e: str) -> str:
        return f"{agent_of(s, g, v, a).job_id(j)}/executions/{e}"

    def operation(c: RequestContext, s: str, kind: str, operation_id: str) -> Answer:
        done, resource_id = backend.poll_operation(operation_id)
        if kind.lower() == "operationstatuses":
            return (
                200,
                {"id": c.path, "name": operation_id, "status": "Succeeded" if done else "InProgress"},
                {} if done else {"Retry-After": "1", "retry-after-ms": "50"},
            )
        if not done:
            return 202, None, {"Location": c.base_url + c.path, "Retry-After": "1", "retry-after-ms": "50"}
        return 200, backend.render_execution(resource_id), {}

    table: list[tuple[str, str, Callable[..., Answer]]] = [
        (
            "GET",
            rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/microsoft\.sql/servers/{_SEG}/jobagents",
            lambda c, s, g, v: ok(backend.list_agents(agent_of(s, g, v, "-").server_id)),
        ),
        ("GET", _AGENT, lambda c, s, g, v, a: ok(backend.get(agent_of(s, g, v, a).id, AGENT_TYPE))),
        ("PUT", _AGENT, lambda c, s, g, v, a: ok(backend.put_agent(agent_of(s, g, v, a), c.body))),
        ("PATCH", _AGENT, lambda c, s, g, v, a: ok(backend.patch_agent(agent_of(s, g, v, a), c.body))),
        ("DELETE", _AGENT, lambda c, s, g, v, a: ok(backend.delete(agent_of(s, g, v, a).id))),
        *child("jobs", JOB_TYPE),
        *child("targetGroups", TARGET_GROUP_TYPE),
        *child("credentials", CREDENTIAL_TYPE),
        (
            "GET",
            rf"{_AGENT}/jobs/{_SEG}/steps",
            lambda c, s, g, v, a, j: ok(backend.list_children(agent_of(s, g, v, a).job_id(j), STEP_TYPE, JOB_TYPE)),
        ),
        (
            "GET",
            rf"{_AGENT}/jobs/{_SEG}/steps/{_SEG}",
            lambda c, s, g, v, a, j, n: ok(backend.get(f"{agent_of(s, g, v, a).job_id(j)}/steps/{n}", STEP_TYPE)),
        ),
        (
            "PUT",
            rf"{_AGENT}/jobs/{_SEG}/steps/{_SEG}",
            lambda c, s, g, v, a, j, n: ok(backend.put_step(agent_of(s, g, v, a), j, n, c.body)),
        ),
        (
            "DELETE",
            rf"{_AGENT}/jobs/{_SEG}/steps/{_SEG}",
            lambda c, s, g, v, a, j, n: ok(backend.delete_step(agent_of(s, g, v, a), j, n)),
        ),
        (
            "GET",
            rf"{_AGENT}/jobs/{_SEG}/versions",
            lambda c, s, g, v, a, j: ok(backend.list_children(agent_of(s, g, v, a).job_id(j), VERSION_TYPE, JOB_TYPE)),
        ),
        (
            "GET",
            rf"{_AGENT}/jobs/{_SEG}/versions/{_SEG}",
            lambda c, s, g, v, a, j, n: ok(backend.get(f"{agent_of(s, g, v, a).job_id(j)}/versions/{n}", VERSION_TYPE)),
        ),
        (
            "GET",
            rf"{_AGENT}/jobs/{_SEG}/versions/{_SEG}/steps",
            lambda c, s, g, v, a, j, n: ok(backend.version_steps(agent_of(s, g, v, a), j, n, None)),
        ),
        (
            "GET",
            rf"{_AGENT}/jobs/{_SEG}/versions/{_SEG}/steps/{_SEG}",
            lambda c, s, g, v, a, j, n, st: ok(backend.version_steps(agent_of(s, g, v, a), j, n, st)),
        ),
        (
            "GET",
            rf"{_AGENT}/executions",
            lambda c, s, g, v, a: (
                200,
                backend.list_executions(agent_of(s, g, v, a).id, True, c.query, c.base_url + c.path),
                {},
            ),
        ),
        (
            "GET",
            rf"{_AGENT}/jobs/{_SEG}/executions",
            list_job_executions,
        ),
        ("POST", rf"{_AGENT}/jobs/{_SEG}/start", start),
        ("PUT", _EXECUTION, put_execution),
        ("GET", _EXECUTION, get_execution),
        ("POST", rf"{_EXECUTION}/cancel", cancel),
        (
            "GET",
            rf"{_EXECUTION}/steps",
            lambda c, *n: (200, {"value": backend.step_executions(execution_id(*n), None)}, {}),
        ),
        (
            "GET",
            rf"{_EXECUTION}/steps/{_SEG}",
            lambda c, *n: (200, backend.step_executions(execution_id(*n[:6]), n[6])[0], {}),
        ),
        ("GET", rf"{_EXECUTION}/steps/{_SEG}/targets", targets),
        (
            "GET",
            rf"{_EXECUTION}/steps/{_SEG}/targets/{_SEG}",
            lambda c, *n: (200, backend.target_executions(execution_id(*n[:6]), n[6], n[7])[0], {}),
        ),
        ("GET", rf"{_EXECUTION}/targets", targets),
        ("GET", _OPERATION, operation),
    ]
    return [*_compiled(table, SUPPORTED_API_VERSIONS), *_fleet_routes(backend.fleet)]


def _resource_url(c: RequestContext, arm_id: str) -> str:
    """A resource's URL at the api-version the request used, as the service writes ``Location``."""
    return f"{c.base_url}{arm_id}?{urlencode({'api-version': c.query.get('api-version', '2025-01-01')})}"


def _poll_headers(hint: float | None) -> dict[str, str]:
    """While an execution is active, tell pollers when it next changes (ARM-style Retry-After)."""
    if hint is None:
        return {}
    hint = min(max(hint, 0.01), 60.0)
    return {"Retry-After": str(max(1, math.ceil(hint))), "retry-after-ms": str(math.ceil(hint * 1000))}


def _operation_headers(base_url: str, subscription: str, operation_id: str) -> dict[str, str]:
    root = f"{base_url}/subscriptions/{subscription}/providers/Microsoft.Sql/locations/emulator"
    return {
        "Location": f"{root}/operationResults/{operation_id}?api-version=2025-01-01",
        "Azure-AsyncOperation": f"{root}/operationStatuses/{operation_id}?api-version=2025-01-01",
        "Retry-After": "1",
        "retry-after-ms": "50",
    }


def _check_auth(emulation: Emulation, authorization: str | None, method: str, path: str) -> Answer | None:
    """401 for a missing, malformed, expired or (when one is required) wrong token; then the subscription's
    checks; then 403 for a read the token's identity may not make (``access``)."""
    challenge = {
        "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
        'error="invalid_token", error_description="The access token is missing or invalid"'
    }
    if not authorization:
        return _arm_error(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            headers=challenge,
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _arm_error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid: the 'Authorization' header must be 'Bearer <token>'.",
            headers=challenge,
        )
    issued = emulation.directory.state_of(token.strip())
    if issued == "expired":
        return _arm_error(
            401,
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
            headers=challenge,
        )
    if issued == "unknown" and emulation.token is not None and token.strip() != emulation.token:
        return _arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.", headers=challenge)
    unknown = _check_subscription(emulation, path)
    if unknown:
        return unknown
    refused = emulation.access.refusal(emulation.directory.client_of(token.strip()) or TOKEN_CLIENT_ID, method, path)
    return (refused.status, refused.body(), {}) if refused else None


def _check_subscription(emulation: Emulation, path: str) -> Answer | None:
    """A malformed subscription id is 400 ``InvalidSubscriptionId``; in strict mode an unlisted one is 404."""
    match = re.match(r"^/subscriptions/([^/]+)", path, re.IGNORECASE)
    if not match:
        return None
    subscription = unquote(match.group(1))
    if uuid_problem(subscription):
        return _arm_error(
            400,
            "InvalidSubscriptionId",
            f"The provided subscription identifier '{subscription}' is malformed or invalid.",
        )
    if not emulation.knows_subscription(subscription):
        return _arm_error(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
    return None


def create_app(emulation: Emulation) -> FastAPI:
    app = FastAPI(
        title="Azure SQL Elastic Jobs ARM emulator",
        docs_url=None,  # served by the admin router, behind its guard
        openapi_url=None,
        redoc_url=None,
    )
    app.add_middleware(RequestGuard, loopback_host=emulation.loopback_host)
    routes = _routes(emulation.backend)
    routes_by_method: dict[str, list[Route]] = {}
    for route in routes:
        routes_by_method.setdefault(route[0], []).append(route)
    backend = emulation.backend

    from .admin import admin_router

    app.include_router(admin_router(emulation, app.openapi), prefix="/_emulator")
    app.include_router(identity_router(emulation.directory))

    @app.api_route("/{full_path:path}", methods=["GET", "PUT", "POST", "PATCH", "DELETE"], include_in_schema=False)
    async def arm(request: Request) -> Response:
        started = time.monotonic()
        raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?")[0]
        request_id = str(uuid.uuid4())
        headers = {
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": request.headers.get("x-ms-correlation-request-id") or request_id,
            "x-ms-routing-request-id": f"EMULATOR:{request_id}",
            "x-ms-ratelimit-remaining-subscription-reads": "11999",
        }
        if client_id := request.headers.get("x-ms-client-request-id"):
            headers["x-ms-client-request-id"] = client_id
        fault = emulation.faults.take(request.method, raw_path)
        status, body, extra = await _answer(request, raw_path, fault)
        headers.update(extra)
        headers["Date"] = email.utils.formatdate(backend.clock.now(), usegmt=True)  # the service's clock
        emulation.record(
            {
                "method": request.method,
                "path": raw_path,
                "status": status,
                "request_id": request_id,
                "time": time.time(),
                "ms": round((time.monotonic() - started) * 1000, 2),
                **({"fault": fault.kind} if fault else {}),
            }
        )
        log.info("%s %s -> %s (%s)", request.method, raw_path, status, request_id)
        if fault and fault.kind == "act-then-drop":  # done, but the answer never arrives
            await asyncio.sleep(fault.delay_seconds)
            return _dropped(headers)
        if isinstance(body, FaultRule) and body.kind == "status":  # a raw body, as a proxy might answer
            return Response(body.body, status_code=status, headers=headers, media_type=body.content_type)
        if isinstance(body, FaultRule):  # a dropped connection: headers promise a body that never comes
            return _dropped(headers)
        if body is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _answer(request: Request, raw_path: str, fault: FaultRule | None) -> tuple[int, Any, dict[str, str]]:
        method = request.method
        if fault and fault.kind == "delay":
            await asyncio.sleep(fault.delay_seconds)
        elif fault and fault.kind == "drop":
            return 200, fault, {}
        elif fault and fault.kind == "status" and fault.body is not None:
            return fault.status, fault, dict(fault.headers)
        elif fault and fault.kind == "status":
            extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            extra.update(fault.headers)
            return _arm_error(
                fault.status,
                fault.code or _default_code(fault.status),
                fault.message or "Injected fault.",
                headers=extra,
            )
        denied = _check_auth(emulation, request.headers.get("authorization"), method, raw_path)
        if denied:
            return denied
        query = dict(parse_qsl(request.url.query, keep_blank_values=True))
        version = query.get("api-version")
        if not version:
            return _arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        route, match = next(
            ((route, found) for route in routes_by_method.get(method, []) if (found := route[1].match(raw_path))),
            (None, None),
        )
        versions = route[3] if route else SUPPORTED_API_VERSIONS
        if version not in versions:
            return _arm_error(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are "
                f"'{','.join(newest_first(versions))}'.",
            )
        body = await _read_body(request) if method in ("PUT", "PATCH", "POST") else None
        if isinstance(body, tuple):
            return body
        if route is not None and match is not None:
            handler = route[2]
            names = [unquote(group) for group in match.groups()]
            context = RequestContext(method, body, query, str(request.base_url).rstrip("/"), raw_path)
            if handler.__name__ in ("put_execution", "start"):
                async_rule = emulation.faults.take(method, raw_path, kinds=("async",))
                context.async_polls = async_rule.polls if async_rule else None
            try:  # inline: every handler is a few SQLite statements, cheaper than a thread hop
                return handler(context, *names)
            except ArmFailure as failure:
                return failure.status, failure.body(), {}
        if any(pattern.match(raw_path) for _, pattern, _, _ in routes):
            return _arm_error(405, "MethodNotAllowed", f"The method {method} is not allowed on this resource.")
        return _arm_error(
            404,
            "InvalidResourceType" if "/providers/" in raw_path else "NotFound",
            f"No route for {method} {raw_path} in the Elastic Jobs emulator.",
        )

    async def _read_body(request: Request) -> Any:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _arm_error(
                400,
                "RequestContentTooLarge",
                f"The request content is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.",
            )
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as error:
            return _arm_error(400, "InvalidRequestContent", f"The request content is not valid JSON: {error}.")

    app.state.backend = backend
    app.state.emulation = emulation
    return app


def _dropped(headers: dict[str, str]) -> Response:
    """Headers that promise a body, then a reset: the client sees a broken connection, not an answer."""
    return StreamingResponse(
        _broken_body(), status_code=200, headers={**headers, "Content-Length": "1024"}, media_type="application/json"
    )


async def _broken_body() -> Any:
    yield b'{"partial": '
    raise ConnectionResetError("emulated dropped connection")


def _default_code(status: int) -> str:
    return {
        401: "ExpiredAuthenticationToken",
        403: "AuthorizationFailed",
        404: "ResourceNotFound",
        409: "Conflict",
        429: "TooManyRequests",
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }.get(status, "Error")


__all__ = ["Emulation", "create_app"]
