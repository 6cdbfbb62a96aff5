"""Where the portal may connect: the address policy for cluster endpoints.

A cluster URL is user input, so it could point the server at its own cloud metadata service or
internal addresses (SSRF). The host is resolved once, every address is checked against the
policy, and the connection is pinned to the checked address (``tls_server_name`` keeps TLS
verification on the original name), so a DNS answer cannot change between check and use.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from clusters.kube.errors import AddressNotAllowed, InvalidConnection, Unreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Always refused, whatever the configuration: cloud metadata and link-local ranges.
ALWAYS_DENIED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("::/128"),
)


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    address: str  # the checked IP to connect to

    @property
    def pinned_url(self) -> str:
        ip = ipaddress.ip_address(self.address)
        host = f"[{ip}]" if ip.version == 6 else str(ip)
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def host_is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def _networks(entries: list[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


def parse_server(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url.strip())
    if parts.scheme != "https":
        raise InvalidConnection(f"The API server URL must start with https:// (got {url!r}).")
    if not parts.hostname:
        raise InvalidConnection(f"The API server URL {url!r} has no host.")
    if parts.username or parts.password:
        raise InvalidConnection("The API server URL must not contain a user name or password.")
    if parts.query or parts.fragment:
        raise InvalidConnection("The API server URL must not have a query or fragment.")
    if parts.path not in ("", "/"):
        raise InvalidConnection("API servers behind a path prefix are not supported; give the base URL.")
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise InvalidConnection(f"The API server URL {url!r} has an invalid port.") from exc
    return parts.scheme, parts.hostname, port


def check_address(address: IPAddress) -> None:
    for net in ALWAYS_DENIED:
        if address.version == net.version and address in net:
            raise AddressNotAllowed(
                f"{address} is a link-local or cloud-metadata address; the portal never connects there."
            )
    for net in _networks(settings.PORTAL_CLUSTER_DENY_NETWORKS):
        if address.version == net.version and address in net:
            raise AddressNotAllowed(f"{address} is in {net}, which PORTAL_CLUSTER_DENY_NETWORKS forbids.")
    if address.is_loopback and not settings.PORTAL_CLUSTER_ALLOW_LOOPBACK:
        raise AddressNotAllowed(
            f"{address} is a loopback address; set PORTAL_CLUSTER_ALLOW_LOOPBACK=true to allow it."
        )
    allow = _networks(settings.PORTAL_CLUSTER_ALLOW_NETWORKS)
    if allow and not any(address.version == n.version and address in n for n in allow):
        raise AddressNotAllowed(
            f"{address} is outside PORTAL_CLUSTER_ALLOW_NETWORKS ({', '.join(map(str, allow))})."
        )


def resolve(url: str) -> Endpoint:
    """Resolve and check ``url``; return the endpoint pinned to the first allowed address.

    Every address the name resolves to must pass: a name that also points at a forbidden
    address is refused rather than raced.
    """
    scheme, host, port = parse_server(url)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal)
        return Endpoint(scheme, host, port, str(literal))
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unreachable(f"Cannot resolve {host}: {exc.strerror or exc}.") from exc
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        check_address(ip)
        addresses.append(ip)
    if not addresses:
        raise Unreachable(f"{host} resolved to no address.")
    return Endpoint(scheme, host, port, str(addresses[0]))
