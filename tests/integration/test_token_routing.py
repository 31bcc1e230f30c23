"""Where tokens may go: the client refuses, before any connection, every URL its token must not reach.

Rules: an Azure AD token only over HTTPS and only to the cloud's ARM host (or, opted in with
``allowCustomEndpoint``, another HTTPS endpoint); a static token over plain HTTP only to loopback; and never to
an origin other than the configured endpoint, wherever the service points (``Location``, ``nextLink``, 3xx).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from pulumi_azure_elastic_jobs.auth import CLOUDS, AzureIdentityToken, ServicePrincipal, StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.emulator import Emulator
from pulumi_azure_elastic_jobs.errors import UnsafeDestination
from tests.conftest import SEED, TIME_SCALE, job_ref, new_job

PLANTED_SECRET = "planted-secret-never-sent-0c1d"


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=TIME_SCALE, seed=SEED, tls=True) as running:
        yield running


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Emulator]:
    """Another server, standing for a host the service must not lead the token to."""
    with Emulator(time_scale=TIME_SCALE, seed=SEED) as running:
        yield running


def azure_token(**options: object) -> AzureIdentityToken:
    return AzureIdentityToken(CLOUDS["public"], ServicePrincipal("tenant", "client", PLANTED_SECRET), **options)  # type: ignore[arg-type]


def assert_refused_before_sending(emulator: Emulator, client: ElasticJobsClient, *expected: str) -> None:
    before = len(emulator.requests_log())
    with pytest.raises(UnsafeDestination) as refused:
        client.get_execution(job_ref().execution(str(uuid.uuid4())))
    for text in expected:
        assert text in str(refused.value)
    assert PLANTED_SECRET not in str(refused.value)
    assert len(emulator.requests_log()) == before


def test_an_azure_ad_token_is_never_sent_over_plain_http(emulator: Emulator) -> None:
    with ElasticJobsClient(emulator.url, azure_token(allow_custom_endpoint=True)) as client:
        assert_refused_before_sending(emulator, client, "only over HTTPS", "azure-elastic-jobs:endpoint")


def test_an_azure_ad_token_goes_to_another_https_host_only_when_opted_in(tls_emulator: Emulator) -> None:
    with ElasticJobsClient(tls_emulator.url, azure_token(), verify=tls_emulator.ca_bundle or True) as client:
        assert_refused_before_sending(
            tls_emulator, client, "only to management.azure.com", "azure-elastic-jobs:allowCustomEndpoint"
        )


def test_a_static_token_uses_plain_http_only_to_loopback() -> None:
    with ElasticJobsClient("http://emulator.invalid:8080", StaticToken("dev")) as client:
        with pytest.raises(UnsafeDestination) as refused:
            client.get_execution(job_ref().execution(str(uuid.uuid4())))
    assert "loopback" in str(refused.value) and "--tls" in str(refused.value)


def test_a_static_token_goes_over_https_to_any_host(tls_emulator: Emulator) -> None:
    with ElasticJobsClient(tls_emulator.url, StaticToken("dev"), verify=tls_emulator.ca_bundle or True) as client:
        job = new_job(client)
        assert client.ensure_execution(job.execution(str(uuid.uuid4()))).started


def test_a_redirect_to_another_host_is_not_followed(emulator: Emulator, elsewhere: Emulator) -> None:
    emulator.add_fault("status", path="/executions/", method="GET", status=307, headers={"Location": elsewhere.url})
    with ElasticJobsClient(emulator.url, StaticToken("dev")) as client:
        with pytest.raises(UnsafeDestination, match="redirects are not followed"):
            client.get_execution(job_ref().execution(str(uuid.uuid4())))
    assert elsewhere.requests_log() == []


def test_a_location_on_another_host_does_not_receive_the_token(emulator: Emulator, elsewhere: Emulator) -> None:
    foreign = f"{elsewhere.url}/subscriptions/x/providers/Microsoft.Sql/locations/emulator/operationResults/1"
    emulator.add_fault("status", path="/executions/", method="PUT", status=202, headers={"Location": foreign})
    with ElasticJobsClient(emulator.url, StaticToken("dev")) as client:
        job = new_job(client)
        with pytest.raises(UnsafeDestination, match="not the configured endpoint"):
            client.put_execution(job.execution(str(uuid.uuid4())))
    assert elsewhere.requests_log() == []


def test_a_next_link_on_another_host_does_not_receive_the_token(emulator: Emulator, elsewhere: Emulator) -> None:
    page = {"value": [], "nextLink": f"{elsewhere.url}{job_ref().path}/executions?$skip=1"}
    emulator.add_fault(
        "status", path="/executions$", method="GET", status=200, body=json.dumps(page), content_type="application/json"
    )
    with ElasticJobsClient(emulator.url, StaticToken("dev")) as client:
        with pytest.raises(UnsafeDestination, match="not the configured endpoint"):
            list(client.list_executions(job_ref()))
    assert elsewhere.requests_log() == []
