"""``elastic-jobs-emulator``: run the local Elastic Jobs ARM emulator until SIGINT/SIGTERM.

Prints one line saying where it binds, whether TLS and auth are on, then ``listening on <URL>`` when ready
(scripts wait for it), then a log line per request at ``--log-level info``. Bound beyond loopback it refuses to
start without a token, and guards its admin API with that token (or the admin token). Tokens are best given
in the environment (ELASTIC_JOBS_EMULATOR_TOKEN, ELASTIC_JOBS_EMULATOR_ADMIN_TOKEN), which only their owner can
read, rather than as ``--token``/``--admin-token``, which every local user sees in ``ps``. Files it writes (the
TLS key and certificate, SQLite) go to ``--data-dir``, or to a private temporary directory removed at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from ._version import __version__
from .backend import HISTORY_SECONDS, HISTORY_SIZE
from .server import (
    ADMIN_TOKEN_ENV,
    DEFAULT_TOKEN,
    TOKEN_ENV,
    EmulatorOptions,
    _bind,
    build,
    describe,
    exposure_problem,
    make_certificate,
    subscription_problem,
)


def plain(docstring: str) -> str:
    """A docstring as terminal text: RST literals (double backquotes) become plain words."""
    return docstring.replace("``", "").strip()


def parse_args(argv: list[str] | None = None) -> EmulatorOptions:
    parser = argparse.ArgumentParser(
        prog="elastic-jobs-emulator",
        description=plain(__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default 0)")
    parser.add_argument("--data-dir", type=Path, help="persist state in SQLite there (default: in memory)")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a self-signed cert written to the data dir (emulator-cert.pem)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="emulated seconds per real second: 60 makes a one-minute job take one second",
    )
    parser.add_argument(
        "--token",
        help=f"require exactly this bearer token (default: ${TOKEN_ENV}, else any; tools use {DEFAULT_TOKEN!r}); "
        f"prefer ${TOKEN_ENV}: a command line is visible to every local user",
    )
    parser.add_argument(
        "--admin-token",
        help=f"require this bearer token on the admin API /_emulator (default: ${ADMIN_TOKEN_ENV}, else --token "
        "when bound beyond loopback)",
    )
    parser.add_argument(
        "--subscription",
        action="append",
        dest="subscriptions",
        metavar="S",
        help="strict mode: only these subscriptions (and a seed's) exist, others answer 404 SubscriptionNotFound "
        "(repeatable; default: every well-formed subscription id exists from its first use)",
    )
    parser.add_argument(
        "--allow-subscription",
        action="append",
        dest="deprecated_subscriptions",
        metavar="S",
        help="deprecated alias of --subscription (it no longer answers 403 for other subscriptions)",
    )
    parser.add_argument(
        "--seed",
        type=Path,
        help="JSON/YAML fixture of servers, databases, pools, agents, jobs, steps, target groups, denied reads",
    )
    parser.add_argument(
        "--async-put",
        nargs="?",
        const="new",
        default="never",
        choices=["never", "new", "always"],
        help="answer execution PUTs with 202 + Location, as ARM may: for new ids (the default when given), "
        "or always, also for ids that exist",
    )
    parser.add_argument(
        "--poll-hints",
        dest="poll_hints",
        action="store_true",
        help="send Retry-After on active executions, when they next change (the live service sends none: "
        "clients poll at their own pace, azure-core every 30 s)",
    )
    parser.add_argument(
        "--history-size",
        type=int,
        default=HISTORY_SIZE,
        metavar="N",
        help=f"request-log entries, operation records and issued tokens kept, each (default {HISTORY_SIZE}); "
        f"each also lapses after {HISTORY_SECONDS / 3600:g} hour: memory stays bounded however long it runs",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be positive")
    if args.history_size < 1:
        parser.error("--history-size must be positive")
    if args.deprecated_subscriptions:
        print(
            "elastic-jobs-emulator: --allow-subscription is deprecated, use --subscription: strict mode, other "
            "subscriptions answer 404 SubscriptionNotFound (no longer 403 AuthorizationFailed)",
            file=sys.stderr,
        )
        args.subscriptions = [*(args.subscriptions or []), *args.deprecated_subscriptions]
    token = args.token or os.environ.pop(TOKEN_ENV, None) or None
    admin_token = args.admin_token or os.environ.pop(ADMIN_TOKEN_ENV, None) or None
    options = EmulatorOptions(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        tls=args.tls,
        time_scale=args.time_scale,
        token=token,
        admin_token=admin_token,
        subscriptions=args.subscriptions,
        seed=args.seed,
        async_put=args.async_put,
        poll_hints=args.poll_hints,
        log_level=args.log_level,
        history_size=args.history_size,
    )
    problem = exposure_problem(options) or subscription_problem(options.subscriptions)
    if problem:
        parser.error(problem)
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    logging.basicConfig(
        level=options.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    with contextlib.ExitStack() as cleanup:
        files = options.data_dir or Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="elastic-jobs-")))
        serve(options, files)


def serve(options: EmulatorOptions, files: Path) -> None:
    import uvicorn

    ssl: dict[str, Any] = {}
    scheme, cert = "http", None
    if options.tls:
        cert, key = make_certificate(files, options.host)
        ssl, scheme = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}, "https"
    sock = _bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    options.port = port
    print(describe(options, cert), flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            build(options),
            log_level="warning",
            access_log=False,
            lifespan="on",
            backlog=2048,
            date_header=False,
            **ssl,
        )
    )
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets=sockets)
        shown = f"[{host}]" if ":" in host else host
        print(f"listening on {scheme}://{shown}:{port}", flush=True)

    server.startup = startup  # type: ignore[method-assign]
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
