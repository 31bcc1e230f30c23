"""Where a URL goes, read as the connection reads it: one normalized origin, or a refusal. No sockets."""

from __future__ import annotations

import pytest

from pulumi_azure_elastic_jobs.auth import CLOUDS, AzureIdentityToken, StaticToken
from pulumi_azure_elastic_jobs.client import proxies_for
from pulumi_azure_elastic_jobs.destinations import Origin, UnreadableDestination, destination, is_loopback

AZURE = Origin("https", "management.azure.com", 443)


@pytest.mark.parametrize(
    "url",
    [
        "https://management.azure.com/subscriptions/x",
        "https://management.azure.com:443/subscriptions/x",  # ARM writes the default port in some nextLinks
        "HTTPS://MANAGEMENT.Azure.COM/subscriptions/x",
        "https://management.azure.com./subscriptions/x",
        "https://management.azure.com:0443/subscriptions/x?$skip=1",
    ],
)
def test_spellings_of_the_azure_origin_are_one_origin(url: str) -> None:
    assert destination(url) == AZURE
    assert AzureIdentityToken(CLOUDS["public"]).refusal(url) is None


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://[::1]:80/x", Origin("http", "::1", 80)),
        ("http://[0:0:0:0:0:0:0:1]/x", Origin("http", "::1", 80)),
        ("http://LOCALHOST:8443", Origin("http", "localhost", 8443)),
        ("https://bücher.example/x", Origin("https", "xn--bcher-kva.example", 443)),
        ("http://localhost:8443/a\\@b#@c", Origin("http", "localhost", 8443)),  # after the host: only a path
    ],
)
def test_ipv6_forms_case_and_international_names_normalize(url: str, origin: Origin) -> None:
    assert destination(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "http://user@localhost:8443",
        "http://user:secret@localhost:8443",
        "http://127.0.0.2:8080\\@localhost",
        "https://attacker.example\\@management.azure.com",
        "http://a@b@localhost",
        "http://localhost%2F@127.0.0.2",
        "http://localhost:8443@",
    ],
)
def test_userinfo_is_refused_outright_whoever_reads_it(url: str) -> None:
    with pytest.raises(UnreadableDestination):
        destination(url)
    refusal = StaticToken("dev").refusal(url)
    assert refusal is not None and "azure-elastic-jobs:endpoint" in refusal
    assert "secret" not in refusal


@pytest.mark.parametrize(
    "url",
    ["http://local%68ost:8443", "http://[::1%25lo]:8443", "ftp://localhost", "http:///x", "http://localhost:99999"],
)
def test_a_url_with_no_single_destination_is_refused(url: str) -> None:
    with pytest.raises(UnreadableDestination):
        destination(url)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.2", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost.", False),  # an absolute name a resolver may send to DNS
        ("localhost.example", False),
        ("0.0.0.0", False),
        ("127.1", False),  # not an address the standard reads; refused rather than guessed
    ],
)
def test_loopback_means_this_machine_only(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_loopback_and_plain_http_endpoints_never_use_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for endpoint in ("http://127.0.0.1:8443", "https://localhost:8443", "https://[::1]:8443", "http://arm.example"):
        assert proxies_for(destination(endpoint), endpoint) == {}
    assert proxies_for(AZURE, "https://management.azure.com") == {"https": "http://proxy.example:3128"}
    monkeypatch.setenv("NO_PROXY", ".azure.com")
    assert proxies_for(AZURE, "https://management.azure.com") == {}


def test_the_routing_examples_of_the_configuration_page_are_refused() -> None:
    """The "refused, for example" column of docs/installation-configuration.md, Where tokens go."""
    azure, static = AzureIdentityToken(CLOUDS["public"]), StaticToken("dev")
    assert azure.refusal("https://management.azure.com:8443/x") is not None
    assert azure.refusal("https://my-proxy.example/x") is not None
    for url in ("http://build-agent:8443", "http://localhost.:8443", "http://127.1", "http://local%68ost"):
        assert static.refusal(url) is not None
    for url in ("http://user@localhost:8443", "http://127.0.0.2:80\\@localhost"):
        assert static.refusal(url) is not None
    assert azure.refusal("https://attacker.example\\@management.azure.com") is not None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://local%68ost:8443", "reads as more than one destination"),
        ("ftp://localhost", "is not an http:// or https:// URL"),
        ("http:///x", "is not a URL requests can send to (Invalid URL 'http:///x': No host supplied)"),
        ("http://localhost:99999", "is not a URL requests can send to"),
        ("http://[::1:8443/x", "is not a URL requests can send to"),
        ("http://user@localhost:8443", "carries userinfo (as written, before an '@')"),
    ],
)
def test_a_refused_url_says_which_reading_refused_it(url: str, reason: str) -> None:
    """Found by the generated mutants: every refusal was tested, but not which rule refused, so the user's words
    for a refusal (the first parser that cannot read the URL, in the order the connection would use them) could
    change unseen."""
    with pytest.raises(UnreadableDestination) as refused:
        destination(url)
    assert reason in str(refused.value)


def test_an_origin_is_written_as_a_url_with_its_port_only_when_not_the_schemes_default() -> None:
    assert str(Origin("https", "management.azure.com", 443)) == "https://management.azure.com"
    assert str(Origin("http", "localhost", 8443)) == "http://localhost:8443"
    assert str(Origin("http", "::1", 80)) == "http://[::1]"


@pytest.mark.parametrize("host", ["a\u200db.example", "exämple..com", "\u0661\u0662a.com"])
def test_an_international_name_idna_cannot_encode_is_refused_naming_the_host(host: str) -> None:
    from pulumi_azure_elastic_jobs.destinations import normalize_host

    with pytest.raises(UnreadableDestination) as refused:
        normalize_host(host)
    assert "is not a valid international name" in str(refused.value) and repr(host) in str(refused.value)
