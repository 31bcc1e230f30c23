#!/usr/bin/env bash
# Generate the TypeScript, Go and Python SDKs (sdk/nodejs, sdk/go, sdk/python) from the native plugin's schema,
# with the Pulumi code generators at the CLI's version (scripts/sdkgen, a small Go tool). The SDKs are committed
# and never edited.
#   scripts/gen-sdk.sh           regenerate sdk/ in place
#   scripts/gen-sdk.sh --check   regenerate into a temporary folder and fail, with a diff, if the committed SDKs differ
# Needs .venv (scripts/setup.sh) and Go; the Go modules are those scripts/build-pulumi-cli.sh downloads, so with
# warm Go caches it takes a second or two (a cold build of the tool: about 2 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "go is not installed (not on PATH nor in /usr/local/go/bin): cannot generate the SDKs" >&2; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

mkdir -p .tools
(cd scripts/sdkgen && go build -o "$ROOT/.tools/sdkgen" .)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/python -c "import json; from pulumi_azure_elastic_jobs.native.schema import schema; print(json.dumps(schema(), indent=2))" > "$work/schema.json"
out="$ROOT/sdk"
$check && out="$work/sdk"
.tools/sdkgen -schema "$work/schema.json" -out "$out"
# go.sum is the one file the generator cannot write: it pins the Go SDK's module graph.
(cd "$out/go" && go mod tidy)

if $check; then
  drift=0
  # node_modules and bin are what npm and tsc leave in sdk/nodejs (git-ignored), not generated files.
  diff -ru -x node_modules -x bin sdk/nodejs "$out/nodejs" || drift=1
  diff -ru sdk/go "$out/go" || drift=1
  diff -ru -x __pycache__ -x '*.egg-info' -x build sdk/python "$out/python" || drift=1
  if [ "$drift" = 1 ]; then
    echo "the committed SDKs differ from what the schema generates (above): run scripts/gen-sdk.sh and commit sdk/" >&2
    exit 1
  fi
  echo "sdk/nodejs, sdk/go and sdk/python match the schema"
else
  echo "wrote sdk/nodejs, sdk/go and sdk/python"
fi
