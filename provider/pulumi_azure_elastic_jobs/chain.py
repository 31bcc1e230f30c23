"""A resource's chain of derived execution ids, and how to tell from an id alone which chain it belongs to. No I/O.

A resource that names no ``job_execution_id`` runs under ids derived from what makes it *this* intent (its
execution key, the job's coordinates, its triggers) and a generation number: generation 0 for its first run,
then the next free one for each later life (destroy then up, a replacement). Every id of a chain is a UUIDv8
(RFC 9562) laid out as a 90-bit fingerprint of that material followed by the 32-bit generation, so any
execution id the service lists is recognised as one of this chain's, and its generation read, in constant time:
no search over generations, however long the chain's history or however many gaps history clean-up left in it.

Chains derived before this layout (UUIDv5 per generation) are still recognised for their first
:data:`LEGACY_GENERATIONS` generations, so a run that an older release started and that is still active is
attached to, not run a second time, after an upgrade.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

EXECUTION_ID_NAMESPACE = uuid.UUID("6f0d5c1e-8a51-4b8e-9a2f-61a1c0e7d7a1")
"""The UUIDv5 namespace of the ids that releases before the UUIDv8 layout derived."""
LEGACY_GENERATIONS = 256
"""How many generations of a pre-UUIDv8 chain are recognised (hashed once, only when an old-style id is listed)."""
MAX_GENERATION = 2**32 - 1

_VERSION_NIBBLE, _VARIANT_BITS = 0x80, 0x80
T = TypeVar("T")


@dataclass(frozen=True)
class ExecutionChain:
    """The ids of one chain: ``id(generation)`` and its inverse ``generation_of(execution_id)``."""

    material: str
    """The serialized identity the ids derive from (stable across releases: it is also the legacy ids' input)."""

    @classmethod
    def of(cls, execution_key: str, coordinates: Iterable[str], triggers: Mapping[str, object]) -> ExecutionChain:
        """The chain of a resource: its key, its job's coordinates (compared case-insensitively, as ARM does), and
        its triggers (any JSON-like map; key order does not matter)."""
        parts = [execution_key, *(part.lower() for part in coordinates), triggers]
        return cls(json.dumps(parts, sort_keys=True, default=str))

    @cached_property
    def prefix(self) -> bytes:
        """The first 12 bytes every id of this chain shares (the fingerprint, with the UUID version and variant)."""
        digest = bytearray(hashlib.sha256(self.material.encode()).digest()[:12])
        digest[6] = _VERSION_NIBBLE | (digest[6] & 0x0F)
        digest[8] = _VARIANT_BITS | (digest[8] & 0x3F)
        return bytes(digest)

    def id(self, generation: int) -> str:
        """The execution id of the ``generation``-th run (0-based); lowercase, as ARM echoes ids."""
        if not 0 <= generation <= MAX_GENERATION:
            raise ValueError(f"generation must be between 0 and {MAX_GENERATION}, got {generation}")
        return str(uuid.UUID(bytes=self.prefix + generation.to_bytes(4, "big")))

    def generation_of(self, execution_id: str) -> int | None:
        """The generation of ``execution_id`` in this chain, or None when the id is not one of this chain's."""
        try:
            raw = uuid.UUID(execution_id).bytes
        except (ValueError, AttributeError, TypeError):
            return None
        if raw[:12] == self.prefix:
            return int.from_bytes(raw[12:], "big")
        if raw[6] >> 4 == 5:
            return self._legacy_generations.get(str(uuid.UUID(bytes=raw)))
        return None

    def legacy_id(self, generation: int) -> str:
        """The id an older release derived for ``generation`` (UUIDv5 of the material with the generation)."""
        head = self.material[: -len("]")]
        return str(uuid.uuid5(EXECUTION_ID_NAMESPACE, f"{head}, {generation}]"))

    @cached_property
    def _legacy_generations(self) -> dict[str, int]:
        return {self.legacy_id(generation): generation for generation in range(LEGACY_GENERATIONS)}

    def newest_of(self, executions: Mapping[str, T]) -> tuple[str, T] | None:
        """Among ``executions`` (by execution id), this chain's with the highest generation, with its id; or None."""
        mine = [
            (generation, execution_id, execution)
            for execution_id, execution in executions.items()
            if (generation := self.generation_of(execution_id)) is not None
        ]
        if not mine:
            return None
        _, execution_id, execution = max(mine, key=lambda item: item[0])
        return execution_id, execution
