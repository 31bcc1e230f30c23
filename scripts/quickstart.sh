#!/usr/bin/env bash
# The main job: run examples/quickstart against a local Elastic Jobs emulator.
# With the Pulumi CLI (on PATH or built into .tools/bin by scripts/build-pulumi-cli.sh): a real `pulumi up`
# with a local file backend. Without it: says so, and runs the same program through the SDK's real
# dynamic-provider plugin instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.tools/bin:$PWD/.venv/bin:$PATH"
work="$(mktemp -d)"
cleanup() {
  kill "$emulator_pid" 2>/dev/null || true
  rm -rf "$work" examples/quickstart/Pulumi.quickstart-*.yaml
}
trap cleanup EXIT
.venv/bin/elastic-jobs-emulator --seed examples/seed.yaml --time-scale 10 --log-level warning > "$work/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/emulator.log" 2>/dev/null && break; sleep 0.1; done
url="$(grep -o 'http://[^ ]*' "$work/emulator.log" | head -1)"
echo "emulator listening on $url"
export AZURE_ELASTIC_JOBS_ENDPOINT="$url" AZURE_ELASTIC_JOBS_TOKEN="emulator-dev-token"
export AZURE_SUBSCRIPTION_ID="00000000-0000-0000-0000-000000000000"
if command -v pulumi >/dev/null 2>&1; then
  export PULUMI_BACKEND_URL="file://$work" PULUMI_CONFIG_PASSPHRASE="quickstart" PULUMI_SKIP_UPDATE_CHECK=1
  stack="quickstart-$$"
  (
    cd examples/quickstart
    pulumi stack init "$stack" --non-interactive >/dev/null
    pulumi up --yes --skip-preview --non-interactive --stack "$stack"
    pulumi stack output --stack "$stack"
  )
else
  echo "The Pulumi CLI is not installed: build it with 'bash scripts/build-pulumi-cli.sh' (see docs/development.md)."
  echo "Running the quickstart through the SDK's dynamic-provider plugin instead:"
  .venv/bin/python -m tests.engine.run_example examples/quickstart
fi
