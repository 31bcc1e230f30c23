"""The swagger's own execution examples, replayed against the emulator with their own parameters.

Each ``x-ms-examples`` entry of the JobExecutions operations names a file of parameters (subscription, group,
server, agent, job, execution id, filters) and the answers Microsoft documents. The emulator is arranged with the
agent, jobs and run history those answers describe (its service clock set to the examples' 2017 dates), then
the request is sent as an Azure client would build it from the parameters, and the answer's status and shape are
held against the example's: the status must be one it lists, and every property it shows must be there with a
value of the same JSON type. Values themselves are not compared where the examples disagree with their own
parameters (an execution id that differs from its ``name``, a filtered list holding an item outside its filter).
Examples the team has not copied from upstream are reported as skipped, by name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from elastic_jobs_emulator import Emulator

SPEC = Path(__file__).resolve().parent / "schema" / "2025-01-01"
LIFECYCLES = {
    "Created",
    "InProgress",
    "WaitingForChildJobExecutions",
    "WaitingForRetry",
    "Succeeded",
    "SucceededWithSkipped",
    "Failed",
    "TimedOut",
    "Canceled",
    "Skipped",
}


def execution_examples() -> list[tuple[str, str, str, str]]:
    """(file name, operation id, method, path template) for every example the JobExecutions swagger names."""
    swagger = json.loads((SPEC / "JobExecutions.json").read_text())
    found = []
    for template, operations in swagger["paths"].items():
        for method, operation in operations.items():
            for reference in operation.get("x-ms-examples", {}).values():
                name = reference["$ref"].rsplit("/", 1)[-1]
                found.append((name, operation["operationId"], method.upper(), template))
    return found


EXAMPLES = execution_examples()


def moment(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


@pytest.fixture
def service() -> Iterator[Emulator]:
    # Time scale 1 and no poll hints: the examples' run history is laid out by moving the service clock.
    with Emulator(poll_hints=False) as running:
        yield running


class World:
    """The example's agent, seen through ARM as a client would arrange it."""

    def __init__(self, service: Emulator, parameters: dict[str, Any]) -> None:
        self.service, self.parameters = service, parameters
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {service.token}"
        p = parameters
        self.server = (
            f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
            f"/providers/Microsoft.Sql/servers/{p['serverName']}"
        )
        self.agent = f"{self.server}/jobAgents/{p['jobAgentName']}"

    def put(self, path: str, body: Any = None) -> requests.Response:
        response = self.session.put(
            f"{self.service.url}{path}", params={"api-version": "2025-01-01"}, json=body, timeout=10
        )
        assert response.status_code in (200, 201), response.text
        return response

    def agent_with_jobs(self, *jobs: str) -> None:
        self.put(self.agent, {"location": "westeurope", "properties": {"databaseId": f"{self.server}/databases/jobs"}})
        members = [{"type": "SqlDatabase", "serverName": self.parameters["serverName"], "databaseName": "db1"}]
        self.put(f"{self.agent}/targetGroups/tg", {"properties": {"members": members}})
        for job in jobs:
            self.put(f"{self.agent}/jobs/{job}", {"properties": {"description": "from the swagger example"}})
            step = {
                "targetGroup": f"{self.agent}/targetGroups/tg",
                "action": {"value": "SELECT 1; -- emulator:duration=1200"},
            }
            self.put(f"{self.agent}/jobs/{job}/steps/step1", {"properties": step})

    def history(self, answers: list[dict[str, Any]]) -> None:
        """Each execution the example answers with, started at its own createTime (a 20-minute run)."""
        for item in answers:
            job = item["id"].split("/jobs/")[1].split("/")[0]
            self.agent_with_jobs(job)
            self.at(item["properties"]["createTime"])
            self.put(f"{self.agent}/jobs/{job}/executions/{item['properties']['jobExecutionId']}")
        self.at("2018-01-01T00:00:00Z")  # every run of the examples has ended

    def at(self, when: str) -> None:
        self.service.settings(clock_offset_seconds=moment(when) - time.time())


def request_of(template: str, parameters: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The path and query an Azure client builds from an example's parameters."""
    path = template
    query = {}
    for name, value in parameters.items():
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", str(value))
        else:
            query[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return path, query


RECORDED_ABSENT = {"currentAttemptStartTime"}
"""Members an example documents on a job execution that the live service never sends there (recorded: a job
execution counts no attempts of its own, so it has no attempt start time; steps and targets carry one)."""


def assert_shaped_like(answered: Any, documented: Any, where: str = "body") -> None:
    """Every member the example documents is answered, with a value of the same JSON type, except where the
    recorded service says otherwise (:data:`RECORDED_ABSENT`, on job executions only)."""
    if isinstance(documented, dict):
        assert isinstance(answered, dict), f"{where}: {answered!r}"
        job_level = "stepName" not in documented
        for key, value in documented.items():
            if key == "nextLink":  # a page boundary of the example's service, not a property
                continue
            if job_level and key in RECORDED_ABSENT:
                assert key not in answered, f"{where}.{key}: the live service sends none on a job execution"
                continue
            assert key in answered, f"{where}.{key} missing from {answered!r}"
            assert_shaped_like(answered[key], value, f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(answered, list) and answered, f"{where}: {answered!r}"
        for number, item in enumerate(answered):
            assert_shaped_like(item, documented[0], f"{where}[{number}]")
    else:
        assert type(answered) is type(documented), f"{where}: {answered!r} is not like {documented!r}"


@pytest.mark.parametrize(("name", "operation", "method", "template"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_execution_example_of_the_swagger_replays_with_its_own_parameters(
    service: Emulator, name: str, operation: str, method: str, template: str
) -> None:
    path_of_example = SPEC / "examples" / name
    if not path_of_example.exists():
        pytest.skip(f"{name} ({operation}) is not among the examples copied from upstream")
    example = json.loads(path_of_example.read_text())
    parameters, responses = example["parameters"], example["responses"]
    world = World(service, parameters)
    documented = next((r["body"] for r in responses.values() if r.get("body")), None)
    listed = documented.get("value") if isinstance(documented, dict) else None
    if listed:
        world.history(listed)
    else:
        world.agent_with_jobs(parameters["jobName"])
    path, query = request_of(template, parameters)
    answer = world.session.request(method, f"{service.url}{path}", params=query, timeout=10)
    assert str(answer.status_code) in responses, (answer.status_code, answer.text)
    if documented is None:
        return
    body = answer.json()
    assert_shaped_like(body, documented)
    items = body["value"] if listed else [body]
    for item in items:
        assert item["properties"]["lifecycle"] in LIFECYCLES
        assert item["id"].lower().startswith(world.agent.lower() + "/jobs/")
        assert item["type"].endswith("/executions") and item["name"] == item["id"].rsplit("/", 1)[-1]
    if listed is None:
        assert body["properties"]["jobExecutionId"].lower() == parameters["jobExecutionId"].lower()
        assert path.lower() == body["id"].lower()
        again = world.session.request(method, f"{service.url}{path}", params=query, timeout=10)
        assert again.status_code == 200 and "200" in responses  # the same id again: the same run, no new one
        return
    answered_ids = {item["properties"]["jobExecutionId"].lower() for item in items}
    wanted = {
        item["properties"]["jobExecutionId"].lower()
        for item in listed
        if within(item["properties"], parameters)  # the example's own list breaks its filter once
    }
    assert wanted and answered_ids == wanted


def within(properties: dict[str, Any], parameters: dict[str, Any]) -> bool:
    created = moment(properties["createTime"])
    ended = created + 0.5 + 1200  # arranged: starts half a second after its creation, runs 20 minutes
    bounds = {name: moment(parameters[name]) for name in parameters if name.endswith(("Min", "Max"))}
    return bounds.get("createTimeMin", created) <= created <= bounds.get("createTimeMax", created) and bounds.get(
        "endTimeMin", ended
    ) <= ended <= bounds.get("endTimeMax", ended)
