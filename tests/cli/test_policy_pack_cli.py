"""The provider's policy pack through the real CLI: `pulumi preview --policy-pack <the package's pack>`.

One Python program outside the repository (tests/cli/programs/policy-probe, copied), two runs of the seed's jobs
whose pins and timeout come from the stack's configuration. A configuration that breaks every policy is stopped at
preview with each policy's message, and so is `up`, with no request but reads sent to the emulator; one that keeps
them deploys, and a policy set to `advisory` warns without stopping it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.policy import PACK
from tests.cli.conftest import Stack
from tests.conftest import ROOT

PROGRAM = ROOT / "tests" / "cli" / "programs" / "policy-probe"
NIGHTLY_PIN = "v1 server1=2"  # both seeded jobs: version 1, on the two databases of server1


def last_seq(emulator: Emulator) -> int:
    """The sequence number of the emulator's last request: what a later requests_log(since) counts from."""
    log = emulator.requests_log()
    return int(log[-1]["seq"]) if log else 0


def program_outside(tmp_path: Path) -> Path:
    copy = tmp_path / "policy-probe"
    shutil.copytree(PROGRAM, copy)
    project = (copy / "Pulumi.yaml").read_text().replace("../../../../.venv", str(ROOT / ".venv"))
    (copy / "Pulumi.yaml").write_text(project)
    return copy


def policy_config(tmp_path: Path, stack: Stack, **levels: str) -> str:
    """Pins required on this stack, at most 1 database a run, waits of at most 600 s; `levels` by policy."""
    config: dict[str, Any] = {
        "elastic-jobs-pinned-runs": {"stacks": [stack.name]},
        "elastic-jobs-databases-per-run": {"maxDatabases": 1, "approvedDatabases": {"migration": 2}},
        "elastic-jobs-waits-are-timed": {"maxTimeoutSeconds": 600},
    }
    for policy, level in levels.items():
        config[policy.replace("_", "-")]["enforcementLevel"] = level
    path = tmp_path / f"policy-{len(levels)}.json"
    path.write_text(json.dumps(config))
    return str(path)


def mutating(emulator: Emulator, since: int) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in emulator.requests_log(since) if r["method"] != "GET"]


def test_a_program_breaking_each_policy_is_stopped_at_preview_and_one_keeping_them_deploys(
    stack_for: Any, emulator: Emulator, tmp_path: Path
) -> None:
    stack: Stack = stack_for(program_outside(tmp_path))
    pack = ["--policy-pack", str(PACK), "--policy-pack-config", policy_config(tmp_path, stack)]
    # The reindex unpinned, the migration waiting 7200 s; its 2 databases are approved.
    stack.config("migrationPin", NIGHTLY_PIN)
    stack.config("timeout", "7200")
    since = last_seq(emulator)
    for command in (["preview"], ["up", "--yes"]):
        stopped = stack.run(*command, *pack, check=False)
        output = stopped.stdout + stopped.stderr
        assert stopped.returncode != 0, output
        assert "[mandatory]  elastic-jobs-pinned-runs" in output, output
        assert "reindex: `expected_plan` is required on this stack" in output, output
        assert "[mandatory]  elastic-jobs-waits-are-timed" in output, output
        assert "migration: waits up to 7200 s" in output, output
    assert mutating(emulator, since) == []

    stack.config("reindexPin", NIGHTLY_PIN)  # pinned now, but to 2 databases and not approved
    stopped = stack.run("preview", *pack, check=False)
    output = stopped.stdout + stopped.stderr
    assert "[mandatory]  elastic-jobs-databases-per-run" in output, output
    assert "reindex: touches 2 databases, more than the 1 a run may touch without an approval" in output, output
    assert "migration: touches" not in output, output  # approved for 2

    stack.config("reindexPin", "v1")
    stack.config("timeout", "600")
    stopped = stack.run("preview", *pack, check=False)
    assert "reindex: its pin names no databases per server" in stopped.stdout + stopped.stderr

    stack.config("reindexPin", NIGHTLY_PIN)
    advisory = policy_config(tmp_path, stack, elastic_jobs_databases_per_run="advisory")
    since = last_seq(emulator)
    deployed = stack.run("up", "--yes", "--policy-pack", str(PACK), "--policy-pack-config", advisory)
    assert "[advisory]  elastic-jobs-databases-per-run" in deployed.stdout, deployed.stdout
    assert "[mandatory]" not in deployed.stdout, deployed.stdout
    assert len([call for call in mutating(emulator, since) if call.startswith("PUT")]) == 2  # one run each
