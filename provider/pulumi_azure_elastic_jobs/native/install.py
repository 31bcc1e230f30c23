"""``elastic-jobs-install-plugin``: put the native provider plugin into Pulumi's plugin cache.

The CLI finds a resource plugin by name in three places, in this order (``getPluginInfoAndPath`` in the sdk's
``go/common/workspace/plugins.go``): a project's ``plugins.providers`` paths, then ``$PATH`` (and says ``warning:
using pulumi-resource-azure-elastic-jobs from $PATH`` on every command), then the plugin cache
(``$PULUMI_HOME/plugins``). Only the cache serves every command from any folder without a word: ``preview``,
``up``, ``import`` and ``package get-schema``, which reads no project. So the plugin is installed there, as a
two-line launcher that runs this virtualenv's ``elastic-jobs-provider`` (the gRPC server). That server's name must
not start with ``pulumi-resource-``: an activated virtualenv would put it on ``$PATH`` and bring the warning back.
Installing again (a new virtualenv, a new version) replaces the launcher; it is idempotent.

Users install the plugin with Pulumi's own commands (``pulumi package add``, or a release's tarball through
``pulumi plugin install``), which install a copy of the package. This launcher serves the one case they do not:
running the plugin from an editable checkout while working on it, so every edit is live at the next command, as
this repository's own tests, examples and benchmarks do.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .._version import __version__

PLUGIN_NAME = "azure-elastic-jobs"
PLUGIN_EXECUTABLE = f"pulumi-resource-{PLUGIN_NAME}"
SERVER_SCRIPT = "elastic-jobs-provider"


class InstallError(Exception):
    """The plugin could not be installed; the message says why, for a person."""


def launcher(command: Sequence[str]) -> str:
    """The plugin executable's text: it runs `command` with the arguments the engine passes."""
    header = f"# The {PLUGIN_NAME} native provider plugin, installed by elastic-jobs-install-plugin."
    return f'#!/bin/sh\n{header}\nexec {shlex.join(command)} "$@"\n'


def install_plugin(
    pulumi: str, command: Sequence[str], version: str = __version__, env: Mapping[str, str] | None = None
) -> str:
    """Install `command` as resource plugin `azure-elastic-jobs` `version` and return what the CLI printed.

    `env` is the CLI's environment (its PULUMI_HOME picks the cache). Raises InstallError if the CLI fails."""
    with tempfile.TemporaryDirectory(prefix="elastic-jobs-plugin-") as folder:
        executable = Path(folder) / PLUGIN_EXECUTABLE
        executable.write_text(launcher(command))
        executable.chmod(0o755)
        finished = subprocess.run(  # noqa: S603 - the pulumi CLI, with arguments built here
            [pulumi, "plugin", "install", "resource", PLUGIN_NAME, version, "--file", folder, "--reinstall"],
            capture_output=True,
            text=True,
            env=None if env is None else dict(env),
            check=False,
        )
    if finished.returncode != 0:
        raise InstallError(f"pulumi plugin install failed ({finished.returncode}): {finished.stderr.strip()}")
    return finished.stdout + finished.stderr


def default_server() -> Path:
    """``elastic-jobs-provider`` of the running interpreter's environment (its ``bin``, unresolved symlinks)."""
    return Path(sys.executable).parent / SERVER_SCRIPT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elastic-jobs-install-plugin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pulumi", default=shutil.which("pulumi"), help="the pulumi CLI (default: from $PATH)")
    parser.add_argument("--server", type=Path, default=default_server(), help="the provider's gRPC server")
    args = parser.parse_args(argv)
    if args.pulumi is None:
        print("elastic-jobs-install-plugin: no pulumi on $PATH (pass --pulumi)", file=sys.stderr)
        return 1
    if not args.server.is_file():
        print(f"elastic-jobs-install-plugin: no provider server at {args.server}", file=sys.stderr)
        return 1
    try:
        install_plugin(args.pulumi, [str(args.server.absolute())])
    except InstallError as error:
        print(f"elastic-jobs-install-plugin: {error}", file=sys.stderr)
        return 1
    print(f"installed resource plugin {PLUGIN_NAME} {__version__}: {args.server.absolute()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
