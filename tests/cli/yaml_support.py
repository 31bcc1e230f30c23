"""YAML programs (runtime: yaml) through the real CLI, the official YAML language host and the native plugin.

The plugin is installed the way users install it: `elastic-jobs-install-plugin` puts a launcher into the test's
own plugin cache (`$PULUMI_HOME/plugins`), where the CLI finds `azure-elastic-jobs` by name with no warning and
no download. Programs run from a copy of their folder, so a test may edit its copy. The fixtures
(`yaml_language_host`, `yaml_stack_for`) live in conftest.py; this module holds what they share.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from pulumi_azure_elastic_jobs.native.install import SERVER_SCRIPT, install_plugin
from tests.conftest import ROOT

# The real provider's gRPC server, as the package installs it into the virtualenv.
PROVIDER_SERVER = ROOT / ".venv" / "bin" / SERVER_SCRIPT


def find_yaml_language_host(tools_bin: Path) -> str | None:
    """The YAML host next to the CLI (where the engine prefers it, silently), else one on $PATH."""
    local = tools_bin / "pulumi-language-yaml"
    return str(local) if local.exists() else shutil.which("pulumi-language-yaml")


def copy_project(example: str | Path, into: Path) -> Path:
    """A fresh copy of a YAML program's folder (absolute, or relative to the repository root)."""
    source = Path(example) if Path(example).is_absolute() else ROOT / example
    project = into / f"yaml-{source.name}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("Pulumi.*.yaml", ".pulumi-state"))
    return project


def install_native_plugin(cli: str, env: dict[str, str], command: Sequence[str] | None = None) -> str:
    """Install the plugin into the cache of `env`'s PULUMI_HOME; `command` replaces the real server (stand-ins)."""
    os.makedirs(env["PULUMI_HOME"], exist_ok=True)
    return install_plugin(cli, list(command or [str(PROVIDER_SERVER)]), env=env)


def warnings_in(output: str) -> list[str]:
    """Every line where the CLI warns, such as `warning: using pulumi-resource-azure-elastic-jobs from $PATH at ...`
    (several times per command when it finds the plugin on $PATH). A YAML run against the plugin should have none."""
    return [line.strip() for line in output.splitlines() if "warning" in line.lower()]
