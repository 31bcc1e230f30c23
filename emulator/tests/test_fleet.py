"""The fleet a run touches, over a real socket: servers, databases and elastic pools built with the official
azure-mgmt-sql client, a run that executes each step on each database its target groups expand to, a second run
that skips the databases the first is still active on; and the surfaces around them (lists that page, ARM's
errors, denied reads, seeding, api-versions)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest
import requests
from azure.core.credentials import AccessToken

from elastic_jobs_emulator import Emulator

API = {"api-version": "2025-01-01"}
HOUR = "SELECT 1; -- emulator:duration=3600"
"""A target that takes an emulated hour: 18 real seconds at the module emulator's time scale, ended by moving its
clock, never by waiting."""


@pytest.fixture(scope="module")
def fleet_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    # azure-core sends bearer tokens over HTTPS only; this test moves the service clock, so the emulator is its own.
    with Emulator(tls=True, data_dir=Path(tmp_path_factory.mktemp("fleet")), time_scale=200) as running:
        yield running


class DevCredential:
    """A TokenCredential for the emulator: any non-empty bearer token is accepted."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("emulator-dev-token", int(time.time()) + 3600)


def until(read: Any, lifecycle: str, within: float = 20.0) -> Any:
    """Read until the run shows ``lifecycle`` (the emulator's clock moves it; this only waits to see it)."""
    deadline = time.monotonic() + within
    while (value := read()).lifecycle != lifecycle and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def sql_client(emulator: Emulator, subscription: str) -> Any:
    from azure.mgmt.sql import SqlManagementClient

    return SqlManagementClient(
        DevCredential(),
        subscription,
        base_url=emulator.url,
        connection_verify=emulator.ca_bundle,
        polling_interval=0.05,
    )


def arm(emulator: Emulator, method: str, path: str, token: str = "t", **kwargs: Any) -> requests.Response:
    params = kwargs.pop("params", API)
    return requests.request(
        method,
        f"{emulator.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        verify=emulator.ca_bundle or True,
        **kwargs,
    )


def targets_of(sdk: Any, where: tuple[str, str, str, str], job: str, run: str, step: str) -> dict[tuple[str, str], Any]:
    """A step's target executions of a run, by (server, database)."""
    group, server, agent = where[1:]
    listed = sdk.job_target_executions.list_by_step(group, server, agent, job, run, step)
    return {(t.target.server_name, t.target.database_name): t for t in listed}


def test_the_official_sdk_builds_a_fleet_and_a_run_touches_exactly_its_expanded_databases(
    fleet_emulator: Emulator,
) -> None:
    from azure.mgmt.sql import models as m

    tag = uuid.uuid4().hex[:6]
    home, other = str(uuid.uuid4()), str(uuid.uuid4())  # two subscriptions, as a new user's own
    sdk, sdk_other = sql_client(fleet_emulator, home), sql_client(fleet_emulator, other)
    alpha, beta, rg_a, rg_b = f"alpha-{tag}", f"beta-{tag}", "fleet-a", "fleet-b"

    def server(client: Any, group: str, name: str) -> Any:
        body = m.Server(location="westeurope", administrator_login="admin1", administrator_login_password="S3cret!")
        return client.servers.begin_create_or_update(group, name, body).result()

    def database(client: Any, group: str, server_name: str, name: str, pool_id: str | None = None) -> None:
        body = m.Database(location="westeurope", elastic_pool_id=pool_id)
        client.databases.begin_create_or_update(group, server_name, name, body).result()

    created = server(sdk, rg_a, alpha)
    assert created.fully_qualified_domain_name == f"{alpha}.database.windows.net" and created.state == "Ready"
    assert created.administrator_login_password is None
    server(sdk_other, rg_b, beta)
    for name in ("a1", "a2", "a3"):
        database(sdk, rg_a, alpha, name)
    pool = sdk_other.elastic_pools.begin_create_or_update(
        rg_b, beta, "pool-b", m.ElasticPool(location="westeurope")
    ).result()
    for name in ("b1", "b2"):
        database(sdk_other, rg_b, beta, name, pool.id)
    database(sdk_other, rg_b, beta, "b3")

    # The fleet as the service lists it: master beside the user databases, pools with theirs.
    listed = {db.name: db for db in sdk.databases.list_by_server(rg_a, alpha)}
    assert set(listed) == {"master", "a1", "a2", "a3"}
    assert listed["master"].sku.name == "System" and listed["master"].kind == "v12.0,system"
    assert listed["master"].current_service_objective_name == "System0"
    assert {db.name for db in sdk_other.databases.list_by_elastic_pool(rg_b, beta, "pool-b")} == {"b1", "b2"}
    assert [p.name for p in sdk_other.elastic_pools.list_by_server(rg_b, beta)] == ["pool-b"]
    assert [s.name for s in sdk_other.servers.list()] == [beta]
    assert [s.name for s in sdk.servers.list_by_resource_group(rg_a)] == [alpha]

    # The agent lives on alpha; its target groups name servers by name, beta in another subscription.
    where = (home, rg_a, alpha, "agent")
    sdk.job_agents.begin_create_or_update(
        rg_a, alpha, "agent", m.JobAgent(location="westeurope", database_id=f"{created.id}/databases/a1")
    ).result()
    wide = sdk.job_target_groups.create_or_update(
        rg_a,
        alpha,
        "agent",
        "wide",
        m.JobTargetGroup(
            members=[
                m.JobTarget(type="SqlServer", server_name=alpha),
                m.JobTarget(type="SqlDatabase", server_name=alpha, database_name="a3", membership_type="Exclude"),
                m.JobTarget(type="SqlElasticPool", server_name=beta, elastic_pool_name="pool-b"),
                m.JobTarget(type="SqlDatabase", server_name=f"{beta}.database.windows.net", database_name="b3"),
            ]
        ),
    )
    narrow = sdk.job_target_groups.create_or_update(
        rg_a,
        alpha,
        "agent",
        "narrow",
        m.JobTargetGroup(
            members=[
                m.JobTarget(type="SqlServer", server_name=beta),
                m.JobTarget(
                    type="SqlElasticPool", server_name=beta, elastic_pool_name="pool-b", membership_type="Exclude"
                ),
            ]
        ),
    )
    job = "migrate"
    sdk.jobs.create_or_update(rg_a, alpha, "agent", job, m.Job(description="fleet"))
    for step, group in (("first", wide), ("second", narrow)):
        action = m.JobStepAction(value=HOUR)
        sdk.job_steps.create_or_update(rg_a, alpha, "agent", job, step, m.JobStep(target_group=group.id, action=action))

    def read(run: str) -> Any:
        return sdk.job_executions.get(rg_a, alpha, "agent", job, run)

    first = str(uuid.uuid4())
    # polling=False: the poller would follow the run's provisioningState to its end (a 201 of a created run).
    sdk.job_executions.begin_create_or_update(rg_a, alpha, "agent", job, first, polling=False).result()
    until(lambda: read(first), "WaitingForChildJobExecutions")
    fqdn = f"{beta}.database.windows.net"
    expected_first = {(alpha, "a1"), (alpha, "a2"), (beta, "b1"), (beta, "b2"), (fqdn, "b3")}
    first_step = targets_of(sdk, where, job, first, "first")
    assert set(first_step) == expected_first  # master never, a3 excluded, b3 once
    assert {t.target.type for t in first_step.values()} == {"SqlDatabase"}
    assert {t.lifecycle for t in first_step.values()} == {"InProgress"}

    database(sdk, rg_a, alpha, "a4")  # new since the first run began
    second = str(uuid.uuid4())
    sdk.job_executions.begin_create_or_update(rg_a, alpha, "agent", job, second, polling=False).result()
    until(lambda: read(second), "WaitingForChildJobExecutions")
    second_step = targets_of(sdk, where, job, second, "first")
    assert set(second_step) == expected_first | {(alpha, "a4")}
    assert second_step[alpha, "a4"].lifecycle == "InProgress"
    skipped = {key: t for key, t in second_step.items() if t.lifecycle == "Skipped"}
    assert set(skipped) == expected_first  # the first run is still active on every one of them
    assert f"job execution '{first}' of this job is still active on it" in skipped[alpha, "a1"].last_message

    fleet_emulator.settings(clock_offset_seconds=3600.0)  # both runs' hours are over
    assert until(lambda: read(first), "Succeeded").lifecycle == "Succeeded"
    assert set(targets_of(sdk, where, job, first, "second")) == {(beta, "b3")}  # the pool's databases excluded
    ended = until(lambda: read(second), "SucceededWithSkipped")
    assert ended.lifecycle == "SucceededWithSkipped"
    (late,) = targets_of(sdk, where, job, second, "second").values()
    assert late.lifecycle == "Skipped"  # the first run was still on b3 when the second's second step began


def test_a_server_with_more_databases_than_a_page_lists_them_a_page_at_a_time(fleet_emulator: Emulator) -> None:
    subscription, name = str(uuid.uuid4()), f"paged-{uuid.uuid4().hex[:6]}"
    databases = {f"db{number:03d}": {} for number in range(120)}
    servers = {name: {"databases": databases}}
    fixture = {"subscriptions": {subscription: {"resourceGroups": {"rg": {"servers": servers}}}}}
    fleet_emulator.seed(fixture)
    path = f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Sql/servers/{name}/databases"
    first = arm(fleet_emulator, "GET", path).json()
    assert len(first["value"]) == 100 and first["value"][0]["name"] == "master"
    link = urlparse(first["nextLink"])
    assert f"{link.scheme}://{link.netloc}" == fleet_emulator.url and link.path == path
    rest = arm(fleet_emulator, "GET", path, params=dict(parse_qsl(link.query))).json()
    assert len(rest["value"]) == 21 and "nextLink" not in rest
    every = [db.name for db in sql_client(fleet_emulator, subscription).databases.list_by_server("rg", name)]
    assert every == ["master", *databases]


def test_fleet_errors_are_arms(fleet_emulator: Emulator) -> None:
    subscription, name = str(uuid.uuid4()), f"errs-{uuid.uuid4().hex[:6]}"
    servers = f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Sql/servers"
    missing = arm(fleet_emulator, "GET", f"{servers}/{name}").json()["error"]
    assert missing == {
        "code": "ResourceNotFound",
        "message": f"The Resource 'Microsoft.Sql/servers/{name}' under resource group 'rg' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    }
    orphan = arm(fleet_emulator, "PUT", f"{servers}/{name}/databases/db1", json={"location": "westeurope"}).json()
    assert orphan["error"] == {
        "code": "ParentResourceNotFound",
        "message": f"Can not perform requested operation on nested resource. Parent resource '{name}' not found.",
    }
    no_location = arm(fleet_emulator, "PUT", f"{servers}/{name}", json={"properties": {}})
    assert no_location.status_code == 400 and no_location.json()["error"]["code"] == "LocationRequired"
    assert arm(fleet_emulator, "PUT", f"{servers}/{name}", json={"location": "westeurope"}).status_code == 201
    assert arm(fleet_emulator, "PUT", f"{servers}/{name}", json={"location": "westeurope"}).status_code == 200
    elsewhere = f"/subscriptions/{uuid.uuid4()}/resourceGroups/other/providers/Microsoft.Sql/servers/{name}"
    taken = arm(fleet_emulator, "PUT", elsewhere, json={"location": "westeurope"})
    assert taken.status_code == 400 and taken.json()["error"] == {
        "code": "NameAlreadyExists",
        "message": f"The name '{name}' already exists. Choose a different name.",
    }
    master = arm(fleet_emulator, "DELETE", f"{servers}/{name}/databases/master")
    assert master.status_code == 400 and master.json()["error"]["code"] == "CannotUseReservedDatabaseName"
    gone = arm(fleet_emulator, "GET", f"{servers}/{name}/databases/nope").json()["error"]
    assert gone == {
        "code": "ResourceNotFound",
        "message": "The requested resource of type 'Microsoft.Sql/servers/databases' with name 'nope' was not found.",
    }
    assert arm(fleet_emulator, "PUT", f"{servers}/{name}/elasticPools/p", json={"location": "westeurope"}).ok
    pooled = {"location": "westeurope", "properties": {"elasticPoolId": f"{servers}/{name}/elasticPools/p"}}
    assert arm(fleet_emulator, "PUT", f"{servers}/{name}/databases/in-pool", json=pooled).status_code == 201
    busy = arm(fleet_emulator, "DELETE", f"{servers}/{name}/elasticPools/p")
    assert busy.status_code == 400 and busy.json()["error"]["code"] == "ElasticPoolNotEmpty"
    no_pool = {"location": "westeurope", "properties": {"elasticPoolId": f"{servers}/{name}/elasticPools/q"}}
    assert arm(fleet_emulator, "PUT", f"{servers}/{name}/databases/x", json=no_pool).json()["error"]["code"] == (
        "ElasticPoolNotFound"
    )
    assert arm(fleet_emulator, "DELETE", f"{servers}/{name}").status_code == 200
    assert arm(fleet_emulator, "DELETE", f"{servers}/{name}").status_code == 204
    assert arm(fleet_emulator, "PUT", elsewhere, json={"location": "westeurope"}).status_code == 201  # free again


def test_an_identity_denied_reads_in_a_subscription_gets_arms_authorization_failed(fleet_emulator: Emulator) -> None:
    hidden, client_id, tenant = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    name = f"hidden-{uuid.uuid4().hex[:6]}"
    server = f"/subscriptions/{hidden}/resourceGroups/rg/providers/Microsoft.Sql/servers/{name}"
    assert arm(fleet_emulator, "PUT", server, json={"location": "westeurope"}).status_code == 201
    fleet_emulator.add_service_principal(tenant, client_id, "secret")
    issued = requests.post(
        f"{fleet_emulator.url}/{tenant}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "secret"},
        verify=fleet_emulator.ca_bundle,
        timeout=10,
    ).json()["access_token"]
    try:
        assert fleet_emulator.deny_reads(hidden, [client_id]) == {hidden: [client_id]}
        refused = arm(fleet_emulator, "GET", f"{server}/databases", token=issued)
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "AuthorizationFailed"
        assert error["message"].startswith(f"The client '{client_id}' with object id '")
        assert error["message"].endswith(
            "does not have authorization to perform action 'Microsoft.Sql/servers/databases/read' over scope "
            f"'{server}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        )
        listing = arm(fleet_emulator, "GET", f"/subscriptions/{hidden}/providers/Microsoft.Sql/servers", token=issued)
        scope = f"'Microsoft.Sql/servers/read' over scope '/subscriptions/{hidden}' or"
        assert scope in listing.json()["error"]["message"]
        assert arm(fleet_emulator, "GET", server).status_code == 200  # another identity still reads it
        assert arm(fleet_emulator, "PUT", f"{server}/databases/db1", token=issued, json={"location": "westeurope"}).ok

        fleet_emulator.deny_reads(hidden)  # every identity
        everyone = arm(fleet_emulator, "GET", server).json()["error"]["message"]
        assert "The client 'elastic-jobs-emulator' with object id" in everyone
        assert "'Microsoft.Sql/servers/read' over scope" in everyone
    finally:
        fleet_emulator.allow_reads()
    assert arm(fleet_emulator, "GET", server, token=issued).status_code == 200


def test_a_seed_builds_servers_databases_pools_and_denied_reads_and_keeps_the_old_format(
    fleet_emulator: Emulator,
) -> None:
    subscription, hidden, tag = str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4().hex[:6]
    fixture = {
        "deniedReads": {hidden: ["*"]},
        "subscriptions": {
            subscription: {
                "resourceGroups": {
                    "rg": {
                        "servers": {
                            f"seeded-{tag}": {
                                "administratorLogin": "admin1",
                                "elasticPools": {"pool1": {}},
                                "databases": {"db1": {}, "db2": {"elasticPool": "pool1"}},
                                "jobAgents": {"agent1": {}},
                            },
                            f"legacy-{tag}": {"jobAgents": {"agent1": {}}},
                        }
                    }
                }
            }
        },
    }
    fleet_emulator.seed(fixture)
    try:
        servers = f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Sql/servers"
        seeded = arm(fleet_emulator, "GET", f"{servers}/seeded-{tag}").json()
        assert seeded["properties"]["administratorLogin"] == "admin1"
        names = [db["name"] for db in arm(fleet_emulator, "GET", f"{servers}/seeded-{tag}/databases").json()["value"]]
        assert names == ["master", "db1", "db2"]
        pooled = arm(fleet_emulator, "GET", f"{servers}/seeded-{tag}/elasticPools/pool1/databases").json()["value"]
        assert [db["name"] for db in pooled] == ["db2"]
        assert arm(fleet_emulator, "GET", f"{servers}/legacy-{tag}").status_code == 404  # only agents: not modelled
        assert arm(fleet_emulator, "GET", f"{servers}/legacy-{tag}/jobAgents/agent1").status_code == 200
        denied = arm(fleet_emulator, "GET", f"/subscriptions/{hidden}/providers/Microsoft.Sql/servers")
        assert denied.status_code == 403
    finally:
        fleet_emulator.allow_reads()


def test_fleet_routes_accept_the_api_versions_older_sql_clients_send_and_jobs_routes_do_not(
    fleet_emulator: Emulator,
) -> None:
    subscription = str(uuid.uuid4())
    servers = f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Sql/servers"
    for version in ("2014-04-01", "2019-06-01-preview", "2021-11-01", "2025-01-01"):
        assert arm(fleet_emulator, "GET", servers, params={"api-version": version}).status_code == 200, version
    refused = arm(fleet_emulator, "GET", f"{servers}/s1/jobAgents", params={"api-version": "2014-04-01"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "InvalidApiVersionParameter"
    unknown = arm(fleet_emulator, "GET", servers, params={"api-version": "2099-01-01"}).json()["error"]["message"]
    assert "2014-04-01" in unknown  # the fleet's own list
