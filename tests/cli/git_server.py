"""A git server over HTTPS on loopback, for `pulumi package add <git URL>@<tag>` without the internet.

The CLI clones git sources with go-git over HTTPS only (``git://`` and bare host paths become ``https://``), so a
local path or ``file://`` URL cannot stand in for a repository host. This serves bare repositories under a folder
through git's own smart-HTTP backend (``git http-backend``, run as CGI per request) behind TLS with a self-signed
certificate for 127.0.0.1; the CLI trusts it through ``SSL_CERT_FILE``, which Go reads on Linux. It listens on
port 443: the CLI names a git plugin's folder after the URL's host and port, and a ``:`` in that folder makes
Python refuse to create the plugin's virtualenv there (a real host's URL has no port), so binding needs root or
``CAP_NET_BIND_SERVICE`` and a free port (``git_server`` raises OSError otherwise).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from elastic_jobs_emulator.server import make_certificate


@dataclass(frozen=True)
class GitServer:
    """Where it serves (``https://127.0.0.1:<port>``), the folder of its bare repositories, and the CA to trust."""

    url: str
    root: Path
    certificate: Path

    def publish(self, work_tree: Path, owner: str, tag: str) -> str:
        """Commit ``work_tree`` as it is, tag it, and serve it as ``<owner>/<name>.git``; the repository's URL."""
        git = ["git", "-c", "user.name=release", "-c", "user.email=release@example.invalid"]
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=work_tree, check=True)
        subprocess.run([*git, "add", "-A"], cwd=work_tree, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "release"], cwd=work_tree, check=True)
        subprocess.run([*git, "tag", tag], cwd=work_tree, check=True)
        bare = self.root / owner / f"{work_tree.name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work_tree), str(bare)], check=True)
        return f"{self.url}/{owner}/{work_tree.name}.git"


class _Backend(BaseHTTPRequestHandler):
    """One request, answered by ``git http-backend`` as a CGI script."""

    root: Path

    def do_GET(self) -> None:
        self.cgi()

    def do_POST(self) -> None:
        self.cgi()

    def cgi(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        git = shutil.which("git") or "git"
        answered = subprocess.run([git, "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = answered.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = answered.stdout.partition(b"\n\n")
        headers = [line.split(":", 1) for line in head.decode("latin-1").splitlines() if ":" in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def git_server(folder: Path) -> Iterator[GitServer]:
    """A running server of the bare repositories under ``folder / "repositories"``, stopped at the end."""
    root = folder / "repositories"
    root.mkdir(parents=True, exist_ok=True)
    cert, key = make_certificate(folder / "tls", "127.0.0.1")  # the emulator's own: localhost and 127.0.0.1
    handler = type("Backend", (_Backend,), {"root": root})
    server = ThreadingHTTPServer(("127.0.0.1", 443), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield GitServer("https://127.0.0.1", root, cert)
    finally:
        server.shutdown()
        server.server_close()
