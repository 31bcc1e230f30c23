"""The emulator's state: ARM resources as JSON documents in SQLite, keyed by their lowercased ARM id.

In memory by default; with a data directory the database is a file in WAL mode and every write is one
transaction, so a ``kill -9`` loses nothing that was answered. One connection behind one lock: the emulator's
requests are short and SQLite serializes writers anyway.
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
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_by_parent ON resources (parent, kind);
"""


def key_of(arm_id: str) -> str:
    """ARM ids are case-insensitive: one spelling for lookups."""
    return arm_id.rstrip("/").lower()


def _below(arm_id: str) -> str:
    """A LIKE pattern (escape ``\\``) for every key below ``arm_id``."""
    return key_of(arm_id).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"


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
        self._lock = threading.RLock()

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
                raise
            self._db.execute("COMMIT")

    def get(self, arm_id: str) -> Document | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM resources WHERE key = ?", (key_of(arm_id),)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, arm_id: str, parent_id: str, kind: str, doc: Document) -> None:
        with self._lock:
            self._db.execute(
                # An upsert keeps the rowid, so rowid order is creation order.
                "INSERT INTO resources (key, parent, kind, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET doc = excluded.doc",
                (key_of(arm_id), key_of(parent_id), kind, json.dumps(doc)),
            )

    def delete(self, arm_id: str) -> bool:
        """Delete a resource and everything below it; True when it existed."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM resources WHERE key = ? OR key LIKE ? ESCAPE '\\'", (key_of(arm_id), _below(arm_id))
            )
        return cursor.rowcount > 0

    def children(self, parent_id: str, kind: str) -> list[Document]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM resources WHERE parent = ? AND kind = ? ORDER BY rowid",
                (key_of(parent_id), kind),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def descendants(self, ancestor_id: str, kind: str) -> list[Document]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM resources WHERE kind = ? AND key LIKE ? ESCAPE '\\' ORDER BY rowid",
                (kind, _below(ancestor_id)),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def count(self, kind: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM resources WHERE kind = ?", (kind,)).fetchone()[0])

    def reset(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM resources")
