"""Run an example program through the engine harness (no Pulumi CLI): ``python -m tests.engine.run_example DIR``.

Used by ``scripts/quickstart.sh`` where the CLI is absent, and by the example tests. Reads the emulator's URL
and token from ``AZURE_ELASTIC_JOBS_ENDPOINT`` / ``AZURE_ELASTIC_JOBS_TOKEN``; prints each resource's outputs.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

from tests.engine.harness import Engine, Plugin, Registration, run_program

SHOWN = ("lifecycle", "last_message", "target", "job_execution_id", "azure_id")


def registrations_of(example: Path, stack: str = "dev", config: dict[str, str] | None = None) -> list[Registration]:
    project = example.name
    for key, value in (config or {}).items():
        os.environ.setdefault("PULUMI_CONFIG", "{}")
        merged = json.loads(os.environ["PULUMI_CONFIG"])
        merged[f"{project}:{key}"] = value
        os.environ["PULUMI_CONFIG"] = json.dumps(merged)
    sys.path.insert(0, str(example))
    try:
        return run_program(lambda: runpy.run_path(str(example / "__main__.py")), project=project, stack=stack)
    finally:
        sys.path.remove(str(example))


def main() -> None:
    example = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/quickstart").resolve()
    plugin = Plugin()
    try:
        plugin.configure(
            {
                "azure-elastic-jobs:endpoint": os.environ["AZURE_ELASTIC_JOBS_ENDPOINT"],
                "azure-elastic-jobs:token": os.environ["AZURE_ELASTIC_JOBS_TOKEN"],
                "azure-elastic-jobs:subscriptionId": os.environ.get(
                    "AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000"
                ),
            }
        )
        engine = Engine(plugin)
        result = engine.up(registrations_of(example))
        for urn, operation in result.operations.items():
            outputs = engine.state[urn].output_props if urn in engine.state else {}
            print(f"{operation:8} {urn.rsplit('::', 1)[-1]}")
            for key in SHOWN:
                print(f"    {key:18} {json.dumps(outputs.get(key))}")
        for urn, failures in result.failures.items():
            print(f"failed   {urn}: {failures}")
    finally:
        plugin.kill()


if __name__ == "__main__":
    main()
