#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install the project with its emulator and test extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# A current setuptools and wheel, as `pulumi install` gives a program's virtualenv: the SDK test builds the
# generated Python SDK without build isolation (the interpreter's bundled setuptools 65 has no bdist_wheel).
.venv/bin/python -m pip install --quiet --upgrade setuptools wheel
# Both distributions of the repository in one resolution: the provider's `emulator` extra names the emulator at
# the provider's version, which the local copy satisfies.
.venv/bin/python -m pip install --quiet -e ./emulator -e ".[test]"
