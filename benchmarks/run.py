"""The benchmark suite: every figure next to a baseline measured side by side in the same run, as a ratio.

``python -m benchmarks`` (full, several minutes) or ``python -m benchmarks --quick`` (tiny sizes, the CI smoke
run). Prints a table and writes ``benchmarks/results.json`` (figure, value, baseline, ratio, goal, met); a full run
with the default output also rewrites the table of docs/performance.md (``benchmarks/table.py``).

Honesty rules: a ``baseline`` is measured in this run (``baseline_kind: measured``); a fixed bound the value
is compared with is a ``floor`` (request counts) or a ``limit`` (sizes), never called a baseline; a row
without a goal has ``met: null``; the JSON is strict (no NaN: a ratio that cannot be computed is ``null``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
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
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from elastic_jobs_emulator.backend import PAGE_SIZE
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.ids import JobRef

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed.yaml"
RESULTS = Path(__file__).with_name("results.json")


@dataclass
class Figure:
    name: str
    value: float
    baseline: float | None
    unit: str
    goal: str | None
    met: bool | None
    note: str = ""
    baseline_kind: str = "measured"
    """measured (in this run, side by side), floor (the fewest requests possible), limit, or none."""

    @property
    def ratio(self) -> float | None:
        return round(self.value / self.baseline, 3) if self.baseline else None


PLAN_READS = 3 + 4
"""What a dynamic ``up`` of a new run reads for its plan, beside the floor of the run itself: Create reads the job,
its version's steps and its one target group before the PUT (the job's runs it lists anyway); Check, which shows the
plan of a run it would start, reads the same and the job's active runs (benchmarks/plans.py, figure 9)."""
PLAN_HOW = "; and the run's plan: job, steps, target group, read by Create and by Check (+ active runs)"


def floor_figure(name: str, counted: dict[str, int], floor: int, how: str) -> Figure:
    """A request count against the fewest requests the operation can take (a floor, not a baseline)."""
    value = sum(counted.values())
    return Figure(name, value, floor, "requests", f"<= {floor} ({how})", value <= floor, str(counted), "floor")


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

    with Emulator(tls=True, data_dir=tmp / "tls", seed=SEED, time_scale=10_000, poll_hints=True) as emulator:
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
        since = _seq(emulator)
        with_ours()
        ours_requests = len(emulator.requests_log(since))
        since = _seq(emulator)
        with_sdk()
        sdk_requests = len(emulator.requests_log(since))
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
            f"N={n}, interleaved, same TLS emulator; requests per create+read: ours {ours_requests}, "
            f"SDK {sdk_requests}",
        )
    ]


# --- 2 + 3. requests per deployment, engine-path overhead (through the real plugin) -------------------------


def _plugin_engine(emulator: Emulator, command: list[str] | None = None) -> Any:
    """The SDK's dynamic-provider plugin configured for ``emulator`` (``command``: another command line for the
    same plugin, as the profiler's), and the engine class that plays programs against it."""
    sys.path.insert(0, str(ROOT))
    from tests.engine.harness import Engine, Plugin

    plugin = Plugin(command=command)
    plugin.configure(_bench_config(emulator))
    return plugin, Engine


_AGENT = {
    "subscription_id": DEFAULT_SUBSCRIPTION,
    "resource_group_name": "group1",
    "server_name": "server1",
    "job_agent_name": "agent1",
}


def _bench_config(emulator: Emulator) -> dict[str, str]:
    """The provider configuration that points at ``emulator``, as the engine hands it over."""
    return {
        "azure-elastic-jobs:endpoint": emulator.url,
        "azure-elastic-jobs:token": "bench",
        "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
    }


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


def _set_requests(emulator: Emulator, since: int, job_ref: JobRef) -> dict[str, int]:
    """What a set's ``up`` sent about the runs of one job since ``since``: PUTs of runs, reads of one run, listings
    of its targets, and listings (pages) of the job's runs."""
    prefix = f"{job_ref.path}/executions"
    counted = {"PUT": 0, "reads": 0, "target listings": 0, "run listing pages": 0}
    for entry in emulator.requests_log(since):
        path, method = entry["path"], entry["method"]
        if path == prefix and method == "GET":
            counted["run listing pages"] += 1
        elif path.startswith(prefix + "/") and path.count("/") == prefix.count("/") + 1:
            counted["PUT" if method == "PUT" else "reads"] += 1
        elif path.startswith(prefix + "/") and path.endswith("/targets") and method == "GET":
            counted["target listings"] += 1
    return counted


def _seq(emulator: Emulator) -> int:
    log = emulator.requests_log()
    return log[-1]["seq"] if log else 0


def requests_and_overhead(samples: int) -> list[Figure]:
    figures: list[Figure] = []
    with Emulator(seed=SEED, time_scale=100, poll_hints=True) as emulator:
        plugin, engine_class = _plugin_engine(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        try:
            quick = make_job(client, "SELECT 1; -- emulator:duration=0")
            engine = engine_class(plugin)
            since = _seq(emulator)
            engine.up(_declare("nowait", "s1", job_name=quick.job_name))
            up = _count(emulator, since)
            figures.append(
                floor_figure("2a. up, no waiting: requests", up, 2 + PLAN_READS, f"list the job's runs, PUT{PLAN_HOW}")
            )
            since = _seq(emulator)
            engine.preview(_declare("nowait", "s1", job_name=quick.job_name))
            engine.up(_declare("nowait", "s1", job_name=quick.job_name))
            idle = _count(emulator, since)
            figures.append(floor_figure("2b. preview + up with no change: requests", idle, 0, "nothing to ask"))
            engine.refresh()  # the first refresh of a finished run also reads its targets, once for good
            since = _seq(emulator)
            engine.refresh()
            refresh = _count(emulator, since)
            figures.append(
                floor_figure(
                    "2c. refresh of a finished run: requests per resource",
                    refresh,
                    1,
                    "read the run; its targets were read once, at the first refresh after it ended",
                )
            )
            duration = 3.0  # real seconds (300 emulated at time scale 100)
            slow = make_job(client, "SELECT 1; -- emulator:duration=300")
            since = _seq(emulator)
            engine.up(_declare("waited", "s1", job_name=slow.job_name, wait_for_completion=True, poll_interval=1))
            waited = _count(emulator, since)
            floor = 1 + 1 + (math.ceil(duration / 1.0) + 1) + 1 + PLAN_READS
            figures.append(
                floor_figure(
                    "2d. up, waiting a 3 s run (poll 1 s): requests",
                    waited,
                    floor,
                    f"list the job's runs, PUT, ceil(T/interval)+1 polls, one read of its targets{PLAN_HOW}",
                )
            )

            from tests.engine.harness import provider_pb2

            from pulumi_azure_elastic_jobs.operations import Connection, Executions
            from pulumi_azure_elastic_jobs.progress import Progress

            core = Executions(Connection(_bench_config(emulator)))
            plugin_times, core_times, put_times = [], [], []
            fast = make_job(client, "SELECT 1; -- emulator:duration=0")
            for number in range(samples):
                (registration,) = _declare(f"r{number}", "overhead", job_name=fast.job_name)

                def through_plugin(reg: Any = registration) -> None:
                    checked = plugin.Check(provider_pb2.CheckRequest(urn=reg.urn, news=reg.inputs))
                    plugin.Create(provider_pb2.CreateRequest(urn=reg.urn, properties=checked.inputs))

                def in_process(key: str = f"core-{number}-{uuid.uuid4().hex[:6]}") -> None:
                    checked = core.check({}, {**_AGENT, "job_name": fast.job_name, "execution_key": key}).inputs
                    core.announce_plan({}, checked, Progress(None, None))  # as the dynamic face's check does
                    core.create(checked, Progress(None, None))

                def one_put() -> None:
                    client.put_execution(fast.execution(str(uuid.uuid4())))

                plugin_times.append(timed(through_plugin))
                core_times.append(timed(in_process))
                put_times.append(timed(one_put))
            through, direct = statistics.median(plugin_times) * 1000, statistics.median(core_times) * 1000
            put = statistics.median(put_times) * 1000
            figures.append(
                Figure(
                    "3a. engine path per resource (Check+Create over gRPC) against the same create in-process",
                    through,
                    direct,
                    "ms",
                    "added <= 4x one PUT of the client",
                    through - direct <= 4 * put,
                    f"added {through - direct:.1f} ms, one PUT {put:.1f} ms, N={samples}, interleaved; the baseline is "
                    "the core's own calls the dynamic face makes (check, the plan it shows, create) with the same "
                    "inputs: the same requests without gRPC, the SDK's plugin or property maps; the goal was 15 ms "
                    "added on the machine where a PUT took 3.8 ms",
                )
            )
            provider_size = len(registration.inputs.fields["__provider"].string_value)
            figures.append(
                Figure(
                    "3b. serialized __provider",
                    provider_size,
                    4096,
                    "bytes",
                    "<= 4096 bytes",
                    provider_size <= 4096,
                    baseline_kind="limit",
                )
            )
        finally:
            client.close()
            plugin.kill()
    return figures


# --- 2e. cost as a chain's history grows ---------------------------------------------------------------------


def history_cost(sizes: list[int]) -> list[Figure]:
    """Requests for the k-th run of one resource's derived-id chain (destroy then up, or up --replace)."""
    from pulumi_azure_elastic_jobs.inputs import ExecutionInputs

    figures = []
    with Emulator(
        seed=SEED, time_scale=100, poll_hints=True
    ) as emulator:  # the new run is still starting when `up` returns
        plugin, engine_class = _plugin_engine(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        try:
            for k in sizes:
                target = make_job(client, "SELECT 1; -- emulator:duration=0")
                key = f"history-{k}-{uuid.uuid4().hex[:6]}"
                chain = ExecutionInputs.model_validate(
                    {
                        "subscription_id": DEFAULT_SUBSCRIPTION,
                        "resource_group_name": "group1",
                        "server_name": "server1",
                        "job_agent_name": "agent1",
                        "job_name": target.job_name,
                        "execution_key": key,
                    }
                )
                earlier = [target.execution(chain.derived_execution_id(g)) for g in range(k - 1)]
                with ThreadPoolExecutor(max_workers=16) as pool:
                    list(pool.map(client.ensure_execution, earlier))
                client.wait_for_all(earlier, timeout=300, poll_interval=0.2)
                since = _seq(emulator)
                engine_class(plugin).up(_declare("history", key, job_name=target.job_name, execution_key=key))
                counted = _count(emulator, since)
                pages = max(1, math.ceil((k - 1) / PAGE_SIZE))  # the job's history, listed whole (<= 1,000 runs)
                floor = pages + 1 + PLAN_READS
                figure = floor_figure(
                    f"2e. run k={k} of one resource's chain: requests",
                    counted,
                    floor,
                    f"the job's {k - 1} earlier runs listed ({pages} page(s) of {PAGE_SIZE}) + PUT{PLAN_HOW}",
                )
                figure.note += f"; the linear walk it replaced: {k + 1}"
                figures.append(figure)
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
        value, baseline = statistics.median(ours), statistics.median(base)
        figures.append(
            Figure(
                f"4. import {label}, with pulumi, against pulumi alone",
                value,
                baseline,
                "ms",
                "<= 1.25x pulumi alone",
                value <= 1.25 * baseline,
                f"added {value - baseline:.0f} ms, N={runs}, interleaved; the goal was 50 ms added on the machine "
                "where pulumi's own import took about 200 ms",
            )
        )
    return figures


# --- 5. many executions at once ------------------------------------------------------------------------------


def _set_program(size: int, job_name: str, run_id: str, poll_interval: float | None) -> Callable[[], None]:
    def program() -> None:
        from pulumi_azure_elastic_jobs import JobExecutionSet

        JobExecutionSet(
            "fleet",
            resource_group_name="group1",
            server_name="server1",
            job_agent_name="agent1",
            wait_for_completion=True,
            **({"poll_interval": poll_interval} if poll_interval else {}),
            members={f"m{i}": {"job_name": job_name, "triggers": {"run": run_id}} for i in range(size)},
        )

    return program


def _single_run(client: ElasticJobsClient, target: JobRef, poll_interval: float) -> float:
    """The measured T: one execution of the job, started and waited for by the client alone."""
    ref = target.execution(str(uuid.uuid4()))
    return timed(
        lambda: (client.ensure_execution(ref), client.wait_for_terminal(ref, timeout=600, poll_interval=poll_interval))
    )


def many_executions(sizes: list[int], seconds: float) -> list[Figure]:
    figures = []
    emulated = int(seconds * 100)
    with Emulator(seed=SEED, time_scale=100, poll_hints=True) as emulator:
        plugin, engine_class = _plugin_engine(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        try:
            target = make_job(client, f"SELECT 1; -- emulator:duration={emulated}")
            from tests.engine.harness import run_program

            single = _single_run(client, target, 5)
            for size in sizes:
                stack = f"set-{size}-{uuid.uuid4().hex[:4]}"
                registrations = run_program(_set_program(size, target.job_name, stack, 5), project="bench", stack=stack)
                engine = engine_class(plugin)
                since = _seq(emulator)
                wall = timed(lambda regs=registrations, e=engine: e.up(regs))
                count = sum(_count(emulator, since).values())
                figures.append(
                    Figure(
                        f"5. JobExecutionSet of {size} (job of {seconds:g} s)",
                        wall,
                        single,
                        "s",
                        "<= 1.3x one run" if size == 32 else None,
                        wall <= 1.3 * single if size == 32 else None,
                        f"baseline: one run waited by the client alone; {count} requests ({count / size:.1f} each)",
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
            with ThreadPoolExecutor(max_workers=size) as pool:  # the engine issues them in parallel
                # each on an engine of its own: one engine's `up([reg])` would delete the others as undeclared
                wall = timed(lambda: list(pool.map(lambda reg: engine_class(plugin).up([reg]), registrations)))
            figures.append(
                Figure(
                    f"5. {size} separate JobExecution resources (the alternative)",
                    wall,
                    single,
                    "s",
                    None,
                    None,
                    "about N/4 runs: the plugin serves 4 calls at once",
                )
            )
        finally:
            client.close()
            plugin.kill()
    return figures


def polls_allowed(window: float, poll_interval: float) -> int:
    """How many polls the client's schedule (1 s, then x1.5 up to poll_interval) fits in ``window``."""
    polls, moment, pause = 1, 0.0, min(1.0, poll_interval)
    while moment + pause <= window:
        moment += pause
        polls += 1
        pause = min(pause * 1.5, poll_interval)
    return polls


def fleets_without_hints(sizes: list[int], seconds: float) -> list[Figure]:
    """Sets at the default poll interval against an emulator that sends no Retry-After (as real ARM may)."""
    from pulumi_azure_elastic_jobs.inputs import DEFAULT_POLL_INTERVAL_SECONDS as interval

    figures = []
    with Emulator(seed=SEED, time_scale=100, poll_hints=False) as emulator:
        plugin, engine_class = _plugin_engine(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        try:
            target = make_job(client, f"SELECT 1; -- emulator:duration={int(seconds * 100)}")
            from tests.engine.harness import run_program

            single = _single_run(client, target, interval)
            for size in sizes:
                stack = f"nohints-{size}-{uuid.uuid4().hex[:4]}"
                registrations = run_program(_set_program(size, target.job_name, stack, None), project="b", stack=stack)
                engine = engine_class(plugin)
                since = _seq(emulator)
                wall = timed(lambda regs=registrations, e=engine: e.up(regs))
                log = emulator.requests_log(since)
                (state,) = engine.state.values()
                members = state.output_props["executions"].values()
                created = min(datetime.fromisoformat(m["create_time"]) for m in members)
                ended = max(datetime.fromisoformat(m["end_time"]) for m in members)
                ran = (ended - created).total_seconds()  # the service clock is real time; durations are scaled
                gets = sum(1 for entry in log if entry["method"] == "GET") / size
                allowed = 2 + polls_allowed(wall, interval) + 1  # read, listing, polls, targets
                late = wall - ran
                figures.append(
                    Figure(
                        f"5b. JobExecutionSet of {size} without Retry-After, default poll {interval:g} s",
                        wall,
                        single,
                        "s",
                        f"noticed within one poll interval; <= {allowed} GETs per member",
                        late <= interval + 1 and gets <= allowed,
                        f"baseline: one run waited alone; runs took {ran:.1f} s, noticed {late:.1f} s after; "
                        f"{gets:.1f} GETs per member",
                    )
                )
        finally:
            client.close()
            plugin.kill()
    return figures


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PLAIN_GETS = """
import json, sys, time
url, token, count, library = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
headers = {"Authorization": f"Bearer {token}"}
if library == "requests":
    import requests
    session = requests.Session()
    get = lambda: session.get(url, headers=headers, timeout=30).json()
else:
    import urllib3
    pool = urllib3.PoolManager()
    get = lambda: json.loads(pool.request("GET", url, headers=headers, timeout=30).data)
for _ in range(20):
    get()
began = time.process_time()
for _ in range(count):
    get()
print((time.process_time() - began) * 1000 / count)
"""


def plain_get_cpu_ms(url: str, token: str, count: int = 300, library: str = "requests") -> float:
    """The CPU one plain GET of ``url`` costs its client (a keep-alive ``requests`` session, or urllib3's pool used
    directly; the JSON body read), in a process of its own as the plugin is: the unit the provider's CPU per
    member is judged in, measured on the machine and in the run that judges it."""
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_GETS, url, token, str(count), library], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def large_fleet(size: int, seconds: float) -> list[Figure]:
    """A set of ``size`` members on one job that already has an active run of someone else's (the case that made
    a member search 10,000 derived ids for a run of its own): wall time against one run, and provider CPU."""
    figures = []
    with Emulator(seed=SEED, time_scale=100, poll_hints=True) as emulator:
        plugin, engine_class = _plugin_engine(emulator)
        client = ElasticJobsClient(emulator.url, StaticToken("bench"))
        try:
            target = make_job(client, f"SELECT 1; -- emulator:duration={int(seconds * 100)}")
            from tests.engine.harness import run_program

            single = _single_run(client, target, 5)
            # a one-member set first, in the same plugin (on a job that ends at once): what a plugin pays once per
            # deployment (its imports, its first client) is not a member's, and is measured apart
            warm_stack = f"warm-{uuid.uuid4().hex[:4]}"
            quick = make_job(client, "SELECT 1; -- emulator:duration=0")
            warm = run_program(_set_program(1, quick.job_name, warm_stack, 5), project="bench", stack=warm_stack)
            cpu = _cpu_seconds(plugin.process.pid)
            engine_class(plugin).up(warm)
            once_ms = (_cpu_seconds(plugin.process.pid) - cpu) * 1000
            busy = target.execution(str(uuid.uuid4()))
            client.ensure_execution(busy)  # active while the set starts
            read_url = f"{emulator.url}{busy.path}?api-version={client.api_version}"
            plain_gets = [plain_get_cpu_ms(read_url, "bench")]
            stack = f"large-{size}-{uuid.uuid4().hex[:4]}"
            registrations = run_program(_set_program(size, target.job_name, stack, 5), project="bench", stack=stack)
            engine = engine_class(plugin)
            since = _seq(emulator)
            cpu = _cpu_seconds(plugin.process.pid)
            wall = timed(lambda: engine.up(registrations))
            per_member_ms = (_cpu_seconds(plugin.process.pid) - cpu) * 1000 / size
            counted = _count(emulator, since)
            sent = _set_requests(emulator, since, target)
            plain_gets.append(plain_get_cpu_ms(read_url, "bench"))  # before and after: the machine's load moves
            two_gets = 2 * statistics.mean(plain_gets)
            two_pool_gets = 2 * plain_get_cpu_ms(read_url, "bench", library="urllib3")
            listing_pages = sent.pop("run listing pages")
            (state,) = engine.state.values()
            ended = sum(1 for m in state.output_props["executions"].values() if m["lifecycle"] == "Succeeded")
            figures.append(
                Figure(
                    f"5c. JobExecutionSet of {size} on one job with an active run (job of {seconds:g} s)",
                    wall,
                    single,
                    "s",
                    "<= 1.3x one run",
                    wall <= 1.3 * single and ended == size,
                    f"baseline: one run waited by the client alone; {ended}/{size} succeeded; {counted}",
                )
            )
            floor = floor_figure(
                f"5c. requests of that set of {size} beside its listings of the job's runs (job of {seconds:g} s)",
                sent,
                2 * size + 1,
                "2N: each member's PUT and the listing of its targets; no read of a run of its own: the job's "
                "listing each round shows every member's state; those listings are counted apart; + 1: the "
                "targets of the job's one other active run, which the plan Check shows reads (its busy databases)",
            )
            floor.note += f"; listing pages of the job's runs: {listing_pages} (one listing a round, 100 runs a page)"
            figures.append(floor)
            figures.append(
                Figure(
                    f"5c. provider CPU per member of that set (start, {seconds:g} s of polls, targets)",
                    per_member_ms,
                    two_gets,
                    "ms",
                    "<= 1.5x two plain requests GETs",
                    per_member_ms <= 1.5 * two_gets,
                    "plugin process user+system CPU over the whole up, divided by members, after a one-member set "
                    f"in the same plugin (what a plugin pays once per deployment, its imports and first client: "
                    f"{once_ms:.0f} ms); baseline: the client CPU of two plain requests GETs of a run from the same "
                    "emulator, in a process of their own, measured before and after the up (one GET: "
                    f"{', '.join(f'{v:.2f}' for v in plain_gets)} ms); beside it, two GETs through urllib3's pool "
                    f"used directly: {two_pool_gets:.2f} ms. A guard against waste, never a race with the standard "
                    "library: the client sends through urllib3 (the hand-written http.client transport it replaced "
                    "measured 0.72 ms a member against 0.93 ms for two requests GETs, 0.78x, in its last full run)",
                )
            )
        finally:
            client.close()
            plugin.kill()
    return figures


# --- 6. emulator under load ---------------------------------------------------------------------------------


def emulator_load(levels: list[int], seconds: float) -> list[Figure]:
    figures = []
    with Emulator(in_process=False, seed=SEED, time_scale=100, poll_hints=True) as emulator:
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


# --- 7. the user's view: the real CLI ------------------------------------------------------------------------

CLI = ROOT / ".tools" / "bin" / "pulumi"
PLAIN_PROGRAM = 'import pulumi\n\npulumi.export("lifecycle", "none: this program declares no resource of ours")\n'


def _cli_env(home: Path) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "PATH": f"{CLI.parent}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "PULUMI_BACKEND_URL": f"file://{home}",
        "PULUMI_CONFIG_PASSPHRASE": "bench",
        "PULUMI_SKIP_UPDATE_CHECK": "1",
        "PULUMI_HOME": str(home / ".pulumi-home"),
    }


class CliStepFailed(RuntimeError):
    """A CLI step of a benchmark failed: the command, its exit code and what it printed, not a bare exit status."""


def _pulumi(directory: Path, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(CLI), *args, "--non-interactive"], cwd=directory, env=env, capture_output=True, check=False
    )
    if done.returncode != 0:
        printed = (done.stderr or b"").decode(errors="replace") + (done.stdout or b"").decode(errors="replace")
        raise CliStepFailed(f"`pulumi {' '.join(args)}` in {directory} exited {done.returncode}:\n{printed[-4000:]}")
    return time.perf_counter() - started


def cli_figures(runs: int, tmp: Path) -> list[Figure]:
    """Wall time of the commands a user types, for the quickstart and for the same project without our resource.

    The plain project has the quickstart's Pulumi.yaml and virtualenv and a program that only exports a value:
    the difference is what this provider costs (starting the dynamic-provider plugin, importing the provider,
    Check and Diff), measured side by side, interleaved, in this run."""
    if not CLI.exists():
        print("7. skipped: the Pulumi CLI is not built (bash scripts/build-pulumi-cli.sh)")
        return []
    import shutil

    env = _cli_env(tmp)
    quickstart, plain = tmp / "quickstart", tmp / "plain"
    shutil.copytree(
        ROOT / "examples" / "quickstart", quickstart, ignore=shutil.ignore_patterns(".venv", "Pulumi.*.yaml")
    )
    project = (quickstart / "Pulumi.yaml").read_text().replace("../../.venv", str(ROOT / ".venv"))
    (quickstart / "Pulumi.yaml").write_text(project)
    plain.mkdir()
    (plain / "Pulumi.yaml").write_text(project.replace("elastic-jobs-quickstart", "plain-python"))
    (plain / "__main__.py").write_text(PLAIN_PROGRAM)
    figures = []
    with Emulator(seed=SEED, time_scale=100, poll_hints=True) as emulator:
        client = ElasticJobsClient(emulator.url, StaticToken(emulator.token))
        target = make_job(client, "SELECT 1; -- emulator:duration=300")
        for directory in (quickstart, plain):
            _configured(directory, env, emulator, job=target.job_name)

        # 7c first, on the first up: from the moment the run ends (watched from here) to `up` returning
        finished_at: list[float] = []

        def watch() -> None:
            while not finished_at:
                runs_now = list(client.list_executions(target))
                if runs_now and all(r.properties.lifecycle == "Succeeded" for r in runs_now):
                    finished_at.append(time.perf_counter())
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        up_wall = _pulumi(quickstart, env, "up", "--yes", "--skip-preview")
        returned = time.perf_counter()
        watcher.join(timeout=5)
        _pulumi(plain, env, "up", "--yes", "--skip-preview")
        tail = returned - finished_at[0] if finished_at else math.nan
        figures.append(
            Figure(
                "7c. pulumi up: from the run's end to up returning",
                tail,
                None,
                "s",
                None,
                None,
                f"a waited 3 s run; the whole up took {up_wall:.2f} s",
                "none",
            )
        )
        for label, command in (("up (no change)", ("up", "--yes", "--skip-preview")), ("preview", ("preview",))):
            ours, theirs = [], []
            for _ in range(runs):
                ours.append(_pulumi(quickstart, env, *command))
                theirs.append(_pulumi(plain, env, *command))
            value, baseline = statistics.median(ours), statistics.median(theirs)
            figures.append(
                Figure(
                    f"7{'a' if label.startswith('up') else 'b'}. pulumi {label}, quickstart",
                    value,
                    baseline,
                    "s",
                    "<= 1.3x the same project without our resource",
                    value <= 1.3 * baseline,
                    f"N={runs}, interleaved; baseline: same Pulumi.yaml and virtualenv, a program exporting a value",
                )
            )
        for directory in (quickstart, plain):
            _pulumi(directory, env, "destroy", "--yes")
        client.close()
    return figures


YAML_HOST = ROOT / ".tools" / "bin" / "pulumi-language-yaml"


def _yaml_project(directory: Path, name: str, resources: dict[str, dict[str, Any]]) -> Path:
    """A YAML program of ``resources`` (name -> properties of a JobExecution), written as JSON (valid YAML)."""
    directory.mkdir(parents=True)
    program = {
        "name": name,
        "runtime": "yaml",
        "resources": {
            key: {"type": "azure-elastic-jobs:JobExecution", "properties": props} for key, props in resources.items()
        },
        "outputs": {"count": len(resources)},
    }
    (directory / "Pulumi.yaml").write_text(json.dumps(program, indent=2))
    return directory


def _configured(directory: Path, env: dict[str, str], emulator: Emulator, **project_config: str) -> None:
    """A stack ``bench`` of the project in ``directory``, pointed at ``emulator``, with the project's own config."""
    _pulumi(directory, env, "stack", "init", "bench")
    settings = {
        "azure-elastic-jobs:endpoint": emulator.url,
        "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
        **project_config,
    }
    for key, value in settings.items():
        _pulumi(directory, env, "config", "set", key, value)
    _pulumi(directory, env, "config", "set", "--secret", "azure-elastic-jobs:token", emulator.token)


def native_figures(size: int, seconds: float, runs: int, tmp: Path) -> list[Figure]:
    """The native plugin from YAML with the real CLI and the official YAML host: ``size`` separate waited
    JobExecution resources against one run of the same job (the dynamic plugin serves four calls at once: 5.),
    and a no-change ``up`` of the YAML example against an empty YAML program, side by side."""
    if not (CLI.exists() and YAML_HOST.exists()):
        print("8. skipped: the Pulumi CLI or pulumi-language-yaml is not built (bash scripts/build-pulumi-cli.sh)")
        return []
    from pulumi_azure_elastic_jobs.native.install import default_server, install_plugin

    env = _cli_env(tmp)
    install_plugin(str(CLI), [str(default_server())], env=env)
    figures = []
    with Emulator(seed=SEED, time_scale=100, poll_hints=True) as emulator:
        client = ElasticJobsClient(emulator.url, StaticToken(emulator.token))
        try:
            script = f"SELECT 1; -- emulator:duration={int(seconds * 100)}"
            single = _single_run(client, make_job(client, script), 1)
            agent = {"resourceGroupName": "group1", "serverName": "server1", "jobAgentName": "agent1"}
            waited: dict[str, Any] = {"waitForCompletion": True, "pollInterval": 1, **agent}
            for parallel in (size, None):  # as many at once as there are resources, then the engine's default
                target = make_job(client, script)
                name = f"native-fleet-{parallel or 'default'}"
                resources = {f"run{i}": {**waited, "jobName": target.job_name} for i in range(size)}
                fleet = _yaml_project(tmp / name, name, resources)
                _configured(fleet, env, emulator)
                flags = ("--parallel", str(parallel)) if parallel else ()
                wall = _pulumi(fleet, env, "up", "--yes", "--skip-preview", *flags)
                ended = sum(1 for e in client.list_executions(target) if e.properties.lifecycle == "Succeeded")
                _pulumi(fleet, env, "destroy", "--yes", "--skip-preview")
                how = (
                    f"--parallel {parallel}"
                    if parallel
                    else f"the engine's default ({4 * (os.cpu_count() or 1)} at once)"
                )
                figures.append(
                    Figure(
                        f"8a. {size} separate waited JobExecution resources in one YAML program, {how}",
                        wall,
                        single,
                        "s",
                        "<= 1.3x one run" if parallel else None,
                        (wall <= 1.3 * single and ended == size) if parallel else None,
                        f"baseline: one run of the {seconds:g} s job waited by the client alone; native plugin, "
                        f"real CLI, official YAML host; {ended}/{size} runs succeeded",
                    )
                )
            target = make_job(client, script)
            waited = {**waited, "jobName": target.job_name}
            example = _yaml_project(tmp / "native-one", "native-one", {"migration": waited})
            empty = _yaml_project(tmp / "native-empty", "native-empty", {})
            for directory in (example, empty):
                _configured(directory, env, emulator)
                _pulumi(directory, env, "up", "--yes", "--skip-preview")
            ours, theirs = [], []
            for _ in range(runs):
                ours.append(_pulumi(example, env, "up", "--yes", "--skip-preview"))
                theirs.append(_pulumi(empty, env, "up", "--yes", "--skip-preview"))
            value, baseline = statistics.median(ours), statistics.median(theirs)
            figures.append(
                Figure(
                    "8b. pulumi up (no change), a YAML program of one waited JobExecution",
                    value,
                    baseline,
                    "s",
                    "<= 1.3x an empty YAML program",
                    value <= 1.3 * baseline,
                    f"N={runs}, interleaved; baseline: the same Pulumi.yaml without resources",
                )
            )
            for directory in (example, empty):
                _pulumi(directory, env, "destroy", "--yes", "--skip-preview")
        finally:
            client.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run that proves it still works")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    import tempfile

    from benchmarks.plans import cli_rows, fleet_preview
    from benchmarks.rollouts import rollout_figures
    from benchmarks.startup import compile_bytecode, startup_figures

    compile_bytecode()  # every figure that starts a plugin or imports the package, as an install would run it
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        figures = [
            *client_vs_sdk(10 if args.quick else 200, Path(tmp)),
            *requests_and_overhead(3 if args.quick else 30),
            *history_cost([1, 10] if args.quick else [1, 10, 100, 1000]),
            *cold_start(2 if args.quick else 10),
            *many_executions([1, 4] if args.quick else [1, 8, 32, 128], 1.0 if args.quick else 3.0),
            *fleets_without_hints([4] if args.quick else [32, 128], 1.0 if args.quick else 10.0),
            *large_fleet(16 if args.quick else 1000, 1.0 if args.quick else 20.0),
            *emulator_load([1, 4] if args.quick else [1, 16, 64], 0.5 if args.quick else 3.0),
            *cli_figures(1 if args.quick else 7, Path(tmp) / "cli"),
            *native_figures(
                4 if args.quick else 32, 2.0 if args.quick else 10.0, 1 if args.quick else 7, Path(tmp) / "native"
            ),
            *startup_figures(1 if args.quick else 7, Path(tmp) / "startup"),
            *(fleet_preview(3, 3, 10, 1) if args.quick else fleet_preview(15)),
            *(cli_rows(1, Path(tmp), 3, 10, 1, warm=False) if args.quick else cli_rows(5, Path(tmp))),
            *(rollout_figures(3, 4, 1.0) if args.quick else rollout_figures(10, 100, 3.0)),
        ]
    print_table(figures)
    report = {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {__import__('os').cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
    }
    args.output.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    print(f"wrote {args.output} in {report['seconds']} s")
    if not args.quick and args.output.resolve() == RESULTS.resolve():
        from benchmarks.table import PAGE, update

        update(PAGE, RESULTS)
        print(f"wrote the table of {PAGE}")


def print_table(figures: list[Figure]) -> None:
    def number(value: float | None) -> str:
        return "-" if value is None or math.isnan(value) else f"{value:.2f}"

    width = max(len(f.name) for f in figures)
    print(f"{'figure':{width}}  {'value':>10}  {'baseline':>10}  {'ratio':>7}  unit      goal: verdict")
    for f in figures:
        verdict = "no goal" if f.met is None else ("met" if f.met else "MISSED")
        kind = "" if f.baseline_kind == "measured" or f.baseline is None else f" ({f.baseline_kind})"
        print(
            f"{f.name:{width}}  {number(f.value):>10}  {number(f.baseline):>10}{kind}  {number(f.ratio):>7}  "
            f"{f.unit:8}  {f.goal or '-'}: {verdict}  {f.note}"
        )


if __name__ == "__main__":
    main()
