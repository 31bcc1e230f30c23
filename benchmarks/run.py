"""The benchmark suite: every figure next to a baseline measured side by side in the same run, as a ratio.

``python -m benchmarks`` (full, a few minutes) or ``python -m benchmarks --quick`` (tiny sizes, the CI smoke
run). Prints a table and writes ``benchmarks/results.json`` (figure, value, baseline, ratio, goal, met).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.emulator import DEFAULT_SUBSCRIPTION, Emulator
from pulumi_azure_elastic_jobs.ids import JobRef

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed.yaml"
RESULTS = Path(__file__).with_name("results.json")


@dataclass
class Figure:
    name: str
    value: float
    baseline: float
    unit: str
    goal: str
    met: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan


def job(name: str) -> JobRef:
    return JobRef(DEFAULT_SUBSCRIPTION, "group1", "server1", "agent1", name)


def make_job(client: ElasticJobsClient, script: str) -> JobRef:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import new_job

    return new_job(client, script)


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# --- 1. our client vs the official SDK ------------------------------------------------------------------------


def client_vs_sdk(n: int, tmp: Path) -> list[Figure]:
    from azure.core.credentials import AccessToken
    from azure.mgmt.sql import SqlManagementClient

    class Credential:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("bench", int(time.time()) + 3600)

    with Emulator(tls=True, data_dir=tmp / "tls", seed=SEED, time_scale=10_000) as emulator:
        ours = ElasticJobsClient(emulator.url, StaticToken("bench"), verify=emulator.ca_bundle or True)
        target = make_job(ours, "SELECT 1; -- emulator:duration=0")
        sdk = SqlManagementClient(
            Credential(),
            DEFAULT_SUBSCRIPTION,
            base_url=emulator.url,
            connection_verify=emulator.ca_bundle,
            polling_interval=0,
        )
        jobs = sdk.job_executions
        names = ("group1", "server1", "agent1", target.job_name)

        def with_ours() -> None:
            ref = target.execution(str(uuid.uuid4()))
            ours.put_execution(ref)
            ours.get_execution(ref)

        def with_sdk() -> None:
            execution_id = str(uuid.uuid4())
            jobs.begin_create_or_update(*names, execution_id).result()
            jobs.get(*names, execution_id)

        for _ in range(5):  # warm both connection pools
            with_ours()
            with_sdk()
        ours_times, sdk_times = [], []
        for _ in range(n):
            ours_times.append(timed(with_ours))
            sdk_times.append(timed(with_sdk))
        ours.close()
    value, baseline = statistics.median(ours_times) * 1000, statistics.median(sdk_times) * 1000
    return [
        Figure(
            "1. create + read one execution (median)",
            value,
            baseline,
            "ms",
            "<= 0.8x azure-mgmt-sql",
            value <= 0.8 * baseline,
            f"N={n}, interleaved, same TLS emulator",
        )
    ]


# --- 2 + 3. requests per deployment, engine-path overhead (through the real plugin) -------------------------


def _plugin_engine(emulator: Emulator) -> Any:
    sys.path.insert(0, str(ROOT))
    from tests.engine.harness import Engine, Plugin

    plugin = Plugin()
    plugin.configure(
        {
            "azure-elastic-jobs:endpoint": emulator.url,
            "azure-elastic-jobs:token": "bench",
            "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
        }
    )
    return plugin, Engine


def _declare(name: str, stack: str, **kwargs: Any) -> Any:
    from tests.engine.harness import run_program

    def program() -> None:
        from pulumi_azure_elastic_jobs import JobExecution

        JobExecution(name, resource_group_name="group1", server_name="server1", job_agent_name="agent1", **kwargs)

    return run_program(program, project="bench", stack=stack)


def _count(emulator: Emulator, since: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in emulator.requests_log(since):
        counts[entry["method"]] = counts.get(entry["method"], 0) + 1
    return counts


def _seq(emulator: Emulator) -> int:
    log = emulator.requests_log()
    return log[-1]["seq"] if log else 0


def requests_and_overhead(samples: int) -> list[Figure]:
    figures: list[Figure] = []
    with Emulator(seed=SEED, time_scale=100) as emulator:
        plugin, engine_class = _plugin_engine(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        try:
            quick = make_job(client, "SELECT 1; -- emulator:duration=0")
            engine = engine_class(plugin)
            since = _seq(emulator)
            engine.up(_declare("nowait", "s1", job_name=quick.job_name))
            up = _count(emulator, since)
            figures.append(
                Figure(
                    "2a. up, no waiting: requests",
                    sum(up.values()),
                    2,
                    "requests",
                    "exactly 1 GET (the id is free) + 1 PUT",
                    up == {"GET": 1, "PUT": 1},
                    str(up),
                )
            )
            since = _seq(emulator)
            engine.preview(_declare("nowait", "s1", job_name=quick.job_name))
            engine.up(_declare("nowait", "s1", job_name=quick.job_name))
            idle = sum(_count(emulator, since).values())
            figures.append(Figure("2b. preview + up with no change: requests", idle, 0, "requests", "0", idle == 0))
            engine.refresh()  # the first refresh of a finished run also reads its targets, once for good
            since = _seq(emulator)
            engine.refresh()
            refresh = _count(emulator, since)
            figures.append(
                Figure(
                    "2c. refresh of a finished run: requests per resource",
                    sum(refresh.values()),
                    1,
                    "requests",
                    "1 GET (its targets were read once, at the first refresh after it ended)",
                    refresh == {"GET": 1},
                    str(refresh),
                )
            )
            duration = 3.0  # real seconds (300 emulated at time scale 100)
            slow = make_job(client, "SELECT 1; -- emulator:duration=300")
            since = _seq(emulator)
            engine.up(_declare("waited", "s1", job_name=slow.job_name, wait_for_completion=True, poll_interval=1))
            waited = _count(emulator, since)
            floor = math.ceil(duration / 1.0) + 3  # the free-id read, the polls, one read of the targets at the end
            figures.append(
                Figure(
                    "2d. up, waiting a 3 s run (poll 1 s): GETs",
                    waited.get("GET", 0),
                    floor,
                    "requests",
                    f"<= 1 + ceil(T/interval)+1 + 1 = {floor}",
                    waited.get("GET", 0) <= floor,
                    str(waited),
                )
            )

            from tests.engine.harness import provider_pb2

            plugin_times, direct_times = [], []
            fast = make_job(client, "SELECT 1; -- emulator:duration=0")
            for number in range(samples):
                (registration,) = _declare(f"r{number}", "overhead", job_name=fast.job_name)

                def through_plugin(reg: Any = registration) -> None:
                    checked = plugin.Check(provider_pb2.CheckRequest(urn=reg.urn, news=reg.inputs))
                    plugin.Create(provider_pb2.CreateRequest(urn=reg.urn, properties=checked.inputs))

                def direct() -> None:
                    client.put_execution(fast.execution(str(uuid.uuid4())))

                plugin_times.append(timed(through_plugin))
                direct_times.append(timed(direct))
            added = (statistics.median(plugin_times) - statistics.median(direct_times)) * 1000
            figures.append(
                Figure(
                    "3a. engine path added per resource (Check+Create over gRPC)",
                    statistics.median(plugin_times) * 1000,
                    statistics.median(direct_times) * 1000,
                    "ms",
                    "<= 15 ms added",
                    added <= 15,
                    f"added {added:.1f} ms, N={samples}",
                )
            )
            provider_size = len(registration.inputs.fields["__provider"].string_value)
            figures.append(
                Figure("3b. serialized __provider", provider_size, 4096, "bytes", "<= 4 KB", provider_size <= 4096)
            )
        finally:
            client.close()
            plugin.kill()
    return figures


# --- 4. cold start -----------------------------------------------------------------------------------------


def cold_start(runs: int) -> list[Figure]:
    def import_ms(code: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; print((time.perf_counter()-t)*1000)"],
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout.strip())

    figures = []
    for label, extra in (
        ("package", "import pulumi_azure_elastic_jobs"),
        ("provider, as the plugin loads it", "import pulumi_azure_elastic_jobs.provider"),
    ):
        base, ours = [], []
        for _ in range(runs):
            base.append(import_ms("import pulumi, pulumi.dynamic"))
            ours.append(import_ms(f"import pulumi, pulumi.dynamic; {extra}"))
        added = statistics.median(ours) - statistics.median(base)
        figures.append(
            Figure(
                f"4. import {label}, beyond pulumi",
                statistics.median(ours),
                statistics.median(base),
                "ms",
                "<= 50 ms added",
                added <= 50,
                f"added {added:.0f} ms, N={runs}",
            )
        )
    return figures


# --- 5. many executions at once ------------------------------------------------------------------------------


def many_executions(sizes: list[int], seconds: float) -> list[Figure]:
    figures = []
    emulated = int(seconds * 100)
    with Emulator(seed=SEED, time_scale=100) as emulator:
        plugin, engine_class = _plugin_engine(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        try:
            target = make_job(client, f"SELECT 1; -- emulator:duration={emulated}")
            from tests.engine.harness import run_program

            for size in sizes:
                stack = f"set-{size}-{uuid.uuid4().hex[:4]}"

                def program(n: int = size, run_id: str = stack) -> None:
                    from pulumi_azure_elastic_jobs import JobExecutionSet

                    JobExecutionSet(
                        "fleet",
                        resource_group_name="group1",
                        server_name="server1",
                        job_agent_name="agent1",
                        wait_for_completion=True,
                        poll_interval=5,
                        members={f"m{i}": {"job_name": target.job_name, "triggers": {"run": run_id}} for i in range(n)},
                    )

                registrations = run_program(program, project="bench", stack=stack)
                engine = engine_class(plugin)
                since = _seq(emulator)
                wall = timed(lambda regs=registrations, e=engine: e.up(regs))
                count = sum(_count(emulator, since).values())
                figures.append(
                    Figure(
                        f"5. JobExecutionSet of {size}, each T={seconds:g} s",
                        wall,
                        seconds,
                        "s",
                        "<= 1.3 T" if size == 32 else "report",
                        wall <= 1.3 * seconds or size != 32,
                        f"{count} requests ({count / size:.1f} per execution)",
                    )
                )
            size = 32 if 32 in sizes else max(sizes)
            registrations = []
            for number in range(size):
                registrations += _declare(
                    f"single-{number}",
                    f"singles-{uuid.uuid4().hex[:4]}",
                    job_name=target.job_name,
                    wait_for_completion=True,
                    poll_interval=5,
                )
            engine = engine_class(plugin)
            with ThreadPoolExecutor(max_workers=size) as pool:  # the engine issues them in parallel
                wall = timed(lambda: list(pool.map(lambda reg: engine.up([reg]), registrations)))
            figures.append(
                Figure(
                    f"5. baseline: {size} separate JobExecution resources",
                    wall,
                    seconds,
                    "s",
                    "report (~N/4 T: the plugin serves 4 calls at once)",
                    True,
                )
            )
        finally:
            client.close()
            plugin.kill()
    return figures


# --- 6. emulator under load ---------------------------------------------------------------------------------


def emulator_load(levels: list[int], seconds: float) -> list[Figure]:
    figures = []
    with Emulator(in_process=False, seed=SEED, time_scale=100) as emulator:
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        target = make_job(client, "SELECT 1; -- emulator:duration=0")
        ref = target.execution(str(uuid.uuid4()))
        client.put_execution(ref)
        client.close()
        headers = {"Authorization": "Bearer bench"}
        url = f"{emulator.url}{ref.path}?api-version=2025-01-01"
        ping = f"{emulator.url}/_emulator/ping"

        def rate(kind: str, clients: int) -> float:
            stop = time.perf_counter() + seconds
            counts = [0] * clients

            def worker(index: int) -> None:
                session = requests.Session()
                while time.perf_counter() < stop:
                    if kind == "ping":
                        response = session.get(ping, timeout=30)
                    elif kind == "GET":
                        response = session.get(url, headers=headers, timeout=30)
                    else:
                        path = f"{emulator.url}{target.execution(str(uuid.uuid4())).path}?api-version=2025-01-01"
                        response = session.put(path, headers=headers, timeout=30)
                    assert response.status_code < 300, response.text
                    counts[index] += 1

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return sum(counts) / seconds

        for clients in levels:
            ceiling = rate("ping", clients)
            for kind in ("GET", "PUT"):
                value = rate(kind, clients)
                figures.append(
                    Figure(
                        f"6. emulator {kind} execution, {clients} clients",
                        value,
                        ceiling,
                        "req/s",
                        ">= 0.5x the stack's ceiling (/_emulator/ping)",
                        value >= 0.5 * ceiling,
                    )
                )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run that proves it still works")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        figures = [
            *client_vs_sdk(10 if args.quick else 200, Path(tmp)),
            *requests_and_overhead(3 if args.quick else 30),
            *cold_start(2 if args.quick else 10),
            *many_executions([1, 4] if args.quick else [1, 8, 32, 128], 1.0 if args.quick else 3.0),
            *emulator_load([1, 4] if args.quick else [1, 16, 64], 0.5 if args.quick else 3.0),
        ]
    width = max(len(f.name) for f in figures)
    print(f"{'figure':{width}}  {'value':>10}  {'baseline':>10}  {'ratio':>7}  unit      goal (met)")
    for figure in figures:
        print(
            f"{figure.name:{width}}  {figure.value:10.2f}  {figure.baseline:10.2f}  {figure.ratio:7.2f}  "
            f"{figure.unit:8}  {figure.goal} ({'yes' if figure.met else 'NO'}) {figure.note}"
        )
    report = {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {__import__('os').cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "figures": [{**asdict(f), "ratio": round(f.ratio, 3)} for f in figures],
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output} in {report['seconds']} s")


if __name__ == "__main__":
    main()
