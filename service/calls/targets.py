"""Where `/call` may go: URLs under ECHO_CALL_TARGETS, never link-local or metadata addresses.

URLs are compared after httpx parses them (the parser that also sends them):
same scheme, host and port, and a path under the target's path on a segment
boundary. Addresses are checked when a connection is made, on the addresses
the name resolved to (see service.calls.downstream): link-local and metadata
addresses are refused unless ECHO_CALL_TARGETS names that IP literally.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from urllib.parse import unquote

import httpx

OTHER = "_OTHER"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LINK_LOCAL_V4 = ipaddress.ip_network("169.254.0.0/16")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BadUrl(ValueError):
    """A URL `/call` will not send to whatever the targets are; the message says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host (ASCII, lowercase) and port: what a URL must share with a target."""

    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        """The origin as a URL (the default port left out): the audience of an ID token."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = _DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{host}" if default else f"{self.scheme}://{host}:{self.port}"


class Targets:
    """The allow-list of ECHO_CALL_TARGETS."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self._prefixes = [(origin_of(url), _path(url)) for url in map(parse, prefixes)]
        self.hosts = frozenset(origin.host for origin, _ in self._prefixes)
        self.literal_ips = frozenset(_literal_ips(self.hosts))

    def allows(self, url: httpx.URL) -> bool:
        """True when `url` is under one of the targets."""
        origin, path = origin_of(url), _path(url)
        return any(origin == allowed and _under(path, prefix) for allowed, prefix in self._prefixes)

    def server_address(self, url: httpx.URL) -> str:
        """The metric label for `url`'s host: a configured target host, else `_OTHER`."""
        host = origin_of(url).host
        return host if host in self.hosts else OTHER

    def server_port(self, url: httpx.URL) -> int:
        """The metric label for `url`'s port: that of a configured target host, else 0."""
        origin = origin_of(url)
        return origin.port if origin.host in self.hosts else 0


def parse(text: str) -> httpx.URL:
    """An absolute http(s) URL, or BadUrl naming what is wrong with it."""
    if not text.isascii() or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in text):
        raise BadUrl("must be ASCII without spaces, control characters or backslashes")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as error:
        raise BadUrl(f"not a URL ({error})") from None
    if url.scheme not in _DEFAULT_PORTS or not url.raw_host:
        raise BadUrl("must be an absolute http:// or https:// URL")
    if url.userinfo:
        raise BadUrl("must not carry credentials")
    if url.port is not None and not 0 < url.port < 65536:
        raise BadUrl("port out of range")
    _check_path(_path(url))
    return url.copy_with(fragment=None)


def origin_of(url: httpx.URL) -> Origin:
    """The origin of a parsed URL."""
    scheme = url.scheme
    return Origin(scheme, url.raw_host.decode("ascii").lower(), url.port or _DEFAULT_PORTS[scheme])


def forbidden(address: IPAddress, literal_ips: frozenset[IPAddress]) -> bool:
    """True for link-local and metadata addresses (also inside IPv6), unless listed literally."""
    if address in literal_ips:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return forbidden(address.ipv4_mapped, literal_ips)
        if address in _NAT64:
            return forbidden(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), literal_ips)
        return address.is_link_local or address == _METADATA_V6
    return address in _LINK_LOCAL_V4


def _path(url: httpx.URL) -> str:
    return url.raw_path.split(b"?", 1)[0].decode("ascii")


def _check_path(path: str) -> None:
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered:
        raise BadUrl("must not hide a / or \\ in percent-encoding")
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        raise BadUrl("must not have . or .. segments")


def _under(path: str, prefix: str) -> bool:
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path == prefix or path.startswith(prefix + "/")


def _literal_ips(hosts: frozenset[str]) -> list[IPAddress]:
    found = []
    for host in hosts:
        try:
            found.append(ipaddress.ip_address(host))
        except ValueError:
            continue
    return found
