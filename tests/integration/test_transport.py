"""The transport over real sockets, against a server whose every byte the test writes: connections reused, one the
server closed while idle never used, compressed answers read, and failures told apart by whether the request left.
"""

from __future__ import annotations

import gzip
import select
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pulumi_azure_elastic_jobs.transport import ExchangeFailed, Headers, NotConnected, Transport, Unusable

Answerer = Callable[[bytes], bytes | None]
"""Given a request's head, the bytes to answer (None: close the connection without answering)."""


@dataclass
class Server:
    """A loopback HTTP/1.1 server that answers each request with what ``answer`` returns, keeping connections open
    unless told to close one after answering."""

    answer: Answerer
    close_after_answer: bool = False
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    """Set once the server has closed a connection."""
    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(connection,), daemon=True).start()

    def _talk(self, connection: socket.socket) -> None:
        try:
            self._exchange(connection)
        finally:
            connection.close()
            self.closed.set()

    def _exchange(self, connection: socket.socket) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            self.requests.append(head)
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(buffer) < length:
                buffer += connection.recv(65536)
            buffer = buffer[length:]
            reply = self.answer(head)
            if reply is None:
                return
            connection.sendall(reply)
            if self.close_after_answer:  # as a server whose keep-alive timeout passed closes an idle one
                return


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(answer: Answerer, **options: bool) -> Server:
        server = Server(answer, **options)
        threading.Thread(target=server.serve, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.listener.close()


def ok(body: bytes = b'{"ok": true}', *headers: str) -> Answerer:
    lines = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    lines += [header.encode() for header in headers]
    reply = b"\r\n".join(lines) + b"\r\n\r\n" + body
    return lambda _: reply


def transport_to(server: Server) -> Transport:
    return Transport("http", "127.0.0.1", server.port, connect_timeout=2, read_timeout=2)


def test_one_connection_carries_request_after_request(serve: Callable[..., Server]) -> None:
    server = serve(ok())
    transport = transport_to(server)
    answers = [transport.send("GET", f"/runs/{n}?api-version=1", {"Accept": "application/json"}) for n in range(5)]
    assert [a.data for a in answers] == [b'{"ok": true}'] * 5
    assert server.connections == 1 and len(server.requests) == 5
    assert server.requests[0].startswith(b"GET /runs/0?api-version=1 HTTP/1.1\r\n")


def test_a_connection_the_server_closed_while_idle_is_never_used_so_a_post_is_not_lost(
    serve: Callable[..., Server],
) -> None:
    """A POST that is not safe to repeat must not go out on a connection the server already closed: it would fail
    after it may have been sent, and the client could neither repeat it nor say it did not act."""
    server = serve(ok(), close_after_answer=True)
    transport = transport_to(server)
    transport.send("GET", "/", {})
    assert server.closed.wait(5)
    ((idle, _),) = transport._idle
    assert idle.sock is not None and select.select([idle.sock], [], [], 5)[0]  # its FIN has arrived
    answer = transport.send("POST", "/start", {"Content-Type": "application/json"}, b"{}")
    assert answer.status == 200 and server.connections == 2 and len(server.requests) == 2


def test_answers_come_back_as_sent_before_their_content_encoding(serve: Callable[..., Server]) -> None:
    body = b'{"value": []}' * 100
    deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = deflate.compress(body) + deflate.flush()
    for encoded, encoding in (
        (gzip.compress(body), "gzip"),
        (zlib.compress(body), "deflate"),
        (raw_deflate, "deflate"),
    ):
        server = serve(ok(encoded, f"Content-Encoding: {encoding}"))
        assert transport_to(server).send("GET", "/", {}).data == body, encoding


def test_headers_are_read_whatever_their_case_and_a_repeated_one_joins() -> None:
    headers = Headers([("Retry-After", "5"), ("x-ms-request-id", "abc"), ("Warning", "a"), ("warning", "b")])
    assert headers["retry-after"] == "5" and headers.get("X-MS-REQUEST-ID") == "abc" and "RETRY-AFTER" in headers
    assert (
        headers["Warning"] == "a, b"
        and len(headers) == 3
        and list(headers) == ["Retry-After", "x-ms-request-id", "Warning"]
    )
    assert headers.get("Location") is None and "Location" not in headers


def test_an_answer_that_closes_its_connection_is_not_kept(serve: Callable[..., Server]) -> None:
    server = serve(ok(b"{}", "Connection: close"))
    transport = transport_to(server)
    transport.send("GET", "/", {})
    transport.send("GET", "/", {})
    assert server.connections == 2


def test_nothing_listening_is_a_refused_connection_that_never_sent_anything() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with pytest.raises(NotConnected) as raised:
        Transport("http", "127.0.0.1", port, connect_timeout=2).send("POST", "/start", {}, b"{}")
    assert raised.value.refused


def test_a_connection_dropped_before_the_answer_may_have_sent_the_request(serve: Callable[..., Server]) -> None:
    server = serve(lambda _: None)
    with pytest.raises(ExchangeFailed):
        transport_to(server).send("POST", "/start", {}, b"{}")
    assert len(server.requests) == 1  # it did arrive: the client must not take it for never sent


def test_an_empty_or_multi_member_compressed_answer_is_read_and_a_corrupt_one_is_a_failed_exchange(
    serve: Callable[..., Server],
) -> None:
    empty = b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n"
    assert transport_to(serve(lambda _: empty)).send("DELETE", "/", {}).data == b""
    two_members = gzip.compress(b'{"a": ') + gzip.compress(b"1}")
    assert transport_to(serve(ok(two_members, "Content-Encoding: x-gzip"))).send("GET", "/", {}).data == b'{"a": 1}'
    with pytest.raises(ExchangeFailed):
        transport_to(serve(ok(b"not gzip at all", "Content-Encoding: gzip"))).send("GET", "/", {})


def test_a_request_that_must_not_be_repeated_never_goes_out_on_a_connection_idle_too_long(
    serve: Callable[..., Server],
) -> None:
    """A server's keep-alive timer may close a connection while a request is on its way; for a start POST the
    client then could neither repeat it nor say it did not act. Such a request takes a fresh connection."""
    server = serve(ok())
    transport = transport_to(server)
    transport.send("GET", "/", {})
    transport.send("GET", "/", {}, idle_at_most=60)
    assert server.connections == 1
    transport.send("POST", "/start", {}, b"{}", idle_at_most=0)
    assert server.connections == 2


def test_a_ca_bundle_that_cannot_be_read_or_an_https_proxy_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.pem"
    with pytest.raises(Unusable, match=r"nothing-here\.pem"):
        Transport("https", "arm.example", 443, verify=str(missing))
    with pytest.raises(Unusable, match="not an http:// proxy"):
        Transport("https", "arm.example", 443, proxy="https://proxy.example:3128")
