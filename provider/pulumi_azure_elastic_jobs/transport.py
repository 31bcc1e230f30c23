"""The client's way out: urllib3's connection pool to the endpoint's origin, and the few rules no library holds.

urllib3 does what an HTTP library does and has been hardened for (framing and its attacks, TLS, CONNECT tunnels,
keep-alive). This module sets it up the way the client needs, with urllib3's own retries and redirects off (the
client's retry rules are ARM's and live in :mod:`.client`), and adds what only the client knows:

* **Whether the request left.** A failure while connecting (refused, no route, name not resolved, a timeout, a
  TLS handshake the peer dropped, the proxy's tunnel) comes before a byte of the request was sent:
  :class:`NotConnected`, safe to retry for any request. A failure after it, :class:`ExchangeFailed`, may
  follow a request the service acted on. A connection is marked as it is opened (:class:`_Marked`), so this
  never rests on guessing from an exception's type.
* **What retrying cannot fix.** A certificate not trusted for its name (:class:`UntrustedPeer`) and a proxy that
  answers the tunnel with a 4xx (:class:`ProxyRefused`: a 407 retried is one more failed proxy login) are final.
* **A request that must not be repeated takes a connection of its own**, opened for it and closed after it:
  a server's keep-alive timer may close an idle connection while a request is on its way, and then nobody can
  say whether it arrived.
* **An answer is taken as sent, up to a size**: the client asks for no content encoding (ARM's answers are small;
  a decompressor fed by a hostile peer is a memory bomb), refuses an encoded answer, and stops reading past the
  limit (:data:`.terms.DEFAULT_MAX_RESPONSE_BYTES`, the setting ``maxResponseBytes``; :class:`ResponseTooLarge`).
* **An exchange has a deadline** (:attr:`Transport.exchange_seconds`): the read timeout bounds each read, not a
  whole answer trickled a byte at a time, nor header lines (a proxy's after CONNECT, trailers) that never end; a
  watchdog shuts the socket of an exchange still going at its deadline.

Every request goes to the origin this transport was made for, whatever URL the caller judged: it sends a path
and query only (the client has already refused URLs of any other origin, :mod:`.destinations`).
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import itertools
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error

from .terms import DEFAULT_MAX_RESPONSE_BYTES

READ_STEP_BYTES = 64 * 1024
"""What one read of an answer returns at most: the most memory a read holds past the limit."""


class NotConnected(Exception):
    """No connection was made: the request never left. Safe to retry, whatever the request."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause

    @property
    def refused(self) -> bool:
        """Nothing listened (rarely fixed by waiting)."""
        return isinstance(self.cause, ConnectionRefusedError)


class UntrustedPeer(Exception):
    """The peer's certificate is not trusted for its name: retrying cannot fix trust."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class ProxyRefused(Exception):
    """The proxy answered the CONNECT with a client error (407: its credentials; 403: not allowed): final."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"the proxy answered the tunnel {status} {reason}")
        self.status, self.reason = status, reason


class ExchangeFailed(Exception):
    """The request may have been sent, but its answer broke off, never came, or could not be read."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class ResponseTooLarge(Exception):
    """The answer passed the size limit; reading stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


class Unusable(ValueError):
    """A setting the transport cannot work with (``of`` says which: ``proxy`` it cannot reach the endpoint
    through, ``CA bundle`` it cannot read); the message says what it takes, never a credential."""

    def __init__(self, of: str, message: str) -> None:
        super().__init__(message)
        self.of = of


@dataclass(frozen=True)
class Answer:
    """One answer, read to its end, as sent."""

    status: int
    reason: str
    headers: Mapping[str, str]
    """Case-insensitive; a repeated header reads as its values joined by ``, ``."""
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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if scheme not in ("http", "https"):
            raise ValueError(f"no transport for {scheme!r}")
        settings: dict[str, Any] = {
            "timeout": urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            "retries": False,
            "block": False,
            "maxsize": keep,
        }
        if scheme == "https":
            settings["ssl_context"] = _tls_context(verify)
        tunnel = _proxy(proxy) if proxy and scheme == "https" else None
        self._max_response_bytes = max_response_bytes
        self.exchange_seconds = connect_timeout + 2 * read_timeout
        """The most one exchange (connect, tunnel, handshake, request and the whole answer) may take: each read has
        the read timeout, but an answer trickled a byte at a time, or header lines that never end, would not."""
        self._watchdog = _Watchdog()
        self._pool = _pool(scheme, host, port, tunnel, settings, _POOLS)
        self._single = _pool(scheme, host, port, tunnel, settings, _SINGLE_USE_POOLS)
        """For requests that must not be repeated: every connection is closed as it comes back, so each request
        opens one of its own (and asks the server to close it after)."""
        self._closed = False

    def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        *,
        repeatable: bool = True,
    ) -> Answer:
        """Send ``method target`` with ``headers`` and ``body``; the answer read to its end.

        ``repeatable=False``: the request goes out on a connection opened for it (see the module's note).
        Raises :class:`NotConnected`, :class:`UntrustedPeer`, :class:`ProxyRefused`, :class:`ExchangeFailed` or
        :class:`ResponseTooLarge`; nothing else the library or the socket raises gets out (but
        :class:`TransportClosed`, a caller's mistake)."""
        if self._closed:
            raise TransportClosed("this transport was closed; make a new client")
        pool = self._pool if repeatable else self._single
        headers = (
            {**headers, "Accept-Encoding": "identity"}
            if repeatable
            else {**headers, "Accept-Encoding": "identity", "Connection": "close"}
        )
        exchange = self._watchdog.start(self.exchange_seconds)
        _current.exchange = exchange
        try:
            response = pool.urlopen(
                method,
                target,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                preload_content=False,
                decode_content=False,
            )
            data = self._read(response)
            if exchange.expired:  # cut, though the library took what came before the cut for a whole answer
                raise TimeoutError("cut at the deadline")
        except _NeverSent as never_sent:
            raise (self._late(exchange, "connection") or never_sent.reason()) from None
        except (Urllib3Error, OSError, ValueError, EOFError) as error:  # sent, maybe acted on
            raise ExchangeFailed(self._late(exchange, "whole answer") or error) from None
        finally:
            _current.exchange = None
            self._watchdog.finish(exchange)
        return Answer(response.status, response.reason or "", response.headers, data)

    def close(self) -> None:
        """Close every connection; the transport is not used after (a send raises :class:`TransportClosed`)."""
        self._closed = True
        self._pool.close()
        self._single.close()
        self._watchdog.stop()

    def _late(self, exchange: _Exchange, what: str) -> NotConnected | TimeoutError | None:
        """What to report when the watchdog cut the exchange (else None): before the connection was made, nothing
        was sent."""
        if not exchange.expired:
            return None
        late = TimeoutError(f"no {what} within {self.exchange_seconds:g} s")
        return NotConnected(late) if what == "connection" else late

    def _read(self, response: urllib3.BaseHTTPResponse) -> bytes:
        """The whole body as sent, read in bounded steps and refused past the size limit. The client asks for no
        content encoding, so an answer is never expanded here: a compressed answer (a server or proxy that did not
        listen) is refused rather than decompressed. A connection whose answer was not read to its end is closed."""
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.stream(READ_STEP_BYTES, decode_content=False):
                if encoding != "identity":
                    raise ValueError(f"the answer is encoded as {encoding!r}, which the client did not ask for")
                size += len(chunk)
                if size > self._max_response_bytes:
                    raise ResponseTooLarge(self._max_response_bytes)
                chunks.append(chunk)
        except BaseException:
            response.close()
            raise
        finally:
            response.release_conn()
        return b"".join(chunks)


class TransportClosed(RuntimeError):
    """A send on a transport (a client) that was closed: a caller's mistake, never retried."""


class _NeverSent(Exception):
    """Raised by a connection that failed to open; deliberately no ``OSError`` nor urllib3 error, so urllib3 lets
    it through untouched and the transport knows the request never left."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause

    def reason(self) -> NotConnected | UntrustedPeer | ProxyRefused:
        """What the failure to connect means for the caller: a proxy's 4xx and distrust are final, the rest is a
        connection that may be tried again."""
        refused = _TUNNEL_REFUSED.search(str(self.cause))
        if refused and 400 <= int(refused.group(1)) < 500:
            return ProxyRefused(int(refused.group(1)), refused.group(2).strip())
        distrust = _untrusted(self.cause)
        if distrust is not None:
            return UntrustedPeer(distrust)
        return NotConnected(_root(self.cause))


_TUNNEL_REFUSED = re.compile(r"Tunnel connection failed: (\d{3}) ?(.*)")
"""How the standard library (and urllib3's copy of its tunnel) words a proxy's answer to CONNECT other than 200."""


@dataclass(eq=False)
class _Exchange:
    """One request's deadline, and the connection it rides once it has one."""

    deadline: float
    watchdog: _Watchdog
    connection: Any = None
    finished: bool = False
    expired: bool = False


_current = threading.local()
"""The exchange the calling thread is sending, for the connection it opens or reuses to join."""


class _Watchdog:
    """Shuts the socket of an exchange still going at its deadline, which ends any read it is blocked in (the
    library then raises, and the transport says why). One thread for the transport, started with its first
    exchange; ``finish`` and the shutting take one lock, so a finished exchange is never cut."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._waiting: list[tuple[float, int, _Exchange]] = []
        self._numbers = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self, seconds: float) -> _Exchange:
        exchange = _Exchange(time.monotonic() + seconds, self)
        with self._lock:
            heapq.heappush(self._waiting, (exchange.deadline, next(self._numbers), exchange))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="transport-watchdog", daemon=True)
                self._thread.start()
            elif len(self._waiting) == 1:  # every deadline is as far off, so only an empty watch needs waking
                self._lock.notify()
        return exchange

    def attach(self, exchange: _Exchange, connection: Any) -> None:
        with self._lock:
            exchange.connection = connection
            if exchange.expired:
                _shut(connection)

    def finish(self, exchange: _Exchange) -> None:
        with self._lock:
            exchange.finished = True

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify()

    def _watch(self) -> None:
        with self._lock:
            while not self._stopped:
                while self._waiting and self._waiting[0][2].finished:
                    heapq.heappop(self._waiting)
                if not self._waiting:
                    self._lock.wait()
                    continue
                deadline, _, exchange = self._waiting[0]
                if deadline > time.monotonic():
                    self._lock.wait(deadline - time.monotonic())
                    continue
                heapq.heappop(self._waiting)
                exchange.expired = True
                _shut(exchange.connection)


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _Marked:
    """A connection that joins the exchange being sent (so the watchdog can cut it), and tells a failure to open
    from a failure to talk: every error of ``connect`` (TCP, the proxy's tunnel, the TLS handshake) leaves as
    :class:`_NeverSent`, which no handler of urllib3's catches."""

    def connect(self) -> None:
        _join(self)
        try:
            super().connect()  # type: ignore[misc]
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:
            raise _NeverSent(error) from error

    def request(self, *args: Any, **kwargs: Any) -> None:
        _join(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


def _join(connection: Any) -> None:
    exchange: _Exchange | None = getattr(_current, "exchange", None)
    if exchange is not None:
        exchange.watchdog.attach(exchange, connection)


class _MarkedHTTPConnection(_Marked, HTTPConnection):
    pass


class _MarkedHTTPSConnection(_Marked, HTTPSConnection):
    pass


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _MarkedHTTPConnection


class _TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _MarkedHTTPSConnection


class _ClosesWhatComesBack:
    """A pool whose connections carry one request each: one given back is closed, so the next is opened anew."""

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.close()
        super()._put_conn(conn)  # type: ignore[misc]


class _SingleUsePool(_ClosesWhatComesBack, _Pool):
    pass


class _SingleUseTlsPool(_ClosesWhatComesBack, _TlsPool):
    pass


_POOLS: dict[str, type[urllib3.HTTPConnectionPool]] = {"http": _Pool, "https": _TlsPool}
_SINGLE_USE_POOLS: dict[str, type[urllib3.HTTPConnectionPool]] = {"http": _SingleUsePool, "https": _SingleUseTlsPool}


def _pool(
    scheme: str,
    host: str,
    port: int,
    tunnel: _Tunnel | None,
    settings: dict[str, Any],
    classes: dict[str, type[urllib3.HTTPConnectionPool]],
) -> urllib3.HTTPConnectionPool:
    """A pool of connections to the origin, through ``tunnel`` when given (urllib3 opens it with CONNECT: the proxy
    relays TLS it cannot read)."""
    manager: urllib3.PoolManager
    try:
        if tunnel is None:
            manager = urllib3.PoolManager(num_pools=1, **settings)
        else:
            manager = urllib3.ProxyManager(tunnel.url, num_pools=1, proxy_headers=tunnel.headers, **settings)
        manager.pool_classes_by_scheme = classes
        return manager.connection_from_host(host, port, scheme)
    except ValueError as error:  # LocationValueError and kin: a host the library cannot connect to
        what = "proxy" if tunnel is not None else "endpoint"
        raise Unusable(what, f"the {what}'s host cannot be used ({type(error).__name__})") from None


@dataclass(frozen=True)
class _Tunnel:
    url: str
    """``http://host:port``: no credentials, so urllib3 has none to put in a message."""
    headers: dict[str, str] = field(repr=False)
    """``Proxy-Authorization``, sent with the CONNECT only."""


def _proxy(proxy: str) -> _Tunnel:
    """Where an HTTP proxy listens, and the ``Proxy-Authorization`` its URL's credentials make (a bare
    ``host:port`` is an HTTP proxy, as requests reads it). Errors name the URL without its credentials."""
    text = proxy if "://" in proxy else f"http://{proxy}"
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port, parts = None, None, None
    if parts is None or not host or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise Unusable(
            "proxy",
            "the proxy URL cannot be read as http://[user:password@]host:port (it is not shown: it may hold a "
            "password); characters such as / ? # @ : in the user or password must be percent-encoded (%2F %3F %23 "
            "%40 %3A)",
        )
    if parts.scheme != "http":
        raise Unusable(
            "proxy",
            f"the proxy {parts.scheme}://{host} is not an http:// proxy; give it as http://host:port "
            "(the tunnel through it to the endpoint is TLS either way, so the proxy never sees the token)",
        )
    headers: dict[str, str] = {}
    if parts.username:  # RFC 7617: user and password as UTF-8 (urllib3's helper would take Latin-1 only)
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
    bracketed = f"[{host}]" if ":" in host else host
    return _Tunnel(f"http://{bracketed}:{port or 80}", headers)


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    """Trust ``verify``: True, certifi's bundle (as requests does); a file or a folder of CA certificates; False,
    nothing checked."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        if verify is True:
            import certifi

            return ssl.create_default_context(cafile=certifi.where())
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as error:  # a missing file, or one that holds no certificate
        raise Unusable("CA bundle", f"the CA bundle {verify!r} cannot be read as PEM certificates ({error})") from None


def _untrusted(error: BaseException) -> BaseException | None:
    """The certificate failure among an error's causes, if any: only a certificate not trusted (or not for this
    name) is a matter of trust; a handshake the peer dropped is a connection that failed."""
    for cause in _causes(error):
        if isinstance(cause, (ssl.SSLCertVerificationError, ssl.CertificateError)):
            return cause
    return None


def _root(error: BaseException) -> BaseException:
    """The deepest cause the library wrapped (a ``ConnectionRefusedError`` under a ``NewConnectionError``)."""
    causes = _causes(error)
    for cause in causes:
        if isinstance(cause, OSError) and not isinstance(cause, Urllib3Error):
            return cause
    return causes[-1]


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what caused it, outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


__all__ = [
    "Answer",
    "ExchangeFailed",
    "NotConnected",
    "ProxyRefused",
    "ResponseTooLarge",
    "Transport",
    "TransportClosed",
    "UntrustedPeer",
    "Unusable",
]
