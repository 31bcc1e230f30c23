"""Local listeners that count the Authorization headers they receive, for the token-routing tests.

Each one stands for a place a token may or may not reach (another host, a proxy, a TLS endpoint with a name of
its own) and answers every GET with an empty ARM list page (the first with a ``nextLink`` when one is set), so the
client's listing call runs to its end. A listener in proxy mode also accepts CONNECT, tunnelling to the address
its ``tunnels`` map gives, and counts what the proxy itself sees. ``fake_dns`` makes names resolve to listeners
(and nothing else resolve at all), so no test ever asks a real resolver or leaves this machine.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Seen:
    method: str
    target: str
    authorization: str | None


@dataclass
class Listener:
    """A server on ``host``:``port``; ``seen`` is every request it received, in order."""

    host: str
    port: int
    scheme: str
    seen: list[Seen] = field(default_factory=list)
    next_link: str | None = None
    tunnels: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def tokens(self) -> list[str]:
        """The Authorization headers received (from requests, and from CONNECTs when a proxy)."""
        return [entry.authorization for entry in self.seen if entry.authorization is not None]

    def reset(self) -> None:
        self.seen.clear()
        self.next_link = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        if self.server.tls is not None:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``seen``."""

    def _record(self) -> None:
        self.server.listener.seen.append(Seen(self.command, self.path, self.headers.get("Authorization")))

    def do_GET(self) -> None:
        self._record()
        page: dict[str, Any] = {"value": []}
        if self.server.listener.next_link:  # once: the page it leads to is the last
            page["nextLink"], self.server.listener.next_link = self.server.listener.next_link, None
        self._answer(200, page)

    def do_PUT(self) -> None:
        self._record()
        self._answer(404, {"error": {"code": "ResourceNotFound", "message": "a test listener"}})

    do_POST = do_PUT
    do_DELETE = do_PUT

    def do_CONNECT(self) -> None:
        self._record()
        host = self.path.rpartition(":")[0]
        tunnels = self.server.listener.tunnels
        where = tunnels.get(self.path) or tunnels.get(host.lower().rstrip("."))  # "name": any port
        if where is None:
            self._answer(403, {"error": "no tunnel to there"})
            return
        with socket.create_connection(where, timeout=5) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            _pipe(self.connection, upstream)
        self.close_connection = True

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _pipe(one: socket.socket, other: socket.socket) -> None:
    sockets = [one, other]
    while True:
        readable, _, _ = select.select(sockets, [], [], 5)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (other if source is one else one).sendall(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listener: Listener, tls: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
        self.listener, self.tls = listener, tls
        super().__init__((listener.host, listener.port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up or spoke the wrong protocol (the fuzz test sends HTTP to TLS) is no error."""


@contextlib.contextmanager
def listening(host: str, *, port: int = 0, tls: ssl.SSLContext | None = None) -> Iterator[Listener]:
    listener = Listener(host, port, "https" if tls else "http")
    server = _Server(listener, tls)
    listener.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()


def certificate_for(directory: Path, *names: str) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a self-signed certificate for ``names`` (DNS names or IP literals), and the
    certificate's path for a client to trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{names[0]}.pem", directory / f"{names[0]}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


Resolver = Callable[..., list[Any]]


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, Listener]) -> None:
    """Resolve each of ``names`` (case-insensitive; a name without a trailing dot also with one) to its listener,
    whatever port is asked for; ``localhost`` to 127.0.0.1, IP literals as themselves; every other name fails,
    so nothing asks real DNS."""
    real: Resolver = socket.getaddrinfo
    table = {name.lower(): listener for name, listener in names.items()}

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        listener = table.get(name.lower()) or table.get(name.lower().rstrip("."))
        if listener is not None:
            return real(listener.host, listener.port, family, type, proto, flags | socket.AI_NUMERICHOST)
        if name.lower() == "localhost":
            return real("127.0.0.1", port, socket.AF_INET, type, proto, flags | socket.AI_NUMERICHOST)
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
