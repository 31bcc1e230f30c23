"""A replay of live-service sessions over a real socket: the recorded answers, served verbatim, to our client.

The emulator was written from the swagger; the recordings in ``recordings/`` are what the live service
answered Azure SDK teams' tests (origin and licence in ``recordings/README.md``). This server plays them back so
the client and the provider's plugins meet the service's real answers, not our reading of the swagger.

**What is served verbatim:** the status, every header that carries meaning (``Location``,
``Azure-AsyncOperation``, ``Retry-After``, ``Date``, ``Content-Type``, ``x-ms-*``) and the body bytes as recorded.
Only framing is redone for this connection: ``Content-Length`` is recomputed from the body and
``Transfer-Encoding`` dropped (the body is sent whole). Headers name ``https://management.azure.com`` as
recorded, so a client that followed a ``Location`` would be refused by its own destination rule, never served.

**How a request finds its answer** (:func:`key_of`):

* the method, and the path compared case-insensitively (ARM paths are), percent-decoded;
* the **host is ignored**: the sessions were recorded against ``management.azure.com``, replayed on loopback;
* **``api-version`` is ignored** in matching: the recordings are at 2017-03-01-preview and our client sends
  2025-01-01, whose shapes for executions, steps and targets are the same; the version each request carried is
  kept in :attr:`Replay.served` so a test can assert what the client sent;
* **every other query parameter must match** the recorded ones exactly (as a set): a listing with ``$top`` or
  ``isActive`` is another request than the recorded plain listing, answered only by an exchange a test adds on
  purpose (:func:`synthesized`, labelled with why);
* the **subscription is part of the path and must match**: tests configure the recorded one.

Answers for one key are served in recorded order (successive polls of one URL see the run move on); once the
recorded ones are used up, the last repeats, as the service keeps answering a finished run. A request that
matches nothing, or carries another token, is answered ``501 NotRecorded`` (never a 404, which a client could
read as "free") and kept in :attr:`Replay.misses`, which every test asserts empty.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

RECORDINGS = Path(__file__).resolve().parent / "recordings"
NET_SESSION = RECORDINGS / "net-TestStartStopGetJobExecution.trimmed.json"
PY_SESSION = RECORDINGS / "py-test_job.trimmed.yaml"
TOKEN = "replay-token"  # a static token over plain HTTP to loopback, as the engine tests configure the emulator
FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
Key = tuple[str, str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class Exchange:
    """One answer the replay can give: what request it answers and exactly what was sent back."""

    method: str
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    origin: str
    """Where it comes from: ``net#3`` (the .NET session's fourth entry), ``py#5``, or ``synthesized: <why>``."""

    @property
    def key(self) -> Key:
        return key_of(self.method, self.url)

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def key_of(method: str, url: str) -> Key:
    """What a request is matched on: method, decoded lower-case path, query without ``api-version`` (see module)."""
    parts = urlsplit(url)
    query = {(name.lower(), value) for name, value in parse_qsl(parts.query, keep_blank_values=True)}
    return (
        method.upper(),
        unquote(parts.path).rstrip("/").lower(),
        frozenset((name, value) for name, value in query if name != "api-version"),
    )


def net_session(path: Path = NET_SESSION) -> list[Exchange]:
    """The .NET SDK session (``Entries`` of RequestMethod/RequestUri/StatusCode/ResponseHeaders/ResponseBody)."""
    recorded = json.loads(path.read_text())
    return [
        Exchange(
            entry["RequestMethod"],
            entry["RequestUri"],
            int(entry["StatusCode"]),
            tuple((name, value) for name, values in entry["ResponseHeaders"].items() for value in values),
            entry["ResponseBody"].encode(),
            f"net#{index}",
        )
        for index, entry in enumerate(recorded["Entries"])
    ]


def py_session(path: Path = PY_SESSION) -> list[Exchange]:
    """The Python SDK session (vcrpy ``interactions`` of request/response)."""
    recorded = yaml.safe_load(path.read_text())
    return [
        Exchange(
            item["request"]["method"],
            item["request"]["uri"],
            int(item["response"]["status"]["code"]),
            tuple((name, value) for name, values in item["response"]["headers"].items() for value in values),
            (item["response"]["body"]["string"] or "").encode(),
            f"py#{index}",
        )
        for index, item in enumerate(recorded["interactions"])
    ]


def synthesized(
    method: str, url: str, status: int, body: Any, why: str, headers: Iterable[tuple[str, str]] = ()
) -> Exchange:
    """An answer the recordings do not hold, for a request our client makes and the recorded SDKs did not; ``why``
    says what it is built from, and is shown wherever the exchange is named."""
    encoded = body if isinstance(body, bytes) else json.dumps(body).encode()
    content = (("Content-Type", "application/json; charset=utf-8"),) if encoded else ()
    return Exchange(method, url, status, (*content, *headers), encoded, f"synthesized: {why}")


def one(exchanges: Iterable[Exchange], method: str, path_suffix: str, status: int | None = None) -> Exchange:
    """The single recorded exchange of ``method`` whose path ends with ``path_suffix`` (and of ``status``)."""
    found = [
        exchange
        for exchange in exchanges
        if exchange.method == method
        and urlsplit(exchange.url).path.lower().endswith(path_suffix.lower())
        and (status is None or exchange.status == status)
    ]
    assert len(found) == 1, f"{method} …{path_suffix}: {[e.origin for e in found]}"
    return found[0]


@dataclass(frozen=True)
class Served:
    """A request the replay answered, and with what."""

    method: str
    path: str
    api_version: str | None
    exchange: Exchange


class Replay:
    """The server: start it (``with Replay(exchanges) as replay``), point a client at :attr:`url` with
    :data:`TOKEN`, then assert on :attr:`served`, :meth:`hits` and an empty :attr:`misses`."""

    def __init__(self, exchanges: Iterable[Exchange]) -> None:
        self.exchanges = list(exchanges)
        self._queues: dict[Key, deque[Exchange]] = {}
        for exchange in self.exchanges:
            self._queues.setdefault(exchange.key, deque()).append(exchange)
        self.served: list[Served] = []
        self.misses: list[str] = []
        self.token = TOKEN
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> Replay:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, url: str, authorization: str | None) -> Exchange | None:
        """The next answer for this request (the last one repeats), or None: a miss, recorded."""
        with self._lock:
            queue = self._queues.get(key_of(method, url))
            if authorization != f"Bearer {self.token}" or not queue:
                why = "wrong token" if queue else "not recorded"
                self.misses.append(f"{method} {urlsplit(url).path}?{urlsplit(url).query} ({why})")
                return None
            exchange = queue.popleft() if len(queue) > 1 else queue[0]
            version = dict(parse_qsl(urlsplit(url).query)).get("api-version")
            self.served.append(Served(method, unquote(urlsplit(url).path), version, exchange))
            return exchange

    def hits(self, exchange: Exchange) -> int:
        """How many times ``exchange`` was served."""
        with self._lock:
            return sum(1 for served in self.served if served.exchange is exchange)

    def sequence(self) -> list[str]:
        """The origins of the answers served, in order: what a test compares with the life it expects."""
        with self._lock:
            return [served.exchange.origin for served in self.served]

    def counts(self) -> Counter[str]:
        return Counter(self.sequence())


@contextmanager
def replaying(exchanges: Iterable[Exchange]) -> Iterator[Replay]:
    """A running replay that fails the test, on the way out, if any request went unanswered."""
    with Replay(exchanges) as replay:
        yield replay
    assert replay.misses == [], f"requests the replay could not answer: {replay.misses}"


def _handler(replay: Replay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            exchange = replay.answer(self.command, self.path, self.headers.get("Authorization"))
            if exchange is None:
                body = json.dumps({"error": {"code": "NotRecorded", "message": f"no recorded answer: {self.path}"}})
                self._send(501, (("Content-Type", "application/json"),), body.encode())
                return
            self._send(exchange.status, exchange.headers, exchange.body)

        def _send(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
            self.send_response_only(status)  # no Server/Date of our own: the recorded ones are sent
            for name, value in headers:
                if name.lower() not in FRAMING:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
