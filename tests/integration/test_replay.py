"""The client against the live service's own answers: the recorded sessions, replayed verbatim over a socket.

Each test names the recorded exchanges it relies on and asserts they were served (and how often), and the
replay fails any test in which a request went unanswered (``replaying``). Where our client makes a request the
recorded SDKs never made, the test adds a ``synthesized`` exchange, built from recorded bodies, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests

from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.errors import ExecutionFailed, NotFound
from pulumi_azure_elastic_jobs.ids import ExecutionRef, JobRef
from pulumi_azure_elastic_jobs.models import JobExecution, JobExecutionListResult
from pulumi_azure_elastic_jobs.operations import execution_outputs
from pulumi_azure_elastic_jobs.outcome import TargetOutcomes, set_status_line, set_summary_line, summary_line
from pulumi_azure_elastic_jobs.runs import HISTORY_BUDGET, job_runs
from pulumi_azure_elastic_jobs.terms import DEFAULT_API_VERSION, is_terminal
from tests.integration.replay import Exchange, Replay, net_session, one, py_session, replaying, synthesized

NET = net_session()
PY = py_session()
NET_JOB = JobRef("f28872d6-4a93-4bb1-84b9-aecb02b6af4c", "sqlcrudtest-2298", "sqlcrudtest-4623", "agent", "job1")
NET_RUN = NET_JOB.execution("20cb0c22-a168-4b8f-9bd2-049ca6ed68bf")
NET_SKIPPED = NET_JOB.execution("73132fac-8dce-4142-869d-48e4667e58b9")
PY_JOB = JobRef("00000000-0000-0000-0000-000000000000", "rgname", "myserverxpxyz", "myjobagent", "myjob")
PY_PUT_RUN = PY_JOB.execution("622ffff7-c4be-4c62-8098-3867c5db6427")
PY_STARTED_RUN = PY_JOB.execution("a52e59a7-4aad-42d7-8730-d70c3c8b38f7")
POLL = 0.05
"""The longest pause between polls in these tests: the recordings carry no ``Retry-After``, so the client's own
backoff paces them; the replay answers the next recorded poll whenever it is asked, so nothing races a timer."""

NET_START = one(NET, "POST", "/jobs/job1/start")
NET_POLLS = [e for e in NET if e.method == "GET" and e.url.split("?")[0].endswith(NET_RUN.job_execution_id)]
NET_AGENT_LISTING = one(NET, "GET", "/jobAgents/agent/executions")
NET_STEPS = one(NET, "GET", f"{NET_RUN.job_execution_id}/steps")
NET_TARGETS = one(NET, "GET", f"{NET_RUN.job_execution_id}/targets")
NET_CANCEL = one(NET, "POST", f"{NET_RUN.job_execution_id}/cancel")
PY_PUT = one(PY, "PUT", f"executions/{PY_PUT_RUN.job_execution_id}")
PY_POLL = one(PY, "GET", f"executions/{PY_PUT_RUN.job_execution_id}")
PY_STEP = one(PY, "GET", "/steps/mystep")
PY_START = one(PY, "POST", "/jobs/myjob/start")
PY_STARTED_POLL = one(PY, "GET", f"executions/{PY_STARTED_RUN.job_execution_id}")
PY_CANCEL = one(PY, "POST", f"{PY_PUT_RUN.job_execution_id}/cancel")
PY_MISSING_PARENT = one(PY, "DELETE", "/jobs/myjob/steps/mystep", status=404)


def not_found(ref: ExecutionRef, date: str | None) -> Exchange:
    """The answer to a read of an id before its PUT, which the Python session never made (its SDK PUTs blind).

    Built from the session's own 404 (``ResourceNotFound``, "The requested resource of type '…' with name '…' was
    not found.") naming the execution instead of the job, with the ``Date`` of the PUT that followed."""
    message = (
        "The requested resource of type 'Microsoft.Sql/servers/jobAgents/jobs/executions' with name "
        f"'{ref.job_execution_id}' was not found."
    )
    return synthesized(
        "GET",
        ref.path,
        404,
        {"error": {"code": "ResourceNotFound", "message": message}},
        "a read of the id before the recorded PUT, from the recorded 404's wording",
        (("Date", date),) if date else (),
    )


def listed_execution(ref: ExecutionRef) -> Exchange:
    """A GET of one execution the .NET session only ever saw in its agent listing: that listing's item, as is."""
    (item,) = [item for item in NET_AGENT_LISTING.json()["value"] if item["name"] == ref.job_execution_id]
    return synthesized("GET", ref.path, 200, item, f"the item of {NET_AGENT_LISTING.origin}'s listing for this id")


PLAN = "plan: "
"""How every answer to a plan's reads is labelled (after `synthesized: `): no recorded SDK read a plan."""


def plan_reads(job: JobRef) -> list[Exchange]:
    """The reads of a run's plan, which neither recorded session made. The .NET session's job and step are its own
    PUTs' answers (the step made the job's version 1) and its target group holds the one database its run's
    targets name; the Python session's job is given the same one step. The job's active runs list empty."""
    recorded_job, recorded_step = one(NET, "PUT", "/jobs/job1"), one(NET, "PUT", "/jobs/job1/steps/step1")
    job_body = {**recorded_job.json(), "id": unquote(job.path), "name": job.job_name}
    job_body["properties"] = {**job_body["properties"], "version": 1}
    group = f"{unquote(job.agent_path)}/targetGroups/tg1"
    step = {**recorded_step.json(), "id": f"{unquote(job.path)}/versions/1/steps/step1"}
    step["properties"] = {**step["properties"], "targetGroup": group}
    (target,) = [item["properties"]["target"] for item in NET_TARGETS.json()["value"]]
    member = {
        "membershipType": "Include",
        "type": "SqlDatabase",
        **{k: target[k] for k in ("serverName", "databaseName")},
    }
    return [
        synthesized("GET", job.path, 200, job_body, f"{PLAN}{recorded_job.origin}'s job at version 1"),
        synthesized(
            "GET", f"{job.path}/versions/1/steps", 200, {"value": [step]}, f"{PLAN}{recorded_step.origin}'s step"
        ),
        synthesized(
            "GET",
            group,
            200,
            {"name": "tg1", "properties": {"members": [member]}},
            f"{PLAN}the database {NET_TARGETS.origin} names",
        ),
        synthesized("GET", f"{job.path}/executions?isActive=true", 200, {"value": []}, f"{PLAN}no active run"),
    ]


def empty_targets(ref: ExecutionRef) -> Exchange:
    """The Python session never listed target executions; an empty listing, the shape of a recorded one."""
    return synthesized("GET", f"{ref.path}/targets", 200, {"value": []}, "an empty target listing")


@pytest.fixture
def pauses() -> list[float]:
    return []


def replay_client(replay: Replay, pauses: list[float]) -> ElasticJobsClient:
    """A client of the replay whose pauses are recorded and cut to :data:`POLL` (it never waits 30 s)."""
    import time

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(min(seconds, POLL))

    return ElasticJobsClient(replay.url, StaticToken(replay.token), retry_budget_seconds=5, sleep=sleep)


@pytest.fixture
def net(pauses: list[float]) -> Iterator[tuple[Replay, ElasticJobsClient]]:
    with replaying(NET) as replay, replay_client(replay, pauses) as client:
        yield replay, client


def parsed_time(value: str) -> datetime:
    """A recorded timestamp as an instant, to the microsecond (Python's resolution; the service sends 0-7 digits)."""
    head, _, fraction = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(head).replace(tzinfo=UTC, microsecond=int((fraction + "000000")[:6]))


# --- the .NET session: started by POST, polled without Retry-After, listed, steps and targets, cancelled --------


def test_a_run_started_by_post_answered_200_with_location_is_the_created_run_not_an_operation_to_follow(
    net: tuple[Replay, ElasticJobsClient],
) -> None:
    """The live start answers 200 with the new execution and a ``Location`` that is that execution's own URL (on
    management.azure.com): the body is the answer; following the ``Location`` would only read it again."""
    replay, client = net
    execution = client.start_execution(NET_JOB)
    assert NET_START.status == 200 and NET_START.header("Location") and not NET_START.header("Retry-After")
    assert execution.name == NET_RUN.job_execution_id
    assert execution.properties.lifecycle == "Created" and execution.properties.start_time is None
    assert execution.properties.create_time == parsed_time("2018-05-22T19:22:07.92Z")
    assert replay.sequence() == [NET_START.origin]
    assert replay.served[0].api_version == DEFAULT_API_VERSION  # our version was sent; the recording's ignored


def test_a_started_run_is_polled_through_waiting_for_child_executions_to_its_end_at_the_clients_own_pace(
    net: tuple[Replay, ElasticJobsClient], pauses: list[float]
) -> None:
    replay, client = net
    started = client.start_execution(NET_JOB)
    assert started.id is not None
    ref = ExecutionRef.parse(started.id)
    seen: list[str] = []
    final = client.wait_for_terminal(
        ref,
        timeout=60,
        poll_interval=POLL,
        on_progress=lambda latest: seen.append(str(latest[ref].properties.lifecycle)),
    )
    assert seen == ["WaitingForChildJobExecutions", "Succeeded"]  # the job-level state while steps run: active
    assert not is_terminal("WaitingForChildJobExecutions")
    assert final.properties.end_time == parsed_time("2018-05-22T19:22:41.8803248Z")
    assert final.properties.current_attempts == 0 and final.properties.current_attempt_start_time is None
    assert replay.sequence() == [NET_START.origin, *(poll.origin for poll in NET_POLLS)]
    assert pauses and max(pauses) <= POLL  # no Retry-After: the client's own backoff, capped by poll_interval


def test_steps_and_targets_of_a_run_are_read_from_listings_without_next_link(
    net: tuple[Replay, ElasticJobsClient],
) -> None:
    replay, client = net
    assert "nextLink" not in NET_STEPS.json() and "nextLink" not in NET_TARGETS.json()
    (step,) = client.list_step_executions(NET_RUN)
    assert (step.name, step.properties.step_name, step.properties.step_id) == ("step1", "step1", 1)
    assert step.properties.current_attempts == 1 and step.properties.last_message == "Step 1 succeeded."
    (target,) = client.list_target_executions(NET_RUN)
    assert target.properties.target is not None
    assert (target.properties.target.server_name, target.properties.target.database_name) == (
        "sqlcrudtest-4623",
        "sqlcrudtest-4805",
    )
    assert replay.sequence() == [NET_STEPS.origin, NET_TARGETS.origin]


def test_target_outcomes_of_the_recorded_run_count_its_one_succeeded_target(
    net: tuple[Replay, ElasticJobsClient],
) -> None:
    replay, client = net
    outcomes = client.target_outcomes(NET_RUN).output()
    assert outcomes == {
        "counts": {"Succeeded": 1},
        "problems": [],
        "problems_omitted": 0,
        "steps": 1,
        "databases": 1,
        "by_database": {"sqlcrudtest-4623/sqlcrudtest-4805": "Succeeded"},
        "complete": True,
    }
    assert replay.hits(NET_TARGETS) == 1


def test_cancelling_a_finished_run_answered_200_with_an_empty_body_and_a_location_is_a_success(
    net: tuple[Replay, ElasticJobsClient],
) -> None:
    replay, client = net
    assert NET_CANCEL.body == b"" and NET_CANCEL.header("Location")
    client.cancel_execution(NET_RUN)
    assert replay.sequence() == [NET_CANCEL.origin]


# --- the Python session: PUT of a caller-chosen id (201, no headers), a start, a step, a cancel, a 404 ---------


def test_a_put_answered_201_with_no_location_is_a_run_this_call_started_and_is_not_followed(
    pauses: list[float],
) -> None:
    assert PY_PUT.status == 201 and not PY_PUT.header("Location") and not PY_PUT.header("Azure-AsyncOperation")
    free = not_found(PY_PUT_RUN, PY_PUT.header("date"))
    with replaying([free, *PY]) as replay, replay_client(replay, pauses) as client:
        start = client.ensure_execution(PY_PUT_RUN)
        assert start.started  # created at 06:44:53.56, after the read that found the id free at 06:44:53
        assert start.execution.name == PY_PUT_RUN.job_execution_id
        assert start.execution.properties.lifecycle == "Created"
        final = client.wait_for_terminal(PY_PUT_RUN, timeout=60, poll_interval=POLL)
        assert final.properties.lifecycle == "Succeeded" and final.properties.last_message == "Job execution succeeded."
        assert replay.sequence() == [free.origin, PY_PUT.origin, PY_POLL.origin]


def test_a_start_answered_200_is_followed_by_reading_the_run_it_names(pauses: list[float]) -> None:
    with replaying(PY) as replay, replay_client(replay, pauses) as client:
        started = client.start_execution(PY_JOB)
        assert started.name == PY_STARTED_RUN.job_execution_id
        assert started.properties.create_time == parsed_time("2020-09-03T06:45:28.8533333Z")
        final = client.wait_for_terminal(PY_STARTED_RUN, timeout=60, poll_interval=POLL)
        assert final.properties.lifecycle == "Succeeded"
        assert replay.sequence() == [PY_START.origin, PY_STARTED_POLL.origin]


def test_a_step_execution_reads_with_its_attempt_and_attempt_start(pauses: list[float]) -> None:
    with replaying(PY) as replay, replay_client(replay, pauses) as client:
        step = JobExecution.model_validate(client.request("GET", f"{PY_PUT_RUN.path}/steps/mystep").json())
        assert step.properties.current_attempts == 1
        assert step.properties.current_attempt_start_time == parsed_time("2020-09-03T06:45:02.1466978Z")
        assert replay.hits(PY_STEP) == 1


def test_cancelling_a_run_that_ended_long_ago_is_a_success(pauses: list[float]) -> None:
    with replaying(PY) as replay, replay_client(replay, pauses) as client:
        client.cancel_execution(PY_PUT_RUN)
        assert replay.sequence() == [PY_CANCEL.origin]


def test_a_missing_parent_is_a_not_found_that_names_the_parent(pauses: list[float]) -> None:
    with replaying(PY) as replay, replay_client(replay, pauses) as client:
        with pytest.raises(NotFound) as missing:
            client.request("DELETE", f"{PY_JOB.path}/steps/mystep")
        assert missing.value.code == "ResourceNotFound" and "'myjob'" in str(missing.value.message)
        assert replay.hits(PY_MISSING_PARENT) == 1


def test_a_missing_parent_in_the_live_services_words_gets_the_missing_parent_hint(pauses: list[float]) -> None:
    """The live service answers a request under a deleted job ``ResourceNotFound`` naming the job (the swagger's
    ``ParentResourceNotFound`` never came); the hint must still send the user to the parent, not to history."""
    with replaying(PY) as replay, replay_client(replay, pauses) as client:
        with pytest.raises(NotFound) as missing:
            client.request("DELETE", f"{PY_JOB.path}/steps/mystep")
        assert missing.value.missing_parent
        assert "The job 'myjob' does not exist; check the names, or create it first." in str(missing.value)
        assert replay.hits(PY_MISSING_PARENT) == 1


def test_reading_an_id_under_a_deleted_job_is_an_error_not_a_free_id(pauses: list[float]) -> None:
    """Synthesized: the GET of an execution under the deleted job, answered with the session's own 404 body for a
    request under that job (verbatim). No id is free under a missing job: the read says so itself, rather than
    reporting the id free and leaving the PUT to be refused."""
    gone = synthesized("GET", PY_PUT_RUN.path, 404, PY_MISSING_PARENT.body, f"{PY_MISSING_PARENT.origin}'s body")
    with replaying([gone]) as replay, replay_client(replay, pauses) as client:
        with pytest.raises(NotFound) as missing:
            client.find_execution(PY_PUT_RUN)
        assert missing.value.missing_parent and missing.value.code == "ResourceNotFound"
        assert replay.sequence() == [gone.origin]


def test_a_missing_execution_is_not_a_missing_parent(pauses: list[float]) -> None:
    free = not_found(PY_PUT_RUN, None)
    with replaying([free]) as replay, replay_client(replay, pauses) as client:
        assert client.find_execution(PY_PUT_RUN) == (None, None)
        assert replay.sequence() == [free.origin]


def test_a_jobs_history_listed_without_next_link_is_complete_and_its_skipped_run_is_not_active(
    pauses: list[float],
) -> None:
    """Synthesized: the provider lists one job's runs with ``$top`` (the .NET SDK listed the agent's, without a
    query), answered with the recorded agent listing's body verbatim, both of whose runs are this job's. One page
    with no ``nextLink`` is the whole history, and a Skipped run is over: nothing to attach to."""
    listing = synthesized(
        "GET",
        f"{NET_JOB.path}/executions?$top={HISTORY_BUDGET + 1}",
        200,
        NET_AGENT_LISTING.body,
        f"{NET_AGENT_LISTING.origin}'s body for the job's own listing",
    )
    with replaying([listing]) as replay, replay_client(replay, pauses) as client:
        runs = job_runs(client, NET_JOB)
        assert runs.known == {NET_RUN.job_execution_id, NET_SKIPPED.job_execution_id}
        assert runs.active == {}
        assert replay.sequence() == [listing.origin]


@pytest.mark.parametrize("exchange", [*NET, *PY], ids=lambda exchange: exchange.origin)
def test_the_replay_serves_each_recorded_answer_verbatim(exchange: Exchange) -> None:
    """The replay's own promise, checked with a bare HTTP client: status, body bytes and every header that carries
    meaning as recorded, for a request spelled as our client spells it (another host, our api-version)."""
    path = urlsplit(exchange.url).path
    with replaying([exchange]) as replay:
        answer = requests.request(
            exchange.method,
            f"{replay.url}{path}?api-version={DEFAULT_API_VERSION}",
            headers={"Authorization": f"Bearer {replay.token}"},
            timeout=10,
        )
    assert answer.status_code == exchange.status and answer.content == exchange.body
    for name in ("Location", "Azure-AsyncOperation", "Retry-After", "Date", "Content-Type", "x-ms-request-id"):
        assert answer.headers.get(name) == exchange.header(name), name
    assert replay.sequence() == [exchange.origin]


def test_a_request_the_recordings_do_not_hold_is_a_miss_never_an_answer(pauses: list[float]) -> None:
    """The replay's own promise: an unrecorded request (here a listing with ``$top``) is never answered from a
    near match; it is a 501 and a recorded miss, which ``replaying`` turns into a failed test."""
    with Replay(NET) as replay, replay_client(replay, pauses) as client:
        with pytest.raises(Exception, match="NotRecorded"):
            list(client.list_executions(NET_JOB, top=5))
        assert len(replay.misses) == 1 and replay.served == []


# --- every recorded execution body: 0-, 2- and 7-digit fractions, absent fields -------------------------------


def recorded_executions() -> list[tuple[str, dict[str, Any]]]:
    """Every execution-shaped object the sessions hold (single answers and listing items), by origin."""
    found: list[tuple[str, dict[str, Any]]] = []
    for exchange in (*NET, *PY):
        if not exchange.body or "/executions" not in exchange.url or exchange.status >= 400:
            continue
        body = json.loads(exchange.body)
        for index, item in enumerate(body.get("value", [body])):
            found.append((f"{exchange.origin}[{index}]", item))
    return found


@pytest.mark.parametrize(("origin", "body"), recorded_executions(), ids=[o for o, _ in recorded_executions()])
def test_every_recorded_execution_parses_to_the_instants_it_names_and_renders_absent_fields_as_null(
    origin: str, body: dict[str, Any]
) -> None:
    execution = JobExecution.model_validate(body)
    recorded = body["properties"]
    for wire, name in [
        ("createTime", "create_time"),
        ("startTime", "start_time"),
        ("endTime", "end_time"),
        ("currentAttemptStartTime", "current_attempt_start_time"),
    ]:
        value = getattr(execution.properties, name)
        assert value == (parsed_time(recorded[wire]) if wire in recorded else None), (origin, wire)
    ref = ExecutionRef.parse(body["id"]) if "/executions/" in body["id"] and "/steps/" not in body["id"] else None
    if ref is not None:
        outputs = execution_outputs(execution, ref)
        assert outputs["lifecycle"] == recorded["lifecycle"]
        assert outputs["current_attempts"] == recorded["currentAttempts"]
        absent = [name for wire, name in (("startTime", "start_time"), ("endTime", "end_time")) if wire not in recorded]
        assert all(outputs[name] is None for name in absent)
    assert execution.to_wire()["properties"].keys() == recorded.keys()  # nothing absent comes back as null


def test_a_skipped_run_is_no_failure_in_outcomes_or_in_a_sets_lines() -> None:
    """Skipped counts as done (docs/resources.md): a set's lines do not call it "not succeeded", and a skipped
    execution among targets is no problem to list. Its count still says Skipped, so nothing hides it."""
    skipped = listed_execution(NET_SKIPPED).json()
    outcomes = TargetOutcomes.of([JobExecution.model_validate(skipped)])
    assert outcomes.counts == {"Skipped": 1} and outcomes.problems == []
    assert set_status_line(["Skipped", "Succeeded"], 2, 3.0) == "2/2 runs ended · waited 3s"
    assert set_summary_line({"nightly": "Skipped", "orders": "Failed"}) == (
        "2 runs: 1 Failed, 1 Skipped (not succeeded: orders)"
    )


def test_outputs_and_lines_survive_fractions_of_zero_two_and_seven_digits() -> None:
    """The recorded run's body with the three spellings the live service uses (``…30:01Z`` from the Python session's
    schedule, ``…07.92Z`` and a seven-digit fraction): outputs name the same instants and read back as they were
    written (a destroy compares a recorded ``create_time`` with a fresh read), and the summary's duration holds."""
    body = json.loads(NET_POLLS[1].body)
    times = {"createTime": "2018-05-22T19:30:01Z", "startTime": "2018-05-22T19:30:07.92Z"}
    body["properties"].update(times, endTime="2018-05-22T19:30:54.0433333Z")
    execution = JobExecution.model_validate(body)
    outputs = execution_outputs(execution, NET_RUN)
    for name, wire in (("create_time", "createTime"), ("start_time", "startTime"), ("end_time", "endTime")):
        assert datetime.fromisoformat(outputs[name]) == parsed_time(body["properties"][wire]), name
        assert datetime.fromisoformat(outputs[name]) == getattr(execution.properties, name), name
    assert summary_line(execution, TargetOutcomes()) == "Succeeded in 53s: Job execution succeeded."


@pytest.mark.parametrize(
    ("lifecycle", "advice"),
    [
        ("Failed", "Fix the step's script or its data, then"),
        ("TimedOut", "or raise the step's timeoutSeconds, then"),
        ("Canceled", "Someone or something cancelled the run"),
        ("Skipped", "another run of the job was active"),
    ],
)
def test_a_run_ending_in_fail_on_is_told_what_to_do_for_its_own_lifecycle(lifecycle: str, advice: str) -> None:
    """Only a failed or timed-out step has a script to fix; a cancelled or skipped run ran no faulty script."""
    message = str(ExecutionFailed(NET_RUN.arm_id, lifecycle, "Job execution ended"))
    assert advice in message and message.endswith(f"Execution: {NET_RUN.arm_id}")
    assert ("Fix the step's script" in message) == (lifecycle in ("Failed", "TimedOut"))


def test_listings_without_next_link_parse_as_one_page() -> None:
    listing = JobExecutionListResult.model_validate(NET_AGENT_LISTING.json())
    assert listing.next_link is None and [e.properties.lifecycle for e in listing.value] == ["Succeeded", "Skipped"]
