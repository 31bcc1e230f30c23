"""Which requests may reach the emulator at all: the checks local developer servers make against web pages.

A page the developer visits can make their browser send requests to ``127.0.0.1``: simple cross-origin requests
(a form POST, which needs no CORS preflight), and, through DNS rebinding (a name of the page's own that starts
resolving to 127.0.0.1), same-origin requests with any header and a readable answer. Jupyter and Docker's API
guard against both the way this module does, as an ASGI middleware in front of every route:

- **Host** (loopback binds only): the request must name the bound address, or ``localhost``, ``127.0.0.1`` or
  ``[::1]``. The port is not checked: in a rebinding attack the attacker controls the name, never the port (it
  must be the emulator's own to reach it), and a forwarded port (``ssh -L 9000:127.0.0.1:8443``, an editor's
  port forwarding) names another one legitimately. This applies to the ARM and Entra ID routes too, not only
  the admin API: on loopback ARM auth is off by default (any bearer token is accepted), so a rebound page could
  otherwise read every job and credential name and start runs. Bound beyond loopback the emulator always has a
  token, which no page knows, and clients may reach it under any name (``build-agent:8443``), so the Host is
  not checked there.
- **Origin**: a request that carries one must come from the emulator's own origin (``scheme://Host``);
  ``Origin: null`` (sandboxed frames, files) is cross-origin too. Azure clients send no Origin.
- **Content-Type** (admin API, mutating methods): a body must be ``application/json``. Browsers can only send
  form, multipart and text bodies without a preflight; the admin API takes none of them.

Refusals are 403 (Host, Origin) or 415 (Content-Type): an ARM ``ErrorResponse`` outside the admin API, a plain
``{"detail": ...}`` inside it, each saying what was refused and what would be accepted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger("elastic_jobs_emulator")

ADMIN_PREFIX = "/_emulator"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def host_names(bound_host: str) -> frozenset[str]:
    """The names a loopback-bound emulator answers to, lowercased; IPv6 in brackets, as in a Host header."""
    shown = f"[{bound_host}]" if ":" in bound_host and not bound_host.startswith("[") else bound_host
    return frozenset({shown.lower(), *LOOPBACK_NAMES})


def name_in(host: str) -> str | None:
    """The name of a Host header value (``name`` or ``name:port``, IPv6 in brackets), or None if malformed."""
    if host.endswith("]"):
        return host.lower()
    name, colon, port = host.rpartition(":")
    if not colon:
        return host.lower() or None
    return name.lower() if name and port.isdigit() else None


def host_problem(host: str | None, bound_host: str) -> str | None:
    name = name_in(host) if host is not None else None
    if name is not None and name in host_names(bound_host):
        return None
    shown = ", ".join(sorted(host_names(bound_host)))
    return (
        f"the Host header {host!r} does not name this emulator (it answers to {shown}, on any port); a request "
        "that names another host is refused, so that a web page cannot reach the emulator through DNS rebinding"
    )


def origin_problem(origin: str | None, host: str | None, scheme: str) -> str | None:
    if origin is None or (host is not None and origin.lower() == f"{scheme}://{host}".lower()):
        return None
    return (
        f"the request comes from another origin ({origin!r}, not {scheme}://{host}): the emulator answers no "
        "cross-origin requests, so that a web page the developer visits cannot use it"
    )


def content_type_problem(method: str, headers: dict[str, str]) -> str | None:
    if method not in MUTATING:
        return None
    content_type = headers.get("content-type")
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if content_type is None and not has_body:
        return None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return None
    return (
        f"the admin API takes JSON bodies only (Content-Type: application/json), not {content_type or 'none'!r}; "
        "so a web form cannot post to it"
    )


class RequestGuard:
    """The ASGI middleware: refuses, before any route runs, what :func:`host_problem`, :func:`origin_problem`
    and :func:`content_type_problem` describe. ``loopback_host`` is the bound address when it is a loopback
    one (Host is checked), or None when bound beyond loopback (it is not)."""

    def __init__(self, app: ASGIApp, loopback_host: str | None) -> None:
        self.app, self.loopback_host = app, loopback_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, code, text = problem
        log.warning("refused %s %s: %s", scope["method"], scope["path"], text)
        await _refuse(send, status, code, text, admin=_is_admin(scope["path"]))

    def problem(self, scope: Scope) -> tuple[int, str, str] | None:
        """(status, ARM error code, what was refused and why), or None when the request may pass."""
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        scheme, host = scope.get("scheme", "http"), headers.get("host")
        if self.loopback_host is not None:
            found = host_problem(host, self.loopback_host)
            if found:
                return 403, "HostNotAllowed", found
        found = origin_problem(headers.get("origin"), host, scheme)
        if found:
            return 403, "CrossOriginRequestRefused", found
        if _is_admin(scope["path"]):
            found = content_type_problem(scope["method"], headers)
            if found:
                return 415, "UnsupportedMediaType", found
        return None


def _is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


async def _refuse(send: Send, status: int, code: str, text: str, *, admin: bool) -> None:
    sentence = text[0].upper() + text[1:] + "."
    body: dict[str, Any] = {"detail": sentence} if admin else {"error": {"code": code, "message": sentence}}
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
