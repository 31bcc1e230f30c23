"""Where a URL's request goes: the one reading of a URL that decides where a token may travel; no I/O.

The client connects only to its endpoint's origin and sends a judged URL's path and query there, so a URL it
sends is one whose every reading names that origin: the standard library's, urllib3's (as requests and most HTTP
tools read a URL), each of the URL as written and as requests prepares it (IDNA, quoting). A URL those readings
disagree on (a backslash or an ``@`` before the host, control characters, odd ports), or one that carries userinfo
under any of them, has no single destination and is refused outright. What remains is one :class:`Origin`,
normalized so that spellings of the same place compare equal: scheme and host in lower case, an IDNA host, no
trailing dot, IP literals in one form, and the default port (80, 443) written out.
``auth`` (which token may go where) and the client (which origin the service may point at) both decide on it; the
emulator asks :func:`is_loopback` about its bind address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from .errors import redact

DEFAULT_PORTS = {"http": 80, "https": 443}


class UnreadableDestination(ValueError):
    """A URL with no single destination (userinfo, parsers disagreeing, no host, a scheme other than HTTP(S))."""


@dataclass(frozen=True)
class Origin:
    """Where a request connects: scheme, normalized host, and port (the default one written out)."""

    scheme: str
    host: str
    port: int
    connects_to: str = field(default="", compare=False)
    """The host as the connection resolves it (before normalization): ``localhost.`` is not ``localhost`` there."""

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.connects_to or self.host)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


def normalize_host(host: str) -> str:
    """One spelling per host: lower case, IDNA (ASCII), no trailing dot, IP literals compressed, no brackets."""
    bare = host.strip("[]").lower()
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if bare.endswith(".") and not bare.endswith(".."):
        bare = bare[:-1]
    if not bare.isascii():
        import idna  # only for international names

        try:
            bare = idna.encode(bare, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise UnreadableDestination(f"the host {host!r} is not a valid international name ({error})") from None
    return bare


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal, bracketed or not) is this machine's loopback: ``localhost``,
    127.0.0.0/8, ``::1`` (also IPv4-mapped). Other names are not, whatever they resolve to; nor is the absolute
    name ``localhost.``, which a resolver may send to DNS."""
    bare = host.strip("[]").lower()
    if bare == "localhost":
        return True
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def destination(url: str) -> Origin:
    """The one origin a request to ``url`` connects to; raises :class:`UnreadableDestination` if it has none.

    The message says what is wrong with the URL; callers add which setting (or which service answer) gave it.
    requests and urllib3 load here, at the first URL judged, not when settings are imported: the plugin imports
    the provider on every call it serves, most of which (check, diff) judge no URL."""
    from requests.exceptions import RequestException
    from requests.models import PreparedRequest
    from urllib3.exceptions import LocationParseError

    prepared = PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (RequestException, LocationParseError, UnicodeError, ValueError) as error:
        raise UnreadableDestination(f"{_shown(url)} is not a URL requests can send to ({error})") from None
    readings = [
        ("as written", _stdlib_reading(url)),
        ("as urllib3 reads it as written", _urllib3_reading(url)),
        ("as urllib3 reads it", _urllib3_reading(prepared.url or "")),
        ("as the connection pool reads it", _stdlib_reading(prepared.url or "")),
    ]
    for how, (scheme, userinfo, _, _) in readings:
        if userinfo is not None:
            raise UnreadableDestination(
                f"{_shown(url)} carries userinfo ({how}, before an '@'); credentials and '@' do not belong in "
                f"an ARM URL, and this one could send the token to a host other than the one it seems to name"
            )
        if scheme not in DEFAULT_PORTS:
            raise UnreadableDestination(f"{_shown(url)} is not an http:// or https:// URL")
    origins = {_origin(scheme, host, port, url) for _, (scheme, _, host, port) in readings}
    if len(origins) != 1:
        seen = ", ".join(sorted(str(origin) for origin in origins))
        raise UnreadableDestination(
            f"{_shown(url)} reads as more than one destination ({seen}), depending on the URL parser"
        )
    connects_to = readings[1][1][2]  # the host the connection pool opens, as the resolver will be asked it
    return replace(origins.pop(), connects_to=connects_to)


_Reading = tuple[str, str | None, str, int | None]  # scheme, userinfo, host, port


def _stdlib_reading(url: str) -> _Reading:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnreadableDestination(f"{_shown(url)} has no readable host and port ({error})") from None
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else None
    return parts.scheme.lower(), userinfo, parts.hostname or "", port


def _urllib3_reading(url: str) -> _Reading:
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = parse_url(url)
    except LocationParseError as error:
        raise UnreadableDestination(f"{_shown(url)} is not a URL urllib3 can read ({error})") from None
    return (parts.scheme or "").lower(), parts.auth, parts.host or "", parts.port


def _origin(scheme: str, host: str, port: int | None, url: str) -> Origin:
    if not host:
        raise UnreadableDestination(f"{_shown(url)} names no host")
    return Origin(scheme, normalize_host(host), port if port is not None else DEFAULT_PORTS[scheme])


def _shown(url: str) -> str:
    """The URL for an error message: without its query (which may hold anything) or a password."""
    return repr(redact(url.split("?")[0])[:200])
