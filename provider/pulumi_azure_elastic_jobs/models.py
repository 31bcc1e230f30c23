"""Pydantic models of the Elastic Jobs ARM schema (api-version 2025-01-01), shared by client and emulator.

The wire speaks camelCase; Python speaks snake_case through aliases. Every model tolerates fields and enum
values that a newer service may add: unknown fields are kept (``extra="allow"``) and enum-typed fields accept
any string, so a client built today does not crash on tomorrow's answer. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .terms import DEFAULT_API_VERSION, DEFAULT_FAIL_ON, TERMINAL_LIFECYCLES, is_terminal

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_FAIL_ON", "TERMINAL_LIFECYCLES", "ExecutionStart", "is_terminal"]

RESOURCE_PROVIDER = "Microsoft.Sql"
# As the service answers (two of the swagger's examples leave out /jobs).
EXECUTION_TYPE = "Microsoft.Sql/servers/jobAgents/jobs/executions"
STEP_EXECUTION_TYPE = "Microsoft.Sql/servers/jobAgents/jobs/executions/steps"
TARGET_EXECUTION_TYPE = "Microsoft.Sql/servers/jobAgents/jobs/executions/steps/targets"


class JobExecutionLifecycle(StrEnum):
    CREATED = "Created"
    IN_PROGRESS = "InProgress"
    WAITING_FOR_CHILD_JOB_EXECUTIONS = "WaitingForChildJobExecutions"
    WAITING_FOR_RETRY = "WaitingForRetry"
    SUCCEEDED = "Succeeded"
    SUCCEEDED_WITH_SKIPPED = "SucceededWithSkipped"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    CANCELED = "Canceled"
    SKIPPED = "Skipped"


class ProvisioningState(StrEnum):
    CREATED = "Created"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


class JobTargetType(StrEnum):
    TARGET_GROUP = "TargetGroup"
    SQL_DATABASE = "SqlDatabase"
    SQL_ELASTIC_POOL = "SqlElasticPool"
    SQL_SHARD_MAP = "SqlShardMap"
    SQL_SERVER = "SqlServer"


class CreatedByType(StrEnum):
    USER = "User"
    APPLICATION = "Application"
    MANAGED_IDENTITY = "ManagedIdentity"
    KEY = "Key"


class WireModel(BaseModel):
    """Base of every wire model: camelCase aliases, unknown fields kept, Python names accepted too."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", use_enum_values=True, defer_build=True
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class SystemData(WireModel):
    created_by: str | None = None
    created_by_type: CreatedByType | str | None = None
    created_at: datetime | None = None
    last_modified_by: str | None = None
    last_modified_by_type: CreatedByType | str | None = None
    last_modified_at: datetime | None = None


class ProxyResource(WireModel):
    id: str | None = None
    name: str | None = None
    type: str | None = None
    system_data: SystemData | None = None


class TrackedResource(ProxyResource):
    location: str = ""
    tags: dict[str, str] | None = None


# --- job executions (also the shape of step and target executions) -------------------------------------


class JobExecutionTarget(WireModel):
    type: JobTargetType | str | None = None
    server_name: str | None = None
    database_name: str | None = None


class JobExecutionProperties(WireModel):
    job_version: int | None = None
    step_name: str | None = None
    step_id: int | None = None
    job_execution_id: str | None = None
    lifecycle: JobExecutionLifecycle | str | None = None
    provisioning_state: ProvisioningState | str | None = None
    create_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    current_attempts: int | None = None
    current_attempt_start_time: datetime | None = None
    last_message: str | None = None
    target: JobExecutionTarget | None = None


class JobExecution(ProxyResource):
    properties: JobExecutionProperties = Field(default_factory=JobExecutionProperties)


class JobExecutionListResult(WireModel):
    value: list[JobExecution] = Field(default_factory=list)
    next_link: str | None = None


# --- agents, jobs, steps, target groups, credentials, versions --------------------------------------------


class Sku(WireModel):
    name: str = "JA100"
    tier: str | None = None
    size: str | None = None
    family: str | None = None
    capacity: int | None = None


class JobAgentUserAssignedIdentity(WireModel):
    principal_id: str | None = None
    client_id: str | None = None


class JobAgentIdentity(WireModel):
    tenant_id: str | None = None
    type: str = "None"
    user_assigned_identities: dict[str, JobAgentUserAssignedIdentity] | None = None


class JobAgentProperties(WireModel):
    database_id: str
    state: str | None = None


class JobAgent(TrackedResource):
    sku: Sku | None = None
    identity: JobAgentIdentity | None = None
    properties: JobAgentProperties


class JobAgentUpdate(WireModel):
    identity: JobAgentIdentity | None = None
    sku: Sku | None = None
    tags: dict[str, str] | None = None


class JobSchedule(WireModel):
    start_time: datetime | None = None
    end_time: datetime | None = None
    type: str = "Once"
    enabled: bool | None = None
    interval: str | None = None


class JobProperties(WireModel):
    description: str | None = ""
    version: int | None = None
    schedule: JobSchedule | None = None


class Job(ProxyResource):
    properties: JobProperties = Field(default_factory=JobProperties)


class JobStepAction(WireModel):
    type: str = "TSql"
    source: str = "Inline"
    value: str


class JobStepOutput(WireModel):
    type: str = "SqlDatabase"
    subscription_id: str | None = None
    resource_group_name: str | None = None
    server_name: str
    database_name: str
    schema_name: str = "dbo"
    table_name: str
    credential: str | None = None


class JobStepExecutionOptions(WireModel):
    timeout_seconds: int = 43200
    retry_attempts: int = 10
    initial_retry_interval_seconds: int = 1
    maximum_retry_interval_seconds: int = 120
    retry_interval_backoff_multiplier: float = 2.0


class JobStepProperties(WireModel):
    step_id: int | None = None
    target_group: str
    credential: str | None = None
    action: JobStepAction
    output: JobStepOutput | None = None
    execution_options: JobStepExecutionOptions | None = None


class JobStep(ProxyResource):
    properties: JobStepProperties


class JobTarget(WireModel):
    membership_type: str = "Include"
    type: JobTargetType | str
    server_name: str | None = None
    database_name: str | None = None
    elastic_pool_name: str | None = None
    shard_map_name: str | None = None
    refresh_credential: str | None = None


class JobTargetGroupProperties(WireModel):
    members: list[JobTarget]


class JobTargetGroup(ProxyResource):
    properties: JobTargetGroupProperties


class JobCredentialProperties(WireModel):
    username: str
    password: str | None = Field(default=None, repr=False)


class JobCredential(ProxyResource):
    properties: JobCredentialProperties


class JobVersion(ProxyResource):
    pass


# --- the fleet a run touches: logical servers, their databases and elastic pools (Servers.json, Databases.json,
# ElasticPools.json of the same api-version); only what a target group's expansion needs, the rest kept as extra --

SERVER_TYPE = "Microsoft.Sql/servers"
DATABASE_TYPE = "Microsoft.Sql/servers/databases"
ELASTIC_POOL_TYPE = "Microsoft.Sql/servers/elasticPools"


class SqlSku(WireModel):
    """A database's or pool's sku (``GP_Gen5``, ``S0``, ``ElasticPool``, ``System``): every part optional."""

    name: str | None = None
    tier: str | None = None
    size: str | None = None
    family: str | None = None
    capacity: int | None = None


class ServerProperties(WireModel):
    administrator_login: str | None = None
    administrator_login_password: str | None = Field(default=None, repr=False)
    version: str | None = None
    state: str | None = None
    fully_qualified_domain_name: str | None = None
    public_network_access: str | None = None
    minimal_tls_version: str | None = None


class Server(TrackedResource):
    kind: str | None = None
    properties: ServerProperties = Field(default_factory=ServerProperties)


class DatabaseProperties(WireModel):
    create_mode: str | None = None
    collation: str | None = None
    max_size_bytes: int | None = None
    elastic_pool_id: str | None = None
    status: str | None = None
    database_id: str | None = None
    creation_date: datetime | None = None
    current_service_objective_name: str | None = None
    requested_service_objective_name: str | None = None
    current_sku: SqlSku | None = None
    zone_redundant: bool | None = None
    read_scale: str | None = None
    catalog_collation: str | None = None


class Database(TrackedResource):
    sku: SqlSku | None = None
    kind: str | None = None
    managed_by: str | None = None
    properties: DatabaseProperties = Field(default_factory=DatabaseProperties)


class ElasticPoolProperties(WireModel):
    state: str | None = None
    creation_date: datetime | None = None
    max_size_bytes: int | None = None
    zone_redundant: bool | None = None
    license_type: str | None = None


class ElasticPool(TrackedResource):
    sku: SqlSku | None = None
    kind: str | None = None
    properties: ElasticPoolProperties = Field(default_factory=ElasticPoolProperties)


class ServerListResult(WireModel):
    value: list[Server] = Field(default_factory=list)
    next_link: str | None = None


class DatabaseListResult(WireModel):
    value: list[Database] = Field(default_factory=list)
    next_link: str | None = None


class ElasticPoolListResult(WireModel):
    value: list[ElasticPool] = Field(default_factory=list)
    next_link: str | None = None


# --- errors ------------------------------------------------------------------------------------------------


class ErrorAdditionalInfo(WireModel):
    type: str | None = None
    info: Any = None


class ErrorDetail(WireModel):
    code: str | None = None
    message: str | None = None
    target: str | None = None
    details: list[ErrorDetail] | None = None
    additional_info: list[ErrorAdditionalInfo] | None = None


class ErrorResponse(WireModel):
    error: ErrorDetail | None = None


@dataclass(frozen=True)
class ExecutionStart:
    """What the client found or made at one execution id (``ensure_execution``, ``claim``)."""

    execution: JobExecution
    started: bool
    """True when this call's PUT created the run; False when the id already held one (active or finished)."""
