"""The ARM client over real sockets: status codes, long-running answers, retries, errors, malformed answers."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import Counter

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient, retry_after_seconds
from pulumi_azure_elastic_jobs.errors import (
    AuthError,
    EndlessListing,
    InvalidResponse,
    NotFound,
    ServiceError,
    Throttled,
    TransportError,
    WaitTimeout,
)
from tests.conftest import SEED, TIME_SCALE, job_ref, new_job


def put_count(emulator: Emulator, since: int, method: str = "PUT") -> int:
    return sum(1 for entry in emulator.requests_log(since) if entry["method"] == method)


def last_seq(emulator: Emulator) -> int:
    log = emulator.requests_log()
    return log[-1]["seq"] if log else 0


def test_put_answers_201_then_200_for_the_same_id_without_a_second_run(client: ElasticJobsClient) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    first, second = client.put_execution(ref), client.put_execution(ref)
    assert (first.status, second.status) == (201, 200)
    assert first.execution.properties.job_execution_id == ref.job_execution_id
    assert len(list(client.list_executions(job))) == 1


def test_ensure_execution_starts_a_free_id_once_and_finds_it_the_second_time(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    since = last_seq(emulator)
    first, second = client.ensure_execution(ref), client.ensure_execution(ref)
    assert (first.started, second.started) == (True, False)
    assert [(e["method"], e["status"]) for e in emulator.requests_log(since)] == [
        ("GET", 404),
        ("PUT", 201),
        ("GET", 200),
    ]
    assert len(list(client.list_executions(job))) == 1


def test_a_put_whose_answer_is_lost_after_it_acted_counts_as_started_once(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    emulator.add_fault("act-then-drop", path=job.job_name, method="PUT", count=1)
    since = last_seq(emulator)
    outcome = client.ensure_execution(job.execution(str(uuid.uuid4())))
    puts = [(e["status"], e.get("fault")) for e in emulator.requests_log(since) if e["method"] == "PUT"]
    assert puts == [(201, "act-then-drop"), (200, None)]  # the retry met the run the lost answer had started
    assert outcome.started
    assert len(list(client.list_executions(job))) == 1


def test_a_put_answer_lost_in_a_stall_past_the_read_timeout_counts_as_started_once(emulator: Emulator) -> None:
    emulator.add_fault("act-then-drop", path="/executions/", method="PUT", count=1, delay_seconds=2)
    with ElasticJobsClient(emulator.url, StaticToken(emulator.token), read_timeout=0.5) as impatient:
        job = new_job(impatient, script="SELECT 1; -- emulator:duration=0")
        outcome = impatient.ensure_execution(job.execution(str(uuid.uuid4())))
        assert outcome.started
        assert len(list(impatient.list_executions(job))) == 1


@pytest.mark.parametrize("async_put", ["new", "always"])
def test_a_202_never_decides_whether_a_run_is_new(
    emulator: Emulator, client: ElasticJobsClient, async_put: str
) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    emulator.settings(async_put=async_put)
    try:
        first, second = client.ensure_execution(ref), client.ensure_execution(ref)
        assert (first.started, second.started) == (True, False)
        assert client.put_execution(ref).status == (202 if async_put == "always" else 200)
    finally:
        emulator.settings(async_put="never")
    assert len(list(client.list_executions(job))) == 1


@pytest.mark.parametrize("skew_seconds", [-3600.0, 3600.0])
def test_a_skewed_service_clock_does_not_change_what_counts_as_started(skew_seconds: float) -> None:
    with Emulator(time_scale=TIME_SCALE, seed=SEED, poll_hints=True) as skewed:
        skewed.settings(clock_offset_seconds=skew_seconds)
        with ElasticJobsClient(skewed.url, StaticToken(skewed.token), retry_budget_seconds=10) as arm:
            job = new_job(arm, script="SELECT 1; -- emulator:duration=0")
            ref = job.execution(str(uuid.uuid4()))
            assert arm.ensure_execution(ref).started
            assert not arm.ensure_execution(ref).started


def test_a_202_answer_is_followed_through_location_to_the_execution(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    emulator.add_fault("async", path=job.job_name, polls=2)
    result = client.put_execution(job.execution(str(uuid.uuid4())))
    assert result.status == 202
    assert result.execution.properties.lifecycle in ("Created", "WaitingForChildJobExecutions", "Succeeded")


def test_throttling_is_retried_after_the_time_the_service_asks(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client)
    emulator.add_fault("status", path=job.job_name, method="PUT", status=429, retry_after=1, count=1)
    since = last_seq(emulator)
    started = time.monotonic()
    result = client.put_execution(job.execution(str(uuid.uuid4())))
    assert result.status == 201
    assert time.monotonic() - started >= 0.95
    assert [e["status"] for e in emulator.requests_log(since)] == [429, 201]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_for_a_put(emulator: Emulator, client: ElasticJobsClient, status: int) -> None:
    job = new_job(client)
    emulator.add_fault("status", path=job.job_name, method="PUT", status=status, retry_after=0, count=2)
    assert client.put_execution(job.execution(str(uuid.uuid4()))).status == 201


def test_a_dropped_connection_during_a_put_is_retried_and_starts_one_run(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    emulator.add_fault("drop", path=job.job_name, method="PUT", count=1)
    ref = job.execution(str(uuid.uuid4()))
    result = client.put_execution(ref)
    assert result.execution.properties.job_execution_id == ref.job_execution_id
    assert len(list(client.list_executions(job))) == 1


def test_a_slow_answer_hits_the_read_timeout_and_is_retried(emulator: Emulator) -> None:
    job = job_ref()
    with ElasticJobsClient(emulator.url, StaticToken("t"), read_timeout=0.3, retry_budget_seconds=10) as client:
        emulator.add_fault("delay", path=f"{job.job_name}$", method="GET", delay_seconds=1.0, count=1)
        since = last_seq(emulator)
        client.request("GET", job.path)
    time.sleep(1.0)  # the abandoned slow answer is logged when the server finishes it
    assert put_count(emulator, since, "GET") == 2


def test_start_is_not_retried_when_the_service_may_have_acted(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client)
    emulator.add_fault("status", path=f"{job.job_name}/start", method="POST", status=500, count=1)
    with pytest.raises(ServiceError) as raised:
        client.start_execution(job)
    assert raised.value.attempts == 1
    emulator.add_fault("status", path=f"{job.job_name}/start", method="POST", status=503, retry_after=0, count=1)
    execution = client.start_execution(job)
    assert execution.properties.job_execution_id
    assert len(list(client.list_executions(job))) == 1


def test_when_the_budget_runs_out_the_error_names_status_code_request_id_and_tries(emulator: Emulator) -> None:
    job = job_ref()
    emulator.add_fault("status", path=f"{job.job_name}$", method="GET", status=503, retry_after=0.2, count=-1)
    with ElasticJobsClient(emulator.url, StaticToken("t"), retry_budget_seconds=1.0) as client:
        with pytest.raises(ServiceError) as raised:
            client.request("GET", job.path)
    error = raised.value
    assert error.status == 503 and error.code == "ServiceUnavailable"
    assert error.request_id and error.attempts >= 3
    assert f"after {error.attempts} tries" in str(error) and error.request_id in str(error)


def test_a_refused_connection_ends_in_a_transport_error() -> None:
    with ElasticJobsClient("http://127.0.0.1:9", StaticToken("t"), retry_budget_seconds=2) as client:
        with pytest.raises(TransportError) as raised:
            client.get_execution(job_ref().execution(str(uuid.uuid4())))
    assert raised.value.attempts >= 2 and "127.0.0.1:9" in str(raised.value)


def test_a_refused_connection_is_reported_after_three_tries_however_long_the_budget() -> None:
    """Nothing listening is rarely fixed by waiting: three tries, two pauses, then an error saying so, even with a
    budget of minutes (found by the generated mutants: the budget alone also ended the retries in seconds)."""
    from pulumi_azure_elastic_jobs.client import REFUSED_ATTEMPTS

    pauses: list[float] = []
    with ElasticJobsClient("http://127.0.0.1:9", StaticToken("t"), retry_budget_seconds=3, sleep=pauses.append) as c:
        with pytest.raises(TransportError) as raised:
            c.get_execution(job_ref().execution(str(uuid.uuid4())))
    assert raised.value.kind == "refused" and "connection refused, 3 tries" in str(raised.value)
    assert raised.value.attempts == REFUSED_ATTEMPTS == 3 and len(pauses) == REFUSED_ATTEMPTS - 1


def test_a_429_without_retry_after_whose_rate_limit_is_spent_waits_five_seconds(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    """ARM says a spent quota with ``x-ms-ratelimit-remaining-*: 0`` and often no ``Retry-After``: the client
    waits 5 s then (recorded here, not slept), where a plain 429 takes the backoff's fraction of a second."""
    job = new_job(client)
    spent = {"x-ms-ratelimit-remaining-subscription-reads": "0"}
    pauses: list[float] = []
    with ElasticJobsClient(emulator.url, StaticToken(emulator.token), sleep=pauses.append) as paced:
        emulator.add_fault("status", path=f"{job.job_name}$", method="GET", status=429, headers=spent, count=1)
        paced.request("GET", job.path)
        emulator.add_fault("status", path=f"{job.job_name}$", method="GET", status=429, count=1)
        paced.request("GET", job.path)
    assert pauses[0] == 5.0 and pauses[1] < 5.0, pauses


def test_a_401_after_a_fresh_token_is_an_error_not_retried_again(emulator: Emulator) -> None:
    invalidated: list[str] = []

    class Rotating(StaticToken):
        def invalidate(self) -> None:
            invalidated.append("invalidated")

    job = job_ref()
    emulator.add_fault("status", path=f"{job.job_name}$", method="GET", status=401, count=-1)
    with ElasticJobsClient(emulator.url, Rotating("t"), retry_budget_seconds=5) as rotating:
        with pytest.raises(AuthError) as refused:
            rotating.request("GET", job.path)
    assert invalidated == ["invalidated"] and "401" in str(refused.value)
    assert [rule["hits"] for rule in emulator.faults()] == [2]


def test_a_401_is_retried_once_with_a_fresh_token(emulator: Emulator, client: ElasticJobsClient) -> None:
    refreshed: list[str] = []

    class Rotating(StaticToken):
        def invalidate(self) -> None:
            refreshed.append("invalidated")

    job = job_ref()
    emulator.add_fault("status", path=f"{job.job_name}$", method="GET", status=401, count=1)
    with ElasticJobsClient(emulator.url, Rotating("t")) as rotating:
        rotating.request("GET", job.path)
    assert refreshed == ["invalidated"]


def test_errors_carry_the_arm_code_message_and_request_ids(client: ElasticJobsClient) -> None:
    with pytest.raises(NotFound) as raised:
        client.get_execution(job_ref("no-such-job").execution(str(uuid.uuid4())))
    error = raised.value
    assert error.code == "ResourceNotFound" and error.status == 404
    assert error.request_id and error.correlation_id and error.request_id in str(error)


def test_a_missing_job_is_resource_not_found_naming_the_job_as_the_service_answers(client: ElasticJobsClient) -> None:
    with pytest.raises(NotFound) as raised:
        client.put_execution(job_ref("no-such-job").execution(str(uuid.uuid4())))
    assert raised.value.code == "ResourceNotFound"
    assert raised.value.missing == ("Microsoft.Sql/servers/jobAgents/jobs", "no-such-job")
    assert raised.value.missing_parent
    assert "The job 'no-such-job' does not exist" in str(raised.value)


def test_ensuring_a_run_of_a_missing_job_fails_on_the_read_and_sends_no_put(
    client: ElasticJobsClient, emulator: Emulator
) -> None:
    """The live service names a missing job in a ``ResourceNotFound``, the code a free id answers too: the read
    must tell them apart (it read the job's 404 as "this id is free" before)."""
    ref = job_ref(f"no-such-job-{uuid.uuid4().hex[:6]}").execution(str(uuid.uuid4()))
    emulator.clear_requests()
    with pytest.raises(NotFound) as raised:
        client.ensure_execution(ref)
    assert raised.value.missing_parent
    assert [entry["method"] for entry in emulator.requests_log()] == ["GET"]


def test_a_missing_token_is_401_with_a_challenge(emulator: Emulator) -> None:
    import requests

    response = requests.get(f"{emulator.url}{job_ref().path}?api-version=2025-01-01", timeout=5)
    assert response.status_code == 401 and response.json()["error"]["code"] == "AuthenticationFailed"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["x-ms-request-id"]


def test_an_html_error_page_from_a_proxy_is_a_clear_error(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = job_ref()
    emulator.add_fault(
        "status",
        path=f"{job.job_name}$",
        method="GET",
        status=403,
        count=1,
        body="<html><body><h1>Forbidden by proxy</h1></body></html>",
    )
    with pytest.raises(AuthError) as raised:
        client.request("GET", job.path)
    assert "not ARM JSON" in str(raised.value) and "Forbidden by proxy" in str(raised.value)


def test_a_success_answer_that_is_not_json_is_an_invalid_response(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    emulator.add_fault(
        "status", path=ref.job_execution_id, method="GET", status=200, count=1, body="<html>maintenance</html>"
    )
    with pytest.raises(InvalidResponse) as raised:
        client.get_execution(ref)
    assert "not JSON" in str(raised.value)


def test_unknown_lifecycles_and_fields_from_a_newer_service_are_tolerated(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    body = (
        '{"id": "x", "name": "n", "properties": {"lifecycle": "Hibernating", "futureField": 1, '
        '"jobExecutionId": "' + ref.job_execution_id + '"}}'
    )
    emulator.add_fault(
        "status",
        path=ref.job_execution_id,
        method="GET",
        status=200,
        count=1,
        body=body,
        content_type="application/json",
    )
    execution = client.get_execution(ref)
    assert execution.properties.lifecycle == "Hibernating"


@pytest.mark.parametrize("loop", ["back-to-the-first-page", "to-itself"])
def test_a_next_link_that_leads_back_to_a_page_already_read_ends_the_listing_with_an_error(
    emulator: Emulator, client: ElasticJobsClient, loop: str
) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    one_run = client.request("GET", ref.path).json()
    first_page = f"{emulator.url}{job.path}/executions?api-version={client.api_version}"
    next_link = first_page if loop == "back-to-the-first-page" else f"{first_page}&$skiptoken=page-2"
    page = {"value": [one_run], "nextLink": next_link}
    emulator.add_fault(
        "status",
        path=f"{job.job_name}/executions$",
        method="GET",
        status=200,
        body=json.dumps(page),
        content_type="application/json",
        count=-1,
    )
    since = last_seq(emulator)
    with pytest.raises(EndlessListing) as raised:
        list(itertools.islice(client.list_executions(job), 1000))  # unfixed, it would page forever
    assert put_count(emulator, since, "GET") <= 2
    assert next_link.split("://", 1)[1] in str(raised.value) and "already read" in str(raised.value)


def test_a_listing_longer_than_the_page_bound_ends_with_an_error(
    emulator: Emulator, client: ElasticJobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from elastic_jobs_emulator import backend

    job = new_job(client)
    for _ in range(3):
        client.put_execution(job.execution(str(uuid.uuid4())))
    monkeypatch.setattr(backend, "PAGE_SIZE", 1)
    with ElasticJobsClient(emulator.url, StaticToken(emulator.token), max_pages=3) as enough:
        assert len(list(enough.list_executions(job))) == 3
    with ElasticJobsClient(emulator.url, StaticToken(emulator.token), max_pages=2) as bounded:
        since = last_seq(emulator)
        with pytest.raises(EndlessListing) as raised:
            list(bounded.list_executions(job))
    assert put_count(emulator, since, "GET") == 2
    assert "2 pages" in str(raised.value)


def test_waiting_follows_retry_after_and_stops_when_terminal(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=20")  # 0.2 s at time scale 100
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    since = last_seq(emulator)
    execution = client.wait_for_terminal(ref, timeout=30, poll_interval=30)
    assert execution.properties.lifecycle == "Succeeded"
    assert put_count(emulator, since, "GET") <= 4  # ceil(duration / interval) + 1 with the interval from Retry-After


def test_waiting_past_the_timeout_leaves_the_run_running(client: ElasticJobsClient) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=36000")
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    with pytest.raises(WaitTimeout) as raised:
        client.wait_for_terminal(ref, timeout=0.3, poll_interval=0.1)
    assert "still running" in str(raised.value) and ref.arm_id in str(raised.value)
    assert client.get_execution(ref).properties.lifecycle == "WaitingForChildJobExecutions"


def test_throttling_without_end_is_a_throttled_error(emulator: Emulator) -> None:
    job = job_ref()
    emulator.add_fault("status", path=f"{job.job_name}$", method="GET", status=429, retry_after=0.3, count=-1)
    with ElasticJobsClient(emulator.url, StaticToken("t"), retry_budget_seconds=0.8) as client:
        with pytest.raises(Throttled):
            client.request("GET", job.path)


def test_retry_after_accepts_seconds_http_dates_and_milliseconds() -> None:
    from email.utils import formatdate

    assert retry_after_seconds({"Retry-After": "7"}) == 7
    assert retry_after_seconds({"retry-after-ms": "250", "Retry-After": "7"}) == 0.25
    in_ten = retry_after_seconds({"Retry-After": formatdate(time.time() + 10, usegmt=True)})
    assert in_ten is not None and 8 <= in_ten <= 10
    assert retry_after_seconds({}) is None


def test_runs_of_one_job_are_waited_for_by_one_listing_a_round_and_no_read_of_their_own(
    client: ElasticJobsClient, emulator: Emulator
) -> None:
    """The request floor of waiting for N runs on k jobs: k listings a round, which show each run's state, ended or
    not, and no read of a run of its own (one read of each run when it left the listing of active runs before;
    N reads a round before that: a set of 1,000 polled 1,000 GETs a round)."""
    jobs = [new_job(client, script="SELECT 1; -- emulator:duration=30") for _ in range(2)]
    refs = [job.execution(str(uuid.uuid4())) for job in jobs for _ in range(6 if job is jobs[0] else 3)]
    started = {ref: client.put_execution(ref).execution for ref in refs}
    emulator.clear_requests()
    waited = client.wait_for_all(refs, timeout=15, poll_interval=0.5, known=started)
    assert waited.finished and not waited.errors
    assert {execution.properties.lifecycle for execution in waited.latest.values()} == {"Succeeded"}
    sent = [(entry["method"], entry["path"]) for entry in emulator.requests_log()]
    reads = Counter(path for method, path in sent if method == "GET" and "/executions/" in path)
    listings = Counter(path for method, path in sent if method == "GET" and path.endswith("/executions"))
    assert reads == Counter(), reads  # not even of a job's last run, left alone: its listing costs one request too
    assert set(listings) == {f"{job.path}/executions" for job in jobs} and min(listings.values()) >= 2
    assert len(sent) == sum(listings.values())


def test_runs_of_unknown_creation_are_listed_active_first_and_one_that_already_ended_is_read_once(
    client: ElasticJobsClient, emulator: Emulator
) -> None:
    """Without the runs' creation times, the first round lists the job's active runs; a run already ended is not
    among them, and is read once, on its own, for its end."""
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    refs = [job.execution(str(uuid.uuid4())) for _ in range(3)]
    for ref in refs:
        client.put_execution(ref)
    client.wait_for_all(refs[:1], timeout=15, poll_interval=0.1)  # the service has ended the runs: they take 0 s
    emulator.clear_requests()
    waited = client.wait_for_all(refs, timeout=15, poll_interval=0.5)
    assert waited.finished and {e.properties.lifecycle for e in waited.latest.values()} == {"Succeeded"}
    sent = [entry["path"] for entry in emulator.requests_log()]
    assert Counter(path for path in sent if "/executions/" in path) == Counter(ref.path for ref in refs)
    assert [path for path in sent if path.endswith("/executions")] == [f"{job.path}/executions"]


def test_a_run_a_lagging_listing_leaves_out_is_read_and_still_waited_for(
    client: ElasticJobsClient, emulator: Emulator
) -> None:
    """Only a run's own state ends it: a listing that does not (yet) show a run never finishes it, whether it lists
    the job's active runs (the first round) or every run since the earliest waited one (the rounds after)."""
    job = new_job(client, script="SELECT 1; -- emulator:duration=150")
    refs = [job.execution(str(uuid.uuid4())) for _ in range(3)]
    for ref in refs:
        client.put_execution(ref)
    emulator.add_fault(
        "status",
        path=f"{job.job_name}/executions$",
        method="GET",
        status=200,
        body='{"value": []}',
        content_type="application/json",
        count=2,
    )
    waited = client.wait_for_all(refs, timeout=15, poll_interval=0.5)
    assert waited.finished and {e.properties.lifecycle for e in waited.latest.values()} == {"Succeeded"}
    assert all(rule["hits"] == 2 for rule in emulator.faults())
    assert all(waited.latest[ref].properties.end_time is not None for ref in refs)  # as the service ended it
    assert {client.get_execution(ref).properties.lifecycle for ref in refs} == {"Succeeded"}


def test_a_next_link_with_characters_a_request_line_cannot_carry_is_sent_quoted(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    """A ``nextLink`` under the endpoint with a space or non-ASCII is sent percent-encoded, as requests sends it; sent
    as written, the request line could not be encoded and the error escaped the client's own (a regression)."""
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    one_run = client.request("GET", ref.path).json()
    next_link = f"{emulator.url}{job.path}/executions?api-version={client.api_version}&$skiptoken=café au lait"
    first = {"value": [one_run], "nextLink": next_link}
    emulator.add_fault(
        "status", path=f"{job.job_name}/executions$", method="GET", status=200, body=json.dumps(first), count=1
    )
    since = last_seq(emulator)
    assert [run.name for run in client.list_executions(job)] == [one_run["name"]] * 2
    (_, second) = [e for e in emulator.requests_log(since) if e["method"] == "GET"]
    assert second["status"] == 200 and second["path"].endswith("/executions")
