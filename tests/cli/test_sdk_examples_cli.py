"""The generated SDKs' examples with the real CLI, a language host and the native plugin: a whole life each.

examples/typescript (sdk/nodejs) runs through a Node.js language host, examples/python-sdk (sdk/python) through
the Python one and examples/go (sdk/go) through the Go one. Each host is the one next to the CLI: this project's
stand-ins (scripts/pulumi_cli/) as scripts/build-pulumi-cli.sh installs them, or the official hosts built from a
pulumi/pulumi snapshot when ``ELASTIC_JOBS_PULUMI_BIN`` points at a folder holding them; both must pass these
tests. The program's dependencies are installed by ``pulumi install`` through the host, as users install them,
from the SDK folder in sdk/. Runs are counted on the emulator, and what each command sent it is read from its
request log.
"""

from __future__ import annotations

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

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.cli.conftest import TOOLS_BIN, Stack
from tests.cli.native_life import (
    destroy_cancels_the_run_still_going,
    first_up_runs_the_chain_once,
    last_seq,
    mutating,
    new_chain,
    trigger_change_reruns_the_chain_once,
    unchanged_up_sends_nothing,
)
from tests.cli.yaml_support import install_native_plugin
from tests.conftest import ROOT

INSTALL_TIMEOUT = 600  # seconds: npm or pip from a cold cache, then building the SDK


@dataclass(frozen=True)
class SdkExample:
    """One generated SDK's example and what proves, in its language, that the SDK was installed and used."""

    folder: str
    program: str  # the file that declares the resources
    host: str
    tool: str  # what the host needs on PATH besides itself
    installed: Callable[[Path], list[Path]]  # files `pulumi install` must have made, given the program folder
    throw: Callable[[str, str], str]  # the program's text with a statement raising `message` before any resource
    about: Callable[[dict[str, Any], Path], None]  # asserts on `pulumi about --json`


def typescript_about(about: dict[str, Any], program: Path) -> None:
    node = about["runtime"]["executable"]
    printed = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert about["runtime"]["version"] == printed
    assert about["runtime"]["packagemanager"] == "npm" and about["runtime"]["typescriptVersion"] == "4.9.5"
    dependencies = {d["name"]: d["version"] for d in about["dependencies"]}
    assert dependencies["@pulumi-azure-elastic-jobs/azure-elastic-jobs"] == "0.1.0"
    pinned = json.loads((program / "package.json").read_text())["dependencies"]["@pulumi/pulumi"]
    assert dependencies["@pulumi/pulumi"] == pinned


def python_about(about: dict[str, Any], program: Path) -> None:
    assert about["runtime"]["executable"].startswith(str(program / "venv"))
    assert about["runtime"]["toolchain"] == "Pip"
    dependencies = {d["name"].replace("_", "-"): d["version"] for d in about["dependencies"]}
    assert dependencies["pulumi-azure-elastic-jobs-sdk"] == "0.1.0"  # top-level only: the SDK brings pulumi
    assert "pulumi-azure-elastic-jobs" not in dependencies, "the dynamic provider's package is not in this program"


TYPESCRIPT = SdkExample(
    folder="typescript",
    program="index.ts",
    host="pulumi-language-nodejs",
    tool="node",
    installed=lambda p: [
        p / "node_modules" / "@pulumi-azure-elastic-jobs" / "azure-elastic-jobs" / "bin" / name
        for name in ("index.js", "package.json")
    ],
    throw=lambda text, message: text.replace(
        "const migration", f'if (config.get("job") !== "") {{\n    throw new Error("{message}");\n}}\nconst migration'
    ),
    about=typescript_about,
)
PYTHON = SdkExample(
    folder="python-sdk",
    program="__main__.py",
    host="pulumi-language-python",
    tool="python3",
    installed=lambda p: [p / "venv" / "bin" / "python"],
    throw=lambda text, message: text.replace("migration = ", f"raise RuntimeError({message!r})\nmigration = ", 1),
    about=python_about,
)


def go_about(about: dict[str, Any], program: Path) -> None:
    go = about["runtime"]["executable"]
    printed = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout.strip()
    assert about["runtime"]["version"] == printed
    dependencies = {d["name"]: d["version"] for d in about["dependencies"]}
    assert dependencies["github.com/pulumi-azure-elastic-jobs/sdk/go"] == ""  # replaced by the clone's sdk/go
    assert dependencies["github.com/pulumi/pulumi/sdk/v3"].startswith("v3.")


GO = SdkExample(
    folder="go",
    program="main.go",
    host="pulumi-language-go",
    tool="go",
    installed=lambda p: [p / "go.sum"],
    throw=lambda text, message: text.replace("import (\n", 'import (\n\t"errors"\n', 1).replace(
        "\t\tmigration, err :=",
        f'\t\tif job != "" {{\n\t\t\treturn errors.New("{message}")\n\t\t}}\n\t\tmigration, err :=',
        1,
    ),
    about=go_about,
)
EXAMPLES = [
    pytest.param(TYPESCRIPT, id="typescript"),
    pytest.param(PYTHON, id="python"),
    pytest.param(GO, id="go"),
]
LANGUAGES = {"typescript": "nodejs", "python-sdk": "python", "go": "go"}


def copy_example(example: SdkExample, into: Path) -> Path:
    """The example, where its relative dependency on ``../../sdk/<language>`` still finds the repository's SDK."""
    project = into / "examples" / f"{example.folder}-{uuid.uuid4().hex[:6]}"
    ignored = shutil.ignore_patterns("node_modules", "bin", "venv", "Pulumi.*.yaml", "__pycache__")
    shutil.copytree(ROOT / "examples" / example.folder, project, ignore=ignored)
    (into / "sdk").symlink_to(ROOT / "sdk", target_is_directory=True)
    return project


@pytest.fixture(params=EXAMPLES)
def sdk_stack(
    request: pytest.FixtureRequest, stack_for: Any, pulumi_cli: str, tmp_path: Path
) -> tuple[SdkExample, Stack]:
    """A stack of a copy of an SDK's example, its dependencies installed by `pulumi install`, and the native
    plugin in the stack's plugin cache. Destroyed at the end; any plugin download attempt fails the test."""
    return request.param, installed_stack(request.param, stack_for, tmp_path)


def installed_stack(example: SdkExample, stack_for: Any, tmp_path: Path) -> Stack:
    """The stack of `sdk_stack`, for tests of programs of their own made from an example (skipped the same way)."""
    if not (TOOLS_BIN / example.host).exists():
        pytest.skip(f"no {example.host} in {TOOLS_BIN} (run bash scripts/build-pulumi-cli.sh)")
    if shutil.which(example.tool, path=f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}") is None:
        pytest.skip(f"{example.tool} is not installed (neither in {TOOLS_BIN} nor on PATH)")
    stack: Stack = stack_for(copy_example(example, tmp_path))
    install_native_plugin(stack.cli, stack.env)
    installed = stack.run_plain("install", timeout=INSTALL_TIMEOUT)
    assert "Finished installing dependencies" in installed.stdout + installed.stderr
    missing = [str(path) for path in example.installed(stack.directory) if not path.exists()]
    assert missing == [], f"pulumi install did not make {missing}"
    return stack


def test_the_example_deploys_waits_and_destroys_with_one_run_per_intent(
    sdk_stack: tuple[SdkExample, Stack], client: ElasticJobsClient, emulator: Emulator
) -> None:
    _, stack = sdk_stack
    chain = new_chain(client, stack)

    first_up_runs_the_chain_once(stack, client, emulator, chain)
    unchanged_up_sends_nothing(stack, emulator)
    trigger_change_reruns_the_chain_once(stack, client, emulator, chain)
    destroy_cancels_the_run_still_going(stack, client, emulator, chain)
    assert json.loads(stack.run("stack", "export").stdout)["deployment"].get("resources") in (None, [])


def test_a_program_error_fails_the_update_with_the_programs_message(
    sdk_stack: tuple[SdkExample, Stack], emulator: Emulator
) -> None:
    example, stack = sdk_stack
    program = stack.directory / example.program
    program.write_text(example.throw(program.read_text(), "release notes are missing"))
    since = last_seq(emulator)
    failed = stack.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0
    assert "release notes are missing" in failed.stdout + failed.stderr
    assert mutating(emulator, since) == [], "a program that fails before its resources register starts nothing"


def test_about_names_the_runtime_the_programs_dependencies_and_the_plugin(sdk_stack: tuple[SdkExample, Stack]) -> None:
    example, stack = sdk_stack
    about = json.loads(stack.run("about", "--json").stdout)
    assert about["runtime"]["language"] == LANGUAGES[example.folder]
    example.about(about, stack.directory)
    plugins = {(p["name"], p["kind"], p["version"]) for p in about["plugins"]}
    assert ("azure-elastic-jobs", "resource", "0.1.0") in plugins
