"""The stand-in Node.js language host's own rules: which plugins a program needs, its options, its config keys.

The whole host is held to the official one by tests/cli/test_typescript_cli.py; these pin the rules it reads
off a program's folder, where a wrong answer would make the engine download a plugin or miss one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "pulumi_cli"))
import nodejs_host


def package(folder: Path, manifest: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps(manifest))


def found(directory: Path) -> list[tuple[str, str, str]]:
    return sorted((p.name, p.version, p.server) for p in nodejs_host.required_packages(directory))


def test_required_packages_are_the_resource_packages_under_node_modules(tmp_path: Path) -> None:
    modules = tmp_path / "node_modules"
    package(tmp_path, {"name": "program", "pulumi": {"resource": True, "name": "not-a-dependency"}})
    package(modules / "@pulumi" / "pulumi", {"name": "@pulumi/pulumi", "version": "3.276.0"})
    package(
        modules / "@pulumi" / "random", {"name": "@pulumi/random", "version": "4.1.0", "pulumi": {"resource": True}}
    )
    package(
        modules / "@acme" / "jobs",
        {"name": "@acme/jobs", "version": "0.1.0", "pulumi": {"resource": True, "name": "jobs", "server": "https://x"}},
    )
    package(
        modules / "@acme" / "nested" / "node_modules" / "inner",
        {"name": "inner", "pulumi": {"resource": True, "name": "inner", "version": "v2.0.0"}},
    )
    package(modules / "plain", {"name": "plain", "version": "1.0.0", "pulumi": {"resource": False, "name": "plain"}})
    package(modules / "thirdparty", {"name": "thirdparty", "version": "1.0.0", "pulumi": {"resource": True}})
    assert found(tmp_path) == [("inner", "v2.0.0", ""), ("jobs", "v0.1.0", "https://x"), ("random", "v4.1.0", "")]


def test_linked_packages_are_followed_once_even_through_a_link_loop(tmp_path: Path) -> None:
    sdk = tmp_path / "sdk"
    package(sdk, {"name": "@acme/jobs", "version": "0.1.0", "pulumi": {"resource": True, "name": "jobs"}})
    (sdk / "node_modules").mkdir()
    (sdk / "node_modules" / "back").symlink_to(tmp_path / "program", target_is_directory=True)
    program = tmp_path / "program"
    (program / "node_modules" / "@acme").mkdir(parents=True)
    (program / "node_modules" / "@acme" / "jobs").symlink_to(sdk, target_is_directory=True)
    assert found(program) == [("jobs", "v0.1.0", "")]


def test_a_broken_manifest_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "broken").mkdir(parents=True)
    (tmp_path / "node_modules" / "broken" / "package.json").write_text("{not json")
    package(tmp_path / "node_modules" / "ok", {"name": "@pulumi/ok", "version": "1.2.3", "pulumi": {"resource": True}})
    assert found(tmp_path) == [("ok", "v1.2.3", "")]


def info(directory: Path, **options: Any) -> Any:
    return SimpleNamespace(
        program_directory=str(directory),
        root_directory=str(directory),
        options=SimpleNamespace(items=lambda: options.items()),
        HasField=lambda name: True,
    )


def test_options_default_to_typescript_with_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_NODEJS_TYPESCRIPT", raising=False)
    project = nodejs_host.NodeProject.of(info(tmp_path))
    assert project.typescript and project.node_arguments == [] and project.tsconfig == ""
    assert project.environment()["PULUMI_NODEJS_TYPESCRIPT"] == "true"
    project = nodejs_host.NodeProject.of(
        info(tmp_path, typescript=False, nodeargs="--max-old-space-size=4096 --inspect", tsconfig="tsconfig.build.json")
    )
    assert not project.typescript and project.node_arguments == ["--max-old-space-size=4096", "--inspect"]
    assert "PULUMI_NODEJS_TYPESCRIPT" not in project.environment()
    assert project.environment()["PULUMI_NODEJS_TSCONFIG_PATH"] == "tsconfig.build.json"


@pytest.mark.parametrize(
    ("options", "lock_file", "message"),
    [
        ({"packagemanager": "yarn"}, None, "runtime.options.packagemanager 'yarn'"),
        ({}, "pnpm-lock.yaml", "runtime.options.packagemanager 'pnpm'"),
        ({"typescript": "yes"}, None, "runtime.options.typescript must be a boolean"),
    ],
)
def test_options_this_host_cannot_honour_are_refused_by_name(
    tmp_path: Path, options: dict[str, Any], lock_file: str | None, message: str
) -> None:
    if lock_file:
        (tmp_path / lock_file).write_text("")
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        nodejs_host.NodeProject.of(info(tmp_path, **options))


@pytest.mark.parametrize(
    ("key", "legacy"),
    [
        ("azure-elastic-jobs:endpoint", "azure-elastic-jobs:config:endpoint"),
        ("elastic-jobs-typescript:job", "elastic-jobs-typescript:config:job"),
        ("project:config:already", "project:config:already"),
        ("nonamespace", "nonamespace"),
    ],
)
def test_config_keys_reach_the_runner_in_the_form_every_sdk_reads(key: str, legacy: str) -> None:
    assert nodejs_host.legacy_key(key) == legacy


def test_program_dependencies_come_from_the_lock_file(tmp_path: Path) -> None:
    lock = {
        "packages": {
            "": {"dependencies": {"@pulumi/pulumi": "3.276.0"}, "devDependencies": {"typescript": "4.9.5"}},
            "node_modules/@pulumi/pulumi": {"version": "3.276.0"},
            "node_modules/typescript": {"version": "4.9.5"},
            "node_modules/semver": {"version": "7.7.1"},
            "node_modules/@pulumi/pulumi/node_modules/semver": {"version": "6.3.1"},
        }
    }
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))
    assert nodejs_host.locked_dependencies(tmp_path, transitive=False) == [
        ("@pulumi/pulumi", "3.276.0"),
        ("typescript", "4.9.5"),
    ]
    assert ("semver", "6.3.1") in nodejs_host.locked_dependencies(tmp_path, transitive=True)
    assert nodejs_host.locked_dependencies(tmp_path / "missing", transitive=True) == []
