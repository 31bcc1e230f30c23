"""10. A staged rollout against its waves run by hand: one set with 3 waves over a fleet, and the same 3 waves as 3
sets ``up`` one after the other, in the same run, on the same plugin and emulator.

The fleet is built through ARM PUTs on the emulator: ``servers`` servers of ``per_server`` databases, split into
three target groups (a canary of one server, a pool of 30%, the rest), one job each, whose step takes ``seconds`` on
every database. The rollout is one ``JobExecutionSet`` whose waves are the three jobs; the floor is the same three
jobs as three one-member sets (no waves), each ``up`` once the one before returned, as a person rolls out by hand.
"""

from __future__ import annotations

import uuid
from typing import Any

from benchmarks.run import SEED, Figure, _count, _plugin_engine, _seq, timed
from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef

GROUP = "rollout"
WAVES = ("canary", "pool", "rest")


def build_waves(client: ElasticJobsClient, servers: int, per_server: int, seconds: float) -> dict[str, JobRef]:
    """The fleet, an agent, and per wave a target group of whole servers and a one-step job over it."""
    tag = uuid.uuid4().hex[:6]
    base = f"/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Sql/servers"
    names = [f"wave{number:02d}-{tag}" for number in range(servers)]
    for name in names:
        client.request("PUT", f"{base}/{name}", json={"location": "westeurope", "properties": {}})
        for database in range(per_server):
            client.request("PUT", f"{base}/{name}/databases/db{database:03d}", json={"location": "westeurope"})
    agent = JobRef(DEFAULT_SUBSCRIPTION, GROUP, names[0], "agent", "unused")
    client.request(
        "PUT",
        agent.agent_path,
        json={"location": "westeurope", "properties": {"databaseId": f"{base}/{names[0]}/databases/db000"}},
    )
    pool = max(1, round(servers * 0.3))
    split = {"canary": names[:1], "pool": names[1 : 1 + pool], "rest": names[1 + pool :]}
    jobs = {}
    for wave, members in split.items():
        group = f"{agent.agent_path}/targetGroups/{wave}"
        targets = [{"type": "SqlServer", "serverName": name} for name in members]
        client.request("PUT", group, json={"properties": {"members": targets}})
        job = JobRef(DEFAULT_SUBSCRIPTION, GROUP, names[0], "agent", f"{wave}-{tag}")
        client.request("PUT", job.path, json={"properties": {}})
        script = f"SELECT 1; -- emulator:duration={int(seconds * 100)}"
        step = {
            "properties": {"targetGroup": group, "action": {"value": script}, "executionOptions": {"retryAttempts": 0}}
        }
        client.request("PUT", f"{job.path}/steps/migrate", json=step)
        jobs[wave] = job
    return jobs


def _set(name: str, stack: str, agent: JobRef, members: dict[str, str], waves: list[list[str]] | None) -> Any:
    from tests.engine.harness import run_program

    from pulumi_azure_elastic_jobs import JobExecutionSet

    def program() -> None:
        JobExecutionSet(
            name,
            resource_group_name=agent.resource_group_name,
            server_name=agent.server_name,
            job_agent_name=agent.job_agent_name,
            wait_for_completion=True,
            poll_interval=5,
            members={key: {"job_name": job_name} for key, job_name in members.items()},
            **({"waves": waves} if waves else {}),
        )

    return run_program(program, project="bench", stack=stack)


def rollout_figures(servers: int, per_server: int, seconds: float) -> list[Figure]:
    with Emulator(seed=SEED, time_scale=100, poll_hints=True) as emulator:
        plugin, engine_class = _plugin_engine(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        try:
            rollout_jobs = build_waves(client, servers, per_server, seconds)
            by_hand_jobs = build_waves(client, servers, per_server, seconds)
            databases = servers * per_server
            by_hand, by_hand_done = 0.0, 0
            since = _seq(emulator)
            for wave in WAVES:  # a person's rollout: one wave's set, up, then the next
                stack = f"by-hand-{wave}-{uuid.uuid4().hex[:4]}"
                registrations = _set(wave, stack, by_hand_jobs[wave], {wave: by_hand_jobs[wave].job_name}, None)
                engine = engine_class(plugin)
                by_hand += timed(lambda regs=registrations, e=engine: e.up(regs))
                (state,) = engine.state.values()
                (entry,) = state.output_props["executions"].values()
                by_hand_done += int(entry["target_outcomes"]["counts"].get("Succeeded", 0))
            by_hand_requests = sum(_count(emulator, since).values())
            stack = f"rollout-{uuid.uuid4().hex[:4]}"
            members = {wave: rollout_jobs[wave].job_name for wave in WAVES}
            registrations = _set("rollout", stack, rollout_jobs["canary"], members, [[wave] for wave in WAVES])
            engine = engine_class(plugin)
            since = _seq(emulator)
            wall = timed(lambda: engine.up(registrations))
            requests = sum(_count(emulator, since).values())
            (state,) = engine.state.values()
            rollout = state.output_props["rollout"]
            done = sum(int(wave["databases_succeeded"]) for wave in rollout["waves"])
        finally:
            client.close()
            plugin.kill()
    return [
        Figure(
            f"10. a rollout of 3 waves over {databases:,} databases (job of {seconds:g} s a database)",
            wall,
            by_hand,
            "s",
            "<= 1.3x its waves up by hand",
            wall <= 1.3 * by_hand and rollout["state"] == "complete" and done == databases == by_hand_done,
            f"baseline: the same 3 waves as 3 one-member sets, each up once the one before returned (same plugin, "
            f"same emulator); rollout {rollout['state']}, {done:,} databases succeeded ({by_hand_done:,} by hand); "
            f"requests {requests} "
            f"against {by_hand_requests} by hand",
        )
    ]
