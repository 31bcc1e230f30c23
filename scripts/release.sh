#!/usr/bin/env bash
# Build every release artefact of the version in pyproject.toml into dist/ (or --dist DIR), with SHA256SUMS:
# wheels and sdists of every Python distribution, the plugin tarballs for `pulumi plugin install --file`, the npm
# tarball of the TypeScript SDK and the Go SDK in a module proxy's layout (scripts/release.py says what each is).
# Needs .venv (scripts/setup.sh: it brings `build`), npm and git; about a minute with warm caches.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
exec .venv/bin/python scripts/release.py "$@"
