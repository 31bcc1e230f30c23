"""The emulator's state: ARM resources as JSON documents in SQLite, keyed by their lowercased ARM id.

In memory by default; with a data directory the database is a file in WAL mode and every write is one
transaction, so a ``kill -9`` loses nothing that was answered. One connection behind one lock: the emulator's
requests are short and SQLite serializes writers anyway.

Every listing is an index range, never a scan of the store: children by (parent, kind), everything below an id by
(kind, key) as a key range, and a resource by its ``lookup`` (a second key it is found by: a server by its
globally unique name, a database by its elastic pool). Listings page in SQL (``offset``, ``limit``), so a page of
a thousand-database server decodes one page of documents.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Document = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    key TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL,
    lookup TEXT
);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS resources_by_parent ON resources (parent, kind);
CREATE INDEX IF NOT EXISTS resources_by_kind ON resources (kind, key);
CREATE INDEX IF NOT EXISTS resources_by_lookup ON resources (lookup, kind);
"""


CHILDREN = "SELECT doc FROM resources WHERE parent = ? AND kind = ? ORDER BY rowid LIMIT ? OFFSET ?"
BELOW = "SELECT doc FROM resources WHERE kind = ? AND key >= ? AND key < ? ORDER BY rowid LIMIT ? OFFSET ?"
BY_LOOKUP = "SELECT doc FROM resources WHERE lookup = ? AND kind = ? ORDER BY rowid LIMIT ? OFFSET ?"
"""The listings, each an index range (``test_fleet_expansion`` holds them to it), a page at a time."""


def key_of(arm_id: str) -> str:
    """ARM ids are case-insensitive: one spelling for lookups."""
    return arm_id.rstrip("/").lower()


def _below(arm_id: str) -> tuple[str, str]:
    """The key range of everything below ``arm_id``: from ``id/`` up to ``id0`` (``0`` sorts right after ``/``),
    which an index serves as a range."""
    key = key_of(arm_id)
    return f"{key}/", f"{key}0"


def _window(offset: int, limit: int | None) -> tuple[int, int]:
    """The values of a page's ``LIMIT ? OFFSET ?`` (a limit of -1 is none)."""
    return (-1 if limit is None else limit), offset


class Store:
    def __init__(self, data_dir: Path | None = None) -> None:
        self.path = (data_dir / "emulator.sqlite3") if data_dir else None
        if data_dir:
            data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(self.path) if self.path else ":memory:", check_same_thread=False, isolation_level=None
        )
        if self.path:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(resources)")}
        if "lookup" not in columns:  # a data directory written before servers, databases and pools were modelled
            self._db.execute("ALTER TABLE resources ADD COLUMN lookup TEXT")
        self._db.executescript(_INDEXES)
        self._lock = threading.RLock()
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """A number that changes with every write (and every rolled-back transaction): what was read from the
        store at one epoch is still what the store holds while the epoch is the same."""
        with self._lock:
            return self._epoch

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group reads and writes atomically (a PUT that checks, then writes, must not interleave).

        Re-entrant: a transaction opened inside another joins it."""
        with self._lock:
            if self._db.in_transaction:
                yield self
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._db.execute("ROLLBACK")
                self._epoch += 1
                raise
            self._db.execute("COMMIT")

    def get(self, arm_id: str) -> Document | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM resources WHERE key = ?", (key_of(arm_id),)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, arm_id: str, parent_id: str, kind: str, doc: Document, lookup: str | None = None) -> None:
        """Create or replace a resource; ``lookup`` is the second key it is found by (``by_lookup``), if any."""
        with self._lock:
            self._epoch += 1
            self._db.execute(
                # An upsert keeps the rowid, so rowid order is creation order.
                "INSERT INTO resources (key, parent, kind, doc, lookup) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET doc = excluded.doc, lookup = excluded.lookup",
                (key_of(arm_id), key_of(parent_id), kind, json.dumps(doc), None if lookup is None else lookup.lower()),
            )

    def delete(self, arm_id: str) -> bool:
        """Delete a resource and everything below it; True when it existed."""
        low, high = _below(arm_id)
        with self._lock:
            self._epoch += 1
            cursor = self._db.execute(
                "DELETE FROM resources WHERE key = ? OR (key >= ? AND key < ?)", (key_of(arm_id), low, high)
            )
        return cursor.rowcount > 0

    def children(self, parent_id: str, kind: str, offset: int = 0, limit: int | None = None) -> list[Document]:
        """The resources of ``kind`` directly below ``parent_id``, in creation order (a page of them)."""
        bounds = _window(offset, limit)
        with self._lock:
            rows = self._db.execute(
                CHILDREN,
                (key_of(parent_id), kind, *bounds),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def descendants(self, ancestor_id: str, kind: str, offset: int = 0, limit: int | None = None) -> list[Document]:
        """The resources of ``kind`` anywhere below ``ancestor_id``, in creation order (a page of them)."""
        low, high = _below(ancestor_id)
        bounds = _window(offset, limit)
        with self._lock:
            rows = self._db.execute(
                BELOW,
                (kind, low, high, *bounds),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def by_lookup(self, lookup: str, kind: str, offset: int = 0, limit: int | None = None) -> list[Document]:
        """The resources of ``kind`` put with this ``lookup`` key, in creation order (a page of them)."""
        bounds = _window(offset, limit)
        with self._lock:
            rows = self._db.execute(
                BY_LOOKUP,
                (lookup.lower(), kind, *bounds),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def count(self, kind: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM resources WHERE kind = ?", (kind,)).fetchone()[0])

    def reset(self) -> None:
        with self._lock:
            self._epoch += 1
            self._db.execute("DELETE FROM resources")
