"""The stand-in Node.js and Go language hosts' own rules: which plugins a program needs, its options, its config.

The whole hosts are held to the official ones by tests/cli/test_sdk_examples_cli.py; these pin the rules they
read off a program's folder, where a wrong answer would make the engine download a plugin or miss one.
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
import go_host
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


def module(
    folder: Path | None, path: str = "github.com/acme/pulumi-jobs/sdk", version: str = "v1.2.3"
) -> dict[str, Any]:
    return {"Path": path, "Version": version, **({"Dir": str(folder)} if folder else {})}


def test_a_go_module_declares_its_plugin_in_a_pulumi_plugin_json_in_any_of_upstreams_places(tmp_path: Path) -> None:
    for place in (
        "pulumi-plugin.json",
        "go/pulumi-plugin.json",
        "go/jobs/pulumi-plugin.json",
        "jobs/pulumi-plugin.json",
    ):
        folder = tmp_path / place.replace("/", "_")
        target = folder / place
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps({"resource": True, "name": "jobs", "version": "0.1.0"}))
        plugin = go_host.plugin_of(module(folder))
        assert (plugin.name, plugin.version, plugin.kind) == ("jobs", "0.1.0", "resource"), place


def test_a_go_plugin_without_a_name_or_version_takes_the_modules(tmp_path: Path) -> None:
    (tmp_path / "pulumi-plugin.json").write_text(json.dumps({"resource": True}))
    plugin = go_host.plugin_of(module(tmp_path, "github.com/pulumi/pulumi-aws/sdk/v6", "v6.1.0"))
    assert (plugin.name, plugin.version) == ("aws", "v6.1.0")


def test_go_modules_that_are_not_resource_plugins_need_nothing(tmp_path: Path) -> None:
    assert go_host.plugin_of(module(None)) is None  # not downloaded: no folder
    assert go_host.plugin_of(module(tmp_path)) is None  # no pulumi-plugin.json
    (tmp_path / "pulumi-plugin.json").write_text(json.dumps({"resource": False, "name": "x"}))
    assert go_host.plugin_of(module(tmp_path)) is None
    (tmp_path / "pulumi-plugin.json").write_text("{broken")
    assert go_host.plugin_of(module(tmp_path)) is None


def test_go_list_prints_objects_one_after_another() -> None:
    printed = '{"Path": "a", "Version": "v1"}\n{\n  "Path": "b",\n  "Dir": "/x"\n}\n'
    assert list(go_host.json_stream(printed)) == [{"Path": "a", "Version": "v1"}, {"Path": "b", "Dir": "/x"}]
    assert list(go_host.json_stream("  \n")) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"binary": 3}, r"runtime\.options\.binary must be a string"),
        ({"buildTarget": ["x"]}, r"runtime\.options\.buildTarget must be a string"),
        ({"binary": "prog", "buildTarget": "out"}, "cannot both be set"),
    ],
)
def test_go_options_the_host_cannot_honour_are_refused_by_name(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        go_host.GoProject.of(info(tmp_path, **options))


import language_host  # noqa: E402


def test_link_puts_each_sdk_path_in_place_of_any_line_naming_the_package_or_path(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pulumi==3.272.0\r\n\r\npulumi-azure-elastic-jobs-sdk>=0.0.1\r\nsdks/old\r\nrequests\r\n")
    language_host.link_requirements(requirements, {"pulumi_azure_elastic_jobs_sdk": "sdks/azure-elastic-jobs"})
    assert requirements.read_bytes() == b"pulumi==3.272.0\r\n\r\nsdks/old\r\nrequests\r\nsdks/azure-elastic-jobs\r\n"
    language_host.link_requirements(requirements, {"pulumi_azure_elastic_jobs_sdk": "sdks/azure-elastic-jobs"})
    assert requirements.read_text().count("sdks/azure-elastic-jobs") == 1, "linking again replaces, never adds"


def test_a_plugin_folder_is_buildable_only_with_a_project_name_and_a_build_backend(tmp_path: Path) -> None:
    assert language_host.buildable_name(tmp_path) == ""  # no pyproject.toml
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    assert language_host.buildable_name(tmp_path) == ""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "pulumi-x"\n[build-system]\nbuild-backend = "setuptools.build_meta"\n'
    )
    assert language_host.buildable_name(tmp_path) == "pulumi-x"
    assert language_host.buildable_name(ROOT) == "pulumi-azure-elastic-jobs", "the repository is a plugin folder"


def test_a_plugin_without_a_virtualenv_option_gets_venv_in_its_folder_a_program_none(tmp_path: Path) -> None:
    info = SimpleNamespace(
        HasField=lambda name: False, root_directory=str(tmp_path), program_directory=str(tmp_path), options=None
    )
    assert language_host.PythonProject.of(info, is_plugin=True).virtualenv == tmp_path / "venv"
    assert language_host.PythonProject.of(info).virtualenv is None


def test_the_import_alias_of_a_package_is_its_name_in_camel_case() -> None:
    assert nodejs_host.camel("azure-elastic-jobs") == "azureElasticJobs"
    assert nodejs_host.camel("random") == "random"
