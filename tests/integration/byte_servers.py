"""Loopback servers whose every byte a test writes: an origin or a proxy that answers as told, and records what
arrived (connections, request heads). Shared by the transport's tests and the client's rules above it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Talk = Callable[[socket.socket, "Server"], None]
"""What the server does with one accepted connection (it is closed afterwards)."""


@dataclass
class Server:
    """A loopback server that hands each accepted connection to ``talk`` on a thread of its own, and records what
    arrived: the connections, and each request's head (the bytes up to its blank line)."""

    talk: Talk
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
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
            self.talk(connection, self)
        except OSError:
            pass
        finally:
            connection.close()
            self.closed.set()

    def read_request(self, connection: socket.socket) -> bytes | None:
        """The next request's head (its body, by ``Content-Length``, read and dropped); None at the end."""
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        self.requests.append(head)
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        while len(rest) < length:
            rest += connection.recv(65536)
        return head


def answering(*replies: bytes, close: bool = False) -> Talk:
    """Answer request after request on one connection with ``replies`` in turn (the last again and again); an
    empty reply closes the connection without answering; ``close`` closes it after each answer."""

    def talk(connection: socket.socket, server: Server) -> None:
        for number in range(1_000):
            if server.read_request(connection) is None:
                return
            reply = replies[min(number, len(replies) - 1)]
            if not reply:
                return
            connection.sendall(reply)
            if close:
                return

    return talk


def ok(body: bytes = b'{"ok": true}', *headers: str) -> bytes:
    lines = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    lines += [header.encode() for header in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def started(talk: Talk) -> Server:
    """A server for ``talk``, accepting on a thread of its own; close its ``listener`` when done."""
    server = Server(talk)
    threading.Thread(target=server.serve, daemon=True).start()
    return server


def proxy_answering(reply: bytes, then: Callable[[socket.socket], None] = lambda _: None) -> Talk:
    def talk(connection: socket.socket, server: Server) -> None:
        if server.read_request(connection) is not None:
            connection.sendall(reply)
            then(connection)

    return talk
