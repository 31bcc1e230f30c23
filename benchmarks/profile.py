"""``python -m benchmarks.profile``: where the plugin's CPU goes in benchmark 5c, function by function.

Runs 5c's scenario (a ``JobExecutionSet`` of ``--members`` members on one job that already has someone else's
active run, waited for, through the SDK's real dynamic-provider plugin, after a one-member set in the same plugin)
with the plugin process under cProfile in every thread, timed by each thread's own CPU clock, so a function's time
is the CPU it used, not the time its thread waited on a socket. Prints the plugin's CPU per member, the CPU by area
(HTTP, JSON, pydantic, gRPC and the SDK, this package, ...), and the functions that use most; ``--save FILE``
keeps the profile for ``pstats`` or snakeviz. The profiler inflates small Python calls most (it roughly doubles
the CPU it measures): read the shares as a map, and 5c itself for the figure.
"""

from __future__ import annotations

import argparse
import cProfile
import marshal
import os
import pstats
import runpy
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

AREAS = (
    ("HTTP (requests, urllib3, http.client, sockets)", ("requests/", "urllib3/", "http/", "socket", "ssl", "email/")),
    ("JSON", ("json/", "orjson")),
    ("pydantic", ("pydantic",)),
    ("retries (tenacity)", ("tenacity/",)),
    ("gRPC, protobuf and the Pulumi SDK", ("grpc", "google/protobuf", "pulumi/", "dill/", "asyncio/")),
    ("logging", ("logging/",)),
    ("this package", ("pulumi_azure_elastic_jobs/",)),
    ("threads and futures", ("threading", "concurrent/", "queue", "lock")),
    ("url parsing, uuid, dates", ("urllib/", "uuid", "datetime", "_strptime", "ipaddress")),
)


def area(function: tuple[str, int, str]) -> str:
    """The area a profiled function belongs to, by its file (a C function by its name)."""
    filename, _, name = function
    where = (filename if filename != "~" else name).replace("\\", "/")
    for label, marks in AREAS:
        if any(mark in where for mark in marks):
            return label
    return "other"


# --- the plugin, profiled ---------------------------------------------------------------------------------------


Raw = dict[tuple[str, int, str], tuple[Any, ...]]
"""pstats' raw table: function -> (primitive calls, calls, own time, time with callees, callers)."""


def _add(first: tuple[Any, ...], second: tuple[Any, ...], sign: int = 1) -> tuple[Any, ...]:
    return tuple(a + sign * b for a, b in zip(first, second, strict=True))


def merged(tables: list[Raw], minus: Raw | None = None) -> Raw:
    """The threads' tables added up, less ``minus`` (what was spent before the measured part began)."""
    total: Raw = {}
    for table, sign in [*((table, 1) for table in tables), *([(minus, -1)] if minus else [])]:
        for function, (cc, nc, tt, ct, callers) in table.items():
            old = total.get(function, (0, 0, 0.0, 0.0, {}))
            joined = dict(old[4])
            for caller, numbers in callers.items():
                joined[caller] = _add(joined[caller], numbers, sign) if caller in joined else numbers
            total[function] = (*_add(old[:4], (cc, nc, tt, ct), sign), joined)
    return {function: entry for function, entry in total.items() if entry[1] > 0}


def serve_profiled_plugin(output: Path) -> None:
    """The SDK's dynamic-provider plugin (``python -m pulumi.dynamic``) with a cProfile of thread CPU time in each
    of its threads. SIGUSR1 marks the start of what is measured (the start-up before it is left out); SIGTERM
    writes the threads' profiles since then, merged, to ``output`` and exits."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    before: list[Raw] = []

    def profile_this_thread(*_: Any) -> None:  # a new thread's first profile event: hand over to cProfile
        profile = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profile)
        profile.enable()

    def tables() -> list[Raw]:
        with lock:
            taken = list(profiles)
        for profile in taken:
            profile.snapshot_stats()  # type: ignore[attr-defined]  # unlike create_stats, leaves it enabled
        return [profile.stats for profile in taken]  # type: ignore[attr-defined]

    def mark(*_: Any) -> None:
        before[:] = [merged(tables())]

    def write_and_exit(*_: Any) -> None:
        with output.open("wb") as file:
            marshal.dump(merged(tables(), before[0] if before else None), file)
        os._exit(0)

    signal.signal(signal.SIGUSR1, mark)
    signal.signal(signal.SIGTERM, write_and_exit)
    threading.setprofile(profile_this_thread)
    profile_this_thread()
    sys.argv = [sys.argv[0], *sys.argv[3:]]  # what the plugin itself reads: the engine address, if any
    runpy.run_module("pulumi.dynamic", run_name="__main__")


# --- the scenario -----------------------------------------------------------------------------------------------


def profile_large_fleet(members: int, seconds: float, output: Path) -> dict[str, Any]:
    """5c under the profiler: returns the plugin's CPU per member and the request counts; the profile is in
    ``output``."""
    from tests.engine.harness import run_program

    from benchmarks.run import SEED, _count, _cpu_seconds, _plugin_engine, _seq, _set_program, make_job
    from elastic_jobs_emulator import Emulator
    from pulumi_azure_elastic_jobs.auth import StaticToken
    from pulumi_azure_elastic_jobs.client import ElasticJobsClient

    command = [sys.executable, "-m", "benchmarks.profile", "--serve-plugin", str(output)]
    with Emulator(seed=SEED, time_scale=100, poll_hints=True) as emulator:
        plugin, engine_class = _plugin_engine(emulator, command)
        with ElasticJobsClient(emulator.url, StaticToken("bench")) as client:
            target = make_job(client, f"SELECT 1; -- emulator:duration={int(seconds * 100)}")
            quick = make_job(client, "SELECT 1; -- emulator:duration=0")  # a one-member set first, as in 5c
            warm_stack = f"warm-{uuid.uuid4().hex[:4]}"
            engine_class(plugin).up(
                run_program(_set_program(1, quick.job_name, warm_stack, 5), project="bench", stack=warm_stack)
            )
            client.ensure_execution(target.execution(str(uuid.uuid4())))  # active while the set starts, as in 5c
            stack = f"profile-{members}-{uuid.uuid4().hex[:4]}"
            registrations = run_program(_set_program(members, target.job_name, stack, 5), project="bench", stack=stack)
            engine = engine_class(plugin)
            since = _seq(emulator)
            plugin.process.send_signal(signal.SIGUSR1)
            time.sleep(0.5)  # the mark is taken between two of the plugin's bytecodes, soon
            cpu = _cpu_seconds(plugin.process.pid)
            began = time.perf_counter()
            engine.up(registrations)
            wall = time.perf_counter() - began
            used = _cpu_seconds(plugin.process.pid) - cpu
            counted = _count(emulator, since)
        plugin.process.send_signal(signal.SIGTERM)
        plugin.process.wait(timeout=60)
        plugin.channel.close()
    return {"cpu_ms_per_member": used * 1000 / members, "wall_seconds": wall, "requests": counted}


def report(output: Path, members: int, top: int) -> None:
    stats = pstats.Stats(str(output))
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())
    by_area: dict[str, float] = defaultdict(float)
    for function, entry in table.items():
        by_area[area(function)] += entry[2]
    print(f"\nCPU by area (own time; {total * 1000 / members:.2f} ms per member under the profiler):")
    for label, seconds in sorted(by_area.items(), key=lambda item: -item[1]):
        print(f"  {seconds * 1000 / members:7.3f} ms  {seconds / total:6.1%}  {label}")
    print(f"\nTop {top} functions by own CPU (ms per member, calls per member):")
    ranked = sorted(table.items(), key=lambda item: -item[1][2])[:top]
    for (filename, line, name), entry in ranked:
        where = f"{Path(filename).name}:{line}" if filename != "~" else ""
        print(f"  {entry[2] * 1000 / members:7.3f}  {entry[1] / members:8.1f}  {name} {where}")
    print(f"\nTop {top} of this package's functions by CPU including callees:")
    ours = [item for item in table.items() if "pulumi_azure_elastic_jobs" in item[0][0]]
    for (filename, line, name), entry in sorted(ours, key=lambda item: -item[1][3])[:top]:
        print(f"  {entry[3] * 1000 / members:7.3f}  {entry[1] / members:8.1f}  {name} {Path(filename).name}:{line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0, help="the job's duration (real seconds)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", type=Path, help="keep the merged profile here (pstats format)")
    parser.add_argument("--serve-plugin", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:3] if sys.argv[1:2] == ["--serve-plugin"] else None)
    if args.serve_plugin:
        serve_profiled_plugin(args.serve_plugin)
        return
    with tempfile.TemporaryDirectory() as tmp:
        output = args.save or Path(tmp) / "plugin.prof"
        measured = profile_large_fleet(args.members, args.seconds, output)
        print(
            f"5c under the profiler: a set of {args.members} on a {args.seconds:g} s job took "
            f"{measured['wall_seconds']:.1f} s; plugin CPU {measured['cpu_ms_per_member']:.2f} ms per member "
            f"(profiled); requests {measured['requests']}"
        )
        report(output, args.members, args.top)


if __name__ == "__main__":
    main()
