"""The generated TypeScript and Go SDKs: they match the schema, they compile, and so do the examples using them.

``scripts/gen-sdk.sh --check`` regenerates both SDKs from the schema into a temporary folder and diffs them with
the committed ``sdk/``; then ``tsc`` type-checks ``sdk/nodejs`` and ``examples/typescript``, and ``go build`` and
``go vet`` compile ``sdk/go`` and ``examples/go``. Downloads are cached outside the working tree, so a fresh
clone starts warm: npm's in its own cache (``~/.npm``), Go's in the module and build caches the CLI build fills.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_SDK = ROOT / "sdk" / "nodejs"
GO_SDK = ROOT / "sdk" / "go"
TS_EXAMPLE = ROOT / "examples" / "typescript"
GO_EXAMPLE = ROOT / "examples" / "go"
COLD_GO_BUILD = 900  # seconds: compiling the Pulumi Go SDK with an empty build cache takes 2-3 minutes


def go_binary() -> str | None:
    """``go`` on PATH, or where the Go tarball installs it (as scripts/build-pulumi-cli.sh looks)."""
    found = shutil.which("go")
    if found:
        return found
    fallback = Path("/usr/local/go/bin/go")
    return str(fallback) if fallback.exists() else None


GO = go_binary()
NPM = shutil.which("npm")
needs_go = pytest.mark.skipif(GO is None, reason="go is not installed (not on PATH nor in /usr/local/go/bin)")
needs_npm = pytest.mark.skipif(NPM is None, reason="npm is not installed (not on PATH)")


def run(args: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> None:
    """Runs a command and fails the test with its output when it exits non-zero or outlives ``timeout``."""
    full_env = {**os.environ, "GOTOOLCHAIN": "local", **(env or {})}
    if GO is not None:
        full_env["PATH"] = f"{Path(GO).parent}{os.pathsep}{full_env.get('PATH', '')}"
    try:
        done = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(args)} (in {cwd}) took longer than {timeout:.0f}s")
    if done.returncode != 0:
        output = f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        pytest.fail(f"{' '.join(args)} (in {cwd}) exited {done.returncode}:\n{output}")


@needs_go
@pytest.mark.timeout(COLD_GO_BUILD)
def test_committed_sdks_are_what_the_schema_generates() -> None:
    run(["bash", "scripts/gen-sdk.sh", "--check"], ROOT, timeout=COLD_GO_BUILD)


@pytest.fixture(scope="module")
def typescript_installed() -> Iterator[Path]:
    """``npm ci`` in examples/typescript (the SDK is a ``file:`` link), and sdk/nodejs resolving the same modules.

    The SDK's own ``node_modules`` is a git-ignored link to the example's, so both compiles see one copy of
    ``@pulumi/pulumi``.
    """
    assert NPM is not None
    run(
        [NPM, "ci", "--prefer-offline", "--no-audit", "--no-fund"],
        TS_EXAMPLE,
        timeout=240,
    )
    link = NODE_SDK / "node_modules"
    if not link.is_symlink():
        if link.exists():
            shutil.rmtree(link)
        link.symlink_to(Path("..", "..", "examples", "typescript", "node_modules"))
    yield TS_EXAMPLE / "node_modules" / ".bin" / "tsc"


@needs_npm
def test_typescript_sdk_type_checks(typescript_installed: Path) -> None:
    run([str(typescript_installed), "-p", "tsconfig.json", "--noEmit"], NODE_SDK, timeout=120)


@needs_npm
def test_typescript_example_type_checks_against_the_sdk(typescript_installed: Path) -> None:
    run([str(typescript_installed), "-p", "tsconfig.json", "--noEmit"], TS_EXAMPLE, timeout=120)


@needs_go
@pytest.mark.timeout(COLD_GO_BUILD)
def test_go_sdk_builds_and_vets() -> None:
    assert GO is not None
    run([GO, "build", "./..."], GO_SDK, timeout=COLD_GO_BUILD)
    run([GO, "vet", "./..."], GO_SDK, timeout=COLD_GO_BUILD)


@needs_go
@pytest.mark.timeout(COLD_GO_BUILD)
def test_go_example_builds_and_vets_against_the_sdk() -> None:
    assert GO is not None
    run([GO, "build", "-o", os.devnull, "."], GO_EXAMPLE, timeout=COLD_GO_BUILD)
    run([GO, "vet", "."], GO_EXAMPLE, timeout=COLD_GO_BUILD)
