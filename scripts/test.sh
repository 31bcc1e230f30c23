#!/usr/bin/env bash
# Set up, lint, type-check and run the whole test suite (unit, integration, engine protocol, CLI when built).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.tools/bin:$PATH"
.venv/bin/ruff check provider emulator tests benchmarks examples scripts
.venv/bin/ruff format --check provider emulator tests benchmarks examples scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
