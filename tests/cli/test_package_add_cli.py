"""`pulumi package add` of this repository, as users install the provider: one whole life per language.

A clone of the repository (its tracked files, copied outside it) is the plugin folder; each language's example
program, copied into a temporary folder without its dependency on the repository's committed SDK, adds the
provider with `pulumi package add <clone>`: the Python language host makes the plugin's virtualenv in the clone
and runs it from source, the program's own host generates the SDK into `sdks/` and links it, and the package is
recorded under `packages:` in the program's `Pulumi.yaml`. Then a preview (nothing sent), a waited `up` (one run
of each job), an unchanged `up` (nothing mutating) and a `destroy` that cancels the run still going; then a fresh
copy of the program's folder (no `sdks/`, no installed dependencies) runs `pulumi install` and deploys again.

YAML's host (pulumi-language-yaml v1.25.0, the newest the module proxy serves) does not implement `Link`, so
`pulumi package add` and a `pulumi install` with `packages:` fail in a YAML program; the YAML test pins that
message (it tells us when upstream changes) and walks the life with the `packages:` entry written by hand, which
the engine honours. YAML's route with `pulumi install` is the plugin release (tests/cli/test_release_cli.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.cli.conftest import TOOLS_BIN, Stack, run_in_own_group
from tests.cli.git_server import git_server
from tests.cli.native_life import (
    destroy_cancels_the_run_still_going,
    first_up_runs_the_chain_once,
    new_chain,
    unchanged_up_sends_nothing,
)
from tests.conftest import ROOT

INSTALL_TIMEOUT = 600  # seconds: the plugin's virtualenv, then the program's dependencies, from cold caches
PACKAGE = "azure-elastic-jobs"
SDK_FOLDER = Path("sdks") / PACKAGE
PLUGIN_CACHE_ENTRY = f"resource-{PACKAGE}-v0.1.0"  # what a launcher or a release would add to the plugin cache


@dataclass(frozen=True)
class Program:
    """A language's example program, set up as a user's own program that has not added the provider yet."""

    example: str
    host: str
    files: tuple[str, ...]  # copied from the example as they are
    write_dependencies: Callable[[Path], None]  # the program's own dependency file, without the provider's SDK
    linked: Callable[[Path], None]  # asserts the SDK in sdks/ is what the program's dependencies name
    installed: str  # a file the program's install must have made, relative to the program


def python_dependencies(folder: Path) -> None:
    (folder / "requirements.txt").write_text("pulumi==3.272.0\n")


def python_linked(folder: Path) -> None:
    assert (folder / "requirements.txt").read_text().splitlines() == ["pulumi==3.272.0", str(SDK_FOLDER)]


def typescript_dependencies(folder: Path) -> None:
    """The installation page's two commands: the program's own @pulumi/pulumi, and TypeScript 5.x as Pulumi's
    templates pin it (an unpinned `typescript` is 7.x), before `pulumi package add`."""
    (folder / "package.json").write_text('{"name": "elastic-jobs-user-program", "private": true, "main": "index.ts"}\n')
    env = {**os.environ, "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"}
    for command in (
        ["npm", "install", "@pulumi/pulumi@^3.269.0"],
        ["npm", "install", "--save-dev", "typescript@~5.9.3", "@types/node@^22"],
    ):
        subprocess.run([*command, "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, env=env, check=True)


def typescript_linked(folder: Path) -> None:
    manifest = json.loads((folder / "package.json").read_text())
    assert manifest["dependencies"][f"@pulumi-{PACKAGE}/{PACKAGE}"] == f"file:{SDK_FOLDER}"
    assert manifest["allowScripts"] == {f"file:{SDK_FOLDER}": True}


def go_dependencies(folder: Path) -> None:
    (folder / "go.mod").write_text(
        "module example.com/user-program\n\ngo 1.26\n\nrequire github.com/pulumi/pulumi/sdk/v3 v3.274.1\n"
    )
    shutil.copy(ROOT / "examples" / "go" / "go.sum", folder / "go.sum")


def go_linked(folder: Path) -> None:
    edited = subprocess.run(["go", "mod", "edit", "-json"], cwd=folder, capture_output=True, text=True, check=True)
    module = json.loads(edited.stdout)
    replaced = {r["Old"]["Path"]: r["New"]["Path"] for r in module.get("Replace") or []}
    assert replaced == {"github.com/pulumi-azure-elastic-jobs/sdk/go": f"./{SDK_FOLDER}"}
    assert "github.com/pulumi-azure-elastic-jobs/sdk/go" in {r["Path"] for r in module["Require"]}


PROGRAMS = {
    "python": Program(
        "python-sdk",
        "pulumi-language-python",
        ("Pulumi.yaml", "__main__.py"),
        python_dependencies,
        python_linked,
        "venv/bin/python",
    ),
    "typescript": Program(
        "typescript",
        "pulumi-language-nodejs",
        ("Pulumi.yaml", "index.ts", "tsconfig.json"),
        typescript_dependencies,
        typescript_linked,
        f"node_modules/@pulumi-{PACKAGE}/{PACKAGE}/bin/index.js",
    ),
    "go": Program("go", "pulumi-language-go", ("Pulumi.yaml", "main.go"), go_dependencies, go_linked, "go.sum"),
}


def copy_of_the_repository(into: Path) -> Path:
    """The repository's tracked files as they are now (a clone of the working tree), in ``into``."""
    clone = into / "pulumi-azure-elastic-jobs"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    return clone


@pytest.fixture(scope="session")
def provider_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as a user's clone of it, outside the repository."""
    return copy_of_the_repository(tmp_path_factory.mktemp("clone"))


def user_program(program: Program, into: Path) -> Path:
    folder = into / f"{program.example}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    for name in program.files:
        shutil.copy(ROOT / "examples" / program.example / name, folder / name)
    program.write_dependencies(folder)
    return folder


def fresh_copy(folder: Path, into: Path) -> Path:
    """The program as a fresh clone of the user's repository holds it: no generated SDK, nothing installed."""
    ignored = shutil.ignore_patterns("sdks", "node_modules", "venv", "Pulumi.*.yaml", "__pycache__")
    return Path(shutil.copytree(folder, into / f"fresh-{folder.name}", ignore=ignored))


def recorded_packages(folder: Path) -> Any:
    return yaml.safe_load((folder / "Pulumi.yaml").read_text()).get("packages")


def nothing_in_the_plugin_cache(stack: Stack) -> None:
    """The plugin ran from the clone through the Python host: no launcher of ours, nothing installed by name."""
    plugins = Path(stack.env["PULUMI_HOME"]) / "plugins"
    assert not (plugins / PLUGIN_CACHE_ENTRY).exists()


@pytest.mark.parametrize("language", list(PROGRAMS))
def test_package_add_from_a_clone_deploys_and_a_fresh_copy_deploys_after_pulumi_install(
    language: str,
    provider_clone: Path,
    stack_for: Any,
    client: ElasticJobsClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    program = PROGRAMS[language]
    if not (TOOLS_BIN / program.host).exists():
        pytest.skip(f"no {program.host} in {TOOLS_BIN} (run bash scripts/build-pulumi-cli.sh)")
    folder = user_program(program, tmp_path / "user")
    stack: Stack = stack_for(folder)

    added = stack.run_plain("package", "add", str(provider_clone), timeout=INSTALL_TIMEOUT)
    assert "Added package Azure SQL Elastic Jobs" in added.stderr, added.stdout + added.stderr
    assert recorded_packages(folder) == {PACKAGE: str(provider_clone)}
    assert (provider_clone / "venv" / "bin" / "python").exists(), "the host made the plugin's virtualenv"
    assert (folder / SDK_FOLDER).is_dir() and (folder / program.installed).exists()
    program.linked(folder)

    chain = new_chain(client, stack)
    first_up_runs_the_chain_once(stack, client, emulator, chain)
    unchanged_up_sends_nothing(stack, emulator)
    destroy_cancels_the_run_still_going(stack, client, emulator, chain)
    nothing_in_the_plugin_cache(stack)

    fresh: Stack = stack_for(fresh_copy(folder, tmp_path))
    installed = fresh.run_plain("install", timeout=INSTALL_TIMEOUT)
    assert "Finished installing dependencies" in installed.stdout + installed.stderr
    assert (fresh.directory / SDK_FOLDER).is_dir() and (fresh.directory / program.installed).exists()
    program.linked(fresh.directory)
    fresh_chain = new_chain(client, fresh)
    first_up_runs_the_chain_once(fresh, client, emulator, fresh_chain)
    destroy_cancels_the_run_still_going(fresh, client, emulator, fresh_chain)
    nothing_in_the_plugin_cache(fresh)


def test_yaml_program_runs_the_plugin_from_its_packages_entry_since_its_host_cannot_link(
    provider_clone: Path,
    stack_for: Any,
    yaml_language_host: str,
    client: ElasticJobsClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "yaml-program"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "yaml" / "Pulumi.yaml", folder / "Pulumi.yaml")
    stack: Stack = stack_for(folder)

    refused = run_in_own_group([stack.cli, "package", "add", str(provider_clone), "--non-interactive"], stack, 600)
    assert refused.returncode != 0 and "linking package: method Link not implemented" in refused.stderr
    assert recorded_packages(folder) is None

    with (folder / "Pulumi.yaml").open("a") as project:  # what package add would have recorded
        project.write(f"packages:\n  {PACKAGE}: {provider_clone}\n")
    chain = new_chain(client, stack)
    first_up_runs_the_chain_once(stack, client, emulator, chain)
    unchanged_up_sends_nothing(stack, emulator)
    destroy_cancels_the_run_still_going(stack, client, emulator, chain)
    nothing_in_the_plugin_cache(stack)

    fresh: Stack = stack_for(fresh_copy(folder, tmp_path))
    install = run_in_own_group([fresh.cli, "install", "--non-interactive"], fresh, 600)
    assert install.returncode != 0 and "method Link not implemented" in install.stderr
    fresh_chain = new_chain(client, fresh)
    first_up_runs_the_chain_once(fresh, client, emulator, fresh_chain)
    destroy_cancels_the_run_still_going(fresh, client, emulator, fresh_chain)


def test_package_add_from_a_git_url_at_a_tag_clones_that_tag_and_deploys(
    stack_for: Any, client: ElasticJobsClient, emulator: Emulator, tmp_path: Path
) -> None:
    """The repository served over HTTPS (tests/cli/git_server.py), tagged v0.1.0: `pulumi package add
    <URL>@v0.1.0` clones the tag into the plugin cache, where the Python host makes its virtualenv; a Python
    program then deploys through it and destroys."""
    program = PROGRAMS["python"]
    if not (TOOLS_BIN / program.host).exists():
        pytest.skip(f"no {program.host} in {TOOLS_BIN} (run bash scripts/build-pulumi-cli.sh)")
    published = copy_of_the_repository(tmp_path / "release")
    with contextlib.ExitStack() as running:
        try:
            server = running.enter_context(git_server(tmp_path / "git"))
        except OSError as error:  # not root, or the port is taken
            pytest.skip(f"the git server needs port 443 on loopback (root or CAP_NET_BIND_SERVICE, free): {error}")
        url = server.publish(published, "elastic", "v0.1.0")
        (published / "PulumiPlugin.yaml").write_text("# changed after the tag: must not be what is installed\n")
        folder = user_program(program, tmp_path / "user")
        stack: Stack = stack_for(folder)
        stack.env["SSL_CERT_FILE"] = str(server.certificate)
        # Downloads by name (the CLI's github:// fallback, or any registry's) still go to the recorder that fails
        # the test; the override is matched against a plugin's source URL, and this one's is the https:// repo.
        recorder = stack.env["PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES"].removeprefix(".*=")
        stack.env["PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES"] = f"^((github|gitlab)://.*)?$={recorder}"

        added = stack.run_plain("package", "add", f"{url}@v0.1.0", timeout=INSTALL_TIMEOUT)
        assert "Added package elastic/Azure SQL Elastic Jobs" in added.stderr, added.stdout + added.stderr
        assert recorded_packages(folder) == {PACKAGE: "127.0.0.1/elastic/pulumi-azure-elastic-jobs.git@v0.1.0"}
        plugins = Path(stack.env["PULUMI_HOME"]) / "plugins"
        cached = plugins / "resource-127.0.0.1_elastic_pulumi-azure-elastic-jobs.git-v0.1.0"
        assert (cached / "venv" / "bin" / "python").exists()
        assert (cached / "PulumiPlugin.yaml").read_text().startswith("# This repository is a Pulumi plugin folder")
        sdk = Path("sdks") / f"elastic-{PACKAGE}"  # the git URL's owner is the package's namespace
        assert (folder / "requirements.txt").read_text().splitlines() == ["pulumi==3.272.0", str(sdk)]

        chain = new_chain(client, stack)
        first_up_runs_the_chain_once(stack, client, emulator, chain)
        destroy_cancels_the_run_still_going(stack, client, emulator, chain)
