"""Where the portal may connect, for cluster endpoints: the shared address policy of
:mod:`portal.addresses` in the client layer's terms (its errors, an :class:`Endpoint`).

A cluster URL is user input, so it could point the server at its own cloud metadata service or
internal addresses (SSRF). The host is put in canonical form and resolved once, every address
(and every IPv4 address an IPv6 one embeds) is checked against the policy, and the connection
is pinned to the checked address (``tls_server_name`` keeps TLS verification on the original
name), so a DNS answer cannot change between check and use.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from clusters.kube.errors import AddressNotAllowed, DNSFailure, InvalidConnection
from portal import addresses as policy
from portal.addresses import ALWAYS_DENIED, IPAddress, IPNetwork

__all__ = ["ALWAYS_DENIED", "Endpoint", "IPAddress", "IPNetwork", "check_address", "parse_server", "refuse_redirects",
           "resolve"]


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str  # canonical: lowercase ASCII name, dotted-quad IPv4 or IPv6 without brackets
    port: int
    address: str  # the checked IP to connect to

    @property
    def pinned_url(self) -> str:
        ip = ipaddress.ip_address(self.address)
        host = f"[{ip}]" if ip.version == 6 else str(ip)
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def host_is_ip(self) -> bool:
        return policy.ip_literal(self.host) is not None


def parse_server(url: str) -> tuple[str, str, int]:
    """``(scheme, canonical host, port)`` of an API server URL, or :class:`InvalidConnection`."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https":
        raise InvalidConnection(f"The API server URL must start with https:// (got {url!r}).")
    if not parts.hostname:
        raise InvalidConnection(f"The API server URL {url!r} has no host.")
    if parts.username or parts.password or "@" in parts.netloc:
        raise InvalidConnection("The API server URL must not contain a user name or password.")
    if parts.query or parts.fragment:
        raise InvalidConnection("The API server URL must not have a query or fragment.")
    if parts.path not in ("", "/"):
        raise InvalidConnection("API servers behind a path prefix are not supported; give the base URL.")
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise InvalidConnection(f"The API server URL {url!r} has an invalid port.") from exc
    try:
        host = policy.canonical_host(parts.hostname)
    except policy.InvalidHost as exc:
        raise InvalidConnection(f"The API server URL's host is not usable: {exc}") from exc
    return parts.scheme, host, port


def check_address(address: IPAddress) -> None:
    """Raise :class:`AddressNotAllowed` unless the policy of the settings allows ``address``."""
    try:
        policy.AddressPolicy.from_settings().check(address)
    except policy.AddressNotAllowed as exc:
        raise AddressNotAllowed(str(exc)) from exc


def resolve(url: str, *, resolver: policy.Resolver | None = None) -> Endpoint:
    """Resolve and check ``url``; return the endpoint pinned to the first allowed address.

    Every address the name resolves to must pass: a name that also points at a forbidden
    address is refused rather than raced.
    """
    scheme, host, port = parse_server(url)
    try:
        addresses = policy.resolve(host, port, resolver=resolver)
    except policy.AddressNotAllowed as exc:
        raise AddressNotAllowed(str(exc)) from exc
    except policy.InvalidHost as exc:
        raise InvalidConnection(str(exc)) from exc
    except policy.ResolutionFailed as exc:
        raise DNSFailure(str(exc)) from exc
    return Endpoint(scheme, host, port, str(addresses[0]))


def refuse_redirects(pool_manager: Any) -> None:
    """Make a ``urllib3.PoolManager`` return redirects instead of following them.

    The cluster client's connections are pinned to the checked address; a redirect to another host
    would open a new, unchecked connection (``urllib3`` follows redirects across hosts whatever the
    pool's ``retries`` say). The Kubernetes API does not redirect, so a 3xx is an answer to report."""
    urlopen = pool_manager.urlopen

    def no_redirect(method: str, url: str, redirect: bool = True, **kw: Any) -> Any:
        return urlopen(method, url, redirect=False, **kw)

    pool_manager.urlopen = no_redirect
