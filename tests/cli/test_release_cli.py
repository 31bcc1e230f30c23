"""The release (scripts/release.sh): every artefact built once into a temporary dist/, then installed the way its
users install it, in temporary folders outside the repository, with nothing from the repository but the artefact.

The plugin tarball goes through `pulumi plugin install --file` into a stack's own plugin cache, where the Python
language host makes its virtualenv, and then serves a YAML program for a whole life; with the plugin found by
name, a fresh copy of that program runs `pulumi install` and deploys (YAML's host cannot link a `packages:` entry,
tests/cli/test_package_add_cli.py). The wheels go into a fresh virtualenv and the sdists build; the npm tarball
installs and compiles in a TypeScript program; the Go module is served from its proxy layout to `go build`.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.cli.conftest import MARKER, TOOLS_BIN, Stack
from tests.cli.native_life import (
    destroy_cancels_the_run_still_going,
    first_up_runs_the_chain_once,
    new_chain,
    unchanged_up_sends_nothing,
)
from tests.conftest import ROOT

VERSION = "0.1.0"
PLUGIN = "azure-elastic-jobs"
GO_MODULE = "github.com/pulumi-azure-elastic-jobs/sdk/go"
sys.path.insert(0, str(ROOT / "scripts"))
import release  # noqa: E402

DISTRIBUTIONS = [  # every Python distribution the release builds, by its pyproject.toml: at least these two
    tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]["name"].replace("-", "_")
    for folder in release.PYTHON_DISTRIBUTIONS
]
EXPECTED = {
    *(f"python/{name}-{VERSION}{suffix}" for name in DISTRIBUTIONS for suffix in ("-py3-none-any.whl", ".tar.gz")),
    *(
        f"pulumi-resource-{PLUGIN}-v{VERSION}-{platform}.tar.gz"
        for platform in ("linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64")
    ),
    f"nodejs/pulumi-azure-elastic-jobs-azure-elastic-jobs-{VERSION}.tgz",
    *(f"go/{GO_MODULE}/@v/{name}" for name in ("list", f"v{VERSION}.info", f"v{VERSION}.mod", f"v{VERSION}.zip")),
    "SHA256SUMS",
}


class _Served(http.server.SimpleHTTPRequestHandler):
    """The release's folder over HTTP, as a release page serves it; every path asked for is recorded."""

    asked: list[str]

    def do_GET(self) -> None:
        self.asked.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class Release:
    dist: Path
    url: str  # where the release is served, and the pluginDownloadURL its SDKs carry
    asked: list[str]


@pytest.fixture(scope="module")
def served_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """One release, built as a maintainer builds it (the CLI's tools, npm and node, first on PATH) for the server
    that serves it: its SDKs carry that server as their pluginDownloadURL."""
    out = tmp_path_factory.mktemp("release") / "dist"
    out.mkdir()
    asked: list[str] = []
    handler = functools.partial(type("Served", (_Served,), {"asked": asked}), directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    env = {**os.environ, "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"}
    command = ["bash", str(ROOT / "scripts" / "release.sh"), "--dist", str(out), "--plugin-download-url", url]
    built = subprocess.run(command, env=env, capture_output=True, text=True)
    try:
        assert built.returncode == 0, built.stdout + built.stderr
        yield Release(out, url, asked)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def dist(served_release: Release) -> Path:
    return served_release.dist


def test_every_artefact_carries_one_version_and_its_checksum(dist: Path) -> None:
    assert {"pulumi_azure_elastic_jobs", "pulumi_azure_elastic_jobs_sdk"} <= set(DISTRIBUTIONS)
    made = {str(path.relative_to(dist)) for path in dist.rglob("*") if path.is_file()}
    assert made == EXPECTED
    listed = dict(reversed(line.split("  ", 1)) for line in (dist / "SHA256SUMS").read_text().splitlines())
    assert set(listed) == EXPECTED - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name
    tarballs = {(dist / name).read_bytes() for name in EXPECTED if name.startswith("pulumi-resource-")}
    assert len(tarballs) == 1, "Python source: the same plugin on every platform"


def test_the_plugin_tarball_is_a_plugin_folder_of_tracked_sources_only(dist: Path) -> None:
    with tarfile.open(dist / f"pulumi-resource-{PLUGIN}-v{VERSION}-linux-amd64.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"PulumiPlugin.yaml", "pyproject.toml", "README.md"} <= names
    assert "provider/pulumi_azure_elastic_jobs/__main__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("venv/", "build/", "tests/", "sdk/"))]


@pytest.fixture
def yaml_program(tmp_path: Path) -> Path:
    folder = tmp_path / "yaml-program"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "yaml" / "Pulumi.yaml", folder / "Pulumi.yaml")
    return folder


def test_the_plugin_installs_from_its_tarball_and_serves_a_yaml_program_with_pulumi_install(
    dist: Path,
    yaml_program: Path,
    stack_for: Any,
    yaml_language_host: str,
    client: ElasticJobsClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    stack: Stack = stack_for(yaml_program)
    tarball = dist / f"pulumi-resource-{PLUGIN}-v{VERSION}-linux-amd64.tar.gz"
    stack.run_plain("plugin", "install", "resource", PLUGIN, VERSION, "--file", str(tarball))
    installed = Path(stack.env["PULUMI_HOME"]) / "plugins" / f"resource-{PLUGIN}-v{VERSION}"
    assert (installed / "PulumiPlugin.yaml").exists() and (installed / "venv" / "bin" / "python").exists()
    listed = json.loads(stack.run_plain("plugin", "ls", "--json").stdout)
    assert [(p["name"], p["kind"], p["version"]) for p in listed] == [(PLUGIN, "resource", VERSION)]
    schema = json.loads(stack.run_plain("package", "get-schema", PLUGIN).stdout)
    assert (schema["name"], schema["version"]) == (PLUGIN, VERSION)

    chain = new_chain(client, stack)
    first_up_runs_the_chain_once(stack, client, emulator, chain)
    unchanged_up_sends_nothing(stack, emulator)
    destroy_cancels_the_run_still_going(stack, client, emulator, chain)

    fresh_folder = tmp_path / "fresh"
    fresh_folder.mkdir()
    shutil.copy(yaml_program / "Pulumi.yaml", fresh_folder / "Pulumi.yaml")
    fresh: Stack = stack_for(fresh_folder)
    assert fresh.env["PULUMI_HOME"] == stack.env["PULUMI_HOME"]  # the same machine: the plugin is installed once
    fresh.run_plain("install")
    fresh_chain = new_chain(client, fresh)
    first_up_runs_the_chain_once(fresh, client, emulator, fresh_chain)
    destroy_cancels_the_run_still_going(fresh, client, emulator, fresh_chain)


def test_the_plugin_installs_from_a_server_that_serves_the_release(
    served_release: Release, pulumi_cli: str, tmp_path: Path
) -> None:
    """`pulumi plugin install ... --server <URL>` fetches the tarball named for this platform from the URL."""
    home = tmp_path / "home"
    env = {**os.environ, "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "1", MARKER: uuid.uuid4().hex}
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env['PATH']}"
    stack = Stack(pulumi_cli, tmp_path, env, "unused")
    stack.run_plain("plugin", "install", "resource", PLUGIN, VERSION, "--server", served_release.url, timeout=600)
    listed = json.loads(stack.run_plain("plugin", "ls", "--json").stdout)
    assert [(p["name"], p["kind"], p["version"]) for p in listed] == [(PLUGIN, "resource", VERSION)]
    assert (home / "plugins" / f"resource-{PLUGIN}-v{VERSION}" / "venv" / "bin" / "python").exists()
    assert f"/pulumi-resource-{PLUGIN}-v{VERSION}-linux-amd64.tar.gz" in served_release.asked


def test_a_program_using_the_released_sdk_gets_the_plugin_by_itself(
    served_release: Release, stack_for: Any, client: ElasticJobsClient, emulator: Emulator, tmp_path: Path
) -> None:
    """The SDK carries the release's pluginDownloadURL: a Python program that installs the SDK's wheel, with no
    plugin installed and no `packages:` entry, gets the plugin from the release at `pulumi install` and deploys."""
    if not (TOOLS_BIN / "pulumi-language-python").exists():
        pytest.skip(f"no pulumi-language-python in {TOOLS_BIN} (run bash scripts/build-pulumi-cli.sh)")
    folder = tmp_path / "python-program"
    folder.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / "examples" / "python-sdk" / name, folder / name)
    wheel = served_release.dist / "python" / f"pulumi_azure_elastic_jobs_sdk-{VERSION}-py3-none-any.whl"
    (folder / "requirements.txt").write_text(f"pulumi==3.272.0\n{wheel}\n")
    stack: Stack = stack_for(folder)
    # Downloads by name still go to the recorder that fails the test; this one's source is the release's URL.
    recorder = stack.env["PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES"].removeprefix(".*=")
    stack.env["PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES"] = f"^((github|gitlab)://.*)?$={recorder}"
    tarball = f"/pulumi-resource-{PLUGIN}-v{VERSION}-linux-amd64.tar.gz"
    asked_before = served_release.asked.count(tarball)

    stack.run_plain("install", timeout=600)
    installed = Path(stack.env["PULUMI_HOME"]) / "plugins" / f"resource-{PLUGIN}-v{VERSION}"
    assert (installed / "venv" / "bin" / "python").exists(), "pulumi install fetched the plugin and made its venv"
    assert served_release.asked.count(tarball) == asked_before + 1
    chain = new_chain(client, stack)
    first_up_runs_the_chain_once(stack, client, emulator, chain)
    destroy_cancels_the_run_still_going(stack, client, emulator, chain)
    assert served_release.asked.count(tarball) == asked_before + 1, "installed once, never fetched again"


def test_the_wheels_install_and_the_sdists_build(served_release: Release, tmp_path: Path) -> None:
    dist = served_release.dist
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    first = [f"pulumi_azure_elastic_jobs_sdk-{VERSION}", f"pulumi_azure_elastic_jobs-{VERSION}"]  # as the page says
    wheels = [dist / "python" / f"{name}-py3-none-any.whl" for name in first]
    wheels += sorted(set((dist / "python").glob("*.whl")) - set(wheels))  # then the others, the emulator's
    for wheel in wheels:
        subprocess.run([python, "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    if "elastic_jobs_emulator" in DISTRIBUTIONS:
        helped = subprocess.run([str(venv / "bin" / "elastic-jobs-emulator"), "--help"], capture_output=True, text=True)
        assert helped.returncode == 0 and "--seed" in helped.stdout, helped.stderr
    printed = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m, importlib.resources as r, json;"
            "import pulumi_azure_elastic_jobs, pulumi_azure_elastic_jobs_sdk;"
            "print(json.dumps([m.version('pulumi-azure-elastic-jobs'), m.version('pulumi_azure_elastic_jobs_sdk'),"
            "json.loads(r.files('pulumi_azure_elastic_jobs_sdk').joinpath('pulumi-plugin.json').read_text()),"
            "json.loads(r.files('pulumi_azure_elastic_jobs').joinpath('pulumi-plugin.json').read_text())]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    provider, sdk, sdk_plugin, provider_plugin = json.loads(printed)
    assert (provider, sdk) == (VERSION, VERSION)
    assert sdk_plugin == {"resource": True, "name": PLUGIN, "version": VERSION, "server": served_release.url}
    assert provider_plugin == {"resource": False}, "the dynamic provider's package brings no plugin to download"
    for sdist in sorted((dist / "python").glob("*.tar.gz")):
        built = subprocess.run(
            [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "rebuilt"), str(sdist)],
            capture_output=True,
            text=True,
        )
        assert built.returncode == 0, built.stderr
    assert len(list((tmp_path / "rebuilt").glob(f"*-{VERSION}-py3-none-any.whl"))) == len(DISTRIBUTIONS)


def tools_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"}


def test_the_npm_tarball_installs_and_compiles_in_a_typescript_program(dist: Path, tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    program = tmp_path / "ts-program"
    program.mkdir()
    (program / "package.json").write_text('{"name": "user-program", "private": true}\n')
    tarball = dist / "nodejs" / f"pulumi-azure-elastic-jobs-azure-elastic-jobs-{VERSION}.tgz"
    command = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "@pulumi/pulumi@3.276.0", str(tarball)]
    installed = subprocess.run(command, cwd=program, env=tools_env(), capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    package = program / "node_modules" / "@pulumi-azure-elastic-jobs" / "azure-elastic-jobs"
    assert (package / "bin" / "index.js").exists(), "the postinstall step compiled the SDK"
    loaded = subprocess.run(
        [
            "node",
            "-e",
            "const s = require('@pulumi-azure-elastic-jobs/azure-elastic-jobs');"
            "console.log(typeof s.JobExecution, require(require.resolve("
            "'@pulumi-azure-elastic-jobs/azure-elastic-jobs/package.json')).version)",
        ],
        cwd=program,
        env=tools_env(),
        capture_output=True,
        text=True,
    )
    assert loaded.stdout.split() == ["function", VERSION], loaded.stderr


def test_the_go_module_builds_from_its_proxy_layout(dist: Path, tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("go is not installed")
    with zipfile.ZipFile(dist / "go" / GO_MODULE / "@v" / f"v{VERSION}.zip") as archive:
        assert f"{GO_MODULE}@v{VERSION}/go.mod" in archive.namelist()
    program = tmp_path / "go-program"
    program.mkdir()
    (program / "go.mod").write_text("module example.com/user\n\ngo 1.26\n")
    (program / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\t"github.com/pulumi-azure-elastic-jobs/sdk/go/azureelasticjobs"\n)\n\n'
        "func main() { fmt.Println(azureelasticjobs.NewJobExecution != nil) }\n"
    )
    env = {
        **tools_env(),
        "GOPROXY": f"file://{dist / 'go'},{os.environ.get('GOPROXY') or 'https://proxy.golang.org'}",
        "GONOSUMDB": GO_MODULE,
        "GOTOOLCHAIN": "local",
    }
    for command in (["go", "mod", "edit", "-require", f"{GO_MODULE}@v{VERSION}"], ["go", "mod", "tidy"]):
        done = subprocess.run(command, cwd=program, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr  # the installation page's commands
    built = subprocess.run(["go", "build", "-o", "user", "."], cwd=program, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    listed = subprocess.run(
        ["go", "list", "-m", GO_MODULE], cwd=program, env=env, capture_output=True, text=True, check=True
    )
    assert listed.stdout.split() == [GO_MODULE, f"v{VERSION}"]
