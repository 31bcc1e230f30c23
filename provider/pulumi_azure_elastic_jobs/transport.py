"""The client's way out: urllib3's connection pool to the endpoint's origin, and the few rules no library holds.

urllib3 does what an HTTP library does and has been hardened for (framing and its attacks, TLS, CONNECT tunnels,
keep-alive, decompression in bounded steps). This module sets it up the way the client needs, with urllib3's
own retries and redirects off (the client's retry rules are ARM's and live in :mod:`.client`), and adds what
only the client knows:

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
* **An answer has a size limit** (:data:`.terms.DEFAULT_MAX_RESPONSE_BYTES` once decompressed, the setting
  ``maxResponseBytes``): read in steps, stopped as it passes the limit (:class:`ResponseTooLarge`).
* **A tunnel has a deadline**: a proxy that answers CONNECT and then never ends its header lines is cut off at
  the connect timeout (urllib3 reads those lines with the standard library, one read timeout a line).

Every request goes to the origin this transport was made for, whatever URL the caller judged: it sends a path
and query only (the client has already refused URLs of any other origin, :mod:`.destinations`).
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util import make_headers

from .terms import DEFAULT_MAX_RESPONSE_BYTES

READ_STEP_BYTES = 64 * 1024
"""What one read of an answer returns at most, decompressed: the most memory a read holds past the limit."""


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
    """The answer passed the size limit once decompressed; reading stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes once decompressed")
        self.limit = limit


class Unusable(ValueError):
    """A setting the transport cannot work with (``of`` says which: ``proxy`` it cannot reach the endpoint
    through, ``CA bundle`` it cannot read); the message says what it takes, never a credential."""

    def __init__(self, of: str, message: str) -> None:
        super().__init__(message)
        self.of = of


@dataclass(frozen=True)
class Answer:
    """One answer, read to its end (and decompressed)."""

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
        }
        if scheme == "https":
            settings["ssl_context"] = _tls_context(verify)
        tunnel = _proxy(proxy) if proxy and scheme == "https" else None
        self._max_response_bytes = max_response_bytes
        self._pool = _pool(scheme, host, port, tunnel, settings, keep, _POOLS)
        self._single = _pool(scheme, host, port, tunnel, settings, 1, _SINGLE_USE_POOLS)
        """For requests that must not be repeated: each opens a connection of its own (and asks the server to close
        it after)."""

    def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        *,
        repeatable: bool = True,
    ) -> Answer:
        """Send ``method target`` with ``headers`` and ``body``; the answer read to its end, decompressed.

        ``repeatable=False``: the request goes out on a connection opened for it (see the module's note).
        Raises :class:`NotConnected`, :class:`UntrustedPeer`, :class:`ProxyRefused`, :class:`ExchangeFailed` or
        :class:`ResponseTooLarge`; nothing else the library or the socket raises gets out."""
        pool = self._pool if repeatable else self._single
        if not repeatable:
            headers = {**headers, "Connection": "close"}
        try:
            response = pool.urlopen(
                method,
                target,
                body=body,
                headers=dict(headers),
                retries=False,
                redirect=False,
                preload_content=False,
                decode_content=True,
            )
        except _NeverSent as never_sent:
            raise never_sent.reason() from None
        except (Urllib3Error, OSError, ValueError) as error:  # sent, maybe acted on
            raise ExchangeFailed(error) from None
        return Answer(response.status, response.reason or "", response.headers, self._read(response))

    def close(self) -> None:
        """Close every idle connection (the pool stays usable)."""
        self._pool.close()
        self._single.close()

    def _read(self, response: urllib3.BaseHTTPResponse) -> bytes:
        """The whole body, decompressed, read in bounded steps; a connection whose answer was not read to its end
        is closed, so the pool opens a new one next time."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.stream(READ_STEP_BYTES, decode_content=True):
                size += len(chunk)
                if size > self._max_response_bytes:
                    response.close()
                    raise ResponseTooLarge(self._max_response_bytes)
                chunks.append(chunk)
        except (Urllib3Error, OSError, ValueError, EOFError) as error:  # framing, a cut, a corrupt encoding
            response.close()
            raise ExchangeFailed(error) from None
        finally:
            response.release_conn()
        return b"".join(chunks)


class _NeverSent(Exception):
    """Raised by a connection that failed to open; deliberately no ``OSError`` nor urllib3 error, so urllib3 lets
    it through untouched and the transport knows the request never left."""

    def __init__(self, cause: BaseException, tunnel_cut: bool = False) -> None:
        super().__init__(str(cause))
        self.cause, self.tunnel_cut = cause, tunnel_cut

    def reason(self) -> NotConnected | UntrustedPeer | ProxyRefused:
        if self.tunnel_cut:
            return NotConnected(TimeoutError("the proxy did not finish opening the tunnel in time"))
        refused = _TUNNEL_REFUSED.search(str(self.cause))
        if refused and 400 <= int(refused.group(1)) < 500:
            return ProxyRefused(int(refused.group(1)), refused.group(2).strip())
        if _untrusted(self.cause):
            return UntrustedPeer(_untrusted(self.cause) or self.cause)
        return NotConnected(_root(self.cause))


_TUNNEL_REFUSED = re.compile(r"Tunnel connection failed: (\d{3}) ?(.*)")
"""How the standard library (and urllib3's copy of its tunnel) words a proxy's answer to CONNECT other than 200."""


class _Marked:
    """A connection that tells a failure to open from a failure to talk: every error of ``connect`` (TCP, the
    proxy's tunnel, the TLS handshake) leaves as :class:`_NeverSent`. A tunnel is opened under a deadline of the
    connect timeout; the socket is shut when it passes, which ends a read of endless header lines."""

    sock: socket.socket | None
    timeout: float | None
    _tunnel_host: str | None

    def connect(self) -> None:
        deadline = _Deadline(self) if self._tunnel_host else None
        try:
            super().connect()  # type: ignore[misc]
        except BaseException as error:
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
            raise _NeverSent(error, tunnel_cut=deadline is not None and deadline.fired) from error
        finally:
            if deadline is not None:
                deadline.cancel()
        if deadline is not None and deadline.fired:
            raise _NeverSent(TimeoutError("tunnel deadline"), tunnel_cut=True)


class _SingleUse:
    """A connection that carries one request: once it has, the pool finds it no longer connected, closes it and
    opens another (urllib3 asks ``is_connected`` of every connection it takes from the pool)."""

    _used = False

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._used = True
        super().request(*args, **kwargs)  # type: ignore[misc]

    @property
    def is_connected(self) -> bool:
        return not self._used and bool(super().is_connected)  # type: ignore[misc]


class _MarkedHTTPConnection(_Marked, HTTPConnection):
    pass


class _MarkedHTTPSConnection(_Marked, HTTPSConnection):
    pass


class _SingleHTTPConnection(_SingleUse, _MarkedHTTPConnection):
    pass


class _SingleHTTPSConnection(_SingleUse, _MarkedHTTPSConnection):
    pass


def _pool_classes(single_use: bool) -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """The pools urllib3 makes, with connections of ours."""

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = _SingleHTTPConnection if single_use else _MarkedHTTPConnection

    class TlsPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = _SingleHTTPSConnection if single_use else _MarkedHTTPSConnection

    return {"http": Pool, "https": TlsPool}


_POOLS = _pool_classes(single_use=False)
_SINGLE_USE_POOLS = _pool_classes(single_use=True)


class _Deadline:
    """Shuts a connection's socket if it is still opening after its connect timeout."""

    def __init__(self, connection: _Marked) -> None:
        self.fired = False
        self._connection = connection
        self._timer = threading.Timer(connection.timeout or 10.0, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _pool(
    scheme: str,
    host: str,
    port: int,
    tunnel: _Tunnel | None,
    settings: dict[str, Any],
    size: int,
    classes: dict[str, type[urllib3.HTTPConnectionPool]],
) -> urllib3.HTTPConnectionPool:
    """A pool of ``size`` connections to the origin, through ``tunnel`` when given (urllib3 opens it with CONNECT:
    the proxy relays TLS it cannot read)."""
    manager: urllib3.PoolManager
    if tunnel is None:
        manager = urllib3.PoolManager(num_pools=1, maxsize=size, **settings)
    else:
        manager = urllib3.ProxyManager(tunnel.url, num_pools=1, maxsize=size, proxy_headers=tunnel.headers, **settings)
    manager.pool_classes_by_scheme = classes
    return manager.connection_from_host(host, port, scheme)


@dataclass(frozen=True)
class _Tunnel:
    url: str
    """``http://host:port``: no credentials, so urllib3 has none to put in a message."""
    headers: dict[str, str]


def _proxy(proxy: str) -> _Tunnel:
    """Where an HTTP proxy listens, and the ``Proxy-Authorization`` its URL's credentials make (a bare
    ``host:port`` is an HTTP proxy, as requests reads it). Errors name the URL without its credentials."""
    from urllib.parse import unquote, urlsplit

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
    if parts.username:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers = dict(make_headers(proxy_basic_auth=credentials))
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
    import os

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
    "UntrustedPeer",
    "Unusable",
]
