"""The generated TypeScript and Go SDKs: they match the schema, they compile, and so do the examples using them.

``scripts/gen-sdk.sh --check`` regenerates both SDKs from the schema into a temporary folder and diffs them with
the committed ``sdk/``; then ``npm ci`` in ``examples/typescript`` installs the TypeScript SDK, which compiles itself
with ``tsc`` on install (a local SDK, as ``pulumi package add`` makes them), and ``tsc`` type-checks the example;
``go build`` and ``go vet`` compile ``sdk/go`` and ``examples/go``. Downloads are cached outside the working tree,
so a fresh clone starts warm: npm's in its own cache (``~/.npm``), Go's in the module and build caches the CLI
build fills.
"""

from __future__ import annotations

import json
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
INSTALL_TIMEOUT = 600  # seconds: npm from a cold cache, then tsc compiling the SDK
INSTALLED_SDK = Path("node_modules", "@pulumi-azure-elastic-jobs", "azure-elastic-jobs")
TOOLS_BIN = ROOT / ".tools" / "bin"  # scripts/build-pulumi-cli.sh puts Node.js 22 here (the SDK needs it)


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


def run(args: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Runs a command and fails the test with its output when it exits non-zero or outlives ``timeout``;
    returns what it printed."""
    full_env = {**os.environ, "GOTOOLCHAIN": "local", **(env or {})}
    full_env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{full_env.get('PATH', '')}"
    if GO is not None:
        full_env["PATH"] = f"{Path(GO).parent}{os.pathsep}{full_env['PATH']}"
    try:
        done = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(args)} (in {cwd}) took longer than {timeout:.0f}s")
    if done.returncode != 0:
        output = f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        pytest.fail(f"{' '.join(args)} (in {cwd}) exited {done.returncode}:\n{output}")
    return done.stdout


def node_output(args: list[str], cwd: Path) -> str:
    """What ``node`` (the one scripts/build-pulumi-cli.sh installs, else the machine's) printed."""
    node = TOOLS_BIN / "node"
    return run([str(node) if node.exists() else "node", *args], cwd, timeout=60)


@needs_go
@pytest.mark.timeout(COLD_GO_BUILD)
def test_committed_sdks_are_what_the_schema_generates() -> None:
    run(["bash", "scripts/gen-sdk.sh", "--check"], ROOT, timeout=COLD_GO_BUILD)


@pytest.fixture(scope="module")
def typescript_installed() -> Iterator[Path]:
    """``npm ci`` in examples/typescript: npm installs the SDK from sdk/nodejs as a copy (the example's .npmrc
    says ``install-links``), and the SDK's postinstall step compiles it with tsc, strict, into its ``bin``."""
    assert NPM is not None
    run([NPM, "ci", "--prefer-offline", "--no-audit", "--no-fund"], TS_EXAMPLE, timeout=INSTALL_TIMEOUT)
    yield TS_EXAMPLE / "node_modules" / ".bin" / "tsc"


@needs_npm
def test_typescript_sdk_compiles_on_install_and_loads(typescript_installed: Path) -> None:
    compiled = TS_EXAMPLE / INSTALLED_SDK / "bin"
    assert {"index.js", "index.d.ts", "jobExecution.js", "jobExecutionSet.js", "package.json"} <= {
        p.name for p in compiled.iterdir()
    }
    exports = "console.log(Object.keys(require('@pulumi-azure-elastic-jobs/azure-elastic-jobs')).join(' '))"
    loaded = node_output(["-e", exports], TS_EXAMPLE)
    assert {"JobExecution", "JobExecutionSet", "Provider", "config", "types"} <= set(loaded.split())


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


PYTHON_SDK_INPUTS = """
import inspect, json, sys
sys.path.insert(0, sys.argv[1])
import pulumi_azure_elastic_jobs_sdk as sdk
print(json.dumps({
    name: sorted(p for p in inspect.signature(getattr(sdk, name).__init__).parameters if p != "__self__")
    for name in ("JobExecutionArgs", "JobExecutionSetArgs", "ProviderArgs")
}))
"""


def test_python_sdk_installs_imports_and_takes_every_input_of_the_catalog_in_snake_case(tmp_path: Path) -> None:
    """The generated Python SDK, installed by pip (from a copy: pip builds in the source folder) and imported
    with this project's Pulumi SDK, declares what the plugin validates."""
    from pulumi_azure_elastic_jobs import catalog

    source, target = tmp_path / "source", tmp_path / "site"
    shutil.copytree(ROOT / "sdk" / "python", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    python = str(ROOT / ".venv" / "bin" / "python")
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        ROOT,
        300,
    )
    declared = json.loads(run([python, "-c", PYTHON_SDK_INPUTS, str(target)], ROOT, 60))
    assert declared["JobExecutionArgs"] == sorted(p.name for p in catalog.EXECUTION_INPUTS)
    assert declared["JobExecutionSetArgs"] == sorted(p.name for p in catalog.SET_INPUTS)
    assert declared["ProviderArgs"] == sorted(p.name for p in catalog.CONFIG)
