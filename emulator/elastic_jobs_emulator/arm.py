"""What every ARM answer of the emulator shares, whichever resource it is about: errors with ARM's codes, name
and body checks, the service's way of leaving out absent values, and list pages with ``nextLink``.

Below the resources' rooms (``backend`` for the jobs, ``fleet`` for servers, databases and pools), which all
answer through it; no HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError

from .store import Document

PAGE_SIZE = 100
"""Items per list page (the swagger's ``x-ms-pageable`` lists; a full page carries a ``nextLink``)."""


class ArmFailure(Exception):
    """An ARM error answer: its status, ARM code, message and (optionally) the parameter it is about."""

    def __init__(self, status: int, code: str, message: str, target: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.target = status, code, message, target

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


def check_name(what: str, value: str, rule: Callable[[str], str | None]) -> None:
    """400 ``InvalidParameter`` naming ``what`` when ``rule`` finds a problem with the name."""
    problem = rule(value)
    if problem:
        raise ArmFailure(400, "InvalidParameter", f"The parameter {what} {problem}.", what)


def validated(model: type[BaseModel], body: Any) -> dict[str, Any]:
    """A request body as the wire model reads it (camelCase, absent values left out); 400 when it does not fit."""
    if not isinstance(body, dict):
        raise ArmFailure(400, "InvalidRequestContent", "The request content must be a JSON object.")
    try:
        return model.model_validate(body).model_dump(mode="json", by_alias=True, exclude_none=True)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ArmFailure(400, "InvalidRequestContent", f"Invalid value for '{where}': {first['msg']}.", where) from None


def present(values: Document) -> Document:
    """Properties without the absent ones: the service omits a value it does not have (the schema has no null)."""
    return {
        key: present(value) if isinstance(value, dict) else value for key, value in values.items() if value is not None
    }


def public(doc: Document) -> Document:
    """A stored document without the emulator's own bookkeeping (keys starting with ``_``)."""
    return {key: value for key, value in doc.items() if not key.startswith("_")}


def not_found(kind: str, name: str) -> ArmFailure:
    """The service's 404 for a resource its provider does not have, in its words (recorded for the jobs)."""
    return ArmFailure(
        404, "ResourceNotFound", f"The requested resource of type '{kind}' with name '{name}' was not found."
    )


def int_param(value: str | None, name: str) -> int | None:
    """A non-negative integer query parameter, or None when absent; 400 ``InvalidParameter`` otherwise."""
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ArmFailure(400, "InvalidParameter", f"{name} must be an integer.", name) from None
    if number < 0:
        raise ArmFailure(400, "InvalidParameter", f"{name} must not be negative.", name)
    return number


def offset_page(
    fetch: Callable[[int, int], list[Document]], query: dict[str, str], base_url: str, cursor: str = "$skipToken"
) -> Document:
    """One page of a listing the store pages itself: ``fetch(offset, limit)`` reads at most ``limit`` documents
    from ``offset``. The page starts where ``cursor`` (``$skipToken``, or ``$skip`` where the swagger names that)
    says, and carries a ``nextLink`` to the next one only when more follow (no ``nextLink`` key otherwise, as the
    service answers)."""
    offset = int_param(query.get(cursor), cursor) or 0
    found = fetch(offset, PAGE_SIZE + 1)
    body: Document = {"value": found[:PAGE_SIZE]}
    if len(found) > PAGE_SIZE:
        rest = {k: v for k, v in query.items() if k != cursor}
        rest[cursor] = str(offset + PAGE_SIZE)
        body["nextLink"] = f"{base_url}?{urlencode(rest)}"
    return body
