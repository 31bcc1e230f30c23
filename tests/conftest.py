"""Shared fixtures: one emulator per test session over a real socket, seeded with examples/seed.yaml."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.models import is_terminal

# Property tests: CI runs a bounded, derandomized profile (the same examples every run, found failures replayed
# first from the example database); ``--hypothesis-profile=deep`` runs thousands of cases for a long search.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True)
settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True)
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True)
# The mutation gate (tests/engine/test_mutation_gate.py) runs killers under ``mutation``: the examples of ``ci``
# without shrinking (one failing example is a kill) and without the example database (a mutant's failures must
# never be replayed against the real code).
settings.register_profile(
    "mutation",
    parent=settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    database=None,
)
settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed.yaml"
TIME_SCALE = 100.0  # a 5-emulated-second step takes 50 ms


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The session's emulator, with poll hints: its runs take milliseconds, and clients poll at its pace. The live
    service sends no hint (the emulator's default); ``own_emulator``, the model and the replays hold that pacing."""
    with Emulator(time_scale=TIME_SCALE, seed=SEED, poll_hints=True) as running:
        yield running


@pytest.fixture(scope="session")
def strict_emulator() -> Iterator[Emulator]:
    """An emulator in strict mode: only the default subscription exists, any other answers 404
    SubscriptionNotFound (the session's emulator accepts every well-formed subscription, as its default)."""
    with Emulator(time_scale=TIME_SCALE, seed=SEED, subscriptions=[DEFAULT_SUBSCRIPTION], poll_hints=True) as running:
        yield running


@pytest.fixture
def own_emulator() -> Iterator[Emulator]:
    """An emulator of this test's own: it may move the service clock (skew, or a jump that ends held runs).

    It sends no Retry-After hints, which a jump would make stale; clients poll at their own pace."""
    with Emulator(time_scale=TIME_SCALE, seed=SEED, poll_hints=False) as running:
        yield running


@pytest.fixture
def own_client(own_emulator: Emulator) -> Iterator[ElasticJobsClient]:
    with ElasticJobsClient(own_emulator.url, StaticToken(own_emulator.token), retry_budget_seconds=10) as arm:
        yield arm


HELD = "SELECT 1; -- emulator:duration=360000"
"""A step that runs for 100 emulated hours (an hour of real time at TIME_SCALE): it ends when a test moves the
service clock past it, never by racing a timer."""
HOUR_AHEAD = 3600.0 * 200


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emulator" in request.fixturenames:
        running: Emulator = request.getfixturevalue("emulator")
        running.clear_faults()
        running.clear_behaviors()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[ElasticJobsClient]:
    with ElasticJobsClient(emulator.url, StaticToken(emulator.token), retry_budget_seconds=10) as arm:
        yield arm


def job_ref(job: str = "nightly-migration") -> JobRef:
    return JobRef(DEFAULT_SUBSCRIPTION, "group1", "server1", "agent1", job)


def new_job(
    client: ElasticJobsClient,
    script: str = "SELECT 1; -- emulator:duration=5",
    execution_options: dict[str, Any] | None = None,
) -> JobRef:
    """A fresh job of its own (one step over the seeded target group), so tests never share executions."""
    ref = job_ref(f"job-{uuid.uuid4().hex[:10]}")
    client.request("PUT", ref.path, json={"properties": {"description": "test job"}})
    client.request(
        "PUT",
        f"{ref.path}/steps/step1",
        json={
            "properties": {
                "targetGroup": f"{ref.agent_path}/targetGroups/all-databases",
                "action": {"value": script},
                "executionOptions": execution_options or {"retryAttempts": 0},
            }
        },
    )
    return ref


ACTIVE = "active"


def lifecycles(client: ElasticJobsClient, job: JobRef) -> list[str]:
    """The job's runs on the server, oldest first: a finished run by its lifecycle, a run not finished as ``active``.

    A started run shows ``Created`` until the service starts it (0.2 to 6.7 s recorded, the emulator's start delay),
    then ``WaitingForChildJobExecutions``: what these tests hold is whether a run was started, attached to or
    cancelled, never how far a held run got, so a read right after an ``up`` cannot race that start (a CI failure)."""
    return [
        lifecycle if is_terminal(lifecycle) else ACTIVE
        for lifecycle in (str(e.properties.lifecycle) for e in reversed(list(client.list_executions(job))))
    ]


def in_background(work: Callable[[], None]) -> threading.Thread:
    """Run ``work`` on a daemon thread (a test joins it, or lets it die with the process)."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread
