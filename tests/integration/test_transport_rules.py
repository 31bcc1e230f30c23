"""The client's rules above the HTTP library (issue 36): a token is read trimmed and validated, a request that may
have been acted on is never sent twice, a proxy's refusal is final, an answer has a size limit, and no secret
(token, proxy password) reaches an error or a log line, whatever fails on the way."""

from __future__ import annotations

import base64
import logging
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.config import Settings
from pulumi_azure_elastic_jobs.errors import ConfigError, CredentialUnavailable, ElasticJobsError, TransportError
from tests.conftest import SEED, TIME_SCALE, job_ref, new_job
from tests.integration.byte_servers import Server, Talk, answering, ok, proxy_answering, started

TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzM2NyZXQifQ.t0ken-signature"
PROXY_PASSWORD = "pr0xy/pa#ss?word"


# --- the token -------------------------------------------------------------------------------------------------------


def test_a_token_file_written_by_echo_is_sent_without_its_line_break(emulator: Emulator) -> None:
    """Defect 1: ``Bearer <token>\\n`` made the HTTP library raise a ``ValueError`` that quoted the token."""
    settings = Settings.resolve({}, {"AZURE_ELASTIC_JOBS_TOKEN": f"{emulator.token}\n"})
    assert settings.static_token == emulator.token
    with ElasticJobsClient(emulator.url, StaticToken(f" {emulator.token}\n")) as client:
        assert client.request("GET", job_ref().path).status_code == 200


@pytest.mark.parametrize("token", ["abc\x01def", "abc\ndef", "abc def", "abcdéf"])
def test_a_token_that_cannot_go_in_a_header_is_a_configuration_error_that_does_not_show_it(token: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.resolve({"azure-elastic-jobs:token": token}, {})
    assert "config azure-elastic-jobs:token" in str(raised.value)
    assert "abc" not in str(raised.value) and "def" not in str(raised.value)


def test_a_token_source_that_gives_an_unsendable_token_fails_before_anything_is_sent(
    serve: Callable[[Talk], Server],
) -> None:
    server = serve(answering(ok()))

    class Leaky(StaticToken):
        def token(self) -> str:
            return f"{TOKEN}\r\nX-Injected: 1"

    with ElasticJobsClient(f"http://127.0.0.1:{server.port}", Leaky("unused"), retry_budget_seconds=1) as client:
        with pytest.raises(CredentialUnavailable) as raised:
            client.request("GET", "/subscriptions")
    assert TOKEN not in str(raised.value) and "control character" in str(raised.value)
    assert server.connections == 0


# --- a request that may have been acted on ---------------------------------------------------------------------------


def test_a_start_post_whose_connection_broke_after_it_left_is_never_sent_again(emulator: Emulator) -> None:
    """Issue 35, path 4: ``start_execution`` is not safe to repeat; the service started the run and the answer
    was lost, so a second POST would start a second run."""
    with ElasticJobsClient(emulator.url, StaticToken(emulator.token), retry_budget_seconds=10) as client:
        job = new_job(client)
        emulator.add_fault("act-then-drop", path=f"{job.path}/start$", method="POST", times=1)
        with pytest.raises(TransportError) as raised:
            client.start_execution(job)
        assert raised.value.attempts == 1
        assert [fault["hits"] for fault in emulator.faults()] == [1]  # the fault fired, once
        assert len(list(client.list_executions(job))) == 1  # the run it started, and no other


def test_a_start_post_that_never_left_is_sent_again_and_starts_one_run() -> None:
    """Nothing listened at the first try: the request never left, so trying again is safe. The emulator starts
    listening on that port when the client first pauses to retry (time in the test's hands, no timer raced)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    emulators: list[Emulator] = []

    def start_listening(_: float) -> None:
        if not emulators:
            emulators.append(Emulator(port=port, time_scale=TIME_SCALE, seed=SEED).__enter__())

    try:
        with ElasticJobsClient(
            f"http://127.0.0.1:{port}", StaticToken("emulator-dev-token"), sleep=start_listening
        ) as client:
            job = job_ref()
            run = client.start_execution(job)
            assert run.name and len(list(client.list_executions(job))) == 1
    finally:
        for emulator in emulators:
            emulator.__exit__(None, None, None)
    assert emulators, "the first try was not refused: nothing proves a refused start is tried again"


def test_a_request_that_must_not_be_repeated_never_rides_a_kept_connection(serve: Callable[[Talk], Server]) -> None:
    """A server whose keep-alive timer fires as the next request arrives drops it unanswered: on a kept
    connection a start POST would be lost, maybe acted on, and could not be sent again. It opens its own."""

    def answer_once_then_drop(connection: socket.socket, server: Server) -> None:
        if server.read_request(connection) is not None:
            connection.sendall(ok(b'{"name": "run"}'))
            server.read_request(connection)  # the next one on this connection: dropped

    server = serve(answer_once_then_drop)
    with ElasticJobsClient(f"http://127.0.0.1:{server.port}", StaticToken(TOKEN)) as client:
        client.request("GET", "/subscriptions")
        assert client.request("POST", "/subscriptions/start", json={}, idempotent=False).status_code == 200
    assert server.connections == 2 and len(server.requests) == 2


def test_a_start_post_whose_tunnel_the_proxy_could_not_open_is_tried_again(
    serve: Callable[[Talk], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy's 502 to CONNECT comes before the request left: even a start POST is tried again (and again, within
    the budget), where a 4xx would have ended it."""
    proxy = serve(proxy_answering(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"))
    with proxied(monkeypatch, proxy.port) as client, pytest.raises(TransportError) as raised:
        client.request("POST", "/subscriptions/start", json={}, idempotent=False)
    assert proxy.connections >= 2 and raised.value.attempts == proxy.connections
    assert all(request.startswith(b"CONNECT ") for request in proxy.requests)


def test_starts_sent_at_once_each_open_a_connection_and_say_nothing_of_it(
    serve: Callable[[Talk], Server], caplog: pytest.LogCaptureFixture
) -> None:
    """Sixteen workers start sixteen runs at once: each POST on a connection of its own, and no warning of a full
    pool printed to the plugin's output."""
    server = serve(answering(ok()))
    with ElasticJobsClient(f"http://127.0.0.1:{server.port}", StaticToken(TOKEN)) as client:
        with caplog.at_level(logging.WARNING), ThreadPoolExecutor(16) as workers:
            starts = workers.map(lambda _: client.request("POST", "/start", json={}, idempotent=False), range(16))
            assert [answer.status_code for answer in starts] == [200] * 16
    assert server.connections == 16 and not caplog.records


# --- proxies and sizes, through the client ---------------------------------------------------------------------------


def proxied(monkeypatch: pytest.MonkeyPatch, proxy_port: int, **options: Any) -> ElasticJobsClient:
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:{quote(PROXY_PASSWORD, safe='')}@127.0.0.1:{proxy_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return ElasticJobsClient(
        "https://arm.example", StaticToken(TOKEN), **{"retry_budget_seconds": 5, "sleep": lambda _: None, **options}
    )


def test_a_proxy_that_refuses_the_credentials_is_asked_once_and_named(
    serve: Callable[[Talk], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 4, through the client: a 407 repeated is one more failed proxy login (an account-lockout risk)."""
    proxy = serve(proxy_answering(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"))
    with proxied(monkeypatch, proxy.port) as client, pytest.raises(TransportError) as raised:
        client.request("GET", "/subscriptions")
    assert raised.value.kind == "proxy" and proxy.connections == 1
    assert "407" in str(raised.value) and "HTTPS_PROXY" in str(raised.value)
    assert "pr0xy" not in str(raised.value)


def test_a_proxy_url_with_a_raw_password_is_a_configuration_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defect 9, through the client: the error names HTTPS_PROXY and shows no part of the password."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:{PROXY_PASSWORD}@proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(ConfigError) as raised:
        ElasticJobsClient("https://arm.example", StaticToken(TOKEN))
    assert "HTTPS_PROXY" in str(raised.value) and "percent-encoded" in str(raised.value)
    assert not any(part in str(raised.value) for part in ("pr0xy", "pa#ss", "?word"))


def test_an_answer_past_the_size_limit_is_read_once_and_names_the_setting(serve: Callable[[Talk], Server]) -> None:
    server = serve(answering(ok(bytes(2 * 1024 * 1024))))
    with (
        ElasticJobsClient(
            f"http://127.0.0.1:{server.port}", StaticToken(TOKEN), max_response_bytes=1024 * 1024
        ) as client,
        pytest.raises(TransportError) as raised,
    ):
        client.request("GET", "/subscriptions")
    assert raised.value.kind == "too-large" and "maxResponseBytes" in str(raised.value)
    assert len(server.requests) == 1


# --- no secret anywhere, whatever fails ------------------------------------------------------------------------------

FAULTS: dict[str, bytes] = {
    "dropped": b"",
    "half-an-answer": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{",
    "a-terabyte-announced": b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n{}",
    "a-huge-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n{}",
    "two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "corrupt-gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
    "not-http": b"SSH-2.0-OpenSSH_9.6\r\n",
    "echoing-500": b"",  # built per request: the token echoed back in an ARM error
    "refusing-401": b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
}
PROXY_FAULTS: dict[str, bytes] = {
    "proxy-407": b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
    "proxy-502": b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
    "proxy-tunnel-then-garbage": b"HTTP/1.1 200 Connection established\r\n\r\nnot TLS at all",
    "proxy-dropped": b"",
}


def echoing(connection: socket.socket, server: Server) -> None:
    head = server.read_request(connection) or b""
    body = b'{"error": {"code": "Boom", "message": "you sent ' + head.replace(b"\r\n", b" | ") + b'"}}'
    connection.sendall(ok(body).replace(b"200 OK", b"500 Internal Server Error"))


def secrets_of(token: str, password: str) -> list[str]:
    userinfo = f"user:{password}".encode()
    return [token, password, quote(password, safe=""), base64.b64encode(userinfo).decode()]


@pytest.mark.parametrize("fault", sorted(FAULTS) + sorted(PROXY_FAULTS))
@settings(max_examples=8)
@given(
    method=st.sampled_from(["GET", "PUT", "POST"]),
    token=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map("tok3n-{}".format),
    password=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20).map("passw0rd-{}".format),
)
def test_no_secret_reaches_an_error_or_a_log_line_whatever_fails(
    fault: str, method: str, token: str, password: str
) -> None:
    """Each fault is met (the server saw a connection), with tokens and passwords of every visible character."""
    secrets = secrets_of(token, password)
    records: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    loggers = [logging.getLogger("pulumi_azure_elastic_jobs"), logging.getLogger("urllib3")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    server = started(echoing if fault == "echoing-500" else _talk(fault))
    try:
        error = _provoke(fault, method, token, password, server.port)
    finally:
        server.listener.close()
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
    assert server.connections >= 1, f"{fault}: the fault was never met"
    shown = [str(error), repr(error), *records]
    for secret in secrets:
        assert not any(secret in text for text in shown), f"{fault}: a secret in {shown}"


def _talk(fault: str) -> Talk:
    if fault in PROXY_FAULTS:
        return proxy_answering(PROXY_FAULTS[fault])
    return answering(FAULTS[fault], close=True)


QUICK: dict[str, Any] = {"retry_budget_seconds": 0.3, "read_timeout": 2.0, "sleep": lambda _: None}
"""Every fault here ends in an error well within a second: a server that closes, retries that never pause."""


def _provoke(fault: str, method: str, token: str, password: str, port: int) -> ElasticJobsError:
    """The error the fault ends in (every fault here ends in one)."""
    source = StaticToken(token)
    path = f"/subscriptions/{uuid.uuid4()}/resourceGroups/g"
    if fault in PROXY_FAULTS:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HTTPS_PROXY", f"http://user:{quote(password, safe='')}@127.0.0.1:{port}")
            patch.delenv("NO_PROXY", raising=False)
            client = ElasticJobsClient("https://arm.example", source, **QUICK)
    else:
        client = ElasticJobsClient(f"http://127.0.0.1:{port}", source, **QUICK)
    with client, pytest.raises(ElasticJobsError) as raised:
        client.request(method, path, json={} if method != "GET" else None, idempotent=method != "POST")
    return raised.value


def test_the_request_log_names_each_request_its_status_and_request_id_never_its_headers(
    serve: Callable[[Talk], Server], caplog: pytest.LogCaptureFixture
) -> None:
    """docs/installation-configuration.md: AZURE_ELASTIC_JOBS_LOG_LEVEL=DEBUG logs each request's method, URL
    without its query, status, x-ms-request-id and duration, never its headers."""
    server = serve(answering(ok(b"{}", "x-ms-request-id: req-42")))
    with ElasticJobsClient(f"http://127.0.0.1:{server.port}", StaticToken(TOKEN)) as client:
        with caplog.at_level(logging.DEBUG, logger="pulumi_azure_elastic_jobs"):
            client.request("GET", "/subscriptions/s1?secret=query")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "pulumi_azure_elastic_jobs.client"]
    assert line.startswith(f"GET http://127.0.0.1:{server.port}/subscriptions/s1 -> 200 x-ms-request-id=req-42 ")
    assert line.endswith(" ms") and TOKEN not in line and "secret=query" not in line
