"""Fixtures for the engine layer: the real dynamic-provider plugin, configured for the session's emulator."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from tests.engine.harness import Engine, EngineLog, NativePlugin, Plugin, Registration, run_program

SECRET_CLIENT_SECRET = "planted-client-secret-6f1e9c"
AGENT = {"resource_group_name": "group1", "server_name": "server1", "job_agent_name": "agent1"}
"""The seeded job agent's coordinates, as resource inputs."""


def configured_plugin(emulator: Emulator, engine_address: str | None = None, **env: str) -> Plugin:
    """A fresh dynamic-provider plugin process, configured as the engine would for ``emulator``."""
    plugin = Plugin(env=env, engine_address=engine_address)
    plugin.configure(
        {
            "azure-elastic-jobs:endpoint": emulator.url,
            "azure-elastic-jobs:token": emulator.token,
            "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
            "azure-elastic-jobs:clientSecret": SECRET_CLIENT_SECRET,
        }
    )
    return plugin


@pytest.fixture(scope="session")
def plugin(emulator: Emulator) -> Iterator[Plugin]:
    running = configured_plugin(emulator)
    yield running
    running.kill()


@pytest.fixture
def own_plugin(own_emulator: Emulator) -> Iterator[Plugin]:
    running = configured_plugin(own_emulator)
    yield running
    running.kill()


@pytest.fixture
def engine(plugin: Plugin) -> Engine:
    return Engine(plugin)


Declare = Callable[..., list[Registration]]


@pytest.fixture
def declare() -> Declare:
    """Run a one-resource program in a stack of its own: declare(name="run", **JobExecution kwargs)."""
    stack = f"test-{uuid.uuid4().hex[:8]}"

    def run(name: str = "run", **kwargs: Any) -> list[Registration]:
        from pulumi_azure_elastic_jobs import JobExecution

        def program() -> None:
            options = {**AGENT, "job_name": "nightly-migration", **kwargs}
            JobExecution(name, **options)

        return run_program(program, project="tests", stack=stack)

    return run


@pytest.fixture
def engine_log() -> Iterator[EngineLog]:
    log = EngineLog()
    yield log
    log.stop()


@pytest.fixture
def native(emulator: Emulator, engine_log: EngineLog) -> Iterator[NativePlugin]:
    plugin = NativePlugin(engine_log.address, emulator)
    yield plugin
    plugin.kill()
