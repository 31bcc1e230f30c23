"""A fleet: one execution per job, started together and waited for together by one JobExecutionSet.

Each member's triggers hold the hash of the script its job runs (scripts/<job>.sql; in a real stack the same
file feeds the job step, for example azure-native's sql.JobStep), so editing one script re-runs only that
job. With config `strict` set, a failed member fails the deployment after the set is recorded, and the stack
outputs still say which members failed and why.
"""

import hashlib
from pathlib import Path

import pulumi

from pulumi_azure_elastic_jobs import JobExecutionSet

config = pulumi.Config()
scripts = sorted((Path(__file__).parent / "scripts").glob("*.sql"))
members = {
    script.stem: {"job_name": script.stem, "triggers": {"script": hashlib.sha256(script.read_bytes()).hexdigest()}}
    for script in scripts
}
for number in range(config.get_int("extraMembers") or 0):  # fleets of any size, for the benchmarks
    members[f"extra-{number}"] = {"job_name": config.get("extraJob") or "rebuild-indexes", "triggers": {}}

fleet = JobExecutionSet(
    "fleet",
    resource_group_name="group1",
    server_name="server1",
    job_agent_name="agent1",
    members=members,
    wait_for_completion=True,
    timeout=config.get_float("timeout") or 3600,
)


def fail_on_failures(failed: list[str]) -> None:
    """Fails the program once the stack outputs are saved: the SDK awaits plain outputs like this one (not
    exported, not a resource input) only after every registration, the outputs' included, is done."""
    if failed and config.get_bool("strict"):
        raise pulumi.RunError(f"fleet members failed: {', '.join(failed)} (see the failures output)")


def failures(items: dict) -> dict:
    """Per failed member: its lifecycle and the databases whose targets did not succeed, with their messages."""
    return {
        key: {
            "lifecycle": item.get("lifecycle"),
            "error": item.get("error"),  # None-valued keys do not reach programs: read them with .get
            "targets": (item.get("target_outcomes") or {}).get("problems", []),
        }
        for key, item in items.items()
        if item.get("error") or item.get("lifecycle") not in ("Succeeded", "SucceededWithSkipped")
    }


pulumi.export("lifecycles", fleet.executions.apply(lambda items: {k: v["lifecycle"] for k, v in items.items()}))
pulumi.export("failed_members", fleet.failed_members)
pulumi.export("failures", fleet.executions.apply(failures))
pulumi.export("finished", fleet.finished)
fleet.failed_members.apply(fail_on_failures)
