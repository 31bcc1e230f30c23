"""Every answer of a whole Elastic Jobs lifecycle, judged by the 2025-01-01 swagger with a JSON-schema validator.

The swagger files are the team's copy of the official contract (``../shared/spec/2025-01-01``, vendored in
``emulator/tests/schema`` so CI needs nothing else; a test checks the two agree). Their ``$ref``s across files resolve
through one registry laid out as in azure-rest-api-specs; the shared ARM types they point outside the folder at
(ProxyResource, ErrorResponse, the operation-status result) are stand-ins written for this test
(``tests/schema/common-types.json``). Each call is matched to its operation by path and method, and its body is
validated against the response schema for its status (``default`` for errors).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jsonschema
import pytest
import requests
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from tests.conftest import ROOT, SEED, TIME_SCALE

SCHEMA = Path(__file__).resolve().parent / "schema"
SHARED_SPEC = ROOT.parent / "shared" / "spec" / "2025-01-01"
BASE = "https://specs.test/specification/sql/resource-manager/"
SPEC_URI = f"{BASE}Microsoft.Sql/stable/2025-01-01/"
COMMON_URIS = (
    f"{BASE}common/v1/types.json",
    "https://specs.test/specification/common-types/resource-management/v5/types.json",
)
AGENT = f"/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/group1/providers/Microsoft.Sql/servers/server1/jobAgents"


def spec_files() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted((SCHEMA / "2025-01-01").glob("*.json"))}


def write_only(spec: dict[str, Any]) -> bool:
    return bool(spec.get("x-ms-secret")) or "read" not in spec.get("x-ms-mutability", ["read"])


def as_answered(schema: Any) -> Any:
    """A schema as it applies to answers: a write-only property (``x-ms-secret``, or an ``x-ms-mutability``
    without ``read``, such as a credential's password) is required when sent and never sent back."""
    if isinstance(schema, list):
        return [as_answered(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    answered = {key: as_answered(value) for key, value in schema.items()}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    secrets = {name for name, spec in properties.items() if isinstance(spec, dict) and write_only(spec)}
    if secrets and "required" in answered:
        answered["required"] = [name for name in answered["required"] if name not in secrets]
    return answered


def registry() -> Registry:
    resources = [(SPEC_URI + name, as_answered(document)) for name, document in spec_files().items()]
    common = json.loads((SCHEMA / "common-types.json").read_text())
    resources += [(uri, common) for uri in COMMON_URIS]
    return Registry().with_resources(
        (uri, Resource.from_contents(document, default_specification=DRAFT4)) for uri, document in resources
    )


class Contract:
    """The operations of the swagger, matched by path and method; validates answers and records which it saw."""

    def __init__(self) -> None:
        self.registry = registry()
        self.operations: list[tuple[re.Pattern[str], str, str, str, dict[str, Any]]] = []
        for name, document in spec_files().items():
            for template, methods in document["paths"].items():
                pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$", re.IGNORECASE)
                for method, operation in methods.items():
                    if method != "parameters":
                        self.operations.append((pattern, method.upper(), name, template, operation))
        self.seen: set[tuple[str, str, str]] = set()

    def operation(self, method: str, path: str) -> tuple[str, str, dict[str, Any]]:
        for pattern, op_method, name, template, operation in self.operations:
            if op_method == method and pattern.match(path):
                return name, template, operation
        raise AssertionError(f"no operation in the swagger for {method} {path}")

    def check(self, method: str, path: str, response: requests.Response) -> None:
        name, template, operation = self.operation(method, path)
        answers = operation["responses"]
        declared = answers.get(str(response.status_code)) or answers["default"]
        if response.status_code < 400:
            assert str(response.status_code) in answers, f"{method} {template} answered {response.status_code}"
        self.seen.add((method, template, str(response.status_code)))
        if "schema" in declared and response.content:
            self.validate(SPEC_URI + name, declared["schema"], response.json(), f"{method} {path}")
        elif "schema" in declared:
            raise AssertionError(f"{method} {path} answered {response.status_code} with no body")

    def validate(self, base: str, schema: dict[str, Any], body: Any, where: str) -> None:
        reference = schema.get("$ref")
        assert isinstance(reference, str), f"{where}: an inline response schema ({schema})"
        absolute = urljoin(base, reference)
        validator = jsonschema.Draft4Validator({"$ref": absolute}, registry=self.registry)
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
        assert problems == [], f"{where}: {problems}"


@pytest.fixture
def service() -> Iterator[Emulator]:
    with Emulator(time_scale=TIME_SCALE, seed=SEED, async_put="new") as running:
        yield running


@pytest.fixture
def contract() -> Contract:
    return Contract()


def test_the_vendored_swagger_is_the_teams_copy() -> None:
    if not SHARED_SPEC.exists():
        pytest.skip(f"no team copy at {SHARED_SPEC} on this machine; the vendored files stand alone")
    for path in sorted(SHARED_SPEC.rglob("*.json")):  # the swagger files and the examples copied with them
        name = path.relative_to(SHARED_SPEC)
        assert json.loads(path.read_text()) == json.loads((SCHEMA / "2025-01-01" / name).read_text()), name


def test_every_answer_of_a_whole_lifecycle_matches_the_swagger(service: Emulator, contract: Contract) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {service.token}"

    def call(method: str, path: str, body: Any = None, version: str = "2025-01-01") -> requests.Response:
        response = session.request(method, f"{service.url}{path}", params={"api-version": version}, json=body)
        contract.check(method, path, response)
        return response

    def follow(response: requests.Response) -> None:
        """A 202's operation URLs: the status document (common operation-status result) and the result."""
        status_url = response.headers["Azure-AsyncOperation"].split("?")[0].removeprefix(service.url)
        status = session.get(service.url + status_url, params={"api-version": "2025-01-01"})
        common = COMMON_URIS[1]
        contract.validate(common, {"$ref": "#/definitions/OperationStatusResult"}, status.json(), status_url)

    agent = f"{AGENT}/agent1"
    call("GET", AGENT)
    call("GET", agent)
    call("PUT", f"{AGENT}/agent-schema", {"location": "westeurope", "properties": {"databaseId": "/x"}})
    call("PATCH", f"{AGENT}/agent-schema", {"tags": {"team": "data"}})
    group = f"{agent}/targetGroups/mixed"
    members = [
        {"type": "SqlDatabase", "serverName": "server1", "databaseName": "app-db-1"},
        {"type": "SqlServer", "serverName": "server2", "refreshCredential": f"{agent}/credentials/job-runner"},
        {
            "type": "SqlElasticPool",
            "serverName": "server3",
            "elasticPoolName": "pool1",
            "refreshCredential": f"{agent}/credentials/job-runner",
        },
    ]
    call("PUT", group, {"properties": {"members": members}})
    call("GET", group)
    call("GET", f"{agent}/targetGroups")
    call("PUT", f"{agent}/credentials/schema-cred", {"properties": {"username": "u", "password": "p"}})
    call("GET", f"{agent}/credentials/schema-cred")
    call("GET", f"{agent}/credentials")
    job = f"{agent}/jobs/schema-{uuid.uuid4().hex[:6]}"
    call("PUT", job, {"properties": {"description": "schema test"}})
    call("GET", job)
    call("GET", f"{agent}/jobs")
    step = {"targetGroup": group, "action": {"value": "SELECT 1; -- emulator:duration=300"}}
    call("PUT", f"{job}/steps/first", {"properties": {**step, "stepId": 1}})
    call("PUT", f"{job}/steps/second", {"properties": step})
    call("GET", f"{job}/steps/first")
    call("GET", f"{job}/steps")
    call("GET", f"{job}/versions")
    call("GET", f"{job}/versions/2")
    call("GET", f"{job}/versions/2/steps")
    call("GET", f"{job}/versions/2/steps/first")

    execution = f"{job}/executions/{uuid.uuid4()}"
    follow(call("PUT", execution))  # a new id: 202, as ARM may answer
    call("PUT", execution)  # the same id again: 200, no new run
    while (
        session.get(f"{service.url}{execution}", params={"api-version": "2025-01-01"}).json()["properties"]["lifecycle"]
        == "Created"
    ):
        time.sleep(0.02)  # until its targets run: active step and target executions, no end times yet
    for _ in range(2):  # while it runs, then once it has ended
        call("GET", execution)
        call("GET", f"{job}/executions")
        call("GET", f"{agent}/executions")
        steps = call("GET", f"{execution}/steps").json()["value"]
        call("GET", f"{execution}/steps/{steps[0]['name']}")
        targets = call("GET", f"{execution}/targets").json()["value"]
        call("GET", f"{execution}/steps/{steps[0]['name']}/targets")
        call("GET", f"{execution}/steps/{steps[0]['name']}/targets/{targets[0]['name']}")
        assert {t["properties"]["target"]["type"] for t in targets} >= {"SqlDatabase", "SqlServer"}
        service.settings(clock_offset_seconds=3600.0)
    call("POST", f"{execution}/cancel")
    call("POST", f"{job}/start")  # as recorded: 200 with the new run
    service.add_fault("async", path="/start")
    follow(call("POST", f"{job}/start"))  # the swagger's long-running reading: 202 with operation URLs
    call("GET", f"{job}/executions/{uuid.uuid4()}")  # 404: ARM's error body
    call("GET", execution, version="2099-01-01")  # 400 InvalidApiVersionParameter
    call("DELETE", f"{job}/steps/second")
    call("DELETE", job)
    call("DELETE", f"{agent}/credentials/schema-cred")
    call("DELETE", group)
    call("DELETE", f"{AGENT}/agent-schema")

    gets = {(method, template) for method, template, _ in contract.seen if method == "GET"}
    every_get = {(m, t) for _, m, _, t, _ in contract.operations if m == "GET"}
    assert every_get <= gets, every_get - gets


def test_an_unknown_api_version_is_refused_in_arms_words(service: Emulator) -> None:
    answer = requests.get(
        f"{service.url}{AGENT}/agent1",
        params={"api-version": "2099-01-01"},
        headers={"Authorization": f"Bearer {service.token}"},
    ).json()["error"]
    assert answer["code"] == "InvalidApiVersionParameter"
    listed = re.fullmatch(
        r"The api-version '2099-01-01' is invalid\. The supported versions are '([^']+)'\.", answer["message"]
    )
    assert listed, answer["message"]
    versions = listed.group(1).split(",")
    assert versions[0] == "2026-08-01-preview" and "2025-01-01" in versions and " " not in listed.group(1)
    assert versions == sorted(versions, key=lambda v: (v[:10], not v.endswith("-preview")), reverse=True)
    for version in ("2026-08-01-preview", "2025-01-01", "2021-11-01"):
        ok = requests.get(
            f"{service.url}{AGENT}/agent1", params={"api-version": version}, headers={"Authorization": "Bearer x"}
        )
        assert ok.status_code == 200, (version, ok.text)
