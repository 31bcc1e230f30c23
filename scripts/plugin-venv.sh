#!/usr/bin/env bash
# The plugin's virtualenv in a clone, for a YAML program that names the clone in `packages:` (docs/
# installation-configuration.md, "YAML"): what `pulumi package add` / `pulumi install` make before they stop at the
# YAML host's `Link not implemented`. Run once per clone, and again after pulling a new version:
#   bash /path/to/clone/scripts/plugin-venv.sh
# It makes <clone>/venv with python3 (3.11 or later), upgrades pip, setuptools and wheel in it (an old setuptools
# cannot read this package's pyproject.toml) and installs the clone into it, quietly.
set -euo pipefail
CLONE="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PULUMI_PYTHON_CMD:-python3}"
[ -x "$CLONE/venv/bin/python" ] || "$PYTHON" -m venv "$CLONE/venv"
"$CLONE/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
"$CLONE/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$CLONE"
echo "the plugin's virtualenv is ready: $CLONE/venv (pulumi preview in your YAML program now starts the plugin)"
