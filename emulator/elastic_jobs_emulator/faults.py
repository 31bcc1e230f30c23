"""Faults on demand: rules that make matching ARM requests fail the way real networks and services do.

A rule names a method (or any), a path pattern (a regular expression searched in the path, case-insensitive),
a kind and how many requests it applies to. Kinds: ``status`` (an ARM error answer, e.g. 429 with
Retry-After, 500, 503, 401), ``drop`` (the connection breaks before the request is handled), ``delay`` (the
answer comes late), ``act-then-drop`` (the request takes effect, then the connection breaks before the answer,
after ``delay_seconds`` of silence: the lost answer a client cannot tell from a lost request), ``async`` (a PUT
of an execution, or a POST ``start``, answers 202 with operation URLs, ``Azure-AsyncOperation`` and
``Retry-After``: the swagger's long-running reading, never recorded live, instead of the recorded 200/201).
A ``status`` rule with a raw ``body`` answers that text instead of an ARM error (a proxy's HTML page); its
``headers`` are added to the answer (a ``Location`` that points elsewhere, say).
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["status", "drop", "delay", "act-then-drop", "async"]
BEFORE_HANDLING: tuple[FaultKind, ...] = ("status", "drop", "delay", "act-then-drop")


@dataclass
class FaultRule:
    kind: FaultKind
    path: str = ""
    method: str | None = None
    count: int = 1
    status: int = 503
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    delay_seconds: float = 0.0
    polls: int = 1
    body: str | None = None
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    id: int = 0
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path, re.IGNORECASE)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and bool(self._pattern.search(path))

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_pattern", None)
        return data


class Faults:
    """Thread-safe rule list; ``take`` consumes one use of the first matching rule."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, **spec: Any) -> FaultRule:
        rule = FaultRule(**spec)
        rule.id = next(self._ids)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def take(self, method: str, path: str, kinds: tuple[FaultKind, ...] = BEFORE_HANDLING) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.kind in kinds and rule.count != 0 and rule.matches(method, path):
                    rule.count -= 1 if rule.count > 0 else 0
                    rule.hits += 1
                    return rule
        return None
