#!/usr/bin/env bash
# Build the Pulumi CLI from the pulumi Go modules (the usual installers download from outside the package
# registries) into .tools/bin, with the two helpers the engine needs for a Python project:
#   pulumi                         go build of github.com/pulumi/pulumi/pkg/v3/cmd/pulumi at $PULUMI_VERSION
#   pulumi-language-python         this project's own language host (scripts/pulumi_cli/), because the upstream
#                                  host's module is not served by the Go module proxy (403)
#   pulumi-resource-pulumi-python  runs `python -m pulumi.dynamic` in the project's virtualenv
# Does nothing when that version is already built. Build caches (GOMODCACHE, GOCACHE) make rebuilds fast.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PULUMI_VERSION="${PULUMI_VERSION:-v3.274.1}"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
STAMP="$TOOLS/pulumi-$PULUMI_VERSION.built"
mkdir -p "$BIN"

install_helpers() {
  cat > "$BIN/pulumi-language-python" <<SH
#!/bin/sh
exec "$ROOT/.venv/bin/python" -u "$ROOT/scripts/pulumi_cli/language_host.py" "\$@"
SH
  cat > "$BIN/pulumi-resource-pulumi-python" <<SH
#!/bin/sh
# The engine starts dynamic providers through this name; run them in the project's virtualenv.
venv="\${PULUMI_RUNTIME_VIRTUALENV:-}"
case "\$venv" in ""|/*) ;; *) venv="\$PWD/\$venv";; esac
if [ -n "\$venv" ] && [ -x "\$venv/bin/python" ]; then
  exec "\$venv/bin/python" -u -m pulumi.dynamic "\$@"
fi
exec "$ROOT/.venv/bin/python" -u -m pulumi.dynamic "\$@"
SH
  chmod +x "$BIN/pulumi-language-python" "$BIN/pulumi-resource-pulumi-python"
}

if [ -f "$STAMP" ] && [ -x "$BIN/pulumi" ]; then
  install_helpers
  echo "pulumi $PULUMI_VERSION already built in $BIN"
  exit 0
fi
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "go is not installed (not on PATH nor in /usr/local/go/bin): cannot build the pulumi CLI" >&2; exit 1; }

started=$(date +%s)
work="$TOOLS/build-$PULUMI_VERSION"
mkdir -p "$work"
cat > "$work/go.mod" <<GOMOD
module elastic-jobs/pulumi-cli-build

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

// Repeats pkg/v3's own replace directive that points at another published module.
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
GOMOD
cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO
(
  cd "$work"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
  go mod tidy
  go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
)
install_helpers
touch "$STAMP"
echo "built pulumi $PULUMI_VERSION in $(( $(date +%s) - started ))s: $(du -h "$BIN/pulumi" | cut -f1) at $BIN/pulumi"
