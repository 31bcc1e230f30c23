"""Running the emulator: build one instance, serve it with uvicorn, optionally over TLS with a self-signed cert.

:class:`Emulator` is the context manager tests and scripts use: in this process (a server thread) or in a
subprocess (the CLI), on a free port, stopped cleanly on exit.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast, get_args

import requests

from pulumi_azure_elastic_jobs.destinations import is_loopback
from pulumi_azure_elastic_jobs.ids import uuid_problem

from .backend import HISTORY_SIZE

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

DEFAULT_TOKEN = "emulator-dev-token"  # noqa: S105 - the emulator's published development token, not a credential

TOKEN_ENV = "ELASTIC_JOBS_EMULATOR_TOKEN"  # noqa: S105 - a variable's name, not a credential
ADMIN_TOKEN_ENV = "ELASTIC_JOBS_EMULATOR_ADMIN_TOKEN"  # noqa: S105 - a variable's name, not a credential
"""Where the CLI also takes ``--token`` and ``--admin-token`` from: a command line is readable by every local
user (``ps``, ``/proc/<pid>/cmdline``), a process's environment only by its owner."""


@dataclass
class EmulatorOptions:
    host: str = "127.0.0.1"
    port: int = 0
    data_dir: Path | None = None
    tls: bool = False
    time_scale: float = 1.0
    token: str | None = None
    admin_token: str | None = None
    subscriptions: list[str] | None = None
    """Strict mode: only these subscriptions (and a seed's) exist, others answer 404 SubscriptionNotFound.
    None (the default): every well-formed subscription id exists from its first use."""
    seed: Path | None = None
    async_put: str = "never"  # never | new | always
    poll_hints: bool = False
    """Retry-After on active executions; the live service sends none (never seen in a recording)."""
    log_level: str = "warning"
    history_size: int = HISTORY_SIZE
    """Request-log entries, operation records and issued tokens kept, each (they also lapse after an hour)."""
    extra: dict[str, Any] = field(default_factory=dict)


def make_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``host``, localhost and 127.0.0.1 (clients trust it via a CA bundle)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "elastic-jobs-emulator")])
    alt_names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    with contextlib.suppress(ValueError):
        alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "emulator-cert.pem", directory / "emulator-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with contextlib.suppress(FileNotFoundError):
        key_path.unlink()  # recreated below, private from its first byte
    with os.fdopen(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as key_file:
        key_file.write(key_pem)
    return cert_path, key_path


def exposure_problem(options: EmulatorOptions) -> str | None:
    """Why these options must not start a server: bound beyond loopback with no token to guard it."""
    if is_loopback(options.host) or options.token:
        return None
    return (
        f"--host {options.host} is reachable beyond this machine, and without --token anyone there could use, "
        f"wipe or rig the emulator: set {TOKEN_ENV} (or pass --token) and --tls, or bind 127.0.0.1"
    )


def subscription_problem(subscriptions: list[str] | None) -> str | None:
    """Why a strict-mode list cannot be used: an id that is not a UUID."""
    for subscription in subscriptions or []:
        problem = uuid_problem(subscription)
        if problem:
            return f"--subscription {problem}"
    return None


def admin_token_of(options: EmulatorOptions) -> str | None:
    """The admin API's guard: ``admin_token``, else the ARM token whenever bound beyond loopback."""
    if options.admin_token:
        return options.admin_token
    return None if is_loopback(options.host) else options.token


def describe(options: EmulatorOptions, cert: Path | None) -> str:
    """The one startup line a person reads: where it listens, TLS, and who may call it."""
    tls = f"TLS on (certificate {cert})" if cert else "TLS off"
    auth = "ARM auth on (--token)" if options.token else "ARM auth off (any bearer token)"
    admin = "admin API guarded by token" if admin_token_of(options) else "admin API open (loopback only)"
    return f"emulator: bind {options.host}:{options.port}, {tls}, {auth}, {admin}"


def build(options: EmulatorOptions) -> Any:
    """The ASGI app for ``options``, seeded."""
    from .app import create_app
    from .backend import AsyncPut, Backend, Clock, History
    from .emulation import Emulation
    from .seed import load_fixture
    from .store import Store

    if options.async_put not in get_args(AsyncPut):
        raise ValueError(f"async_put must be one of {get_args(AsyncPut)}, got {options.async_put!r}")
    backend = Backend(
        Store(options.data_dir),
        Clock(time_scale=options.time_scale),
        history=History(size=options.history_size),
        async_put=cast(AsyncPut, options.async_put),
        poll_hints=options.poll_hints,
    )
    problem = exposure_problem(options) or subscription_problem(options.subscriptions)
    if problem:
        raise ValueError(problem)
    strict = None if options.subscriptions is None else {s.lower() for s in options.subscriptions}
    emulation = Emulation(
        backend,
        token=options.token,
        admin_token=admin_token_of(options),
        loopback_host=options.host if is_loopback(options.host) else None,
        subscriptions=strict,
    )
    if options.seed:
        emulation.apply_seed(load_fixture(options.seed))
    return create_app(emulation)


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say so, and without it every
    # answer written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


class Emulator:
    """A running emulator: ``with Emulator(...) as emulator: emulator.url``.

    ``in_process=True`` (default) serves from a thread of this process, which is fastest for tests;
    ``in_process=False`` runs the ``elastic-jobs-emulator`` CLI as a subprocess, which can be killed.
    """

    def __init__(self, options: EmulatorOptions | None = None, *, in_process: bool = True, **overrides: Any) -> None:
        self.options = options or EmulatorOptions()
        for key, value in overrides.items():
            if not hasattr(self.options, key):  # a misspelt or retired option must not pass in silence
                raise TypeError(f"Emulator() got an unknown option {key!r}")
            setattr(self.options, key, value)
        for key in ("seed", "data_dir"):  # docs write Emulator(seed="examples/seed.yaml"): a str or any PathLike
            value = getattr(self.options, key)
            if value is not None and not isinstance(value, Path):
                setattr(self.options, key, Path(os.fspath(value)))
        self.in_process = in_process
        self.url = ""
        self.ca_bundle: str | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[str] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.admin = requests.Session()
        admin_token = admin_token_of(self.options)
        if admin_token:
            self.admin.headers["Authorization"] = f"Bearer {admin_token}"

    @property
    def pid(self) -> int | None:
        """The subprocess's id (``in_process=False``), for a look at its command line or memory; else None."""
        return self._process.pid if self._process else None

    @property
    def token(self) -> str:
        return self.options.token or DEFAULT_TOKEN

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.in_process:
            self._start_thread()
        else:
            self._start_process()

    def _cert_dir(self) -> Path:
        if self.options.data_dir:
            return self.options.data_dir
        self._tmp = tempfile.TemporaryDirectory(prefix="elastic-jobs-emulator-")
        return Path(self._tmp.name)

    def _start_thread(self) -> None:
        import uvicorn

        sock = _bind(self.options.host, self.options.port)
        port = sock.getsockname()[1]
        ssl: dict[str, Any] = {}
        scheme = "http"
        if self.options.tls:
            cert, key = make_certificate(self._cert_dir(), self.options.host)
            ssl, scheme, self.ca_bundle = (
                {"ssl_certfile": str(cert), "ssl_keyfile": str(key)},
                "https",
                str(cert),
            )
        config = uvicorn.Config(
            build(self.options),
            log_level=self.options.log_level,
            access_log=False,
            lifespan="off",
            date_header=False,  # the app stamps Date from the emulated service clock
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
            backlog=2048,
            **ssl,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="elastic-jobs-emulator"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        self.url = f"{scheme}://{self.options.host}:{port}"

    def _start_process(self) -> None:
        args = [
            sys.executable,
            "-m",
            "elastic_jobs_emulator",
            "--host",
            self.options.host,
            "--port",
            str(self.options.port),
            "--time-scale",
            str(self.options.time_scale),
            "--log-level",
            self.options.log_level,
        ]
        if self.options.data_dir:
            args += ["--data-dir", str(self.options.data_dir)]
        if self.options.tls:
            args += ["--tls"]
            if not self.options.data_dir:
                args += ["--data-dir", str(self._cert_dir())]
        env = {key: value for key, value in os.environ.items() if key not in (TOKEN_ENV, ADMIN_TOKEN_ENV)}
        if self.options.token:  # through the environment: the command line is visible to every local user
            env[TOKEN_ENV] = self.options.token
        if self.options.admin_token:
            env[ADMIN_TOKEN_ENV] = self.options.admin_token
        if self.options.seed:
            args += ["--seed", str(self.options.seed)]
        if self.options.poll_hints:
            args += ["--poll-hints"]
        if self.options.history_size != HISTORY_SIZE:
            args += ["--history-size", str(self.options.history_size)]
        if self.options.async_put != "never":
            args += ["--async-put", self.options.async_put]
        for subscription in self.options.subscriptions or []:
            args += ["--subscription", subscription]
        # This interpreter, this package's module, arguments built above from typed options: no shell, no user text.
        self._process = subprocess.Popen(  # noqa: S603
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        if self._process.stdout is None:
            raise RuntimeError("the emulator subprocess has no stdout")
        deadline = time.monotonic() + 30
        for line in self._process.stdout:
            match = re.search(r"listening on (\S+)", line)
            if match:
                self.url = match.group(1)
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self._process.kill()
            raise RuntimeError("the emulator subprocess did not print 'listening on <URL>'")
        if self.options.tls:
            self.ca_bundle = str((self.options.data_dir or self._cert_dir()) / "emulator-cert.pem")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        if self._process and self._process.stdout:
            for _ in self._process.stdout:
                pass

    def kill(self) -> None:
        """SIGKILL the subprocess (no clean shutdown), to test durability."""
        if self._process:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread:
                self._thread.join(timeout=10)
            self._server = None
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self.admin.close()
        if self._tmp:
            self._tmp.cleanup()

    # --- admin API helpers -------------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.admin.request(
            method, f"{self.url}/_emulator{path}", timeout=30, verify=self.ca_bundle or True, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def requests_log(self, since: int = 0) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._admin("GET", "/requests", params={"since": since})
        return result

    def clear_requests(self) -> None:
        self._admin("DELETE", "/requests")

    def add_fault(self, kind: str, path: str = "", **spec: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("POST", "/faults", json={"kind": kind, "path": path, **spec})
        return result

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules with how often each fired (``hits``): a fault no request hit proved nothing."""
        result: list[dict[str, Any]] = self._admin("GET", "/faults")
        return result

    def clear_faults(self) -> None:
        self._admin("DELETE", "/faults")

    def set_behavior(self, job_name: str, **spec: Any) -> None:
        self._admin("PUT", f"/behaviors/{job_name}", json=spec)

    def clear_behaviors(self) -> None:
        self._admin("DELETE", "/behaviors")

    def seed(self, fixture: dict[str, Any]) -> None:
        self._admin("POST", "/seed", json=fixture)

    def deny_reads(self, subscription: str, client_ids: list[str] | None = None) -> dict[str, list[str]]:
        """Deny reads in ``subscription`` to these client ids (default: every identity): 403 AuthorizationFailed."""
        result: dict[str, list[str]] = self._admin(
            "PUT", f"/denied-reads/{subscription}", json={"client_ids": client_ids or ["*"]}
        )
        return result

    def allow_reads(self, subscription: str | None = None) -> None:
        """Allow reads again: in one subscription, or everywhere."""
        self._admin("DELETE", "/denied-reads", params={"subscription": subscription} if subscription else {})

    def settings(self, **spec: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("PUT", "/settings", json=spec)
        return result

    def forget(self, arm_id: str) -> None:
        self._admin("DELETE", "/resources", params={"id": arm_id})

    def reset(self) -> None:
        self._admin("POST", "/reset")

    def add_service_principal(self, tenant_id: str, client_id: str, client_secret: str) -> None:
        """Let the emulated Entra ID issue client-credentials tokens to this service principal."""
        self._admin("PUT", f"/identities/{client_id}", json={"tenant_id": tenant_id, "client_secret": client_secret})

    def issued_tokens(self) -> list[str]:
        """Every token the emulated Entra ID issued (in-process emulators only: for scans in tests)."""
        if self._server is None:
            raise RuntimeError("only an in-process emulator can show its issued tokens")
        tokens: list[str] = self._server.config.app.state.emulation.directory.issued_tokens()
        return tokens
