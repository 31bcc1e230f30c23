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
from typing import Any

from tests.engine.harness import Engine, Plugin, Registration, StepResult, run_program

SHOWN = ("lifecycle", "last_message", "target", "job_execution_id", "azure_id")


def program_of(example: Path, config: dict[str, str] | None = None) -> tuple[Any, str]:
    """(program, project name) of an example directory, with ``config`` as its stack config."""
    import pulumi.runtime

    project = _project_name(example)

    def program() -> None:
        pulumi.runtime.set_all_config({f"{project}:{key}": value for key, value in (config or {}).items()})
        sys.path.insert(0, str(example))
        try:
            runpy.run_path(str(example / "__main__.py"))
        finally:
            sys.path.remove(str(example))

    return program, project


def registrations_of(example: Path, stack: str = "dev", config: dict[str, str] | None = None) -> list[Registration]:
    program, project = program_of(example, config)
    return run_program(program, project=project, stack=stack)


def deploy_example(
    engine: Engine, example: Path, stack: str = "dev", config: dict[str, str] | None = None, apply: bool = True
) -> StepResult:
    program, project = program_of(example, config)
    return engine.deploy(program, project=project, stack=stack, apply=apply)


def _project_name(example: Path) -> str:
    for line in (example / "Pulumi.yaml").read_text().splitlines():
        if line.startswith("name:"):
            return line.split(":", 1)[1].strip()
    return example.name


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
        result = deploy_example(engine, example)
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
