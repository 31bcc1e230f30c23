"""The fleet a run touches: logical servers, their databases and elastic pools as ARM resources, and the expansion
of a target group's members into the databases a step runs on.

Servers, databases and pools follow the public Microsoft.Sql contract (Servers.json, Databases.json and
ElasticPools.json of 2025-01-01): a PUT creates or replaces and answers 201 or 200 at once (the swagger also allows
202), values marked readOnly are the service's (a server's ``fullyQualifiedDomainName`` and ``state``, a database's
``status``, ``databaseId`` and service objective), a server comes with its ``master`` database, listed as the live
service lists it, and lists page with ``nextLink``. A server's name is globally unique, as its DNS name
(``name.database.windows.net``) makes it: a target member names only a server, and expansion finds it wherever it
lives, in any resource group or subscription.

Job agents may live under a server that was never put here (the emulator allowed that before it modelled
servers, and still does); such a server is *not modelled*: a SqlDatabase member on it runs as named, a server or
pool member on it fails its target with a message that says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulumi_azure_elastic_jobs.ids import (
    SQL_SERVER_DOMAIN,
    child_name_problem,
    resource_group_problem,
    server_problem,
    server_short_name,
    uuid_problem,
)
from pulumi_azure_elastic_jobs.models import (
    DATABASE_TYPE,
    ELASTIC_POOL_TYPE,
    SERVER_TYPE,
    Database,
    ElasticPool,
    JobTargetType,
    Server,
)
from pulumi_azure_elastic_jobs.terms import SYSTEM_DATABASES

from . import engine
from .arm import ArmFailure, check_name, not_found, offset_page, present, validated
from .store import Document, Store, key_of

COLLATION = "SQL_Latin1_General_CP1_CI_AS"
DEFAULT_SKU = {"name": "GP_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2}
"""What a database or pool put without a sku gets (a guess at the service's default: General Purpose, Gen5,
2 vCores)."""
VCORE_TIERS = frozenset({"generalpurpose", "businesscritical", "hyperscale"})
DEFAULT_MAX_SIZE_BYTES = 34_359_738_368
MASTER_SKU = {"name": "System", "tier": "System", "capacity": 0}
MASTER_MAX_SIZE_BYTES = 32_212_254_720
MASTER_OBJECTIVE = "System0"
_READ_ONLY = frozenset({"id", "name", "type", "kind", "managedBy", "systemData"})


def _server_lookup(name: str) -> str:
    """The store's second key of a server: its globally unique name."""
    return f"{SERVER_TYPE}/{server_short_name(name)}"


@dataclass(frozen=True)
class ServerRef:
    """The names that locate a logical server; its databases, pools and job agents live below it."""

    subscription: str
    resource_group: str
    server: str

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    @property
    def id(self) -> str:
        return f"{self.group_id}/providers/Microsoft.Sql/servers/{self.server}"

    def validate(self) -> None:
        check_name("subscriptionId", self.subscription, uuid_problem)
        check_name("resourceGroupName", self.resource_group, resource_group_problem)
        check_name("serverName", self.server, server_problem)


def _missing_server(ref: ServerRef) -> ArmFailure:
    """ARM's own 404 for a tracked resource it does not have (its words, as users meet them)."""
    return ArmFailure(
        404,
        "ResourceNotFound",
        f"The Resource '{SERVER_TYPE}/{ref.server}' under resource group '{ref.resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def _missing_parent(ref: ServerRef) -> ArmFailure:
    """ARM's 404 for a child of a server it does not have (its words, as users meet them)."""
    return ArmFailure(
        404,
        "ParentResourceNotFound",
        f"Can not perform requested operation on nested resource. Parent resource '{ref.server}' not found.",
    )


def _location(data: Document) -> str:
    """A tracked resource's location as ARM keeps it (``West Europe`` -> ``westeurope``); 400 when absent."""
    location = str(data.get("location") or "")
    if not location.strip():
        raise ArmFailure(400, "LocationRequired", "The location property is required for this definition.", "location")
    return location.replace(" ", "").lower()


def _writable(data: Document) -> Document:
    """The top-level values of a body a client may set (tags, identity, ...), without readOnly ones."""
    return {key: value for key, value in data.items() if key not in _READ_ONLY and key != "properties"}


def _objective(sku: Document) -> str:
    """A service objective name as the service words it for a sku: ``S0``, ``GP_Gen5_2``."""
    name = str(sku.get("name") or "")
    return f"{name}_{sku['capacity']}" if sku.get("family") and sku.get("capacity") else name


@dataclass
class Fleet:
    """Servers, databases and elastic pools in the store, and what a target group's members expand to.

    ``now`` is the service clock (for creation dates). ``refuse_delete(arm_id)`` raises when something below an id
    may not go yet (an active job execution under one of a server's agents): the jobs' room decides that, and a
    server's DELETE asks it first."""

    store: Store
    now: Callable[[], float]
    refuse_delete: Callable[[str], None] = lambda arm_id: None

    # --- servers ---------------------------------------------------------------------------------------------

    def server_named(self, name: str) -> Document | None:
        """The server a target member names (its name or DNS name, any case), wherever it lives, or None."""
        found = self.store.by_lookup(_server_lookup(name), SERVER_TYPE, 0, 1)
        return found[0] if found else None

    def put_server(self, ref: ServerRef, body: Any) -> tuple[int, Document]:
        """Create or replace a server; a new one gets its master database. 400 ``NameAlreadyExists`` when the
        name is taken anywhere else (names are global)."""
        ref.validate()
        data = validated(Server, body)
        location = _location(data)
        properties = dict(data.get("properties") or {})
        properties.pop("administratorLoginPassword", None)  # a secret: taken, never answered
        with self.store.transaction():
            existing = self.store.get(ref.id)
            holder = self.server_named(ref.server)
            if holder is not None and key_of(holder["id"]) != key_of(ref.id):
                raise ArmFailure(
                    400, "NameAlreadyExists", f"The name '{ref.server}' already exists. Choose a different name."
                )
            if existing is not None:  # create-only values stay as created
                location = existing["location"]
                login = existing["properties"].get("administratorLogin")
                properties = {**properties, **({"administratorLogin": login} if login else {})}
            doc = {
                "id": existing["id"] if existing else ref.id,
                "name": ref.server,
                "type": SERVER_TYPE,
                **_writable(data),
                "location": location,
                "kind": "v12.0",
                "properties": {
                    "version": "12.0",
                    **properties,
                    "state": "Ready",
                    "fullyQualifiedDomainName": f"{ref.server}{SQL_SERVER_DOMAIN}",
                },
            }
            self.store.put(ref.id, ref.group_id, SERVER_TYPE, doc, lookup=_server_lookup(ref.server))
            if existing is None:
                self._put_master(doc)
        return (200 if existing else 201), present(doc)

    def _put_master(self, server: Document) -> None:
        """A server's master database, as the live service lists it (a system database: sku and objective
        ``System``, managed by the server); the service runs no SqlServer target on it."""
        master_id = f"{server['id']}/databases/master"
        doc = {
            "id": master_id,
            "name": "master",
            "type": DATABASE_TYPE,
            "location": server["location"],
            "sku": dict(MASTER_SKU),
            "kind": "v12.0,system",
            "managedBy": server["id"],
            "properties": {
                "collation": COLLATION,
                "maxSizeBytes": MASTER_MAX_SIZE_BYTES,
                "status": "Online",
                "databaseId": str(uuid.uuid4()),
                "creationDate": engine.creation_time(self.now()),
                "currentServiceObjectiveName": MASTER_OBJECTIVE,
                "requestedServiceObjectiveName": MASTER_OBJECTIVE,
                "currentSku": dict(MASTER_SKU),
                "catalogCollation": COLLATION,
                "zoneRedundant": False,
                "readScale": "Disabled",
            },
        }
        self.store.put(master_id, server["id"], DATABASE_TYPE, doc)

    def get_server(self, ref: ServerRef) -> tuple[int, Document]:
        return 200, self._server(ref)

    def _server(self, ref: ServerRef) -> Document:
        doc = self.store.get(ref.id)
        if doc is None:
            raise _missing_server(ref)
        return doc

    def _parent(self, ref: ServerRef) -> Document:
        doc = self.store.get(ref.id)
        if doc is None:
            raise _missing_parent(ref)
        return doc

    def delete_server(self, ref: ServerRef) -> tuple[int, None]:
        """Delete a server with everything below it (databases, pools, job agents and their history): 200, or 204
        when there was none; 409 while a job execution below it is active."""
        with self.store.transaction():
            if self.store.get(ref.id) is None:
                return 204, None
            self.refuse_delete(ref.id)
            self.store.delete(ref.id)
        return 200, None

    def list_servers(
        self, subscription: str, resource_group: str | None, query: dict[str, str], base_url: str
    ) -> Document:
        """The servers of a subscription, or of one of its resource groups, a page at a time."""
        check_name("subscriptionId", subscription, uuid_problem)
        if resource_group is None:
            scope = f"/subscriptions/{subscription}"
            return offset_page(lambda at, n: self.store.descendants(scope, SERVER_TYPE, at, n), query, base_url)
        check_name("resourceGroupName", resource_group, resource_group_problem)
        group = f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        return offset_page(lambda at, n: self.store.children(group, SERVER_TYPE, at, n), query, base_url)

    # --- databases -------------------------------------------------------------------------------------------

    def put_database(self, ref: ServerRef, name: str, body: Any) -> tuple[int, Document]:
        """Create or replace a user database, in an elastic pool of its server when ``elasticPoolId`` names one."""
        ref.validate()
        check_name("databaseName", name, child_name_problem)
        if name.lower() in SYSTEM_DATABASES:
            raise ArmFailure(
                400, "CannotUseReservedDatabaseName", "Cannot use reserved database name in this operation."
            )
        data = validated(Database, body)
        location = _location(data)
        properties = dict(data.get("properties") or {})
        with self.store.transaction():
            server = self._parent(ref)
            database_id = f"{server['id']}/databases/{name}"
            existing = self.store.get(database_id)
            pool = self._pool_named_by(server, properties.get("elasticPoolId"))
            sku = (
                {"name": "ElasticPool", "tier": (pool.get("sku") or DEFAULT_SKU).get("tier"), "capacity": 0}
                if pool
                else data.get("sku") or dict(DEFAULT_SKU)
            )
            objective = "ElasticPool" if pool else _objective(sku)
            vcore = str(sku.get("tier") or "").lower() in VCORE_TIERS
            before = (existing or {}).get("properties", {})
            doc = {
                "id": existing["id"] if existing else database_id,
                "name": name,
                "type": DATABASE_TYPE,
                **_writable(data),
                "location": existing["location"] if existing else location,
                "sku": sku,
                "kind": "v12.0,user,vcore" if vcore else "v12.0,user",
                "properties": {
                    "collation": COLLATION,
                    "maxSizeBytes": DEFAULT_MAX_SIZE_BYTES,
                    "zoneRedundant": False,
                    "readScale": "Disabled",
                    **{key: value for key, value in properties.items() if key != "elasticPoolId"},
                    **({"elasticPoolId": pool["id"]} if pool else {}),
                    "status": "Online",
                    "databaseId": before.get("databaseId") or str(uuid.uuid4()),
                    "creationDate": before.get("creationDate") or engine.creation_time(self.now()),
                    "currentServiceObjectiveName": objective,
                    "requestedServiceObjectiveName": objective,
                    "currentSku": sku,
                    "catalogCollation": COLLATION,
                },
            }
            self.store.put(database_id, server["id"], DATABASE_TYPE, doc, lookup=pool["id"] if pool else None)
        return (200 if existing else 201), present(doc)

    def _pool_named_by(self, server: Document, pool_id: Any) -> Document | None:
        """The elastic pool an ``elasticPoolId`` names, which must be one of the database's own server."""
        if not pool_id:
            return None
        head, _, pool_name = str(pool_id).rstrip("/").rpartition("/elasticPools/")
        if not pool_name or key_of(head) != key_of(server["id"]):
            raise ArmFailure(
                400,
                "InvalidParameterValue",
                f"elasticPoolId '{pool_id}' must name an elastic pool of server '{server['name']}'.",
                "properties.elasticPoolId",
            )
        pool = self.store.get(f"{server['id']}/elasticPools/{pool_name}")
        if pool is None:
            raise ArmFailure(
                404,
                "ElasticPoolNotFound",
                f"The elastic pool '{pool_name}' does not exist in server '{server['name']}'.",
            )
        return pool

    def get_database(self, ref: ServerRef, name: str) -> tuple[int, Document]:
        server = self._parent(ref)
        doc = self.store.get(f"{server['id']}/databases/{name}")
        if doc is None:
            raise not_found(DATABASE_TYPE, name)
        return 200, doc

    def delete_database(self, ref: ServerRef, name: str) -> tuple[int, None]:
        """200, or 204 when there was none; master is the server's and cannot be deleted."""
        if name.lower() in SYSTEM_DATABASES:
            raise ArmFailure(
                400, "CannotUseReservedDatabaseName", "Cannot use reserved database name in this operation."
            )
        with self.store.transaction():
            server = self._parent(ref)
            return (200 if self.store.delete(f"{server['id']}/databases/{name}") else 204), None

    def list_databases(self, ref: ServerRef, query: dict[str, str], base_url: str) -> Document:
        """A server's databases, master included (as the service lists them), a page at a time."""
        server = self._parent(ref)
        return offset_page(lambda at, n: self.store.children(server["id"], DATABASE_TYPE, at, n), query, base_url)

    # --- elastic pools ---------------------------------------------------------------------------------------

    def put_pool(self, ref: ServerRef, name: str, body: Any) -> tuple[int, Document]:
        ref.validate()
        check_name("elasticPoolName", name, child_name_problem)
        data = validated(ElasticPool, body)
        location = _location(data)
        properties = dict(data.get("properties") or {})
        with self.store.transaction():
            server = self._parent(ref)
            pool_id = f"{server['id']}/elasticPools/{name}"
            existing = self.store.get(pool_id)
            before = (existing or {}).get("properties", {})
            doc = {
                "id": existing["id"] if existing else pool_id,
                "name": name,
                "type": ELASTIC_POOL_TYPE,
                **_writable(data),
                "location": existing["location"] if existing else location,
                "sku": data.get("sku") or dict(DEFAULT_SKU),
                "properties": {
                    "maxSizeBytes": DEFAULT_MAX_SIZE_BYTES,
                    "zoneRedundant": False,
                    **properties,
                    "state": "Ready",
                    "creationDate": before.get("creationDate") or engine.creation_time(self.now()),
                },
            }
            self.store.put(pool_id, server["id"], ELASTIC_POOL_TYPE, doc)
        return (200 if existing else 201), present(doc)

    def get_pool(self, ref: ServerRef, name: str) -> tuple[int, Document]:
        return 200, self._pool(ref, name)

    def _pool(self, ref: ServerRef, name: str) -> Document:
        server = self._parent(ref)
        doc = self.store.get(f"{server['id']}/elasticPools/{name}")
        if doc is None:
            raise not_found(ELASTIC_POOL_TYPE, name)
        return doc

    def delete_pool(self, ref: ServerRef, name: str) -> tuple[int, None]:
        """200, or 204 when there was none; 400 ``ElasticPoolNotEmpty`` while databases are in it (swagger)."""
        with self.store.transaction():
            server = self._parent(ref)
            pool_id = f"{server['id']}/elasticPools/{name}"
            if self.store.by_lookup(pool_id, DATABASE_TYPE, 0, 1):
                raise ArmFailure(
                    400,
                    "ElasticPoolNotEmpty",
                    f"The elastic pool '{name}' still has databases; move or delete them first.",
                )
            return (200 if self.store.delete(pool_id) else 204), None

    def list_pools(self, ref: ServerRef, query: dict[str, str], base_url: str) -> Document:
        """A server's elastic pools, a page at a time (``$skip``, the swagger's parameter here)."""
        server = self._parent(ref)
        return offset_page(
            lambda at, n: self.store.children(server["id"], ELASTIC_POOL_TYPE, at, n), query, base_url, "$skip"
        )

    def list_pool_databases(self, ref: ServerRef, name: str, query: dict[str, str], base_url: str) -> Document:
        """The databases whose ``elasticPoolId`` names the pool, a page at a time."""
        pool = self._pool(ref, name)
        return offset_page(lambda at, n: self.store.by_lookup(pool["id"], DATABASE_TYPE, at, n), query, base_url)

    # --- expansion -------------------------------------------------------------------------------------------

    def expand(self, members: list[Document]) -> list[Document]:
        """The targets a step over these target group members runs on, in member order, each database once.

        Include members expand as the service expands them: a SqlDatabase to that database, a SqlServer to every
        user database of the server (never master), a SqlElasticPool to the pool's databases. Exclude members take
        databases out: a database, every database of a server, a pool's databases. A member the emulator cannot
        expand (a shard map, a server or pool it does not model, a database its modelled server lacks) becomes a
        target with a ``problem``, which fails its target execution with that message. A SqlDatabase member on a
        server that is not modelled runs as named (``asNamed``), as every target ran before servers were modelled:
        overlapping runs do not skip it either."""
        excluded_servers: set[str] = set()
        excluded: set[tuple[str, str]] = set()
        for member in members:
            if member.get("membershipType") == "Exclude":
                if member["type"] == JobTargetType.SQL_SERVER:
                    excluded_servers.add(server_short_name(member.get("serverName") or ""))
                else:  # what cannot be expanded excludes nothing
                    excluded |= {
                        engine.database_key(target)
                        for target in self._expand_member(member)
                        if target["type"] == JobTargetType.SQL_DATABASE
                    }
        targets: list[Document] = []
        seen: set[Any] = set()
        for member in members:
            if member.get("membershipType", "Include") != "Include":
                continue
            for target in self._expand_member(member):
                server, database = engine.database_key(target)
                key = engine.where_of(target) if target["type"] != JobTargetType.SQL_DATABASE else (server, database)
                if server in excluded_servers or (server, database) in excluded or key in seen:
                    continue
                seen.add(key)
                targets.append(target)
        return targets

    def _expand_member(self, member: Document) -> list[Document]:
        """What one member names: databases, or one target with the ``problem`` that keeps it from expanding."""
        kind, named = member["type"], member.get("serverName") or ""
        server = self.server_named(named) if named else None
        if kind == JobTargetType.SQL_DATABASE:
            database = member.get("databaseName") or ""
            target = {"type": kind, "serverName": named, "databaseName": database}
            if server is None:  # a server the emulator does not model: run as named, as before it modelled any
                return [{**target, "asNamed": True}]
            if self.store.get(f"{server['id']}/databases/{database}") is not None:
                return [target]
            return [{**target, "problem": _NO_DATABASE.format(server=named, database=database)}]
        if kind == JobTargetType.SQL_SERVER:
            if server is None:
                return [{"type": kind, "serverName": named, "problem": _NO_SERVER.format(server=named)}]
            return [
                {"type": JobTargetType.SQL_DATABASE.value, "serverName": named, "databaseName": doc["name"]}
                for doc in self.store.children(server["id"], DATABASE_TYPE)
                if doc["name"].lower() not in SYSTEM_DATABASES
            ]
        if kind == JobTargetType.SQL_ELASTIC_POOL:
            pool_name = member.get("elasticPoolName") or ""
            unresolved = {"type": kind, "serverName": named, "elasticPoolName": pool_name}
            pool = self.store.get(f"{server['id']}/elasticPools/{pool_name}") if server else None
            if pool is None:
                why = _NO_POOL_SERVER if server is None else _NO_POOL
                return [{**unresolved, "problem": why.format(server=named, pool=pool_name)}]
            return [
                {"type": JobTargetType.SQL_DATABASE.value, "serverName": named, "databaseName": doc["name"]}
                for doc in self.store.by_lookup(pool["id"], DATABASE_TYPE)
            ]
        if kind == JobTargetType.SQL_SHARD_MAP:
            shard_map, database = member.get("shardMapName") or "", member.get("databaseName") or ""
            problem = _NO_SHARD_MAPS.format(shard_map=shard_map, server=named, database=database)
            target = {"type": kind, "serverName": named, "databaseName": database, "shardMapName": shard_map}
            return [{**target, "problem": problem}]
        return [{"type": kind, "serverName": named, "problem": _NOT_EXPANDED.format(kind=kind)}]


# What a target execution says when its member could not be expanded: every wording here is a guess (no recording
# shows one), written to say what happened and what to do.
_NO_DATABASE = (
    "Failed to connect to target (server '{server}', database '{database}'): the server has no such database."
)
_NO_SERVER = (
    "Target expansion failed for server '{server}': the emulator models no server of that name "
    "(PUT it, or seed it, to run on its databases)."
)
_NO_POOL_SERVER = (
    "Target expansion failed for elastic pool '{pool}' on server '{server}': the emulator models no server of that "
    "name (PUT it with the pool, or seed them, to run on the pool's databases)."
)
_NO_POOL = "Target expansion failed for elastic pool '{pool}' on server '{server}': the server has no such pool."
_NO_SHARD_MAPS = (
    "Target expansion failed for shard map '{shard_map}' (server '{server}', database '{database}'): "
    "the emulator cannot resolve shard maps."
)
_NOT_EXPANDED = "Target expansion failed: the emulator does not expand members of type '{kind}'."
