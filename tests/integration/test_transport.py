"""The transport over real sockets, against servers and proxies whose every byte the test writes: connections
reused, answers read as sent, hostile framing refused, and failures told apart by whether the request left.

Each test of a defect from issue 36 says which one; each failed against the hand-written transport it replaced.
"""

from __future__ import annotations

import base64
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from pulumi_azure_elastic_jobs.transport import (
    ExchangeFailed,
    NotConnected,
    ProxyRefused,
    ResponseTooLarge,
    Transport,
    TransportClosed,
    UntrustedPeer,
    Unusable,
)
from tests.integration.byte_servers import Server, Talk, answering, ok, proxy_answering


def transport_to(server: Server, **options: object) -> Transport:
    return Transport("http", "127.0.0.1", server.port, connect_timeout=2, read_timeout=2, **options)  # type: ignore[arg-type]


def through_proxy(proxy: Server, host: str = "arm.example", **options: object) -> Transport:
    return Transport(
        "https",
        host,
        443,
        proxy=f"http://user:pa%2Fss@127.0.0.1:{proxy.port}",
        connect_timeout=1,
        read_timeout=1,
        **options,  # type: ignore[arg-type]
    )


# --- what a connection pool must do --------------------------------------------------------------------------------


def test_one_connection_carries_request_after_request(serve: Callable[[Talk], Server]) -> None:
    server = serve(answering(ok()))
    transport = transport_to(server)
    answers = [transport.send("GET", f"/runs/{n}?api-version=1", {"Accept": "application/json"}) for n in range(5)]
    assert [a.data for a in answers] == [b'{"ok": true}'] * 5
    assert server.connections == 1 and len(server.requests) == 5
    assert server.requests[0].startswith(b"GET /runs/0?api-version=1 HTTP/1.1\r\n")


def test_a_connection_the_server_closed_while_idle_is_never_used_so_a_get_is_not_lost(
    serve: Callable[[Talk], Server],
) -> None:
    server = serve(answering(ok(), close=True))
    transport = transport_to(server)
    transport.send("GET", "/", {})
    assert server.closed.wait(5)
    time.sleep(0.05)  # the server's FIN reaches the idle connection
    assert transport.send("GET", "/", {}).status == 200
    assert server.connections == 2 and len(server.requests) == 2


def test_a_request_that_must_not_be_repeated_goes_out_on_a_connection_of_its_own(
    serve: Callable[[Talk], Server],
) -> None:
    """A server's keep-alive timer may close a connection while a request is on its way; for a start POST the
    client then could neither repeat it nor say it did not act. Such a request opens a connection for itself and
    asks the server to close it after."""
    server = serve(answering(ok()))
    transport = transport_to(server)
    transport.send("GET", "/", {})
    transport.send("GET", "/", {})
    assert server.connections == 1
    for _ in range(2):
        transport.send("POST", "/start", {}, b"{}", repeatable=False)
    assert server.connections == 3
    assert all(b"\r\nConnection: close" in head for head in server.requests[2:])


def test_the_client_asks_for_no_encoding_and_refuses_an_answer_encoded_anyway(serve: Callable[[Talk], Server]) -> None:
    """A decompressor fed by a hostile peer is a memory bomb (defect 3), and ARM's answers are small: answers are
    taken as sent, and one compressed by a server or proxy that did not listen is a failed exchange."""
    body = b'{"value": []}' * 100
    server = serve(answering(ok(body)))
    assert transport_to(server).send("GET", "/", {"Accept-Encoding": "gzip"}).data == body
    assert b"\r\nAccept-Encoding: identity" in server.requests[0]
    for encoded, encoding in ((gzip.compress(body), "gzip"), (zlib.compress(body), "deflate"), (body, "br")):
        with pytest.raises(ExchangeFailed, match="did not ask for"):
            transport_to(serve(answering(ok(encoded, f"Content-Encoding: {encoding}")))).send("GET", "/", {})
    empty = b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n"
    assert transport_to(serve(answering(empty))).send("DELETE", "/", {}).data == b""


def test_headers_are_read_whatever_their_case_and_a_repeated_one_joins(serve: Callable[[Talk], Server]) -> None:
    server = serve(answering(ok(b"{}", "Retry-After: 5", "x-ms-request-id: abc", "Warning: a", "warning: b")))
    headers = transport_to(server).send("GET", "/", {}).headers
    assert headers["retry-after"] == "5" and headers.get("X-MS-REQUEST-ID") == "abc" and "RETRY-AFTER" in headers
    assert headers["Warning"] == "a, b" and headers.get("Location") is None and "Location" not in headers


def test_an_answer_that_closes_its_connection_is_not_kept(serve: Callable[[Talk], Server]) -> None:
    """The server says it closes, but keeps the connection open: the client opens a new one all the same."""
    server = serve(answering(ok(b"{}", "Connection: close")))
    transport = transport_to(server)
    transport.send("GET", "/", {})
    transport.send("GET", "/", {})
    assert server.connections == 2


# --- whether the request left ---------------------------------------------------------------------------------------


def test_nothing_listening_is_a_refused_connection_that_never_sent_anything() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with pytest.raises(NotConnected) as raised:
        Transport("http", "127.0.0.1", port, connect_timeout=2).send("POST", "/start", {}, b"{}", repeatable=False)
    assert raised.value.refused


def test_a_connection_dropped_before_the_answer_may_have_sent_the_request(serve: Callable[[Talk], Server]) -> None:
    server = serve(answering(b""))
    with pytest.raises(ExchangeFailed):
        transport_to(server).send("POST", "/start", {}, b"{}", repeatable=False)
    assert len(server.requests) == 1  # it did arrive: the client must not take it for never sent


def test_a_tls_handshake_the_peer_drops_is_a_connection_that_never_sent_anything(
    serve: Callable[[Talk], Server],
) -> None:
    """Defect 2: a load balancer that drops one handshake (``SSLEOFError``) was reported as an untrusted
    certificate after one try; nothing was sent, so it is retryable."""

    def drop_the_handshake(connection: socket.socket, server: Server) -> None:
        connection.recv(4096)  # the ClientHello

    server = serve(drop_the_handshake)
    transport = Transport("https", "127.0.0.1", server.port, connect_timeout=2, read_timeout=2)
    with pytest.raises(NotConnected) as raised:
        transport.send("POST", "/start", {}, b"{}", repeatable=False)
    assert not isinstance(raised.value, UntrustedPeer) and server.connections == 1


def test_a_certificate_not_trusted_is_untrusted_peer(tmp_path: Path) -> None:
    """Trust is the one handshake failure retrying cannot fix (the emulator's own certificate, not trusted)."""
    from elastic_jobs_emulator import Emulator

    with Emulator(tls=True, data_dir=tmp_path) as emulator, pytest.raises(UntrustedPeer):
        host, port = emulator.url.removeprefix("https://").rsplit(":", 1)
        Transport("https", host, int(port), connect_timeout=2).send("GET", "/", {})


# --- hostile framing -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["with-a-length", "chunked"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-of-empty-blocks"])
def test_a_compressed_answer_is_never_expanded_nor_held(
    serve: Callable[[Talk], Server], encoding: str, chunked: bool
) -> None:
    """Defect 3: a 2 MB gzip answer was expanded towards 2 GiB, on every retry; urllib3's own decoder holds the
    raw bytes of a deflate stream that yields nothing (empty stored blocks) until some output comes. Here 20 MiB
    of zeros, or 8 MB of empty blocks, against a limit of 1 MiB: refused at its first bytes, little memory held."""
    if encoding == "gzip":
        body, name = gzip.compress(bytes(20 * 1024 * 1024), compresslevel=9), "gzip"
    elif encoding == "deflate":
        body, name = zlib.compress(bytes(20 * 1024 * 1024), 9), "deflate"
    else:
        body, name = b"\x78\x01" + b"\x00\x00\x00\xff\xff" * 1_600_000, "deflate"
    if chunked:
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {name}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        reply = head + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    else:
        reply = ok(body, f"Content-Encoding: {name}")
    server = serve(answering(reply))
    tracemalloc.start()
    try:
        with pytest.raises(ExchangeFailed, match="did not ask for"):
            transport_to(server, max_response_bytes=1024 * 1024).send("GET", "/", {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"{peak} bytes held"


def test_a_plain_answer_past_the_limit_is_refused_too(serve: Callable[[Talk], Server]) -> None:
    server = serve(answering(ok(b"x" * 5000)))
    with pytest.raises(ResponseTooLarge):
        transport_to(server, max_response_bytes=4096).send("GET", "/", {})
    assert transport_to(server, max_response_bytes=5000).send("GET", "/", {}).data == b"x" * 5000


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n{}",
    ],
    ids=["content-length-of-a-terabyte", "chunk-of-256-terabytes"],
)
def test_an_answer_that_announces_more_than_it_sends_is_a_failed_exchange_not_a_memory_error(
    serve: Callable[[Talk], Server], head: bytes
) -> None:
    """Defect 5: ``Content-Length: 10^12`` (or such a chunk) and then a close raised ``MemoryError``, outside
    the client's errors and retries."""

    def announce_and_close(connection: socket.socket, server: Server) -> None:
        server.read_request(connection)
        connection.sendall(head)

    with pytest.raises(ExchangeFailed):
        transport_to(serve(announce_and_close)).send("GET", "/", {})


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n",  # then trailers, forever
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",  # then a byte at a time, forever
    ],
    ids=["endless-trailers", "a-trickle"],
)
def test_an_answer_that_never_ends_is_cut_at_the_exchange_deadline(
    serve: Callable[[Talk], Server], reply: bytes
) -> None:
    """Each read comes within the read timeout, so only a deadline on the whole exchange ends it (the reads of a
    trickle and the lines of trailers are the standard library's, which has no such bound)."""
    stop = threading.Event()

    def never_ending(connection: socket.socket, server: Server) -> None:
        server.read_request(connection)
        connection.sendall(reply)
        until = time.monotonic() + 8  # "forever", bounded so that a transport without a deadline fails, not hangs
        while not stop.is_set() and time.monotonic() < until:
            connection.sendall(b"X-Trailer: more\r\n" if b"chunked" in reply else b" ")
            time.sleep(0.01)

    transport = Transport("http", "127.0.0.1", serve(never_ending).port, connect_timeout=0.5, read_timeout=0.5)
    began = time.monotonic()
    try:
        with pytest.raises(ExchangeFailed, match=r"no whole answer within 1\.5 s"):
            transport.send("GET", "/", {})
    finally:
        stop.set()
    assert time.monotonic() - began < 4


def test_a_closed_transport_says_so_and_sends_nothing(serve: Callable[[Talk], Server]) -> None:
    server = serve(answering(ok()))
    transport = transport_to(server)
    transport.close()
    with pytest.raises(TransportClosed):
        transport.send("POST", "/start", {}, b"{}", repeatable=False)
    assert server.connections == 0


def test_two_different_content_lengths_are_refused(serve: Callable[[Talk], Server]) -> None:
    """Defect 6: RFC 9112 section 6.3: an answer with two different lengths is unreadable (a smuggling vector)."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 12\r\n\r\n{}" + b'{"ok": true}'
    with pytest.raises(ExchangeFailed):
        transport_to(serve(answering(reply))).send("GET", "/", {})


# --- proxies ---------------------------------------------------------------------------------------------------------


def test_a_proxy_that_refuses_the_credentials_is_asked_once_and_the_error_says_so(
    serve: Callable[[Talk], Server],
) -> None:
    """Defect 4: a 407 to CONNECT was retried like a timeout, one failed proxy login a try."""
    proxy = serve(proxy_answering(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"))
    with pytest.raises(ProxyRefused) as raised:
        through_proxy(proxy).send("GET", "/", {})
    assert raised.value.status == 407 and proxy.connections == 1
    (connect,) = proxy.requests
    assert connect.startswith(b"CONNECT arm.example:443 HTTP/1.")
    assert b"\r\nproxy-authorization: basic dxnlcjpwys9zcw==" in connect.lower()  # user:pa/ss, as the URL decodes
    assert b"pa/ss" not in str(raised.value).encode() and "pa%2Fss" not in str(raised.value)


def test_a_proxy_that_never_ends_its_answer_to_connect_is_cut_off_at_the_connect_timeout(
    serve: Callable[[Talk], Server],
) -> None:
    """Defect 7: a proxy answering CONNECT 200 and then header lines forever hung the request past every
    timeout (each line came within the read timeout)."""
    stop = threading.Event()

    def endless_headers(connection: socket.socket) -> None:
        until = time.monotonic() + 8  # "forever", bounded so that a transport without a deadline fails, not hangs
        while not stop.is_set() and time.monotonic() < until:
            connection.sendall(b"X-Filler: more\r\n")
            time.sleep(0.01)

    proxy = serve(proxy_answering(b"HTTP/1.1 200 Connection established\r\n", then=endless_headers))
    began = time.monotonic()
    try:
        with pytest.raises(NotConnected):
            through_proxy(proxy).send("GET", "/", {})
    finally:
        stop.set()
    assert time.monotonic() - began < 5


def test_an_ipv6_endpoint_through_a_proxy_is_asked_for_in_brackets(serve: Callable[[Talk], Server]) -> None:
    """Defect 8: ``CONNECT 2001:db8::1:443`` (unbracketed) names no host a proxy can read."""
    proxy = serve(proxy_answering(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
    with pytest.raises(ProxyRefused):
        through_proxy(proxy, host="2001:db8::1").send("GET", "/", {})
    assert proxy.requests[0].startswith(b"CONNECT [2001:db8::1]:443 HTTP/1.")


@pytest.mark.parametrize(
    "proxy",
    [
        "http://user:se/cret@proxy.example:3128",
        "http://user:se#cret@proxy.example:3128",
        "http://user:se?cret@proxy.example:3128",
        "http://user:secret@pro xy:3128",
        "http://user:secret@proxy.example:31x8",
    ],
)
def test_a_proxy_url_that_cannot_be_read_is_refused_without_showing_its_password(proxy: str) -> None:
    """Defect 9: a password holding ``/``, ``#`` or ``?`` put part of itself in a raw ``ValueError``; a host the
    library cannot connect to raised its own error, the URL in it."""
    with pytest.raises(Unusable) as raised:
        Transport("https", "arm.example", 443, proxy=proxy)
    assert "cret" not in str(raised.value) and raised.value.of == "proxy"


def test_a_proxy_password_of_any_language_is_sent_as_utf_8(serve: Callable[[Talk], Server]) -> None:
    """RFC 7617: Basic credentials are UTF-8; a password outside Latin-1 raised a raw ``UnicodeEncodeError`` that
    quoted it."""
    proxy = serve(proxy_answering(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
    transport = Transport(
        "https", "arm.example", 443, proxy=f"http://user:p%C5%99%C3%ADli%C5%A1@127.0.0.1:{proxy.port}"
    )
    with pytest.raises(ProxyRefused):
        transport.send("GET", "/", {})
    sent = proxy.requests[0].split(b"Basic ")[1].split(b"\r\n")[0]
    assert base64.b64decode(sent).decode() == "user:příliš"


def test_a_ca_bundle_that_cannot_be_read_or_an_https_proxy_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.pem"
    with pytest.raises(Unusable, match=r"nothing-here\.pem"):
        Transport("https", "arm.example", 443, verify=str(missing))
    with pytest.raises(Unusable, match="not an http:// proxy"):
        Transport("https", "arm.example", 443, proxy="https://proxy.example:3128")
