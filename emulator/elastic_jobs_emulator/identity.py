"""A minimal Microsoft Entra ID for the emulator: the client-credentials flow that ``ClientSecretCredential`` uses.

With ``authority`` pointed at the emulator (over TLS), azure-identity and MSAL read the tenant's OpenID
configuration and POST ``grant_type=client_credentials`` to its token endpoint; the emulator checks the client
secret of a registered service principal and issues an opaque token with an expiry on the service clock. ARM
requests accept those tokens until they lapse (then 401 ``ExpiredAuthenticationToken``), so the real
credential code path, secret handling and token refresh run end to end without Azure.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .backend import Bounded, Clock, History

DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0
TOKEN_PREFIX = "emulated-entra."  # noqa: S105 - the format of the tokens it issues, not a credential


@dataclass
class Directory:
    """Registered service principals and the tokens issued to them (token -> (expiry on the service clock, client
    id)).

    Issued tokens are bookkeeping bounded by ``history``: an expired one is forgotten once it is older than the
    history's seconds, and the oldest go when there are more than its size. A forgotten token of this format
    still answers ``expired``, never ``unknown`` (which an emulator without ``--token`` would let in)."""

    clock: Clock
    history: History = field(default_factory=History)
    token_lifetime_seconds: float = DEFAULT_TOKEN_LIFETIME_SECONDS
    _principals: dict[str, tuple[str, str]] = field(default_factory=dict)  # client id -> (tenant, secret)
    _issued: Bounded = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._issued = Bounded(self.history)

    def register(self, tenant_id: str, client_id: str, client_secret: str) -> None:
        with self._lock:
            self._principals[client_id.lower()] = (tenant_id.lower(), client_secret)

    def issue(self, tenant_id: str, client_id: str, client_secret: str) -> tuple[str, float] | None:
        """A new token and its lifetime in seconds, or None when the credentials do not match."""
        with self._lock:
            known = self._principals.get(client_id.lower())
            if known is None or known[0] != tenant_id.lower() or not secrets.compare_digest(known[1], client_secret):
                return None
            token = f"{TOKEN_PREFIX}{secrets.token_urlsafe(24)}"
            now = self.clock.now()
            issued = (now + self.token_lifetime_seconds, client_id)
            self._issued.add(token, issued, lapses=lambda record: record[0] <= now)
            return token, self.token_lifetime_seconds

    def state_of(self, token: str) -> str:
        """``unknown`` (not issued here), ``valid`` or ``expired``."""
        with self._lock:
            record = self._issued.get(token)
        if record is None:
            return "expired" if token.startswith(TOKEN_PREFIX) else "unknown"
        return "valid" if self.clock.now() < record[0] else "expired"

    def client_of(self, token: str) -> str | None:
        """The client id a token was issued to, or None when this Entra ID did not issue it (or forgot it)."""
        with self._lock:
            record = self._issued.get(token)
        return None if record is None else str(record[1])

    def issued_tokens(self) -> list[str]:
        """The tokens it still holds (see ``history``)."""
        with self._lock:
            return list(self._issued)

    def clear(self) -> None:
        with self._lock:
            self._principals.clear()
            self._issued.clear()


def identity_router(directory: Directory) -> APIRouter:
    router = APIRouter()

    @router.get("/{tenant}/v2.0/.well-known/openid-configuration")
    def openid_configuration(tenant: str, request: Request) -> dict[str, Any]:
        base = f"{str(request.base_url).rstrip('/')}/{tenant}"
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": None,
        }

    @router.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "AADSTS70003: only client_credentials is emulated.")
        issued = directory.issue(tenant, form.get("client_id", ""), form.get("client_secret", ""))
        if issued is None:
            return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        access_token, lifetime = issued
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": int(lifetime),
                "ext_expires_in": int(lifetime),
                "access_token": access_token,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    return router


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description, "error_codes": []}, status_code=status)
