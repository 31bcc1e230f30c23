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
allowCustomEndpoint    AZURE_ELASTIC_JOBS_ALLOW_CUSTOM_...   send Azure AD tokens to a non-Azure HTTPS host
authorityHost          AZURE_AUTHORITY_HOST                  Microsoft Entra ID host (default: the cloud's)
=====================  ====================================  ===========================================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .auth import CLOUDS, AzureIdentityToken, ServicePrincipal, StaticToken, TokenSource

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
    allow_custom_endpoint: bool = False
    authority_host: str | None = None

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

        def pick(key: str, *env_names: str) -> str | None:
            for name in (f"{NAMESPACE}:{key}", key):
                value = config.get(name)
                if value not in (None, ""):
                    return str(value)
            for env_name in env_names:
                if env.get(env_name):
                    return env[env_name]
            return None

        environment = (pick("environment", "AZURE_ENVIRONMENT") or "public").lower()
        environment = {
            "azurecloud": "public",
            "azureusgovernment": "usgovernment",
            "azurechinacloud": "china",
        }.get(environment, environment)
        if environment not in CLOUDS:
            raise ValueError(f"config {NAMESPACE}:environment must be one of {', '.join(CLOUDS)}, got {environment!r}")
        endpoint = pick("endpoint", "AZURE_ELASTIC_JOBS_ENDPOINT") or CLOUDS[environment].resource_manager
        tenant, client = pick("tenantId", "AZURE_TENANT_ID"), pick("clientId", "AZURE_CLIENT_ID")
        secret = pick("clientSecret", "AZURE_CLIENT_SECRET")
        service_principal = ServicePrincipal(tenant, client, secret) if tenant and client and secret else None
        budget = pick("retryBudget", "AZURE_ELASTIC_JOBS_RETRY_BUDGET")
        allow_custom = pick("allowCustomEndpoint", "AZURE_ELASTIC_JOBS_ALLOW_CUSTOM_ENDPOINT") or "false"
        if allow_custom.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"config {NAMESPACE}:allowCustomEndpoint must be true or false, got {allow_custom!r}")
        return cls(
            endpoint=endpoint.rstrip("/"),
            environment=environment,
            subscription_id=pick("subscriptionId", "AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"),
            static_token=pick("token", "AZURE_ELASTIC_JOBS_TOKEN"),
            ca_bundle=pick("caBundle", "AZURE_ELASTIC_JOBS_CA_BUNDLE"),
            service_principal=service_principal,
            retry_budget_seconds=float(budget) if budget else DEFAULT_RETRY_BUDGET_SECONDS,
            allow_custom_endpoint=allow_custom.lower() in ("true", "1"),
            authority_host=pick("authorityHost", "AZURE_AUTHORITY_HOST"),
        )
