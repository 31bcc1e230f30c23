"""Property: wherever the client connects, its token is allowed there, for any endpoint or service URL.

Hypothesis writes endpoints and ``nextLink`` URLs from pieces that trip URL parsers (userinfo, backslashes,
percent-encoding, case, trailing dots, ports written several ways, IPv6 and IPv4-mapped literals, ``@`` in odd
places, mixed schemes) around the addresses of real local listeners, each of which counts the Authorization
headers it receives. What may receive a token is known from how the URL was built, never by parsing it again:
the one listener the host and port name, if the token's rules allow it there, and nothing at all when anything
stands before the host. The environment's proxy (another listener) must never see a token: loopback and
plain-HTTP endpoints do not use it, and named HTTPS hosts reach it only as CONNECT tunnels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pulumi_azure_elastic_jobs.auth import StaticToken, TokenSource
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.errors import ElasticJobsError
from tests.conftest import job_ref
from tests.integration.listeners import Listener, certificate_for, fake_dns, listening
from tests.integration.test_token_routing import AZURE_AD_TOKEN, issued_azure_token, through_proxy

STATIC_TOKEN = "static-token-under-fuzz"

# Each host spelling, and the address it connects to (None: a name nothing resolves) -- known by construction.
SPELLINGS: dict[str, str | None] = {
    "127.0.0.1": "127.0.0.1",
    "localhost": "127.0.0.1",
    "LocalHost": "127.0.0.1",
    "localhost.": None,
    "127.1": "127.0.0.1",
    "2130706433": "127.0.0.1",
    "[::ffff:127.0.0.1]": "127.0.0.1",
    "127.0.0.2": "127.0.0.2",
    "[::ffff:7f00:2]": "127.0.0.2",
    "build-agent.example": "127.0.0.2",
    "[::1]": "::1",
    "[0:0::1]": "::1",
    "[::0001]": "::1",
    "[::1%25lo]": "::1",
    "127.0.0.3": "127.0.0.3",
    "management.azure.com": "127.0.0.3",
    "MANAGEMENT.azure.COM": "127.0.0.3",
    "management.azure.com.": "127.0.0.3",
    "attacker.example": "127.0.0.5",
    "b\u00fccher.example": None,
    "local%68ost": None,
}
NAMES = {"build-agent.example": "127.0.0.2", "management.azure.com": "127.0.0.3", "attacker.example": "127.0.0.5"}
LOOPBACK_SPELLINGS = {"127.0.0.1", "localhost", "LocalHost", "127.0.0.2", "[::ffff:127.0.0.1]", "[::ffff:7f00:2]"}
LOOPBACK_SPELLINGS |= {"[::1]", "[0:0::1]", "[::0001]", "127.0.0.3"}
AZURE_SPELLINGS = {"management.azure.com", "MANAGEMENT.azure.COM", "management.azure.com."}

# Before the host: anything here makes the URL one no token may follow ({other} is another listener).
PREFIXES = ["", "user@", "user:pw@", "{other}\\@", "{other}@", "@", "%40@", "\\@", "{other}%40", "a%2F@"]
# After the port: the first five leave the host alone; the rest make it unreadable or put '@' before a host.
SAFE_SUFFIXES = ["", "/", "/x@{other}", "?x=@{other}", "#@{other}"]
SUFFIXES = [*SAFE_SUFFIXES, "\\@{other}", "@{other}", "%2F@{other}", "\\\\{other}", ".", ":1", "%00", "\t"]
PORTS = ["listener", "listener-zero", "default", ":443", ":80"]


@dataclass(frozen=True)
class Shape:
    scheme: str
    prefix: str
    host: str
    port: str
    port_of: str
    suffix: str


shapes = st.builds(
    Shape,
    scheme=st.sampled_from(["own", "OWN"]) | st.sampled_from(["http", "https", "HTTP", "hTTpS"]),
    prefix=st.just("") | st.sampled_from(PREFIXES),  # half the time nothing before the host
    host=st.sampled_from(list(SPELLINGS)),
    port=st.just("listener") | st.sampled_from(PORTS),
    port_of=st.just("own") | st.sampled_from(["home", "other", "v6", "azure", "attacker"]),
    suffix=st.sampled_from(SAFE_SUFFIXES) | st.sampled_from(SUFFIXES),
)


@dataclass
class Place:
    listeners: dict[str, Listener]
    proxy: Listener
    ca_bundle: Path

    def port_of(self, shape: Shape) -> int:
        """The port of the listener ``shape`` names for its port ("own": the one at its host's address)."""
        if shape.port_of != "own":
            return self.listeners.get(shape.port_of, self.listeners["home"]).port
        address = SPELLINGS[shape.host]
        return next((x.port for x in self.listeners.values() if x.host == address), self.listeners["home"].port)

    def scheme_of(self, shape: Shape) -> str:
        """The scheme as written ("own"/"OWN": that of the listener at the host's address, in lower/upper case)."""
        if shape.scheme.lower() != "own":
            return shape.scheme
        address = SPELLINGS[shape.host]
        scheme = next((x.scheme for x in self.listeners.values() if x.host == address), "http")
        return scheme.upper() if shape.scheme == "OWN" else scheme

    def render(self, shape: Shape) -> str:
        other = self.listeners["other"]
        fill = {"other": f"{other.host}:{other.port}"}
        number = self.port_of(shape)
        port = {"listener": f":{number}", "listener-zero": f":0{number}", "default": ""}.get(shape.port, shape.port)
        prefix, suffix = shape.prefix.format(**fill), shape.suffix.format(**fill)
        return f"{self.scheme_of(shape)}://{prefix}{shape.host}{port}{suffix}"

    def reached(self, shape: Shape) -> Listener | None:
        """The listener the host and port name, from how the URL was built."""
        address = SPELLINGS[shape.host]
        wanted = self.port_of(shape) if shape.port.startswith("listener") else None
        for listener in self.listeners.values():
            by_name = shape.host.lower().rstrip(".") in NAMES  # the fake resolver ignores the port asked for
            if listener.host == address and (by_name or listener.port == wanted):
                return listener
        return None

    def reset(self) -> None:
        for listener in [*self.listeners.values(), self.proxy]:
            listener.reset()


def may_receive(place: Place, shape: Shape, azure: bool) -> bool:
    """Whether the token's rules let it go where ``shape`` points (the listener it names)."""
    if shape.prefix or shape.suffix not in SAFE_SUFFIXES:
        return False
    https = place.scheme_of(shape).lower() == "https"
    if azure:
        return https and shape.host in AZURE_SPELLINGS and shape.port in ("default", ":443")
    return https or shape.host in LOOPBACK_SPELLINGS


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    directory = tmp_path_factory.mktemp("certificates")
    azure_tls, azure_cert = certificate_for(directory, "management.azure.com", "127.0.0.3", "localhost")
    attacker_tls, attacker_cert = certificate_for(directory, "attacker.example", "127.0.0.5")
    bundle = directory / "bundle.pem"
    bundle.write_bytes(azure_cert.read_bytes() + attacker_cert.read_bytes())
    with contextlib.ExitStack() as stack:
        listeners = {
            "home": stack.enter_context(listening("127.0.0.1")),
            "other": stack.enter_context(listening("127.0.0.2")),
            "azure": stack.enter_context(listening("127.0.0.3", tls=azure_tls)),
            "attacker": stack.enter_context(listening("127.0.0.5", tls=attacker_tls)),
        }
        with contextlib.suppress(OSError):  # a machine without IPv6 loopback: its spellings reach nothing
            listeners["v6"] = stack.enter_context(listening("::1"))
        proxy = stack.enter_context(listening("127.0.0.4"))
        yield Place(listeners, proxy, bundle)


@pytest.fixture
def hermetic(monkeypatch: pytest.MonkeyPatch, place: Place) -> Place:
    """Names resolve only to the listeners, and the environment's proxy is the counting one."""
    fake_dns(monkeypatch, {name: next(x for x in place.listeners.values() if x.host == a) for name, a in NAMES.items()})
    through_proxy(monkeypatch, place.proxy)
    for name, address in NAMES.items():  # the proxy reaches named hosts the way the fake resolver does
        place.proxy.tunnels[name] = next((x.host, x.port) for x in place.listeners.values() if x.host == address)
    return place


def token_source(azure: bool) -> TokenSource:
    return issued_azure_token() if azure else StaticToken(STATIC_TOKEN)


def list_through(place: Place, endpoint: str, azure: bool) -> None:
    with ElasticJobsClient(
        endpoint,
        token_source(azure),
        retry_budget_seconds=0,
        connect_timeout=2,
        read_timeout=2,
        verify=str(place.ca_bundle),
        sleep=lambda _: None,
    ) as client:
        with contextlib.suppress(ElasticJobsError):  # refused, unreachable, not TLS: who got a token is what counts
            list(client.list_executions(job_ref()))


def assert_proxy_saw_no_token(place: Place) -> None:
    assert place.proxy.tokens == []
    assert {seen.method for seen in place.proxy.seen} <= {"CONNECT"}  # a tunnel, never a forwarded request


def bearer(azure: bool) -> str:
    return f"Bearer {AZURE_AD_TOKEN if azure else STATIC_TOKEN}"


@settings(max_examples=200)
@given(shape=shapes, azure=st.booleans())
def test_an_endpoint_sends_its_token_only_where_it_may_go(hermetic: Place, shape: Shape, azure: bool) -> None:
    place = hermetic
    place.reset()
    list_through(place, place.render(shape), azure)
    allowed = place.reached(shape) if may_receive(place, shape, azure) else None
    for listener in place.listeners.values():
        if listener is not allowed:
            assert listener.tokens == [], f"{place.render(shape)!r} sent the token to {listener.url}"
    assert_proxy_saw_no_token(place)
    event("token delivered" if any(x.tokens for x in place.listeners.values()) else "no token sent")
    plain = shape.host in ("127.0.0.1", "[::1]", "management.azure.com") and shape.port != "default"
    if allowed is not None and plain and allowed.scheme == place.scheme_of(shape).lower():
        assert allowed.tokens == [bearer(azure)]  # a plainly written endpoint is reached


@settings(max_examples=200)
@given(shape=shapes, azure=st.booleans())
def test_a_next_link_leads_the_token_nowhere_but_the_endpoint(hermetic: Place, shape: Shape, azure: bool) -> None:
    place = hermetic
    place.reset()
    home = place.listeners["azure" if azure else "home"]
    endpoint = "https://management.azure.com" if azure else home.url
    home.next_link = f"{place.render(shape)}{job_ref().path}/executions?$skip=1"
    list_through(place, endpoint, azure)
    for listener in place.listeners.values():
        if listener is not home:
            assert listener.tokens == [], f"nextLink {home.next_link!r} sent the token to {listener.url}"
    assert_proxy_saw_no_token(place)
    assert 1 <= len(home.tokens) <= 2
    event("nextLink followed" if len(home.tokens) == 2 else "nextLink refused")
    same = shape.host in (AZURE_SPELLINGS if azure else {"127.0.0.1"}) and place.scheme_of(shape).lower() == home.scheme
    same = same and shape.port in (("default", ":443") if azure else ("listener", "listener-zero"))
    same = same and (azure or place.port_of(shape) == home.port) and not shape.prefix and shape.suffix in ("", "/")
    if same:
        assert home.tokens == [bearer(azure)] * 2  # the same origin, however spelled, is followed
