"""Poll hints (``--poll-hints``): an answer that shows a run still active also says when it next changes, because
the run and the hint are read at one instant of the service clock. Read at two instants, a run that ended between
them came back active with no hint, and a waiting client then paused a whole poll interval (a set of 32 took 8 s
instead of 3 in the benchmarks)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from elastic_jobs_emulator.backend import Agent, Backend, Clock
from elastic_jobs_emulator.fleet import ServerRef
from elastic_jobs_emulator.store import Store

WEST = {"location": "westeurope"}
ACTIVE = ("Created", "InProgress", "WaitingForChildJobExecutions")


def backend_with_a_run(seconds: int) -> tuple[Backend, Agent, str, float]:
    """A backend, one job of ``seconds`` and one run of it started at the returned instant; its clock then reads an
    hour later, so an answer that read the clock again instead of using the instant given shows up."""
    now = {"t": 1_000_000.0}
    backend = Backend(Store(None), clock=Clock(time_scale=1.0, source=lambda: now["t"]), poll_hints=True)
    server = ServerRef(str(uuid.uuid4()), "rg", "server1")
    backend.fleet.put_server(server, WEST)
    backend.fleet.put_database(server, "db1", WEST)
    agent = Agent(server.subscription, "rg", "server1", "agent1")
    backend.put_agent(agent, {**WEST, "properties": {"databaseId": f"{server.id}/databases/db1"}})
    member = {"type": "SqlDatabase", "serverName": "server1", "databaseName": "db1"}
    backend.put_child(agent, "targetGroups", "group", {"properties": {"members": [member]}})
    backend.put_child(agent, "jobs", "job", {"properties": {}})
    step = {"targetGroup": "group", "action": {"value": f"SELECT 1; -- emulator:duration={seconds}"}}
    backend.put_step(agent, "job", "step1", {"properties": step})
    run = str(backend.start_execution(agent, "job")["id"])
    began = now["t"]
    now["t"] = began + 3600  # the clock read anywhere else is long past the run: only the instant passed counts
    return backend, agent, run, began


@given(offset=st.floats(min_value=-1.0, max_value=12.0))
def test_a_run_shown_active_always_comes_with_a_hint_at_the_same_instant(offset: float) -> None:
    backend, agent, run, began = backend_with_a_run(10)
    now = began + offset
    (listed,) = backend.list_executions(agent.job_id("job"), False, {}, "http://emulator", now)["value"]
    if listed["properties"]["lifecycle"] in ACTIVE:
        assert backend.listing_hint(agent.job_id("job"), now) is not None
    if backend.render_execution(run, now=now)["properties"]["lifecycle"] in ACTIVE:
        assert backend.poll_hint(run, now=now) is not None
