"""9. What a preview of a fleet-wide run costs: its plan's requests against the floor, and its time in the provider.

The fleet is 1,000 user databases behind 10 servers and 2 elastic pools, built through ARM PUTs on the emulator: a
target group includes 8 servers whole (100 databases each) and the 2 pools (100 databases each, on 2 more servers),
and the job runs 2 steps on it. The preview is the dynamic provider's ``check`` of a new resource, the one call a
dynamic plugin gets in a preview (it reads the plan and shows it); the baseline is the same call for a change that
starts no run (an update in place: no plan, no request), measured interleaved with it. The native plugin's preview
also publishes that plan as a row per database (resource views): building and sending those rows to a
resource-status service over gRPC (the engine's, played here by a server that only answers) is timed against the
dynamic Check's plan, the work both faces share (9e). What a user waits for is the CLI, which applies each row one
by one: 9d times ``pulumi preview`` of the same run through the real CLI with the rows config ``planRows`` gives
by default against rows off.
"""

from __future__ import annotations

import math
import statistics
import time
import uuid
from typing import Any

from benchmarks.run import CLI, Figure, _cli_env, _count, _pulumi, _seq, floor_figure
from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from elastic_jobs_emulator.arm import PAGE_SIZE
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef
from pulumi_azure_elastic_jobs.operations import Announced
from pulumi_azure_elastic_jobs.progress import Progress

GROUP = "jobs"
URN = "urn:pulumi:bench::plans::azure-elastic-jobs:index:JobExecution::migration"


def _pages(items: int) -> int:
    """Pages of a listing of ``items`` (an empty listing is one page; the last page carries no ``nextLink``)."""
    return max(1, math.ceil(items / PAGE_SIZE))


def build_fleet(client: ElasticJobsClient, servers: int, per_server: int, pools: int) -> tuple[JobRef, int]:
    """The fleet, an agent and a 2-step job over it; the job and the floor of its plan's requests."""
    tag = uuid.uuid4().hex[:6]
    base = f"/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Sql/servers"
    members: list[dict[str, Any]] = []
    floor = 1 + 1 + 1 + 1  # the job, its active runs, its version's steps, the target group
    for number in range(servers):
        name = f"fleet{number:02d}-{tag}"
        client.request("PUT", f"{base}/{name}", json={"location": "westeurope", "properties": {}})
        pooled = number < pools
        if pooled:
            client.request("PUT", f"{base}/{name}/elasticPools/pool", json={"location": "westeurope", "properties": {}})
        for database in range(per_server):
            properties = {"elasticPoolId": f"{base}/{name}/elasticPools/pool"} if pooled else {}
            client.request(
                "PUT",
                f"{base}/{name}/databases/db{database:03d}",
                json={"location": "westeurope", "properties": properties},
            )
        if pooled:
            members.append({"type": "SqlElasticPool", "serverName": name, "elasticPoolName": "pool"})
            floor += _pages(per_server)  # the pool's databases
        else:
            members.append({"type": "SqlServer", "serverName": name})
            floor += _pages(per_server + 1)  # the server's databases, master among them
    floor += _pages(servers)  # the servers of the subscription (no other servers are in this emulator)
    agent_server = f"{base}/fleet00-{tag}"
    job = JobRef(DEFAULT_SUBSCRIPTION, GROUP, f"fleet00-{tag}", "agent", f"fleet-{tag}")
    client.request(
        "PUT",
        job.agent_path,
        json={"location": "westeurope", "properties": {"databaseId": f"{agent_server}/databases/db000"}},
    )
    client.request("PUT", f"{job.agent_path}/targetGroups/fleet", json={"properties": {"members": members}})
    client.request("PUT", job.path, json={"properties": {}})
    for step in ("migrate", "reindex"):
        body = {"properties": {"targetGroup": f"{job.agent_path}/targetGroups/fleet", "action": {"value": "SELECT 1;"}}}
        client.request("PUT", f"{job.path}/steps/{step}", json=body)
    return job, floor


def fleet_preview(samples: int, servers: int = 10, per_server: int = 100, pools: int = 2) -> list[Figure]:
    from pulumi_azure_elastic_jobs.provider import JobExecutionProvider

    with Emulator(time_scale=100) as emulator:
        client = ElasticJobsClient(emulator.url, StaticToken(emulator.token or "bench"))
        try:
            job, floor = build_fleet(client, servers, per_server, pools)
        finally:
            client.close()
        provider = JobExecutionProvider()
        provider.connection.configure(
            {
                "azure-elastic-jobs:endpoint": emulator.url,
                "azure-elastic-jobs:token": emulator.token or "bench",
                "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
            }
        )
        news = {
            "resource_group_name": GROUP,
            "server_name": job.server_name,
            "job_agent_name": "agent",
            "job_name": job.job_name,
        }
        recorded = provider.check({}, news).inputs
        provider.check({}, news)  # warm: the client, the validator
        since = _seq(emulator)
        plan = provider.operations.announce_plan({}, recorded, Progress(None, None)).plan  # no engine: shown nowhere
        counted = _count(emulator, since)
        assert plan is not None and len(plan.databases) == servers * per_server, plan and plan.summary()
        with_plan, without = [], []
        for _ in range(samples):  # interleaved: the same machine state for both
            started = time.perf_counter()
            provider.check({}, news)
            with_plan.append(time.perf_counter() - started)
            started = time.perf_counter()
            provider.check(recorded, {**news, "timeout": 60.0})
            without.append(time.perf_counter() - started)
        since = _seq(emulator)
        provider.check(recorded, news)  # no change: nothing to plan
        unchanged = _count(emulator, since)
    rows = _rows_time(plan, samples)
    size = f"{servers * per_server:,} databases behind {servers} servers and {pools} pools"
    reads = floor_figure(
        f"9a. preview of a run over {size}: requests",
        counted,
        floor,
        f"the job, its active runs, its steps, the target group, and every page of the subscription's servers, "
        f"each whole server's databases and each pool's ({PAGE_SIZE} a page)",
    )
    median, baseline = statistics.median(with_plan), statistics.median(without)
    timed = Figure(
        "9b. that preview (the plugin's Check, plan read and shown): time",
        round(median * 1000, 2),
        round(baseline * 1000, 2),
        "ms",
        None,
        None,
        f"median of {samples}; baseline: the Check of a change that starts no run (no plan), interleaved",
    )
    idle = floor_figure("9c. no-change preview of that run: requests", unchanged, 0, "nothing to ask")
    shown = Figure(
        f"9e. the native plugin's part of a row per database of that plan ({len(plan.databases):,} views): time",
        round(rows * 1000, 2),
        round(median * 1000, 2),
        "ms",
        "<= 1.0x the plan's Check (9b)",
        rows <= median,
        f"median of {samples}: built and published over gRPC to a resource-status service that only answers",
    )
    return [reads, timed, idle, shown]


def _rows_time(plan: Any, samples: int) -> float:
    """Median seconds to build the plan's rows and publish them (one call), as a native preview does."""
    from concurrent import futures

    import grpc
    from pulumi.runtime.proto import resource_status_pb2, resource_status_pb2_grpc

    from pulumi_azure_elastic_jobs.native import views

    class Answers(resource_status_pb2_grpc.ResourceStatusServicer):  # type: ignore[misc]
        def PublishViewSteps(self, request: Any, context: Any) -> Any:
            return resource_status_pb2.PublishViewStepsResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    resource_status_pb2_grpc.add_ResourceStatusServicer_to_server(Answers(), server)
    status = views.ResourceStatus(f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}", "token")
    server.start()
    try:
        times = []
        for _ in range(samples + 1):  # the first warms the channel machinery and is dropped
            started = time.perf_counter()
            assert views.show(status, URN, Announced(plan)) is None
            times.append(time.perf_counter() - started)
        return statistics.median(times[1:])
    finally:
        server.stop(None)


CLI_PROGRAM = """name: rows-{tag}
runtime: yaml
resources:
  migration:
    type: azure-elastic-jobs:JobExecution
    properties:
      resourceGroupName: {group}
      serverName: {server}
      jobAgentName: agent
      jobName: {job}
      triggers:
        release: r1
"""
ROW_MODES = ("auto", "database", "none")


def cli_rows(samples: int, tmp: Any, servers: int = 10, per_server: int = 100, pools: int = 2) -> list[Figure]:
    """9d: what a user waits for, the CLI's wall time of ``pulumi preview`` of one execution over the fleet, with
    the rows config ``planRows`` leaves at its default (``auto``: a row per server above 100 databases) against the
    same program with rows off (``none``), and a row per database (``database``) for the record; the modes
    interleaved, each in the same stack and emulator, the first preview of each dropped (plugin caches warm)."""
    from pathlib import Path

    from benchmarks.run import _configured
    from pulumi_azure_elastic_jobs.native.install import default_server, install_plugin

    if not CLI.exists() or not (CLI.parent / "pulumi-language-yaml").exists():
        print("9d: skipped: the Pulumi CLI or pulumi-language-yaml is not built (bash scripts/build-pulumi-cli.sh)")
        return []
    home = Path(tmp) / "rows"
    home.mkdir(parents=True, exist_ok=True)
    env = _cli_env(home)
    install_plugin(str(CLI), [str(default_server())], env=env)
    with Emulator(time_scale=100) as emulator:
        client = ElasticJobsClient(emulator.url, StaticToken(emulator.token or "bench"))
        try:
            job, _ = build_fleet(client, servers, per_server, pools)
        finally:
            client.close()
        project = home / "program"
        project.mkdir(exist_ok=True)
        text = CLI_PROGRAM.format(tag=uuid.uuid4().hex[:6], group=GROUP, server=job.server_name, job=job.job_name)
        (project / "Pulumi.yaml").write_text(text)
        _configured(project, env, emulator)
        times: dict[str, list[float]] = {mode: [] for mode in ROW_MODES}
        for round_ in range(samples + 1):
            for mode in ROW_MODES:
                _pulumi(project, env, "config", "set", "azure-elastic-jobs:planRows", mode)
                took = _pulumi(project, env, "preview")
                if round_:
                    times[mode].append(took)
    auto, none, database = (statistics.median(times[mode]) for mode in ("auto", "none", "database"))
    size = f"{servers * per_server:,} databases behind {servers} servers"
    return [
        Figure(
            f"9d. pulumi preview of a run over {size}, its rows at the default (planRows auto: a row per server): "
            "CLI wall time",
            round(auto, 2),
            round(none, 2),
            "s",
            "<= 1.5x the same preview with rows off (planRows none)",
            auto <= 1.5 * none,
            f"median of {samples} CLI runs each, interleaved; a row per database (planRows database) took "
            f"{database:.2f} s ({database / none:.2f}x)",
        )
    ]
