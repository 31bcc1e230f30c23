"""Seeding: a JSON/YAML fixture of servers, databases, elastic pools, agents, jobs, steps and target groups created
at start (or through the admin API's ``POST /_emulator/seed``), as the ARM PUTs would create them.

Fixture shape (names as in ARM; bodies are ARM ``properties``)::

    strictSubscriptions: [00000000-0000-0000-0000-000000000000]    # optional: strict mode, only these (and the
                                                                  # ones below) exist; others answer 404
    deniedReads:                                                  # optional: GETs in a subscription answer 403
      11111111-1111-1111-1111-111111111111: ["*"]                 # AuthorizationFailed to these client ids
                                                                  # ("*": every identity)
    subscriptions:
      00000000-0000-0000-0000-000000000000:
        resourceGroups:
          group1:
            servers:
              server1:
                location: westeurope          # optional; with any of location, administratorLogin, properties,
                administratorLogin: admin1    # tags, elasticPools or databases, server1 is a Microsoft.Sql/servers
                elasticPools:                 # resource (with its master database); with only jobAgents it is
                  pool1: {sku: {name: GP_Gen5, tier: GeneralPurpose, family: Gen5, capacity: 2}}   # not modelled
                databases:
                  app-db-1: {}                              # a user database (sku, properties, location optional)
                  app-db-2: {elasticPool: pool1}            # in pool1
                jobAgents:
                  agent1:
                    databaseId: /subscriptions/.../databases/jobsdb   # optional
                    targetGroups: {tg1: {members: [{type: SqlServer, serverName: server1}]}}
                    jobs:
                      job1:
                        description: nightly migration
                        steps: {step1: {targetGroup: tg1, action: {value: "SELECT 1"}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pulumi_azure_elastic_jobs.ids import uuid_problem

from .access import EVERY_IDENTITY
from .backend import Agent, Backend
from .fleet import ServerRef

DEFAULT_LOCATION = "westeurope"
_SERVER_KEYS = frozenset({"location", "administratorLogin", "properties", "tags", "elasticPools", "databases"})
"""A seeded server with any of these is a Microsoft.Sql/servers resource; with only ``jobAgents`` it is not."""


def load_fixture(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        loaded = yaml.safe_load(text)
    else:
        import json

        loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: a seed fixture is a mapping with a 'subscriptions' key")
    return loaded


def subscriptions_of(fixture: dict[str, Any]) -> tuple[set[str] | None, set[str]]:
    """The fixture's ``strictSubscriptions`` (None when it names none) and the subscriptions it creates resources in,
    lowercased. Raises ValueError for an id that is not a UUID."""
    strict = fixture.get("strictSubscriptions")
    if strict is not None and not isinstance(strict, list):
        raise ValueError("strictSubscriptions is a list of subscription ids")
    used = [str(key) for key in (fixture.get("subscriptions") or {})]
    for subscription in [*(strict or []), *used]:
        problem = uuid_problem(str(subscription))
        if problem:
            raise ValueError(f"a seed's subscription id {problem}")
    return (None if strict is None else {str(s).lower() for s in strict}), {s.lower() for s in used}


def denied_reads_of(fixture: dict[str, Any]) -> dict[str, list[str]]:
    """The fixture's ``deniedReads``: subscription -> client ids (``*``: every identity). Raises ValueError for
    a subscription id that is not a UUID or a value that is not a list of client ids."""
    denials = fixture.get("deniedReads") or {}
    if not isinstance(denials, dict):
        raise ValueError("deniedReads maps a subscription id to a list of client ids ('*': every identity)")
    out: dict[str, list[str]] = {}
    for subscription, clients in denials.items():
        problem = uuid_problem(str(subscription))
        if problem:
            raise ValueError(f"a seed's subscription id {problem}")
        if not isinstance(clients, list) or not clients:
            raise ValueError(f"deniedReads of {subscription} is a list of client ids, or ['{EVERY_IDENTITY}']")
        out[str(subscription)] = [str(client) for client in clients]
    return out


def _apply_server(backend: Backend, ref: ServerRef, spec: dict[str, Any]) -> int:
    """Create a seeded server, its elastic pools, then its databases; returns how many resources."""
    location = spec.get("location", DEFAULT_LOCATION)
    properties = dict(spec.get("properties") or {})
    if "administratorLogin" in spec:
        properties["administratorLogin"] = spec["administratorLogin"]
    body = {"location": location, "properties": properties, **({"tags": spec["tags"]} if "tags" in spec else {})}
    backend.fleet.put_server(ref, body)
    created = 1
    for name, pool in (spec.get("elasticPools") or {}).items():
        backend.fleet.put_pool(ref, name, {"location": location, **(pool or {})})
        created += 1
    for name, database in (spec.get("databases") or {}).items():
        database = dict(database or {})
        pool_name = database.pop("elasticPool", None)
        if pool_name:
            pool_id = f"{ref.id}/elasticPools/{pool_name}"
            database["properties"] = {**(database.get("properties") or {}), "elasticPoolId": pool_id}
        backend.fleet.put_database(ref, name, {"location": location, **database})
        created += 1
    return created


def apply_seed(backend: Backend, fixture: dict[str, Any]) -> int:
    """Create everything the fixture names (idempotent: PUT semantics); returns how many resources."""
    created = 0
    for subscription, sub in (fixture.get("subscriptions") or {}).items():
        for group, rg in (sub.get("resourceGroups") or {}).items():
            for server, srv in (rg.get("servers") or {}).items():
                if _SERVER_KEYS & set(srv or {}):
                    created += _apply_server(backend, ServerRef(str(subscription), group, server), srv)
                for agent_name, spec in (srv.get("jobAgents") or {}).items():
                    agent = Agent(str(subscription), group, server, agent_name)
                    database_id = spec.get("databaseId") or (f"{agent.server_id}/databases/{agent_name}-jobs")
                    backend.put_agent(
                        agent,
                        {
                            "location": spec.get("location", "westeurope"),
                            "properties": {"databaseId": database_id},
                        },
                    )
                    created += 1
                    for name, group_spec in (spec.get("targetGroups") or {}).items():
                        backend.put_child(agent, "targetGroups", name, {"properties": group_spec})
                        created += 1
                    for name, credential in (spec.get("credentials") or {}).items():
                        backend.put_child(agent, "credentials", name, {"properties": credential})
                        created += 1
                    for job_name, job in (spec.get("jobs") or {}).items():
                        steps = job.get("steps") or {}
                        properties = {key: value for key, value in job.items() if key != "steps"}
                        backend.put_child(agent, "jobs", job_name, {"properties": properties})
                        created += 1
                        for step_name, step in steps.items():
                            target_group = step.get("targetGroup", "")
                            if target_group and "/" not in target_group:
                                step = {**step, "targetGroup": f"{agent.id}/targetGroups/{target_group}"}
                            backend.put_step(agent, job_name, step_name, {"properties": step})
                            created += 1
    return created
