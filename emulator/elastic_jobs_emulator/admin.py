"""The emulator's admin API under ``/_emulator``: request log, faults, job behaviors, denied reads, settings,
seeding, reset.

Outside the ARM namespace, so no Azure client ever calls it by accident. Open on loopback to requests that pass
``guard`` (they name the bound address, come from no other origin, and send JSON bodies only); guarded by the admin
token (``Authorization: Bearer``) whenever one is set, which the server does when bound beyond loopback. Its
OpenAPI schema and docs page (``/_emulator/openapi.json``, ``/_emulator/docs``) sit behind the same guard.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from .backend import AsyncPut
from .engine import Behavior
from .faults import FaultKind

if TYPE_CHECKING:
    from .emulation import Emulation


class FaultSpec(BaseModel):
    kind: FaultKind
    path: str = Field("", description="regular expression searched in the request path, case-insensitive")
    method: str | None = None
    count: int = Field(1, description="how many matching requests it applies to; -1 for all")
    status: int = 503
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    delay_seconds: float = Field(0.0, description="kind=delay: the wait; kind=act-then-drop: silence before the drop")
    polls: int = Field(1, description="for kind=async: how many polls answer 202 before the operation is done")
    body: str | None = Field(None, description="for kind=status: a raw body instead of an ARM error")
    content_type: str = "text/html"
    headers: dict[str, str] = Field(default_factory=dict, description="for kind=status: headers of the answer")


class BehaviorSpec(BaseModel):
    duration_seconds: float | None = Field(None, description="emulated seconds each target takes")
    outcome: Literal["Succeeded", "Failed", "TimedOut", "Skipped"] | None = None
    message: str | None = None
    ignore_cancel: bool = Field(False, description="accept cancels of the job's runs and carry on running")
    start_delay_seconds: float | None = Field(None, description="emulated seconds from a run's creation to its start")
    skip_while_active: bool = Field(
        False, description="skip a run created while another run of the job is active, as the scheduler does"
    )
    failed_databases: tuple[str, ...] = Field(
        (), description="databases (by name) where the job's steps fail on every attempt, whatever `outcome` says"
    )


class IdentitySpec(BaseModel):
    tenant_id: str
    client_secret: str


class DeniedReadsSpec(BaseModel):
    client_ids: list[str] = Field(
        default_factory=lambda: ["*"],
        description="the identities (client ids; the emulator's own token is 'elastic-jobs-emulator') whose reads "
        "in the subscription answer 403 AuthorizationFailed; '*' (the default) for every identity",
    )


class SettingsSpec(BaseModel):
    time_scale: float | None = Field(None, gt=0)
    async_put: AsyncPut | None = Field(None, description="execution PUTs answer 202: never, for new ids, always")
    poll_hints: bool | None = Field(None, description="Retry-After on active executions: when they next change")
    token_lifetime_seconds: float | None = Field(None, gt=0, description="lifetime of tokens the Entra ID issues")
    clock_offset_seconds: float | None = Field(
        None, description="the service clock's distance from real time (skew, or a jump that ends held runs)"
    )


def admin_router(emulation: Emulation, openapi: Callable[[], dict[str, Any]]) -> APIRouter:
    """The admin routes, ``openapi`` (the app's schema) and its docs page included, all behind one guard."""

    def guard(authorization: str | None = Header(None)) -> None:
        expected = emulation.admin_token
        if expected is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip(), expected):
            raise HTTPException(401, "the admin API needs 'Authorization: Bearer <admin token>'")

    router = APIRouter(dependencies=[Depends(guard)])
    backend = emulation.backend

    @router.get("/openapi.json", include_in_schema=False)
    def openapi_schema() -> dict[str, Any]:
        return openapi()

    @router.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/_emulator/openapi.json", title="Elastic Jobs emulator: admin API")

    @router.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "executions": backend.store.count("Microsoft.Sql/servers/jobAgents/executions"),
        }

    @router.put("/identities/{client_id}", status_code=204)
    def register_identity(client_id: str, spec: IdentitySpec) -> None:
        """Register a service principal that the emulated Entra ID issues client-credentials tokens to."""
        emulation.directory.register(spec.tenant_id, client_id, spec.client_secret)

    @router.get("/ping", response_class=PlainTextResponse)
    async def ping() -> str:
        """The stack's own ceiling for benchmarks: the cheapest answer this server can give."""
        return "pong"

    @router.get("/requests")
    def requests(since: int = 0) -> list[dict[str, Any]]:
        """The ARM requests after ``since`` that the log still holds: the newest ``history`` entries."""
        return emulation.requests_since(since)

    @router.delete("/requests", status_code=204)
    def clear_requests() -> None:
        emulation.requests.clear()

    @router.post("/faults", status_code=201)
    def add_fault(spec: FaultSpec) -> dict[str, Any]:
        try:
            return emulation.faults.add(**spec.model_dump()).describe()
        except Exception as error:
            raise HTTPException(400, str(error)) from None

    @router.get("/faults")
    def list_faults() -> list[dict[str, Any]]:
        return emulation.faults.list()

    @router.delete("/faults", status_code=204)
    def clear_faults() -> None:
        emulation.faults.clear()

    @router.put("/behaviors/{job_name}")
    def set_behavior(job_name: str, spec: BehaviorSpec) -> dict[str, Any]:
        backend.behaviors[job_name.lower()] = Behavior(**spec.model_dump())
        return spec.model_dump()

    @router.delete("/behaviors", status_code=204)
    def clear_behaviors() -> None:
        backend.behaviors.clear()

    @router.put("/denied-reads/{subscription}")
    def deny_reads(subscription: str, spec: DeniedReadsSpec) -> dict[str, list[str]]:
        """Deny these identities every read (GET) in the subscription: ARM answers them 403 AuthorizationFailed,
        as it does a client with no reader role there. Writes stay allowed."""
        try:
            emulation.access.deny(subscription, spec.client_ids)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        return emulation.access.denied()

    @router.get("/denied-reads")
    def denied_reads() -> dict[str, list[str]]:
        return emulation.access.denied()

    @router.delete("/denied-reads", status_code=204)
    def allow_reads(subscription: str | None = None) -> None:
        """Allow reads again: in one subscription (``?subscription=``), or everywhere."""
        emulation.access.allow(subscription)

    @router.get("/settings")
    def get_settings() -> dict[str, Any]:
        return {
            "time_scale": backend.clock.time_scale,
            "async_put": backend.async_put,
            "clock_offset_seconds": backend.clock.offset_seconds,
            "poll_hints": backend.poll_hints,
            "token_lifetime_seconds": emulation.directory.token_lifetime_seconds,
        }

    @router.put("/settings")
    def put_settings(spec: SettingsSpec) -> dict[str, Any]:
        if spec.time_scale is not None:
            backend.clock.time_scale = spec.time_scale
        if spec.async_put is not None:
            backend.async_put = spec.async_put
        if spec.poll_hints is not None:
            backend.poll_hints = spec.poll_hints
        if spec.token_lifetime_seconds is not None:
            emulation.directory.token_lifetime_seconds = spec.token_lifetime_seconds
        if spec.clock_offset_seconds is not None:
            backend.clock.offset_seconds = spec.clock_offset_seconds
        return get_settings()

    @router.delete("/resources", status_code=204)
    def forget(id: str) -> None:
        """Forget a resource and its children, as ARM does when execution history is cleaned up."""
        if not backend.store.delete(id):
            raise HTTPException(404, f"no resource {id}")

    @router.post("/seed")
    def seed(fixture: dict[str, Any]) -> dict[str, Any]:
        """Apply a fixture; its ``strictSubscriptions`` turn strict mode on (see the seed format)."""
        try:
            return {"created": emulation.apply_seed(fixture)}
        except ValueError as error:
            raise HTTPException(400, str(error)) from None

    @router.post("/reset", status_code=204)
    def reset() -> None:
        backend.store.reset()
        emulation.access.allow()
        backend.behaviors.clear()
        emulation.faults.clear()
        emulation.requests.clear()

    return router
