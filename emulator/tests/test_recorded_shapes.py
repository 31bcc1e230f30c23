"""The emulator answers the way the live service did when Azure SDK teams recorded it, by default, point by point.

The recordings are in ``../shared/recordings`` (a .NET SDK session of 2018 and a Python SDK session of 2020, both
api-version 2017-03-01-preview); docs/emulator.md says which answers come from them, which from the 2025-01-01
swagger, and which are guesses. Each test here holds one recorded point against the default emulator over a real
socket; the swagger-only variations (202 with operation URLs, ``Retry-After``) are held where they are offered.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import ExecutionRef, JobRef
from tests.conftest import HELD, SEED, TIME_SCALE, job_ref, new_job

API = {"api-version": "2025-01-01"}
RECORDED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,6}[1-9])?Z")
"""UTC with ``Z``; a fraction of 1 to 7 digits with no trailing zero, or none (``:01Z``, ``.92Z``, ``.0433333Z``)."""
JOB_TYPE = "Microsoft.Sql/servers/jobAgents/jobs"


def arm(emulator: Emulator, method: str, path: str, **params: str) -> requests.Response:
    return requests.request(
        method,
        f"{emulator.url}{path}",
        params={**API, **params},
        headers={"Authorization": "Bearer recorded"},
        timeout=10,
    )


def until(read: Callable[[], Any], holds: Callable[[Any], bool], within: float = 20.0) -> Any:
    """Read until what is read holds (the emulator's clock moves the run; this only waits for it)."""
    deadline = time.monotonic() + within
    while True:
        value = read()
        if holds(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


def execution(emulator: Emulator, ref: ExecutionRef) -> dict[str, Any]:
    answer = arm(emulator, "GET", ref.path)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def ended(emulator: Emulator, ref: ExecutionRef) -> dict[str, Any]:
    body: dict[str, Any] = until(lambda: execution(emulator, ref), lambda b: b["properties"]["lifecycle"] not in ACTIVE)
    assert body["properties"]["lifecycle"] not in ACTIVE, body
    return body


ACTIVE = ("Created", "WaitingForChildJobExecutions")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """The emulator as it starts by default (the session's sends poll hints to keep the suite fast)."""
    with Emulator(seed=SEED, time_scale=TIME_SCALE) as running:
        yield running


@pytest.fixture
def quick_job(client: ElasticJobsClient) -> JobRef:
    return new_job(client, script="SELECT 1; -- emulator:duration=1")


@pytest.fixture
def finished(emulator: Emulator, quick_job: JobRef) -> Iterator[tuple[ExecutionRef, dict[str, Any]]]:
    ref = quick_job.execution(str(uuid.uuid4()))
    assert arm(emulator, "PUT", ref.path).status_code == 201
    body = ended(emulator, ref)
    assert body["properties"]["lifecycle"] == "Succeeded"
    yield ref, body


def every_value(document: Any) -> Iterator[Any]:
    if isinstance(document, dict):
        for value in document.values():
            yield value
            yield from every_value(value)
    elif isinstance(document, list):
        for value in document:
            yield from every_value(value)


def test_a_put_of_a_new_id_answers_201_with_the_created_run_and_no_location_or_async_headers(
    emulator: Emulator, quick_job: JobRef
) -> None:
    execution_id = str(uuid.uuid4())
    answer = arm(emulator, "PUT", quick_job.execution(execution_id).path)
    assert answer.status_code == 201
    assert not {"Location", "Azure-AsyncOperation", "Retry-After", "retry-after-ms"} & set(answer.headers)
    body = answer.json()
    assert body["name"] == execution_id and body["properties"]["jobExecutionId"] == execution_id
    assert body["properties"]["lifecycle"] == "Created" and body["properties"]["provisioningState"] == "Created"
    assert body["properties"]["lastMessage"] == "Job execution created."
    assert body["type"] == "Microsoft.Sql/servers/jobAgents/jobs/executions"
    assert "startTime" not in body["properties"]


def test_a_running_job_execution_waits_for_its_steps(emulator: Emulator, client: ElasticJobsClient) -> None:
    ref = new_job(client, script=HELD).execution(str(uuid.uuid4()))
    arm(emulator, "PUT", ref.path)
    running = until(lambda: execution(emulator, ref), lambda b: b["properties"]["lifecycle"] != "Created")
    properties = running["properties"]
    assert properties["lifecycle"] == "WaitingForChildJobExecutions"
    assert properties["provisioningState"] == "InProgress"
    assert properties["lastMessage"] == "Job execution waiting for job steps to complete."
    assert "endTime" not in properties and properties["startTime"]
    client.cancel_execution(ref)


def test_a_job_execution_counts_no_attempts_of_its_own_while_steps_and_targets_do(
    emulator: Emulator, client: ElasticJobsClient, finished: tuple[ExecutionRef, dict[str, Any]]
) -> None:
    ref, body = finished
    created = arm(emulator, "PUT", new_job(client, script=HELD).execution(str(uuid.uuid4())).path).json()
    for job_level in (created["properties"], body["properties"]):
        assert job_level["currentAttempts"] == 0 and "currentAttemptStartTime" not in job_level
    for child in (*arm(emulator, "GET", f"{ref.path}/steps").json()["value"], *targets(emulator, ref)):
        assert child["properties"]["currentAttempts"] == 1 and child["properties"]["currentAttemptStartTime"]


def targets(emulator: Emulator, ref: ExecutionRef) -> list[dict[str, Any]]:
    answer = arm(emulator, "GET", f"{ref.path}/targets")
    assert answer.status_code == 200, answer.text
    value: list[dict[str, Any]] = answer.json()["value"]
    return value


def test_times_are_utc_with_a_trimmed_fraction_and_creation_on_300ths_of_a_second(
    emulator: Emulator, finished: tuple[ExecutionRef, dict[str, Any]]
) -> None:
    ref, body = finished
    documents = [body, *arm(emulator, "GET", f"{ref.path}/steps").json()["value"], *targets(emulator, ref)]
    stamps = [
        (name, value)
        for document in documents
        for name, value in document["properties"].items()
        if name.endswith("Time")
    ]
    assert len(stamps) >= 10
    for name, value in stamps:
        assert RECORDED_TIME.fullmatch(value), (name, value)
    fraction = body["properties"]["createTime"][20:-1] or "0"
    ticks = int(fraction.ljust(7, "0"))
    assert round(ticks * 300 / 10_000_000) * 10_000_000 // 300 == ticks, body["properties"]["createTime"]


def test_unknown_values_are_absent_never_null(
    emulator: Emulator, client: ElasticJobsClient, finished: tuple[ExecutionRef, dict[str, Any]]
) -> None:
    ref, body = finished
    active = new_job(client, script=HELD).execution(str(uuid.uuid4()))
    answers = [
        body,
        arm(emulator, "PUT", active.path).json(),
        arm(emulator, "GET", f"{ref.path}/steps").json(),
        arm(emulator, "GET", f"{ref.path}/targets").json(),
        arm(emulator, "GET", ref.job.path + "/executions").json(),
    ]
    assert not [answer for answer in answers if None in every_value(answer)]
    client.cancel_execution(active)


def test_step_executions_are_named_by_the_step_created_at_the_runs_start_and_worded_by_its_number(
    emulator: Emulator, finished: tuple[ExecutionRef, dict[str, Any]]
) -> None:
    ref, body = finished
    (step,) = arm(emulator, "GET", f"{ref.path}/steps").json()["value"]
    assert step["name"] == "step1" and step["id"] == f"{ref.arm_id}/steps/step1"
    assert step["type"] == "Microsoft.Sql/servers/jobAgents/jobs/executions/steps"
    assert step["properties"]["createTime"] == body["properties"]["startTime"]
    assert step["properties"]["stepId"] == 1 and step["properties"]["lastMessage"] == "Step 1 succeeded."


def test_target_executions_are_lower_case_guids_under_their_step_worded_with_server_and_database(
    emulator: Emulator, finished: tuple[ExecutionRef, dict[str, Any]]
) -> None:
    ref, _ = finished
    listed = targets(emulator, ref)
    assert listed
    for target in listed:
        name = target["name"]
        assert name == str(uuid.UUID(name)) and target["id"] == f"{ref.arm_id}/steps/step1/targets/{name}"
        where = target["properties"]["target"]
        assert set(where) == {"type", "serverName", "databaseName"}
        assert target["properties"]["lastMessage"] == (
            f"Step 1 succeeded execution on target (server '{where['serverName']}', "
            f"database '{where['databaseName']}')."
        )
        one = arm(emulator, "GET", f"{ref.path}/steps/step1/targets/{name}")
        assert one.status_code == 200 and one.json() == target


def test_lists_have_no_next_link_unless_a_page_is_full_and_an_empty_list_is_an_empty_value(
    emulator: Emulator, client: ElasticJobsClient, finished: tuple[ExecutionRef, dict[str, Any]]
) -> None:
    ref, _ = finished
    page = arm(emulator, "GET", f"{ref.job.path}/executions").json()
    assert set(page) == {"value"} and len(page["value"]) == 1
    empty = new_job(client)
    assert arm(emulator, "GET", f"{empty.path}/executions").json() == {"value": []}


@pytest.mark.parametrize("listing", ["targets", "steps/step1/targets", "../../executions"])
def test_the_time_and_activity_filters_and_top_are_accepted_on_executions_and_both_target_lists(
    emulator: Emulator, finished: tuple[ExecutionRef, dict[str, Any]], listing: str
) -> None:
    ref, _ = finished
    path = f"{ref.job.path}/executions" if listing.startswith("..") else f"{ref.path}/{listing}"
    everything = arm(emulator, "GET", path).json()["value"]
    assert everything
    assert len(arm(emulator, "GET", path, **{"$top": "1"}).json()["value"]) == 1
    assert arm(emulator, "GET", path, isActive="true").json() == {"value": []}
    assert arm(emulator, "GET", path, isActive="false").json()["value"] == everything
    future = "2999-01-01T00:00:00Z"
    for name, empty in (("createTimeMin", True), ("createTimeMax", False), ("endTimeMin", True), ("endTimeMax", False)):
        answer = arm(emulator, "GET", path, **{name: future})
        assert answer.status_code == 200 and (answer.json()["value"] == []) is empty, (name, answer.text)


def test_a_missing_parent_is_resource_not_found_naming_the_parents_type_and_name(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    missing = JobRef(job.subscription_id, job.resource_group_name, job.server_name, job.job_agent_name, "gone-job")
    for method, path in (
        ("DELETE", f"{missing.path}/steps/step1"),
        ("PUT", missing.execution(str(uuid.uuid4())).path),
        ("GET", missing.execution(str(uuid.uuid4())).path),
        ("GET", f"{missing.path}/executions"),
    ):
        answer = arm(emulator, method, path)
        assert answer.status_code == 404, (method, path)
        assert answer.json()["error"] == {
            "code": "ResourceNotFound",
            "message": f"The requested resource of type '{JOB_TYPE}' with name 'gone-job' was not found.",
        }, (method, path)


def test_deleting_a_job_with_finished_runs_answers_200_with_an_empty_body(
    emulator: Emulator, finished: tuple[ExecutionRef, dict[str, Any]]
) -> None:
    ref, _ = finished
    answer = arm(emulator, "DELETE", ref.job.path)
    assert answer.status_code == 200 and answer.content == b""
    assert arm(emulator, "GET", ref.path).status_code == 404


def test_a_run_the_service_skips_ends_skipped_and_provisioned_canceled(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script=HELD)
    emulator.set_behavior(job.job_name, skip_while_active=True)
    first, second = (job.execution(str(uuid.uuid4())) for _ in range(2))
    arm(emulator, "PUT", first.path)
    arm(emulator, "PUT", second.path)
    skipped = ended(emulator, second)["properties"]
    assert skipped["lifecycle"] == "Skipped" and skipped["provisioningState"] == "Canceled"
    assert skipped["lastMessage"] == "Job execution skipped." and skipped["startTime"] and skipped["endTime"]
    assert execution(emulator, first)["properties"]["lifecycle"] in ACTIVE
    client.cancel_execution(first)


def test_no_retry_after_by_default_and_the_hint_only_when_asked_for() -> None:
    with Emulator(seed=SEED, time_scale=TIME_SCALE) as fresh:
        ref = job_ref("nightly-migration").execution(str(uuid.uuid4()))
        assert "Retry-After" not in arm(fresh, "PUT", ref.path).headers
        assert "Retry-After" not in arm(fresh, "GET", ref.path).headers
        fresh.settings(poll_hints=True)
        assert arm(fresh, "GET", ref.path).headers["Retry-After"]
