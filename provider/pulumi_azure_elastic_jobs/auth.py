"""Bearer tokens for ARM: azure-identity credentials for Azure, a static token for the local emulator.

Credentials are built lazily inside the process that makes requests (the provider plugin), never pickled, and
never rendered: every token source's ``repr`` hides its secret. Tokens are cached and refreshed a few minutes
before they lapse, so a wait of hours keeps working; ``invalidate`` drops a token that ARM refused (401) so the
next request fetches a fresh one.

Each source also says where its token may go (``refusal``), and the client asks before every request:
an Azure AD token only over HTTPS and only to the configured cloud's ARM origin, unless the user opted in to a
custom HTTPS endpoint (``allowCustomEndpoint``); a static (emulator) token over plain HTTP only to a loopback
address, else over HTTPS. Both judge the URL as the connection will use it (:mod:`.destinations`), and refuse
one with userinfo or with more than one reading outright.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .destinations import Origin, UnreadableDestination, destination
from .destinations import is_loopback as is_loopback  # its home is destinations; kept here for older imports
from .errors import CredentialUnavailable

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

    def refusal(self, url: str) -> str | None:
        """Why this token must not be sent to ``url``, naming the setting that would allow it; None if it may."""


ENDPOINT_SETTING = "config azure-elastic-jobs:endpoint"
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
"""What a bearer token may hold to go in an ``Authorization`` header as it is: visible ASCII, no space."""


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be sent as a bearer token, never quoting it (a message may reach a log); None if it
    can. A control character would otherwise fail inside the HTTP library, whose error repeats the header."""
    if not token:
        return "is empty"
    if _HEADER_SAFE.fullmatch(token):
        return None
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in token):
        return "holds a control character (a line break, a tab, ...)"
    return "holds a space or a character that is not ASCII"


def unreadable_endpoint(error: UnreadableDestination) -> str:
    """The refusal for an endpoint with no single destination, naming the setting that gave it."""
    return f"{error} ({ENDPOINT_SETTING}): write it as scheme://host[:port] with nothing before the host"


class StaticToken:
    """A fixed development token, for the local emulator; hidden from ``repr``."""

    def __init__(self, token: str) -> None:
        self._token = token.strip()  # a token file written by `echo` ends in a line break

    def token(self) -> str:
        return self._token

    def invalidate(self) -> None:
        """A static token cannot be refreshed; the next request sends it again."""

    def refusal(self, url: str) -> str | None:
        try:
            target = destination(url)
        except UnreadableDestination as error:
            return unreadable_endpoint(error)
        if target.scheme == "https" or target.is_loopback:
            return None
        return (
            f"the static token (config azure-elastic-jobs:token) goes over plain HTTP only to a loopback address, "
            f"and {target} is not one: serve the emulator with --tls and use an https "
            f"endpoint ({ENDPOINT_SETTING}, with azure-elastic-jobs:caBundle for its certificate)"
        )

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

    def __init__(
        self,
        cloud: Cloud,
        service_principal: ServicePrincipal | None = None,
        *,
        allow_custom_endpoint: bool = False,
        authority_host: str | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        self._cloud = cloud
        self._service_principal = service_principal
        self._allow_custom_endpoint = allow_custom_endpoint
        self._authority_host = (authority_host or cloud.authority_host).rstrip("/")
        self._ca_bundle = ca_bundle
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
            try:
                access = self._get_credential().get_token(self._cloud.scope)
            except Exception as error:  # azure-core's ClientAuthenticationError and what credentials raise
                raise CredentialUnavailable(self._no_token(error)) from None
            self._cached = (access.token, float(access.expires_on))
            return self._cached[0]

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def refusal(self, url: str) -> str | None:
        try:
            target = destination(url)
        except UnreadableDestination as error:
            return unreadable_endpoint(error)
        if target.scheme != "https":
            return (
                f"Azure AD tokens are sent only over HTTPS, and {target} is plain HTTP "
                f"({ENDPOINT_SETTING}); for the local emulator, set azure-elastic-jobs:token"
            )
        arm: Origin = destination(self._cloud.resource_manager)
        if target == arm or self._allow_custom_endpoint:
            return None
        return (
            f"Azure AD tokens go only to {arm.host} (the {self._cloud.name} cloud, config "
            f"azure-elastic-jobs:environment), not to {target}; if that endpoint is yours and trusted, set "
            f"config azure-elastic-jobs:allowCustomEndpoint to true"
        )

    def _no_token(self, error: Exception) -> str:
        """One line: the request went to Azure, which credential sources were tried, and the ways out."""
        where = f"{self._cloud.resource_manager} (the {self._cloud.name} cloud)"
        if self._service_principal:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return (
                f"the service principal {self._service_principal.client_id} (config azure-elastic-jobs:clientId) "
                f"got no token for {where}: {first}"
            )
        tried = list(dict.fromkeys(re.findall(r"^\s+(\w+Credential):", str(error), re.MULTILINE)))
        sources = ", ".join(name.removesuffix("Credential") for name in tried) or type(error).__name__
        return (
            f"no Azure credential gave a token for {where}; DefaultAzureCredential tried {sources}. Sign in with "
            "`az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; to use the local emulator "
            "instead, set config azure-elastic-jobs:endpoint to its URL and azure-elastic-jobs:token"
        )

    def _get_credential(self) -> Any:
        if self._credential is None:
            # Imported here: azure-identity costs ~100 ms to import, and only real Azure needs it.
            from azure import identity

            # Its own warning repeats every credential's failure (twice) on the CLI's screen; the error raised
            # from here says it in one line. AZURE_ELASTIC_JOBS_LOG_LEVEL=DEBUG shows it again.
            quiet = logging.getLogger("azure.identity")
            if quiet.level == logging.NOTSET and not logging.getLogger("pulumi_azure_elastic_jobs").isEnabledFor(
                logging.DEBUG
            ):
                quiet.setLevel(logging.ERROR)

            options: dict[str, Any] = {"authority": self._authority_host}
            if self._authority_host not in {cloud.authority_host for cloud in CLOUDS.values()}:
                options["disable_instance_discovery"] = True  # a private authority: do not ask the public one
            if self._ca_bundle:
                options["connection_verify"] = self._ca_bundle
            if self._service_principal:
                sp = self._service_principal
                self._credential = identity.ClientSecretCredential(
                    sp.tenant_id, sp.client_id, sp.client_secret, **options
                )
            else:
                self._credential = identity.DefaultAzureCredential(**options)
        return self._credential
