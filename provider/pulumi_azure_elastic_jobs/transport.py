"""Keep-alive HTTP/1.1 to one origin, on the standard library's ``http.client``: the client's only way out.

Why not urllib3 (or requests above it): a fleet of a thousand members pays each request's client CPU a thousand
times, and urllib3's layers (pool manager, retry and timeout objects, header dicts, response wrappers) doubled
what ``http.client`` alone costs per request (benchmark 5c; docs/performance.md). What the client needs of a
connection pool is small and stays here: idle connections reused last-in first-out, one found closed by the
server while idle dropped before it is used, TLS verified against certifi's bundle (or the file or folder of CA
certificates given), an HTTPS proxy reached only through a CONNECT tunnel, and failures told apart by when they
happened, because that decides whether a request that is not safe to repeat may be sent again:

* :class:`NotConnected`: no connection was made (refused, no route, name not resolved, connect timeout, the proxy
  refused the tunnel): the request was never sent.
* :class:`UntrustedPeer`: the TLS handshake failed (certificate, name): retrying cannot fix trust.
* :class:`ExchangeFailed`: the request may have been sent: the answer broke or never came.

Every request goes to the origin this transport was made for, whatever URL the caller judged: it sends a path
and query only (the client has already refused URLs of any other origin, :mod:`.destinations`).
"""

from __future__ import annotations

import base64
import gzip
import http.client
import select
import ssl
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


class NotConnected(ConnectionError):
    """No connection was made: the request never left."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause

    @property
    def refused(self) -> bool:
        """Nothing listened (rarely fixed by waiting)."""
        return isinstance(self.cause, ConnectionRefusedError)


class UntrustedPeer(ConnectionError):
    """The TLS handshake failed: the peer's certificate is not trusted for its name."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class ExchangeFailed(ConnectionError):
    """The request may have been sent, but its answer broke off or never came."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class Unusable(ValueError):
    """A setting the transport cannot work with (a CA bundle it cannot read, a proxy it cannot reach the endpoint
    through); the message names the value and what it takes."""


class Headers(Mapping[str, str]):
    """An answer's headers, looked up case-insensitively; a repeated header reads as its values joined by ``, ``."""

    __slots__ = ("_names", "_values")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        self._names: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            if key in self._values:
                self._values[key] = f"{self._values[key]}, {value}"
            else:
                self._values[key], self._names[key] = value, name

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._values.get(name.lower(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({dict(zip(self._names.values(), self._values.values(), strict=True))!r})"


@dataclass(frozen=True)
class Answer:
    """One answer, read to its end (and decompressed)."""

    status: int
    reason: str
    headers: Headers
    data: bytes


class Transport:
    """A pool of keep-alive connections to ``scheme://host:port``; thread-safe, one per client."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        verify: bool | str = True,
        proxy: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        keep: int = 64,
    ) -> None:
        if scheme not in ("http", "https"):
            raise ValueError(f"no transport for {scheme!r}")
        self._host, self._port = host, port  # the scheme lives on as self._tls (None for http)
        self._timeouts = (connect_timeout, read_timeout)
        self._keep = keep
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        """Idle connections and when each was last used (monotonic), the most recent last."""
        self._lock = threading.Lock()
        self._tls = _tls_context(verify) if scheme == "https" else None
        self._proxy = _proxy_address(proxy) if proxy and scheme == "https" else None

    def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        *,
        idle_at_most: float | None = None,
    ) -> Answer:
        """Send ``method target`` with ``headers`` and ``body``; the answer read to its end.

        ``idle_at_most``: reuse only a connection idle for at most that many seconds, else open a new one. For a
        request that must not be repeated: a server's keep-alive timer can close a connection while the request
        is on its way, and a failure then may follow a request that was sent."""
        connection = self._idle_connection(idle_at_most) or self._connect()
        try:
            connection.request(method, target, body=body, headers=dict(headers))
            response = connection.getresponse()
            data = response.read()
            answer_headers = Headers(response.getheaders())
            content = _decoded(data, answer_headers)
        except (OSError, http.client.HTTPException, zlib.error, EOFError) as error:  # sent, maybe acted on
            connection.close()
            raise ExchangeFailed(error) from error
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._release(connection)
        return Answer(response.status, response.reason or "", answer_headers, content)

    def close(self) -> None:
        """Close every idle connection (the pool stays usable)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection, _ in idle:
            connection.close()

    def _idle_connection(self, idle_at_most: float | None) -> http.client.HTTPConnection | None:
        """The most recently used idle connection the server has not closed (and, given ``idle_at_most``, idle no
        longer than that), if any."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection, used = self._idle.pop()
            if (idle_at_most is None or time.monotonic() - used <= idle_at_most) and not _dropped(connection):
                return connection
            connection.close()

    def _release(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append((connection, time.monotonic()))
                return
        connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        connect_timeout, read_timeout = self._timeouts
        connection: http.client.HTTPConnection
        if self._tls is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=connect_timeout)
        elif self._proxy is None:
            connection = http.client.HTTPSConnection(self._host, self._port, timeout=connect_timeout, context=self._tls)
        else:
            (proxy_host, proxy_port), proxy_headers = self._proxy
            connection = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=connect_timeout, context=self._tls)
            connection.set_tunnel(self._host, self._port, headers=proxy_headers)
        try:
            connection.connect()
        except (ssl.SSLError, ssl.CertificateError) as error:
            connection.close()
            raise UntrustedPeer(error) from error
        except (OSError, http.client.HTTPException) as error:  # includes a proxy's refused CONNECT
            connection.close()
            raise NotConnected(error) from error
        if connection.sock is not None:
            connection.sock.settimeout(read_timeout)
        return connection


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can no longer carry a request: closed by the server (readable at EOF), or with
    bytes nobody asked for."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # any descriptor number, where select() stops at 1024
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _decoded(data: bytes, headers: Headers) -> bytes:
    """The body as sent before ``Content-Encoding`` (gzip or deflate, the encodings the client accepts)."""
    encoding = (headers.get("Content-Encoding") or "").strip().lower()
    if not data:  # an empty answer (a 204, a HEAD) may still name an encoding
        return data
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(data)  # every member of a multi-member body
    if encoding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:  # raw deflate, as some servers send it
            return zlib.decompress(data, -zlib.MAX_WBITS)
    return data


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    """Trust ``verify``: True, certifi's bundle (as requests does); a file or a folder of CA certificates; False,
    nothing checked."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    import os

    try:
        if verify is True:
            import certifi

            return ssl.create_default_context(cafile=certifi.where())
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as error:  # a missing file, or one that holds no certificate
        raise Unusable(f"the CA bundle {verify!r} cannot be read as PEM certificates ({error})") from None


def _proxy_address(proxy: str) -> tuple[tuple[str, int], dict[str, str]]:
    """Where an HTTP proxy listens, and the ``Proxy-Authorization`` its URL's credentials make (a bare
    ``host:port`` is an HTTP proxy, as requests reads it)."""
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme != "http" or not parts.hostname:
        raise Unusable(
            f"the proxy {parts.scheme}://{parts.hostname or '?'} is not an http:// proxy; give it as http://host:port "
            "(the tunnel through it to the endpoint is TLS either way, so the proxy never sees the token)"
        )
    headers = {}
    if parts.username:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
    return (parts.hostname, parts.port or 80), headers


__all__ = ["Answer", "ExchangeFailed", "Headers", "NotConnected", "Transport", "UntrustedPeer", "Unusable"]
