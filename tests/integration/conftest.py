"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.integration.byte_servers import Server, Talk, started


@pytest.fixture
def serve() -> Iterator[Callable[[Talk], Server]]:
    """Start servers of the test's own (see :mod:`.byte_servers`), closed after the test."""
    servers: list[Server] = []

    def start(talk: Talk) -> Server:
        servers.append(started(talk))
        return servers[-1]

    yield start
    for server in servers:
        server.listener.close()
