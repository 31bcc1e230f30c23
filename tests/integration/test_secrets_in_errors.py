"""No password from a URL's userinfo and no ``Bearer`` token quoted by an answer reaches an error or a log.

Each error path is provoked over a real socket, against the session's emulator: the endpoint itself, a
``nextLink`` and a redirect's ``Location`` that carry a password, and answers (an ARM error, a proxy's page,
a success that is not JSON) that echo an ``Authorization`` header back.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.errors import ArmError, ElasticJobsError, TransportError, UnsafeDestination
from tests.conftest import job_ref, new_job

PASSWORD = "s3cret-pass"
TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzM2NyZXQifQ.t0ken-signature"
Provoke = Callable[[Emulator, ElasticJobsClient], object]


def with_password(url: str) -> str:
    return url.replace("://", f"://user:{PASSWORD}@", 1)


def listing_whose_next_link_is(emulator: Emulator, path: str, next_link: str) -> None:
    """Every GET of ``path`` answers an empty page pointing at ``next_link``."""
    page = {"value": [], "nextLink": next_link}
    emulator.add_fault(
        "status", path=f"{path}$", method="GET", status=200, body=json.dumps(page), content_type="application/json"
    )


def an_endpoint_with_a_password(emulator: Emulator, client: ElasticJobsClient) -> object:
    with ElasticJobsClient(with_password(emulator.url), StaticToken(emulator.token)) as arm:
        return list(arm.list_executions(job_ref()))


def a_next_link_with_a_password(emulator: Emulator, client: ElasticJobsClient) -> object:
    job = job_ref()
    listing_whose_next_link_is(emulator, f"{job.job_name}/executions", f"{with_password(emulator.url)}{job.path}")
    return list(client.list_executions(job))


def a_redirect_to_a_url_with_a_password(emulator: Emulator, client: ElasticJobsClient) -> object:
    job = job_ref()
    location = {"Location": f"{with_password(emulator.url)}/elsewhere"}
    emulator.add_fault("status", path=f"{job.job_name}$", method="GET", status=302, headers=location)
    return client.request("GET", job.path)


def an_arm_error_quoting_a_token(emulator: Emulator, client: ElasticJobsClient) -> object:
    job = job_ref()
    error = {
        "code": "InvalidAuthenticationToken",
        "message": f"The access token 'Bearer {TOKEN}' is not valid.",
        "target": f"Authorization: Bearer {TOKEN}",
        "details": [{"code": "Echo", "message": f"bearer {TOKEN}", "details": [{"message": f"Bearer {TOKEN}"}]}],
    }
    body = json.dumps({"error": error})
    emulator.add_fault("status", path=f"{job.job_name}$", status=400, body=body, content_type="application/json")
    return client.request("GET", job.path)


def a_proxy_page_quoting_a_token(emulator: Emulator, client: ElasticJobsClient) -> object:
    job = job_ref()
    page = f"<html><h1>Forbidden</h1><pre>Authorization: Bearer {TOKEN}</pre></html>"
    emulator.add_fault("status", path=f"{job.job_name}$", method="GET", status=403, body=page)
    return client.request("GET", job.path)


def a_success_that_is_not_json_quoting_a_token(emulator: Emulator, client: ElasticJobsClient) -> object:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    echo = f"Authorization: Bearer {TOKEN}"
    emulator.add_fault("status", path=ref.job_execution_id, method="GET", status=200, body=echo)
    return client.get_execution(ref)


@pytest.mark.parametrize(
    "provoke",
    [
        an_endpoint_with_a_password,
        a_next_link_with_a_password,
        a_redirect_to_a_url_with_a_password,
        an_arm_error_quoting_a_token,
        a_proxy_page_quoting_a_token,
        a_success_that_is_not_json_quoting_a_token,
    ],
)
def test_no_password_in_a_url_and_no_quoted_token_appears_in_an_error_or_the_logs(
    emulator: Emulator, client: ElasticJobsClient, caplog: pytest.LogCaptureFixture, provoke: Provoke
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ElasticJobsError) as raised:
        provoke(emulator, client)
    error = raised.value
    for shown in (str(error), repr(error), caplog.text, repr(vars(error))):
        assert PASSWORD not in shown and TOKEN not in shown
    assert "***" in str(error)  # masked where it stood, so the message still reads


def test_a_client_for_an_endpoint_with_a_password_does_not_show_it(emulator: Emulator) -> None:
    with ElasticJobsClient(with_password(emulator.url), StaticToken(emulator.token)) as arm:
        assert PASSWORD not in repr(arm) and "user:***@" in repr(arm)


def test_a_best_effort_target_listing_logs_its_failure_without_the_links_password(
    emulator: Emulator, client: ElasticJobsClient, caplog: pytest.LogCaptureFixture
) -> None:
    job = new_job(client)
    ref = job.execution(str(uuid.uuid4()))
    client.put_execution(ref)
    listing_whose_next_link_is(emulator, "/targets", f"{with_password(emulator.url)}{ref.path}/targets?$skip=1")
    caplog.set_level(logging.DEBUG)
    client.target_outcomes(ref)
    assert "could not list target executions" in caplog.text
    assert PASSWORD not in caplog.text and "user:***@" in caplog.text


@pytest.mark.parametrize(
    "error",
    [
        TransportError("GET", f"http://user:{PASSWORD}@127.0.0.1:9/x", ConnectionRefusedError(), 3, "refused"),
        TransportError("GET", f"https://user:{PASSWORD}@example.com/x", OSError("certificate verify failed"), 1, "tls"),
        TransportError("GET", f"https://user:{PASSWORD}@example.com/x", TimeoutError(f"Bearer {TOKEN}"), 4),
        UnsafeDestination("GET", f"https://{PASSWORD}@example.com/x", f"sent to //u:{PASSWORD}@example.com"),
        ArmError(status=418, message=f"Bearer {TOKEN}", url=f"https://user:{PASSWORD}@example.com/x"),
    ],
    ids=["refused", "tls", "no-answer", "unsafe", "arm"],
)
def test_errors_built_from_a_url_with_a_password_never_show_it(error: ElasticJobsError) -> None:
    for shown in (str(error), repr(error), str(getattr(error, "url", ""))):
        assert PASSWORD not in shown and TOKEN not in shown
