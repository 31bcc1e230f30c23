"""Bearer tokens for ARM: azure-identity credentials for Azure, a static token for the local emulator.

Credentials are built lazily inside the process that makes requests (the provider plugin), never pickled, and
never rendered: every token source's ``repr`` hides its secret. Tokens are cached and refreshed a few minutes
before they lapse, so a wait of hours keeps working; ``invalidate`` drops a token that ARM refused (401) so the
next request fetches a fresh one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

REFRESH_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class Cloud:
    name: str
    resource_manager: str
    authority_host: str

    @property
    def scope(self) -> str:
        return f"{self.resource_manager.rstrip('/')}/.default"


CLOUDS: dict[str, Cloud] = {
    "public": Cloud("public", "https://management.azure.com", "https://login.microsoftonline.com"),
    "usgovernment": Cloud("usgovernment", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
    "china": Cloud("china", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}


class TokenSource(Protocol):
    def token(self) -> str: ...

    def invalidate(self) -> None: ...


class StaticToken:
    """A fixed development token, for the local emulator; hidden from ``repr``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def invalidate(self) -> None:
        """A static token cannot be refreshed; the next request sends it again."""

    def __repr__(self) -> str:
        return "StaticToken(***)"


@dataclass(frozen=True)
class ServicePrincipal:
    tenant_id: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"ServicePrincipal(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, client_secret=***)"


class AzureIdentityToken:
    """Tokens from azure-identity: a service principal when one is configured, else DefaultAzureCredential."""

    def __init__(self, cloud: Cloud, service_principal: ServicePrincipal | None = None) -> None:
        self._cloud = cloud
        self._service_principal = service_principal
        self._credential: Any = None
        self._cached: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AzureIdentityToken(cloud={self._cloud.name!r})"

    def __reduce__(self) -> Any:
        raise TypeError("token sources hold credentials and are never serialized")

    def token(self) -> str:
        with self._lock:
            if self._cached and self._cached[1] - time.time() > REFRESH_MARGIN_SECONDS:
                return self._cached[0]
            access = self._get_credential().get_token(self._cloud.scope)
            self._cached = (access.token, float(access.expires_on))
            return self._cached[0]

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _get_credential(self) -> Any:
        if self._credential is None:
            # Imported here: azure-identity costs ~100 ms to import, and only real Azure needs it.
            from azure import identity

            if self._service_principal:
                sp = self._service_principal
                self._credential = identity.ClientSecretCredential(
                    sp.tenant_id, sp.client_id, sp.client_secret, authority=self._cloud.authority_host
                )
            else:
                self._credential = identity.DefaultAzureCredential(authority=self._cloud.authority_host)
        return self._credential
