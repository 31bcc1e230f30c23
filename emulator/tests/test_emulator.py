"""The emulator's ARM surface over a real socket: routes, status codes, errors, lifecycle, paging, persistence."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.errors import ArmError, BadRequest, NotFound
from pulumi_azure_elastic_jobs.ids import JobRef
from tests.conftest import SEED, job_ref, new_job

API = {"api-version": "2025-01-01"}


def arm(emulator: Emulator, method: str, path: str, token: str = "t", **kwargs: Any) -> requests.Response:
    params = kwargs.pop("params", API)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, f"{emulator.url}{path}", params=params, headers=headers, timeout=10, **kwargs)


def test_every_answer_carries_request_and_correlation_ids(emulator: Emulator) -> None:
    response = arm(emulator, "GET", job_ref().path)
    assert response.status_code == 200
    assert response.headers["x-ms-request-id"] and response.headers["x-ms-correlation-request-id"]


def test_job_agent_crud_answers_201_then_200_and_delete_200_then_204(emulator: Emulator) -> None:
    agent = f"{job_ref().agent_path.rsplit('/', 1)[0]}/agent-{uuid.uuid4().hex[:6]}"
    body = {"location": "westeurope", "properties": {"databaseId": "/subscriptions/x/databases/db"}}
    created = arm(emulator, "PUT", agent, json=body)
    assert created.status_code == 201
    assert created.json()["properties"]["state"] == "Ready" and created.json()["systemData"]["createdAt"]
    assert arm(emulator, "PUT", agent, json=body).status_code == 200
    listed = arm(emulator, "GET", agent.rsplit("/", 1)[0]).json()["value"]
    assert any(item["id"] == agent for item in listed)
    assert arm(emulator, "DELETE", agent).status_code == 200
    assert arm(emulator, "DELETE", agent).status_code == 204
    assert arm(emulator, "GET", agent).json()["error"]["code"] == "ResourceNotFound"


def test_jobs_steps_target_groups_and_credentials_round_trip(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client)
    steps = arm(emulator, "GET", f"{job.path}/steps").json()["value"]
    assert [s["properties"]["stepId"] for s in steps] == [1]
    assert arm(emulator, "GET", job.path).json()["properties"]["version"] == 1
    credential = f"{job.agent_path}/credentials/cred-{uuid.uuid4().hex[:6]}"
    put = arm(emulator, "PUT", credential, json={"properties": {"username": "u", "password": "hunter2-secret"}})
    assert put.status_code == 201 and "password" not in put.json()["properties"]
    assert "hunter2-secret" not in arm(emulator, "GET", credential).text
    group = f"{job.agent_path}/targetGroups/tg-{uuid.uuid4().hex[:6]}"
    bad = arm(emulator, "PUT", group, json={"properties": {"members": [{"type": "SqlDatabase", "serverName": "s"}]}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidParameter"


def test_changing_steps_bumps_the_job_version_and_executions_record_it(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    client.request(
        "PUT",
        f"{job.path}/steps/step2",
        json={
            "properties": {
                "targetGroup": f"{job.agent_path}/targetGroups/all-databases",
                "action": {"value": "SELECT 2"},
            }
        },
    )
    assert arm(emulator, "GET", job.path).json()["properties"]["version"] == 2
    versions = arm(emulator, "GET", f"{job.path}/versions").json()["value"]
    assert [v["name"] for v in versions] == ["1", "2"]
    assert len(arm(emulator, "GET", f"{job.path}/versions/1/steps").json()["value"]) == 1
    assert len(arm(emulator, "GET", f"{job.path}/versions/2/steps").json()["value"]) == 2
    result = client.put_execution(job.execution(str(uuid.uuid4())))
    assert result.execution.properties.job_version == 2


def test_an_execution_runs_steps_in_order_over_every_target_and_succeeds(client: ElasticJobsClient) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    first = client.put_execution(ref).execution.properties
    assert (first.lifecycle, first.provisioning_state, first.last_message) == (
        "Created",
        "Created",
        "Job execution created.",
    )
    done = client.wait_for_terminal(ref, timeout=30).properties
    assert (done.lifecycle, done.provisioning_state) == ("Succeeded", "Succeeded")
    assert done.start_time and done.end_time and done.end_time >= done.start_time
    steps = list(client.list_step_executions(ref))
    assert [(s.properties.step_name, s.properties.lifecycle) for s in steps] == [("step1", "Succeeded")]
    targets = list(client.list_target_executions(ref))
    assert sorted(t.properties.target.database_name for t in targets if t.properties.target) == ["app-db-1", "app-db-2"]
    one = client.request("GET", f"{ref.path}/steps/step1/targets/{targets[0].name}").json()
    assert one["properties"]["target"]["serverName"] == "server1"


def test_a_failing_step_fails_the_execution_after_its_retries(client: ElasticJobsClient) -> None:
    job = new_job(
        client,
        script="SELECT 1; -- emulator:fail",
        execution_options={"retryAttempts": 2, "initialRetryIntervalSeconds": 1},
    )
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    done = client.wait_for_terminal(ref, timeout=30)
    assert done.properties.lifecycle == "Failed" and done.properties.provisioning_state == "Failed"
    targets = list(client.list_target_executions(ref))
    assert {t.properties.current_attempts for t in targets} == {3}


def test_fail_once_succeeds_on_retry_and_admin_behaviors_override(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:fail-once", execution_options={"retryAttempts": 1})
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    assert client.wait_for_terminal(ref, timeout=30).properties.lifecycle == "Succeeded"
    emulator.set_behavior(job.job_name, outcome="TimedOut", duration_seconds=1)
    ref2 = job.execution(str(uuid.uuid4()))
    client.put_execution(ref2)
    assert client.wait_for_terminal(ref2, timeout=30).properties.lifecycle == "TimedOut"


def test_a_behavior_fails_chosen_databases_only_and_the_run_fails_with_them(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    emulator.set_behavior(job.job_name, failed_databases=["APP-DB-2"])  # names compare case-insensitively
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    assert client.wait_for_terminal(ref, timeout=30).properties.lifecycle == "Failed"
    ended = {t.properties.target.database_name: t.properties.lifecycle for t in client.list_target_executions(ref)}
    assert ended == {"app-db-1": "Succeeded", "app-db-2": "Failed"}


def test_a_cancel_answers_200_empty_with_a_location_and_lands_a_moment_later(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=3600")
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    answer = arm(emulator, "POST", f"{ref.path}/cancel")
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["Location"] == f"{emulator.url}{ref.path}?api-version=2025-01-01"
    assert client.get_execution(ref).properties.lifecycle in ("Created", "WaitingForChildJobExecutions")
    done = client.wait_for_terminal(ref, timeout=30, poll_interval=0.1).properties
    assert done.lifecycle == "Canceled" and done.provisioning_state == "Canceled" and done.end_time


def test_a_run_cancelled_before_it_started_ends_where_it_starts(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=3600")
    emulator.set_behavior(job.job_name, start_delay_seconds=3600)
    ref = job.execution(str(uuid.uuid4()))
    created = client.put_execution(ref).execution.properties
    assert created.lifecycle == "Created" and created.start_time is None
    client.cancel_execution(ref)
    done = client.wait_for_terminal(ref, timeout=30, poll_interval=0.1).properties
    assert done.lifecycle == "Canceled" and done.start_time == done.end_time


@pytest.mark.parametrize("state", ["Created", "Canceled", "Succeeded"])
def test_a_cancel_of_a_run_in_any_state_is_200(emulator: Emulator, client: ElasticJobsClient, state: str) -> None:
    job = new_job(client, script=f"SELECT 1; -- emulator:duration={0 if state == 'Succeeded' else 3600}")
    if state == "Created":
        emulator.set_behavior(job.job_name, start_delay_seconds=3600)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    if state == "Canceled":
        client.cancel_execution(ref)
    if state != "Created":
        assert client.wait_for_terminal(ref, timeout=30, poll_interval=0.1).properties.lifecycle == state
    answer = arm(emulator, "POST", f"{ref.path}/cancel")
    assert answer.status_code == 200 and answer.content == b"" and answer.headers["Location"]


def test_start_answers_200_with_the_new_run_and_its_own_location(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client)
    response = arm(emulator, "POST", f"{job.path}/start")
    body = response.json()
    assert response.status_code == 200, response.text
    assert response.headers["Location"] == f"{emulator.url}{body['id']}?api-version=2025-01-01"
    assert not {"Azure-AsyncOperation", "Retry-After"} & set(response.headers)
    assert body["properties"]["lifecycle"] == "Created" and "startTime" not in body["properties"]
    assert uuid.UUID(client.start_execution(job).properties.job_execution_id or "")


def test_start_under_an_async_fault_answers_202_and_the_client_follows_it(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    job = new_job(client)
    emulator.add_fault("async", path=f"{job.job_name}/start", polls=1)
    emulator.add_fault("async", path=f"{job.job_name}/start", polls=1)
    response = arm(emulator, "POST", f"{job.path}/start")
    assert response.status_code == 202 and response.headers["Azure-AsyncOperation"] and response.headers["Location"]
    assert uuid.UUID(client.start_execution(job).properties.job_execution_id or "")
    assert all(rule["hits"] == 1 for rule in emulator.faults())


def test_lists_filter_by_activity_and_time_and_page_with_next_link(
    emulator: Emulator, client: ElasticJobsClient
) -> None:
    from elastic_jobs_emulator import backend

    job = new_job(client, script="SELECT 1; -- emulator:duration=3600")
    refs = [job.execution(str(uuid.uuid4())) for _ in range(5)]
    for ref in refs:
        client.put_execution(ref)
    client.cancel_execution(refs[0])
    client.wait_for_terminal(refs[0], timeout=30, poll_interval=0.1)
    assert len(list(client.list_executions(job, is_active=True))) == 4
    assert len(list(client.list_executions(job, is_active=False))) == 1
    assert len(list(client.list_executions(job, top=2))) == 2
    assert len(list(client.list_executions(job, skip=4))) == 1
    assert list(client.list_executions(job, create_time_min="2999-01-01T00:00:00Z")) == []
    agent_wide = arm(emulator, "GET", f"{job.agent_path}/executions", params={**API, "isActive": "true"})
    assert len(agent_wide.json()["value"]) >= 4
    original = backend.PAGE_SIZE
    backend.PAGE_SIZE = 2
    try:
        page = arm(emulator, "GET", f"{job.path}/executions").json()
        assert len(page["value"]) == 2 and page["nextLink"].startswith(emulator.url)
        assert len(list(client.list_executions(job))) == 5
    finally:
        backend.PAGE_SIZE = original
    bad = arm(emulator, "GET", f"{job.path}/executions", params={**API, "isActive": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidParameter"


def finished_run(client: ElasticJobsClient) -> tuple[JobRef, str, datetime, datetime]:
    """A job with one run that has ended: its id, create time and end time (so every time filter compares)."""
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    done = client.wait_for_terminal(ref, timeout=30, poll_interval=0.1).properties
    assert done.create_time and done.end_time
    return job, ref.job_execution_id, done.create_time, done.end_time


def listed(answer: requests.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["name"] for item in answer.json()["value"]]


@pytest.mark.parametrize("name", ["createTimeMin", "createTimeMax", "endTimeMin", "endTimeMax"])
def test_a_time_filter_without_a_utc_offset_is_read_as_utc(
    emulator: Emulator, client: ElasticJobsClient, name: str
) -> None:
    job, run, created, ended = finished_run(client)
    moment = (created if name.startswith("create") else ended).astimezone(UTC)
    for shift in (-1, 1):
        bound = moment + timedelta(seconds=shift)
        offsetless = arm(emulator, "GET", f"{job.path}/executions", params={**API, name: f"{bound:%Y-%m-%dT%H:%M:%S}"})
        in_utc = arm(emulator, "GET", f"{job.path}/executions", params={**API, name: f"{bound:%Y-%m-%dT%H:%M:%SZ}"})
        assert listed(offsetless) == listed(in_utc) == ([run] if (shift < 0) == name.endswith("Min") else [])
    agent_wide = arm(emulator, "GET", f"{job.agent_path}/executions", params={**API, name: "2000-01-01T00:00:00"})
    assert agent_wide.status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        *[(name, value) for name in ("createTimeMin", "endTimeMax") for value in ("2026-01-01", "soon", "")],
        ("isActive", "yes"),
        ("$skip", "-1"),
        ("$top", "ten"),
        ("$top", "9" * 5000),
    ],
)
def test_execution_listing_parameters_answer_arm_json_never_a_500(
    emulator: Emulator, client: ElasticJobsClient, name: str, value: str
) -> None:
    job, _, _, _ = finished_run(client)
    answer = arm(emulator, "GET", f"{job.path}/executions", params={**API, name: value})
    assert answer.status_code in (200, 400) and answer.headers["Content-Type"].startswith("application/json")
    if answer.status_code == 400:
        assert answer.json()["error"]["code"] == "InvalidParameter" and answer.json()["error"]["target"] == name


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "MissingApiVersionParameter"),
        ({"api-version": "1999-01-01"}, "InvalidApiVersionParameter"),
    ],
)
def test_api_version_is_required_and_checked(emulator: Emulator, params: dict[str, str], code: str) -> None:
    response = arm(emulator, "GET", job_ref().path, params=params)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_bad_names_and_bodies_are_400s_not_500s(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client)
    assert arm(emulator, "PUT", f"{job.path}/executions/not-a-uuid").json()["error"]["code"] == "InvalidParameter"
    assert arm(emulator, "PUT", f"{job.agent_path}/jobs/a%2Fb", json={}).status_code == 400
    malformed = arm(
        emulator, "PUT", f"{job.agent_path}/jobs/ok", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "InvalidRequestContent"
    huge = arm(
        emulator,
        "PUT",
        f"{job.agent_path}/jobs/ok",
        data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 400 and huge.json()["error"]["code"] == "RequestContentTooLarge"
    wrong_shape = arm(emulator, "PUT", f"{job.path}/steps/s", json={"properties": {"action": {}}})
    assert wrong_shape.status_code == 400


def test_read_only_properties_sent_by_a_client_are_ignored(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client)
    response = arm(emulator, "PUT", job.path, json={"properties": {"version": 99, "description": "d"}})
    assert response.json()["properties"]["version"] == 1


def test_token_rules() -> None:
    with Emulator(token="exact") as exact:
        path = job_ref().path
        assert arm(exact, "GET", path, token="").json()["error"]["code"] == "AuthenticationFailed"
        assert arm(exact, "GET", path, token="wrong").json()["error"]["code"] == "InvalidAuthenticationToken"
        assert arm(exact, "GET", path, token="exact").status_code == 404  # let in, just not seeded


def test_any_well_formed_subscription_exists_from_its_first_use_and_stays(emulator: Emulator) -> None:
    subscription = str(uuid.uuid4())
    agent = f"/subscriptions/{subscription}/resourceGroups/g/providers/Microsoft.Sql/servers/s/jobAgents/a"
    assert arm(emulator, "GET", agent).json()["error"]["code"] == "ResourceNotFound"  # it exists, the agent not
    body = {"location": "westeurope", "properties": {"databaseId": f"{agent.split('/jobAgents/')[0]}/databases/d"}}
    assert arm(emulator, "PUT", agent, json=body).status_code == 201
    assert arm(emulator, "DELETE", agent).status_code == 200
    again = arm(emulator, "GET", f"{agent.split('/jobAgents/')[0]}/jobAgents")
    assert again.status_code == 200 and again.json() == {"value": []}  # its last resource gone, it stays
    malformed = arm(emulator, "GET", agent.replace(subscription, "prod-subscription"))
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "InvalidSubscriptionId"


def test_strict_mode_knows_only_the_listed_and_seeded_subscriptions(strict_emulator: Emulator) -> None:
    path = job_ref().path
    assert arm(strict_emulator, "GET", path).status_code == 200  # listed and seeded
    other = path.replace(DEFAULT_SUBSCRIPTION, "11111111-1111-1111-1111-111111111111")
    unknown = arm(strict_emulator, "GET", other)
    assert unknown.status_code == 404 and unknown.json()["error"] == {
        "code": "SubscriptionNotFound",
        "message": "The subscription '11111111-1111-1111-1111-111111111111' could not be found.",
    }
    seeded = "22222222-2222-2222-2222-222222222222"
    strict_emulator.seed(
        {"subscriptions": {seeded: {"resourceGroups": {"g": {"servers": {"s": {"jobAgents": {"a": {}}}}}}}}}
    )
    agent = f"/subscriptions/{seeded}/resourceGroups/g/providers/Microsoft.Sql/servers/s/jobAgents/a"
    assert arm(strict_emulator, "DELETE", agent).status_code == 200
    assert arm(strict_emulator, "GET", agent).json()["error"]["code"] == "ResourceNotFound"  # still exists


def test_a_seeds_strict_subscriptions_turn_strict_mode_on(tmp_path: Path) -> None:
    listed, other = "33333333-3333-3333-3333-333333333333", "44444444-4444-4444-4444-444444444444"
    fixture = tmp_path / "strict.yaml"
    fixture.write_text(f"strictSubscriptions: [{listed}]\n")
    with Emulator(seed=fixture) as strict:
        agents = "/resourceGroups/g/providers/Microsoft.Sql/servers/s/jobAgents"
        assert arm(strict, "GET", f"/subscriptions/{listed}{agents}").status_code == 200
        assert arm(strict, "GET", f"/subscriptions/{other}{agents}").json()["error"]["code"] == "SubscriptionNotFound"
        assert arm(strict, "GET", f"/subscriptions/{DEFAULT_SUBSCRIPTION}{agents}").status_code == 404  # unlisted
        refused = strict.admin.post(f"{strict.url}/_emulator/seed", json={"strictSubscriptions": ["prod"]}, timeout=5)
        assert refused.status_code == 400 and "must be a UUID" in refused.json()["detail"]


def test_retired_and_misspelt_emulator_options_are_refused() -> None:
    with pytest.raises(TypeError, match="allowed_subscriptions"):
        Emulator(allowed_subscriptions=[DEFAULT_SUBSCRIPTION])
    with pytest.raises(ValueError, match="--subscription must be a UUID"):
        Emulator(subscriptions=["prod"]).start()


def test_state_survives_a_kill_and_restart_with_a_data_dir(tmp_path: Path) -> None:
    execution_id = str(uuid.uuid4())
    with Emulator(in_process=False, data_dir=tmp_path, seed=SEED, time_scale=1000) as first:
        with ElasticJobsClient(first.url, StaticToken("t")) as client:
            client.put_execution(job_ref().execution(execution_id))
        first.kill()
    with Emulator(in_process=False, data_dir=tmp_path, time_scale=1000) as second:
        with ElasticJobsClient(second.url, StaticToken("t")) as client:
            again = client.put_execution(job_ref().execution(execution_id))
            assert again.status == 200
            assert len(list(client.list_executions(job_ref()))) == 1


def test_a_subprocess_emulator_gets_its_tokens_through_the_environment_not_the_command_line() -> None:
    token, admin_token = f"arm-{uuid.uuid4().hex}", f"admin-{uuid.uuid4().hex}"
    with Emulator(in_process=False, token=token, admin_token=admin_token) as child:
        assert child.pid is not None
        command_line = Path(f"/proc/{child.pid}/cmdline").read_bytes().decode()  # what every local user can read
        assert token not in command_line and admin_token not in command_line
        assert "--token" not in command_line.split("\0")
        assert arm(child, "GET", job_ref().path, token="guess").status_code == 401
        assert arm(child, "GET", job_ref().path, token=token).status_code == 404  # let in: the token arrived
        assert child.requests_log()  # the helper sends the admin token: it arrived too
        assert requests.get(f"{child.url}/_emulator/requests", timeout=5).status_code == 401


def test_tls_serves_https_with_a_certificate_clients_can_trust(tmp_path: Path) -> None:
    with Emulator(tls=True, data_dir=tmp_path, seed=SEED) as secure:
        assert secure.url.startswith("https://") and secure.ca_bundle
        with ElasticJobsClient(secure.url, StaticToken("t"), verify=secure.ca_bundle) as client:
            assert client.request("GET", job_ref().path).json()["name"] == "nightly-migration"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{secure.url}/_emulator/health", timeout=5)


def test_the_cli_prints_its_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "elastic_jobs_emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    described, line = process.stdout.readline(), process.stdout.readline()
    assert described.startswith("emulator: bind 127.0.0.1:") and "TLS off" in described
    assert "ARM auth off" in described and "admin API open (loopback only)" in described
    assert line.startswith("listening on http://127.0.0.1:")
    url = line.split()[-1]
    assert requests.get(f"{url}/_emulator/health", timeout=5).json()["status"] == "ok"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_bound_beyond_loopback_without_a_token_the_emulator_refuses_to_start_saying_why() -> None:
    import subprocess
    import sys

    finished = subprocess.run(
        [sys.executable, "-m", "elastic_jobs_emulator", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2 and finished.stdout == ""
    reason = finished.stderr.strip().splitlines()[-1]
    assert "--host 0.0.0.0 is reachable beyond this machine" in reason and "--token" in reason


def test_bound_beyond_loopback_the_admin_api_needs_the_token() -> None:
    with Emulator(host="0.0.0.0", token="wide-open-no-more") as exposed:
        admin = exposed.url.replace("0.0.0.0", "127.0.0.1") + "/_emulator"
        assert requests.post(f"{admin}/reset", timeout=5).status_code == 401
        assert (
            requests.get(f"{admin}/requests", headers={"Authorization": "Bearer guess"}, timeout=5).status_code == 401
        )
        assert exposed.requests_log() == []  # the helper sends the token: allowed


def test_tls_without_a_data_dir_keeps_its_files_private_and_out_of_the_working_directory(tmp_path: Path) -> None:
    import signal
    import stat
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "elastic_jobs_emulator", "--tls"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    described = process.stdout.readline()
    cert = Path(described.split("(certificate ", 1)[1].split(")", 1)[0])
    assert process.stdout.readline().startswith("listening on https://127.0.0.1:")
    key = cert.with_name("emulator-key.pem")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(cert.parent.stat().st_mode) == 0o700
    assert list(tmp_path.iterdir()) == []
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert not cert.parent.exists()


def test_errors_through_our_client_are_typed(client: ElasticJobsClient) -> None:
    with pytest.raises(BadRequest) as raised:
        client.request("PUT", f"{job_ref().path}/executions/nope")
    assert raised.value.code == "InvalidParameter"
    with pytest.raises(NotFound):
        client.request("GET", JobRef("00000000-0000-0000-0000-000000000000", "nogroup", "server1", "agent1", "j").path)
    assert issubclass(NotFound, ArmError)


def test_time_scale_makes_long_jobs_short(client: ElasticJobsClient) -> None:
    job = new_job(client, script="SELECT 1; -- emulator:duration=30")  # 30 emulated s = 0.3 s at 100x
    ref = job.execution(str(uuid.uuid4()))
    started = time.monotonic()
    client.put_execution(ref)
    client.wait_for_terminal(ref, timeout=30)
    assert 0.25 <= time.monotonic() - started < 5


def test_deleting_a_job_with_an_active_execution_is_a_conflict(client: ElasticJobsClient) -> None:
    from pulumi_azure_elastic_jobs.errors import Conflict

    job = new_job(client, script="SELECT 1; -- emulator:duration=36000")
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    with pytest.raises(Conflict) as raised:
        client.request("DELETE", job.path)
    assert raised.value.status == 409 and raised.value.code == "Conflict"
    client.cancel_execution(ref)
    client.wait_for_terminal(ref, timeout=30, poll_interval=0.1)
    deleted = client.request("DELETE", job.path)
    assert deleted.status_code == 200 and deleted.content == b""


def test_single_reads_and_agent_patch_answer_like_arm(emulator: Emulator, client: ElasticJobsClient) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    client.wait_for_terminal(ref, timeout=30)
    step = arm(emulator, "GET", f"{ref.path}/steps/step1").json()
    assert step["type"] == "Microsoft.Sql/servers/jobAgents/jobs/executions/steps"
    assert step["properties"]["stepName"] == "step1" and step["properties"]["lifecycle"] == "Succeeded"
    assert arm(emulator, "GET", f"{ref.path}/steps/nope").json()["error"]["code"] == "ResourceNotFound"
    group = arm(emulator, "GET", f"{job.agent_path}/targetGroups/all-databases").json()
    assert len(group["properties"]["members"]) == 2
    assert arm(emulator, "GET", f"{job.agent_path}/targetGroups").json()["value"]
    assert arm(emulator, "GET", f"{job.agent_path}/credentials").json()["value"]
    patched = arm(emulator, "PATCH", job.agent_path, json={"tags": {"team": "data"}})
    assert patched.status_code == 200 and patched.json()["tags"] == {"team": "data"}
    assert arm(emulator, "GET", f"{job.path}/versions/1/steps/step1").json()["name"] == "step1"
    assert arm(emulator, "DELETE", f"{job.path}/steps/step1").status_code == 200
    assert arm(emulator, "GET", job.path).json()["properties"]["version"] == 2
    assert arm(emulator, "POST", job.agent_path).json()["error"]["code"] == "MethodNotAllowed"
