"""The emulator under 200 concurrent clients for a minute: no unasked-for errors, nothing lost or doubled,
and everything still there after a kill -9 and a restart from its data directory; and its resident memory
flat while the bookkeeping beside its resources (request log, operation records, issued tokens) turns over.

``EMULATOR_LOAD_SECONDS`` shortens the first run for a quick local check (default 60), ``EMULATOR_SOAK_SECONDS``
the second (default 30).
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.conftest import SEED, job_ref

CLIENTS = 200
SECONDS = float(os.environ.get("EMULATOR_LOAD_SECONDS", "60"))
SOAK_SECONDS = float(os.environ.get("EMULATOR_SOAK_SECONDS", "30"))
SOAK_HISTORY = 500
"""Small, so that the soak turns each bounded record over many times: what it proves holds for any size."""


def test_two_hundred_clients_for_a_minute_lose_nothing_and_survive_kill_9(tmp_path: Path) -> None:
    job = job_ref("rebuild-indexes")
    api = "?api-version=2025-01-01"
    put_ids: list[str] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    with Emulator(in_process=False, data_dir=tmp_path, seed=SEED, time_scale=100) as emulator:
        base = f"{emulator.url}{job.path}/executions"
        stop = time.monotonic() + SECONDS

        def client(number: int) -> None:
            session = requests.Session()
            session.headers["Authorization"] = "Bearer load"
            mine: list[str] = []
            rng = random.Random(number)
            while time.monotonic() < stop:
                action = rng.choice(("put", "put", "get", "list", "cancel"))
                try:
                    if action == "put" or not mine:
                        execution_id = str(uuid.uuid4())
                        response = session.put(f"{base}/{execution_id}{api}", timeout=60)
                        if response.status_code == 201:
                            mine.append(execution_id)
                    elif action == "get":
                        response = session.get(f"{base}/{rng.choice(mine)}{api}", timeout=60)
                    elif action == "list":
                        response = session.get(f"{base}{api}&$top=20", timeout=60)
                    else:
                        response = session.post(f"{base}/{rng.choice(mine)}/cancel{api}", timeout=60)
                except requests.RequestException as error:
                    with lock:
                        errors.append(f"{action}: {type(error).__name__}: {error}")
                    continue
                with lock:
                    statuses[response.status_code] += 1
            with lock:
                put_ids.extend(mine)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 120)
        assert errors == [], errors[:5]
        assert set(statuses) <= {200, 201}, statuses
        assert sum(statuses.values()) > CLIENTS
        with ElasticJobsClient(emulator.url, StaticToken("t"), retry_budget_seconds=30) as arm:
            listed = [e.properties.job_execution_id for e in arm.list_executions(job)]
        assert len(listed) == len(set(listed)) >= len(put_ids) > 0
        assert set(put_ids) <= set(listed)
        emulator.kill()
    with Emulator(in_process=False, data_dir=tmp_path, time_scale=100) as restarted:
        with ElasticJobsClient(restarted.url, StaticToken("t"), retry_budget_seconds=30) as arm:
            after = [e.properties.job_execution_id for e in arm.list_executions(job)]
    assert sorted(after) == sorted(listed)


def resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def test_resident_memory_stays_flat_while_the_request_log_operations_and_tokens_turn_over() -> None:
    """Every cycle adds one request-log entry per call, an operation record (a PUT answered 202) and an issued
    token, and no resource: what grows is bookkeeping alone. After the first third (each bound reached several
    times over) resident memory must stay where it was."""
    job = job_ref("rebuild-indexes")
    api = {"api-version": "2025-01-01"}
    counts: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    with Emulator(
        in_process=False, seed=SEED, time_scale=100, async_put="always", history_size=SOAK_HISTORY
    ) as emulator:
        assert emulator.pid is not None
        emulator.add_service_principal("tenant", "soak-client", "soak-secret")
        base = f"{emulator.url}{job.path}/executions"
        execution_ids = [str(uuid.uuid4()) for _ in range(20)]
        stop = time.monotonic() + SOAK_SECONDS

        def client() -> None:
            session = requests.Session()
            session.headers["Authorization"] = "Bearer soak"
            for number in itertools.count():
                if time.monotonic() >= stop:
                    return
                try:
                    put = session.put(f"{base}/{execution_ids[number % len(execution_ids)]}", params=api, timeout=30)
                    status = session.get(put.headers["Azure-AsyncOperation"], timeout=30)
                    token = session.post(
                        f"{emulator.url}/tenant/oauth2/v2.0/token",
                        data={
                            "grant_type": "client_credentials",
                            "client_id": "soak-client",
                            "client_secret": "soak-secret",
                        },
                        timeout=30,
                    )
                except (requests.RequestException, KeyError) as error:
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}")
                    continue
                with lock:
                    counts.update(f"{r.request.method} {r.status_code}" for r in (put, status, token))

        threads = [threading.Thread(target=client) for _ in range(8)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        samples: list[tuple[float, int]] = []
        while any(thread.is_alive() for thread in threads):
            samples.append((time.monotonic() - started, resident_kib(emulator.pid)))
            time.sleep(0.25)
        for thread in threads:
            thread.join()
        assert errors == [], errors[:5]
        assert set(counts) <= {"PUT 202", "GET 200", "POST 200"}, counts
        cycles = counts["POST 200"]
        assert cycles > 6 * SOAK_HISTORY, f"only {cycles} cycles: too few to turn the history over"
        assert len(emulator.requests_log()) <= SOAK_HISTORY
        third = SOAK_SECONDS / 3
        settled = max(kib for at, kib in samples if third <= at < 2 * third)
        final = max(kib for at, kib in samples if at >= 2 * third)
        print(
            f"soak: {cycles} cycles in {SOAK_SECONDS:g} s; RSS first third max "
            f"{max(kib for at, kib in samples if at < third)} KiB, second {settled} KiB, last {final} KiB"
        )
        assert final - settled < 1536, f"resident memory grew {final - settled} KiB in the last third"
