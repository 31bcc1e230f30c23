"""One emulator instance's state beside its resources: the backend, faults, auth settings, the request log.

Its own room, below the routes (``app``) and the admin API (``admin``), which both use it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .access import ReadAccess
from .backend import Backend
from .faults import Faults
from .identity import Directory
from .seed import apply_seed, denied_reads_of, subscriptions_of


@dataclass
class Emulation:
    """Everything one emulator instance holds: rules (backend), faults, auth settings and the request log."""

    backend: Backend
    faults: Faults = field(default_factory=Faults)
    token: str | None = None
    admin_token: str | None = None
    """When set, the admin API (``/_emulator``) answers only requests bearing it."""
    loopback_host: str | None = None
    """The loopback address it is bound to: then only requests whose Host names it (or localhost, 127.0.0.1,
    [::1]) are served (see ``guard``). None when bound beyond loopback, where the mandatory token guards it."""
    subscriptions: set[str] | None = None
    """Strict mode: the only subscriptions that exist (lowercased); any other answers 404 ``SubscriptionNotFound``.

    ``None`` (the default) accepts every well-formed subscription id, as moto and LocalStack accept any account:
    each exists from its first use and never goes away, whatever is deleted in it."""
    access: ReadAccess = field(default_factory=ReadAccess)
    """Subscriptions whose reads are denied to some identities (403 ``AuthorizationFailed``)."""
    directory: Directory = field(init=False)
    """The emulated Entra ID: its tokens expire on the backend's service clock."""
    requests: deque[dict[str, Any]] = field(init=False)
    """The ARM request log, oldest first: bounded like every record kept beside the resources (``History``)."""
    _sequence: int = 0
    _log_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.directory = Directory(self.backend.clock, self.backend.history)
        self.requests = deque(maxlen=self.backend.history.size)

    def knows_subscription(self, subscription: str) -> bool:
        return self.subscriptions is None or subscription.lower() in self.subscriptions

    def apply_seed(self, fixture: dict[str, Any]) -> int:
        """Create what a fixture names; its ``strictSubscriptions`` turn strict mode on (or extend it), and in
        strict mode every subscription it creates resources in (or denies reads in) exists from then on; its
        ``deniedReads`` deny reads. Returns how many resources."""
        strict, used = subscriptions_of(fixture)
        denials = denied_reads_of(fixture)
        if strict is not None:
            self.subscriptions = (self.subscriptions or set()) | strict
        if self.subscriptions is not None:
            self.subscriptions |= used | set(denials)
        for subscription, clients in denials.items():
            self.access.deny(subscription, clients)
        return apply_seed(self.backend, fixture)

    def record(self, entry: dict[str, Any]) -> None:
        """Log an ARM request (its ``time`` a wall-clock second); entries older than the history's seconds go."""
        with self._log_lock:
            self._sequence += 1
            entry["seq"] = self._sequence
            self.requests.append(entry)
            self._forget_lapsed(entry["time"])

    def requests_since(self, since: int) -> list[dict[str, Any]]:
        with self._log_lock:
            self._forget_lapsed(time.time())
            return [entry for entry in self.requests if entry["seq"] > since]

    def _forget_lapsed(self, now: float) -> None:
        oldest_kept = now - self.backend.history.seconds
        while self.requests and self.requests[0]["time"] < oldest_kept:
            self.requests.popleft()
