"""Where tokens may go: the client refuses, before any connection, every URL its token must not reach.

Rules: an Azure AD token only over HTTPS and only to the cloud's ARM host (or, opted in with
``allowCustomEndpoint``, another HTTPS endpoint); a static token over plain HTTP only to loopback; and never to
an origin other than the configured endpoint, wherever the service points (``Location``, ``nextLink``, 3xx).
Judged as the connection reads the URL: userinfo (and what any parser takes for it) is refused outright, and a
proxy is a destination too (never for loopback or plain HTTP; for HTTPS only as a CONNECT tunnel). Listeners on
other loopback addresses stand for the other hosts and count the Authorization headers they receive.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import CLOUDS, AzureIdentityToken, ServicePrincipal, StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.errors import UnsafeDestination
from tests.conftest import SEED, TIME_SCALE, job_ref, new_job
from tests.integration.listeners import Listener, Seen, certificate_for, fake_dns, listening

PLANTED_SECRET = "planted-secret-never-sent-0c1d"
AZURE_AD_TOKEN = "planted-azure-ad-token-3e9f"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=TIME_SCALE, seed=SEED, tls=True, poll_hints=True) as running:
        yield running


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Emulator]:
    """Another server, standing for a host the service must not lead the token to."""
    with Emulator(time_scale=TIME_SCALE, seed=SEED, poll_hints=True) as running:
        yield running


def azure_token(**options: object) -> AzureIdentityToken:
    return AzureIdentityToken(CLOUDS["public"], ServicePrincipal("tenant", "client", PLANTED_SECRET), **options)  # type: ignore[arg-type]


class _IssuedCredential:
    """Stands for azure-identity's credential: hands out one Azure AD token without asking anyone."""

    def get_token(self, *scopes: str) -> SimpleNamespace:
        return SimpleNamespace(token=AZURE_AD_TOKEN, expires_on=time.time() + 3600)


def issued_azure_token(**options: object) -> AzureIdentityToken:
    source = azure_token(**options)
    source._credential = _IssuedCredential()  # the credential azure-identity would build lazily
    return source


@pytest.fixture
def other_host() -> Iterator[Listener]:
    """A plain-HTTP server on another loopback address: a host the token must never reach."""
    with listening("127.0.0.2") as listener:
        yield listener


@pytest.fixture
def proxy() -> Iterator[Listener]:
    """A proxy on another address (as on a build agent): it counts tokens it sees and tunnels CONNECTs."""
    with listening("127.0.0.4") as listener:
        yield listener


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    return tmp_path


def through_proxy(monkeypatch: pytest.MonkeyPatch, proxy: Listener, no_proxy: str | None = None) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)


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


def test_an_endpoint_hiding_another_host_before_a_backslash_at_localhost_sends_it_no_token(
    other_host: Listener,
) -> None:
    endpoint = f"http://{other_host.host}:{other_host.port}\\@localhost"
    with ElasticJobsClient(endpoint, StaticToken(PLANTED_SECRET), sleep=lambda _: None) as client:
        with pytest.raises(UnsafeDestination) as refused:
            list(client.list_executions(job_ref()))
    assert "userinfo" in str(refused.value) and "azure-elastic-jobs:endpoint" in str(refused.value)
    assert PLANTED_SECRET not in str(refused.value)
    assert other_host.seen == []


def test_an_endpoint_naming_the_azure_host_after_a_backslash_sends_no_azure_ad_token_elsewhere(
    monkeypatch: pytest.MonkeyPatch, certificates: Path
) -> None:
    tls, cert = certificate_for(certificates, "attacker.example")  # the attacker holds a valid certificate
    with listening("127.0.0.2", tls=tls) as attacker:
        fake_dns(monkeypatch, {"attacker.example": attacker})
        endpoint = "https://attacker.example\\@management.azure.com"
        with ElasticJobsClient(endpoint, issued_azure_token(), verify=str(cert), sleep=lambda _: None) as client:
            with pytest.raises(UnsafeDestination) as refused:
                list(client.list_executions(job_ref()))
    assert "userinfo" in str(refused.value) and "azure-elastic-jobs:endpoint" in str(refused.value)
    assert attacker.seen == []


def test_a_loopback_endpoint_never_sends_its_token_to_the_environment_proxy(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, tls_emulator: Emulator, proxy: Listener
) -> None:
    before = [len(running.requests_log()) for running in (emulator, tls_emulator)]
    through_proxy(monkeypatch, proxy)  # HTTP_PROXY and friends on another host, and no NO_PROXY
    for running in (emulator, tls_emulator):
        with ElasticJobsClient(running.url, StaticToken(running.token), verify=running.ca_bundle or True) as client:
            list(client.list_executions(job_ref()))
    monkeypatch.undo()  # the emulator's own admin calls (requests_log) follow the environment's proxy
    assert proxy.seen == []
    assert [len(running.requests_log()) for running in (emulator, tls_emulator)] == [n + 1 for n in before]


def test_an_https_endpoint_reaches_its_host_through_the_environment_proxy_in_a_tunnel(
    monkeypatch: pytest.MonkeyPatch, proxy: Listener, certificates: Path
) -> None:
    tls, cert = certificate_for(certificates, "arm.example")
    with listening("127.0.0.3", tls=tls) as endpoint:
        fake_dns(monkeypatch, {})  # the client resolves nothing: the proxy connects for it
        proxy.tunnels[f"arm.example:{endpoint.port}"] = (endpoint.host, endpoint.port)
        through_proxy(monkeypatch, proxy)
        with ElasticJobsClient(f"https://arm.example:{endpoint.port}", StaticToken("dev"), verify=str(cert)) as client:
            list(client.list_executions(job_ref()))
    assert proxy.seen == [Seen("CONNECT", f"arm.example:{endpoint.port}", None)]  # the token stayed inside TLS
    assert endpoint.tokens == ["Bearer dev"]


def test_an_https_endpoint_named_in_no_proxy_is_reached_directly(
    monkeypatch: pytest.MonkeyPatch, proxy: Listener, certificates: Path
) -> None:
    tls, cert = certificate_for(certificates, "arm.example")
    with listening("127.0.0.3", tls=tls) as endpoint:
        fake_dns(monkeypatch, {"arm.example": endpoint})
        through_proxy(monkeypatch, proxy, no_proxy="arm.example")
        with ElasticJobsClient(f"https://arm.example:{endpoint.port}", StaticToken("dev"), verify=str(cert)) as client:
            list(client.list_executions(job_ref()))
    assert proxy.seen == []
    assert endpoint.tokens == ["Bearer dev"]


@pytest.mark.parametrize(
    "service_origin",
    ["https://management.azure.com:443", "https://MANAGEMENT.Azure.com", "https://management.azure.com."],
)
def test_a_next_link_spelling_the_azure_origin_differently_is_followed(
    monkeypatch: pytest.MonkeyPatch, certificates: Path, service_origin: str
) -> None:
    tls, cert = certificate_for(certificates, "management.azure.com")
    with listening("127.0.0.3", tls=tls) as azure:
        fake_dns(monkeypatch, {"management.azure.com": azure})
        azure.next_link = f"{service_origin}{job_ref().path}/executions?api-version=2024-05-01-preview&$skip=1"
        with ElasticJobsClient(
            "https://management.azure.com", issued_azure_token(), verify=str(cert), sleep=lambda _: None
        ) as client:
            assert list(client.list_executions(job_ref())) == []
    assert azure.tokens == [f"Bearer {AZURE_AD_TOKEN}"] * 2


def test_a_next_link_with_an_upper_case_scheme_on_the_same_origin_is_followed() -> None:
    """Found by the routing fuzz test: ``HTTP://`` was taken for a path and the page refused as foreign."""
    with listening("127.0.0.1") as home:
        home.next_link = f"HTTP://{home.host}:{home.port}{job_ref().path}/executions?$skip=1"
        with ElasticJobsClient(home.url, StaticToken("dev"), sleep=lambda _: None) as client:
            assert list(client.list_executions(job_ref())) == []
    assert home.tokens == ["Bearer dev"] * 2


def test_a_next_link_to_the_absolute_name_localhost_dot_gets_no_plain_http_token(
    monkeypatch: pytest.MonkeyPatch, other_host: Listener
) -> None:
    """``localhost.`` is the endpoint's origin by name, but a resolver may ask DNS for it, which may answer
    anything (here: another host)."""
    with listening("127.0.0.1") as home:
        fake_dns(monkeypatch, {"localhost.": other_host})
        home.next_link = f"http://localhost.:{home.port}{job_ref().path}/executions?$skip=1"
        with ElasticJobsClient(f"http://localhost:{home.port}", StaticToken("dev"), sleep=lambda _: None) as client:
            with pytest.raises(UnsafeDestination, match="loopback"):
                list(client.list_executions(job_ref()))
    assert home.tokens == ["Bearer dev"]
    assert other_host.seen == []
