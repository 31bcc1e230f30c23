"""Identity decisions the docs state (docs/resources.md, "Decisions about identity"), held by tests through the
native plugin: each deployment is a plugin process of its own, as the engine runs them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.conftest import ACTIVE, HELD, lifecycles, new_job
from tests.engine.harness import AGENT_CAMEL as AGENT
from tests.engine.harness import EngineLog, NativePlugin, to_struct, urn

Deployment = Callable[[], NativePlugin]


@pytest.fixture
def deployment(emulator: Emulator, engine_log: EngineLog) -> Iterator[Deployment]:
    """A fresh plugin process per call: one deployment each."""
    started: list[NativePlugin] = []

    def start() -> NativePlugin:
        started.append(NativePlugin(engine_log.address, emulator))
        return started[-1]

    yield start
    for plugin in started:
        plugin.kill()


def create(plugin: NativePlugin, name: str, inputs: dict[str, Any], stack: str = "dev") -> Any:
    checked = plugin.stub.Check(provider_pb2.CheckRequest(urn=urn(name, stack=stack), news=to_struct(inputs))).inputs
    return plugin.stub.Create(provider_pb2.CreateRequest(urn=urn(name, stack=stack), properties=checked), timeout=60)


def test_two_stacks_of_identical_names_on_one_job_share_a_chain_and_the_second_attaches(
    deployment: Deployment, client: ElasticJobsClient
) -> None:
    """Two self-managed backends, each with a stack `dev` of the same project: the same URN, so the same key."""
    job = new_job(client, script=HELD)
    first = create(deployment(), "migration", {**AGENT, "jobName": job.job_name})
    second = create(deployment(), "migration", {**AGENT, "jobName": job.job_name})
    assert second.id == first.id and lifecycles(client, job) == [ACTIVE]
    other_stack = create(deployment(), "migration", {**AGENT, "jobName": job.job_name}, stack="prod")
    assert other_stack.id != first.id and len(lifecycles(client, job)) == 2


def test_one_pinned_id_on_two_resources_is_one_run_and_destroying_either_later_cancels_it(
    deployment: Deployment, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=HELD)
    pinned = {**AGENT, "jobName": job.job_name, "jobExecutionId": str(uuid.uuid4())}
    one = create(deployment(), "one", pinned)
    other = create(deployment(), "other", pinned)
    assert one.id == other.id and lifecycles(client, job) == [ACTIVE]
    deployment().stub.Delete(provider_pb2.DeleteRequest(id=one.id, urn=urn("one"), properties=one.properties))
    assert lifecycles(client, job) == ["Canceled"]  # the other resource's run too, as documented
