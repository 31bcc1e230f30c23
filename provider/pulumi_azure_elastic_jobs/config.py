"""Where settings come from: resource inputs > Pulumi config (namespace ``azure-elastic-jobs``) > environment.

Resolved once per provider process from the config that the engine hands to ``configure``; the result lives
only in that process (it may hold a client secret or a static token) and never in state or in the serialized
provider. Keys, in Pulumi config / environment:

=====================  ====================================  ===========================================
config key             environment                           meaning
=====================  ====================================  ===========================================
endpoint               AZURE_ELASTIC_JOBS_ENDPOINT           ARM base URL (an emulator URL for local use)
environment            AZURE_ENVIRONMENT                     public | usgovernment | china
subscriptionId         AZURE_SUBSCRIPTION_ID, ARM_SUB...     default subscription for resources
token                  AZURE_ELASTIC_JOBS_TOKEN              static bearer token (emulator only)
caBundle               AZURE_ELASTIC_JOBS_CA_BUNDLE          CA file to trust (the emulator's --tls cert)
tenantId/clientId/     AZURE_TENANT_ID/AZURE_CLIENT_ID/      a service principal; else DefaultAzureCredential
clientSecret           AZURE_CLIENT_SECRET
retryBudget            AZURE_ELASTIC_JOBS_RETRY_BUDGET       seconds one request may spend retrying
maxResponseBytes       AZURE_ELASTIC_JOBS_MAX_RESPONSE_BYTES the largest answer read, in bytes (64 MiB)
allowCustomEndpoint    AZURE_ELASTIC_JOBS_ALLOW_CUSTOM_...   send Azure AD tokens to a non-Azure HTTPS host
authorityHost          AZURE_AUTHORITY_HOST                  Microsoft Entra ID host (default: the cloud's)
fleetSubscriptions     AZURE_ELASTIC_JOBS_FLEET_SUBSCRIPTIONS  more subscriptions a plan looks for servers in
planRows               AZURE_ELASTIC_JOBS_PLAN_ROWS          a preview's rows: auto | database | server | none
=====================  ====================================  ===========================================
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .auth import CLOUDS, AzureIdentityToken, ServicePrincipal, StaticToken, TokenSource, token_problem
from .errors import ConfigError
from .ids import uuid_problem
from .terms import DEFAULT_MAX_RESPONSE_BYTES

NAMESPACE = "azure-elastic-jobs"
DEFAULT_RETRY_BUDGET_SECONDS = 120.0

Lookup = Callable[[str], object]


@dataclass(frozen=True)
class Settings:
    endpoint: str
    environment: str = "public"
    subscription_id: str | None = None
    static_token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None
    service_principal: ServicePrincipal | None = field(default=None, repr=False)
    retry_budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """The largest answer the client reads, in bytes; a larger one is an error naming the setting."""
    allow_custom_endpoint: bool = False
    authority_host: str | None = None
    fleet_subscriptions: tuple[str, ...] = ()
    """Subscriptions a plan searches for target servers after the agent's own (comma- or space-separated)."""
    plan_rows: str = "auto"
    """A native preview's rows: one per database, one per server, none, or ``auto`` (see :data:`PLAN_ROWS`)."""
    subscription_source: str = "the resource's subscription_id input"
    """Where the default subscription came from, for messages: a config key or an environment variable."""

    def token_source(self) -> TokenSource:
        if self.static_token:
            return StaticToken(self.static_token)
        return AzureIdentityToken(
            CLOUDS[self.environment],
            self.service_principal,
            allow_custom_endpoint=self.allow_custom_endpoint,
            authority_host=self.authority_host,
            ca_bundle=self.ca_bundle,
        )

    @classmethod
    def resolve(cls, config: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from Pulumi config (keys with or without the namespace) and the environment."""
        config = config or {}
        env = os.environ if env is None else env

        def pick_with_source(key: str, *env_names: str) -> tuple[str | None, str]:
            for name in (f"{NAMESPACE}:{key}", key):
                value = config.get(name)
                if value not in (None, ""):
                    return str(value), f"config {NAMESPACE}:{key}"
            for env_name in env_names:
                if env.get(env_name):
                    return env[env_name], f"environment variable {env_name}"
            return None, f"config {NAMESPACE}:{key}"

        def pick(key: str, *env_names: str) -> str | None:
            return pick_with_source(key, *env_names)[0]

        environment = (pick("environment", "AZURE_ENVIRONMENT") or "public").lower()
        environment = {
            "azurecloud": "public",
            "azureusgovernment": "usgovernment",
            "azurechinacloud": "china",
        }.get(environment, environment)
        if environment not in CLOUDS:
            raise ConfigError(f"config {NAMESPACE}:environment must be one of {', '.join(CLOUDS)}, got {environment!r}")
        endpoint = pick("endpoint", "AZURE_ELASTIC_JOBS_ENDPOINT") or CLOUDS[environment].resource_manager
        tenant, client = pick("tenantId", "AZURE_TENANT_ID"), pick("clientId", "AZURE_CLIENT_ID")
        secret = pick("clientSecret", "AZURE_CLIENT_SECRET")
        service_principal = ServicePrincipal(tenant, client, secret) if tenant and client and secret else None
        budget, budget_source = pick_with_source("retryBudget", "AZURE_ELASTIC_JOBS_RETRY_BUDGET")
        allow_custom, custom_source = pick_with_source(
            "allowCustomEndpoint", "AZURE_ELASTIC_JOBS_ALLOW_CUSTOM_ENDPOINT"
        )
        if (allow_custom or "false").lower() not in ("true", "false", "1", "0"):
            raise ConfigError(f"{custom_source} must be true or false, got {allow_custom!r}")
        subscription, subscription_source = pick_with_source(
            "subscriptionId", "AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"
        )
        if subscription and (problem := uuid_problem(subscription)):
            raise ConfigError(f"{subscription_source} {problem}")
        fleet, fleet_source = pick_with_source("fleetSubscriptions", "AZURE_ELASTIC_JOBS_FLEET_SUBSCRIPTIONS")
        token, token_source = pick_with_source("token", "AZURE_ELASTIC_JOBS_TOKEN")
        most, most_source = pick_with_source("maxResponseBytes", "AZURE_ELASTIC_JOBS_MAX_RESPONSE_BYTES")
        rows, rows_source = pick_with_source("planRows", "AZURE_ELASTIC_JOBS_PLAN_ROWS")
        if (rows or "auto").lower() not in PLAN_ROWS:
            raise ConfigError(f"{rows_source} must be one of {', '.join(PLAN_ROWS)}, got {rows!r}")
        return cls(
            endpoint=endpoint.rstrip("/"),
            environment=environment,
            subscription_id=subscription,
            subscription_source=subscription_source,
            static_token=_static_token(token, token_source) if token else None,
            ca_bundle=pick("caBundle", "AZURE_ELASTIC_JOBS_CA_BUNDLE"),
            service_principal=service_principal,
            retry_budget_seconds=_seconds(budget, budget_source) if budget else DEFAULT_RETRY_BUDGET_SECONDS,
            max_response_bytes=_bytes(most, most_source) if most else DEFAULT_MAX_RESPONSE_BYTES,
            allow_custom_endpoint=(allow_custom or "").lower() in ("true", "1"),
            authority_host=pick("authorityHost", "AZURE_AUTHORITY_HOST"),
            fleet_subscriptions=_subscriptions(fleet, fleet_source),
            plan_rows=(rows or "auto").lower(),
        )


def _subscriptions(value: str | None, source: str) -> tuple[str, ...]:
    """A list of subscription ids, separated by commas or spaces; each must be a UUID."""
    listed = tuple((value or "").replace(",", " ").split())
    for subscription in listed:
        if problem := uuid_problem(subscription):
            raise ConfigError(f"every subscription in {source} {problem}")
    return listed


def _static_token(value: str, source: str) -> str:
    """The token as it will be sent: surrounding white space dropped (a file written by ``echo``); one that still
    cannot go in a header is refused naming where it came from, never quoting it."""
    token = value.strip()
    if problem := token_problem(token):
        raise ConfigError(f"the static token in {source} {problem}; it is not shown. Set it to the token alone")
    return token


def _bytes(value: str, source: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1024:
        raise ConfigError(f"{source} must be a whole number of bytes, at least 1024, such as 67108864; got {value!r}")
    return size


def _seconds(value: str, source: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{source} must be a positive number of seconds, such as 120; got {value!r}")
    return seconds


PLAN_ROWS = ("auto", "database", "server", "none")
"""How a native preview shows a plan as rows (resource views) under its resource: ``database`` a row per database,
``server`` a row per server (its databases a property of it), ``none`` no rows (the plan stays in the
diagnostics), ``auto`` (the default) a row per database up to :data:`~.terms.DATABASE_ROWS_UP_TO` databases and a
row per server above: the CLI applies rows one by one, and a preview of 1,000 database rows took the CLI 3.8x
the same preview without rows."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def log_level(value: str | None) -> int | None:
    """AZURE_ELASTIC_JOBS_LOG_LEVEL as a logging level; unset means no logging of our own."""
    if not value:
        return None
    if value.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"environment variable AZURE_ELASTIC_JOBS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {value!r}"
        )
    return int(logging.getLevelName(value.upper()))
