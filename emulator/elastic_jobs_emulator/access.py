"""Who may read what: the emulator's one authorization rule, denied reads of whole subscriptions.

ARM answers 403 ``AuthorizationFailed`` when the caller's role assignments do not allow an action at a scope. The
emulator grants every identity everything, except reads (``GET``) in a subscription whose reads are denied to it:
enough to test a client that meets part of a fleet it may not see (a server in a subscription its identity has no
reader role on). Writes stay allowed, so a test can still build that fleet with the same token.

An identity is the client a bearer token was issued to by the emulated Entra ID (``identity``), or, for any other
accepted token (``--token``, or any token when none is required), the one client ``TOKEN_CLIENT_ID``. A denial
names client ids, or ``*`` for every identity. Set through the admin API (``/_emulator/denied-reads``) or a seed's
``deniedReads``.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from pulumi_azure_elastic_jobs.ids import uuid_problem

from .arm import ArmFailure

EVERY_IDENTITY = "*"
TOKEN_CLIENT_ID = "elastic-jobs-emulator"  # noqa: S105 - a client's name, not a credential
"""The client of every accepted bearer token that the emulated Entra ID did not issue."""
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)


def object_id_of(client_id: str) -> str:
    """The (stable, made-up) object id of a client's service principal, as ARM names it beside the client."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"elastic-jobs-emulator/principal/{client_id.lower()}"))


def action_and_scope(path: str) -> tuple[str, str]:
    """The RBAC read action and the scope ARM checks for a GET of ``path``: the resource type chain plus
    ``/read`` (``Microsoft.Sql/servers/databases/read``), over the resource read, or for a list over the parent of
    the collection (the subscription for ``/subscriptions/S/providers/Microsoft.Sql/servers``)."""
    segments = [unquote(part) for part in path.strip("/").split("/")]
    lowered = [part.lower() for part in segments]
    if "providers" in lowered:
        at = lowered.index("providers")
        namespace, rest = segments[at + 1], segments[at + 2 :]
        action = "/".join([namespace, *rest[0::2]]) + "/read"
        # A resource is its own scope; a collection's is its parent (of a provider's top collection: what holds it).
        scope = segments if len(rest) % 2 == 0 else segments[:-1] if len(rest) > 1 else segments[:at]
        return action, "/" + "/".join(scope)
    if "resourcegroups" in lowered:
        return "Microsoft.Resources/subscriptions/resourceGroups/read", "/" + "/".join(segments[:4])
    return "Microsoft.Resources/subscriptions/read", "/" + "/".join(segments[:2])


@dataclass
class ReadAccess:
    """Subscriptions whose reads are denied, and to whom (client ids lowercased, or ``*``)."""

    _denied: dict[str, set[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deny(self, subscription: str, client_ids: Iterable[str] = (EVERY_IDENTITY,)) -> None:
        """Deny reads in ``subscription`` to these clients (``*``: every identity), beside any denied before.
        Raises ValueError for a subscription id that is not a UUID or an empty list of clients."""
        problem = uuid_problem(subscription)
        if problem:
            raise ValueError(f"a subscription id {problem}")
        clients = {client.strip().lower() for client in client_ids if client.strip()}
        if not clients:
            raise ValueError("name at least one client id, or '*' for every identity")
        with self._lock:
            self._denied.setdefault(subscription.lower(), set()).update(clients)

    def allow(self, subscription: str | None = None) -> None:
        """Allow reads again: in one subscription, or (None) everywhere."""
        with self._lock:
            if subscription is None:
                self._denied.clear()
            else:
                self._denied.pop(subscription.lower(), None)

    def denied(self) -> dict[str, list[str]]:
        """Every denial: subscription -> the clients it applies to."""
        with self._lock:
            return {subscription: sorted(clients) for subscription, clients in self._denied.items()}

    def refusal(self, client_id: str, method: str, path: str) -> ArmFailure | None:
        """ARM's 403 for a read this client may not make, in ARM's words; None when it may."""
        match = _SUBSCRIPTION.match(path)
        if method != "GET" or match is None:
            return None
        with self._lock:
            clients = self._denied.get(unquote(match.group(1)).lower())
        if not clients or not ({EVERY_IDENTITY, client_id.lower()} & clients):
            return None
        action, scope = action_and_scope(path)
        return ArmFailure(
            403,
            "AuthorizationFailed",
            f"The client '{client_id}' with object id '{object_id_of(client_id)}' does not have authorization to "
            f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
            "granted, please refresh your credentials.",
        )
