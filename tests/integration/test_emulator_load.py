"""The emulator under 200 concurrent clients for a minute: no unasked-for errors, nothing lost or doubled,
and everything still there after a kill -9 and a restart from its data directory.

``EMULATOR_LOAD_SECONDS`` shortens the run for a quick local check (default 60).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.emulator import Emulator
from tests.conftest import SEED, job_ref

CLIENTS = 200
SECONDS = float(os.environ.get("EMULATOR_LOAD_SECONDS", "60"))


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
