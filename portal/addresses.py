"""Where the portal may connect: one address policy for every outbound connection.

Cluster endpoints, chart repositories, OCI registries (and webhooks and notification targets
later) are user input, so each could point the server at its cloud metadata service or at
internal addresses (SSRF). Everything the portal connects to goes through :func:`resolve`:

1. The host is put in one canonical form (:func:`canonical_host`): IDNA/UTS #46 mapping first
   (so fullwidth or circled digits become digits), one trailing dot dropped, IPv4 written in any
   form ``inet_aton`` accepts (``2852039166``, ``0251.0376.0251.0376``, ``0xa9fea9fe``, ``127.1``)
   turned into dotted-quad, and IPv6 scope ids and percent signs refused. The connection is
   made to what this canonical form means, so no second parser sees a different host.
2. A literal address is checked as it is; a name is resolved once and *every* address it has
   must pass (a name that also points at a forbidden address is refused, not raced).
3. Each address is checked together with every IPv4 address it embeds
   (:func:`embedded_ipv4`: IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64, 6to4, Teredo,
   ISATAP), because the packet may end up at that IPv4 address. ``::ffff:169.254.169.254`` is
   169.254.169.254, and ``64:ff9b::a9fe:a9fe`` reaches it through a NAT64 gateway.

The caller connects to the addresses :func:`resolve` returned (see :mod:`portal.outbound` and
``clusters.kube.client``), never resolving the name again, so a DNS answer cannot change
between the check and the connection.

The policy (:class:`AddressPolicy`) comes from the settings ``PORTAL_CLUSTER_ALLOW_LOOPBACK``,
``PORTAL_CLUSTER_DENY_NETWORKS`` and ``PORTAL_CLUSTER_ALLOW_NETWORKS`` (named when clusters were
the only outbound target; they govern every target). Link-local, cloud-metadata, unspecified,
multicast and reserved addresses are refused whatever the settings say.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import idna
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class AddressError(Exception):
    """Base of the policy's errors; the text is a message a person can act on."""

    code = "address_error"


class AddressNotAllowed(AddressError):
    """The host is, or resolves to, an address the policy forbids."""

    code = "address_not_allowed"


class InvalidHost(AddressError):
    """The host is not a usable name or address (a scope id, a malformed numeric address, ...)."""

    code = "invalid_host"


class ResolutionFailed(AddressError):
    """The name does not resolve (or resolves to no address)."""

    code = "host_not_resolved"


_METADATA = "is a link-local or cloud-metadata address; the portal never connects there."
# Refused whatever the configuration says: (network, why).
ALWAYS_DENIED: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("169.254.0.0/16"), _METADATA),
    (ipaddress.ip_network("fe80::/10"), _METADATA),
    (ipaddress.ip_network("fd00:ec2::254/128"), _METADATA),  # AWS metadata over IPv6
    (ipaddress.ip_network("100.100.100.200/32"), _METADATA),  # Alibaba Cloud metadata
    (ipaddress.ip_network("0.0.0.0/8"), "is an unspecified ('this host') address; the portal never connects there."),
    (ipaddress.ip_network("::/128"), "is the unspecified address; the portal never connects there."),
    (ipaddress.ip_network("224.0.0.0/4"), "is a multicast address; the portal never connects there."),
    (ipaddress.ip_network("ff00::/8"), "is a multicast address; the portal never connects there."),
    (ipaddress.ip_network("240.0.0.0/4"), "is a reserved or broadcast address; the portal never connects there."),
)

# IPv6 ranges that carry an IPv4 address in their low 32 bits (besides those ``ipaddress`` knows).
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated (RFC 4291), still routed by some stacks
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))  # RFC 6052, RFC 8215


def embedded_ipv4(address: IPAddress) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses ``address`` carries, each with the name of the form (``[]`` for none)."""
    if address.version == 4:
        return []
    assert isinstance(address, ipaddress.IPv6Address)
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    out: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.ipv4_mapped is not None:
        out.append(("IPv4-mapped", address.ipv4_mapped))
    elif address in _IPV4_TRANSLATED:
        out.append(("IPv4-translated", low32))
    elif address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: and ::1
        out.append(("IPv4-compatible", low32))
    if any(address in net for net in _NAT64):
        out.append(("NAT64", low32))
    if address.sixtofour is not None:
        out.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        out += [("Teredo server", server), ("Teredo client", client)]
    if (int(address) >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP interface identifier (RFC 5214)
        out.append(("ISATAP", low32))
    return out


def _candidates(address: IPAddress) -> list[tuple[IPAddress, str]]:
    """What to check for ``address``: (address, how it was reached) pairs.

    An IPv4-mapped or -translated address *is* its IPv4 address (the kernel connects to that);
    the tunnelled forms are checked both as themselves and as the IPv4 address they carry."""
    embedded = embedded_ipv4(address)
    if embedded and embedded[0][0] in ("IPv4-mapped", "IPv4-translated"):
        return [(ipv4, f"{address} ({form} {ipv4})") for form, ipv4 in embedded]
    return [(address, str(address)), *[(ipv4, f"{address} ({form} {ipv4})") for form, ipv4 in embedded]]


def _networks(entries: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    return tuple(e if isinstance(e, ipaddress.IPv4Network | ipaddress.IPv6Network)
                 else ipaddress.ip_network(str(e), strict=False) for e in entries)


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses the portal may connect to, beyond :data:`ALWAYS_DENIED`."""

    allow_loopback: bool = False
    deny: tuple[IPNetwork, ...] = ()
    allow: tuple[IPNetwork, ...] = ()  # empty: everything not denied

    @classmethod
    def from_settings(cls) -> AddressPolicy:
        return cls(allow_loopback=bool(settings.PORTAL_CLUSTER_ALLOW_LOOPBACK),
                   deny=_networks(settings.PORTAL_CLUSTER_DENY_NETWORKS),
                   allow=_networks(settings.PORTAL_CLUSTER_ALLOW_NETWORKS))

    @classmethod
    def production(cls) -> AddressPolicy:
        """The production profile's defaults: no loopback, no lists."""
        return cls(allow_loopback=False)

    def check(self, address: IPAddress) -> None:
        """Raise :class:`AddressNotAllowed` unless ``address`` and every IPv4 address it embeds pass."""
        for candidate, shown in _candidates(address):
            self._check_one(candidate, shown)

    def _check_one(self, address: IPAddress, shown: str) -> None:
        for net, why in ALWAYS_DENIED:
            if address.version == net.version and address in net:
                raise AddressNotAllowed(f"{shown} {why}")
        for net in self.deny:
            if address.version == net.version and address in net:
                raise AddressNotAllowed(f"{shown} is in {net}, which PORTAL_CLUSTER_DENY_NETWORKS forbids.")
        if address.is_loopback and not self.allow_loopback:
            raise AddressNotAllowed(
                f"{shown} is a loopback address; set PORTAL_CLUSTER_ALLOW_LOOPBACK=true to allow it.")
        if self.allow and not any(address.version == n.version and address in n for n in self.allow):
            raise AddressNotAllowed(
                f"{shown} is outside PORTAL_CLUSTER_ALLOW_NETWORKS ({', '.join(map(str, self.allow))}).")


# ---------------------------------------------------------------------------- hosts

_NUMBER = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _number(label: str, host: str) -> int:
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        if not set(label) <= set("01234567"):
            raise InvalidHost(f"{host!r} is not a valid IPv4 address ({label!r} is not an octal number).")
        return int(label, 8)
    return int(label)


def _numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host written as numbers means (every form ``inet_aton`` and browsers
    accept), ``None`` for a name, :class:`InvalidHost` for numbers that are no address."""
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not _NUMBER.match(labels[-1]):
        return None  # a name (no top-level domain is all digits)
    if len(labels) > 4 or not all(_NUMBER.match(label) for label in labels):
        raise InvalidHost(f"{host!r} is neither a name nor an IPv4 address.")
    numbers = [_number(label, host) for label in labels]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidHost(f"{host!r} is not a valid IPv4 address (a part is out of range).")
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)


def canonical_host(host: str) -> str:
    """The one form of ``host`` the portal checks and connects to (lowercase ASCII name, dotted-quad
    IPv4 or compressed IPv6 without brackets); :class:`InvalidHost` if it is not usable."""
    raw = host
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise InvalidHost("The address has no host.")
    if "%" in host:
        raise InvalidHost(f"{raw!r}: IPv6 scope (zone) ids and percent-encoded hosts are not accepted.")
    if any(c.isspace() or not c.isprintable() or c in "\\/@?#[]" for c in host):
        raise InvalidHost(f"{raw!r} has characters no host name or address has.")
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError as exc:
            raise InvalidHost(f"{raw!r} is not a valid IPv6 address.") from exc
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidHost(f"{raw!r} is not a valid internationalised domain name ({exc}).") from exc
    host = host.lower()
    literal = _numeric_ipv4(host)
    if literal is not None:
        return str(literal)
    if host.endswith("."):
        host = host[:-1]  # the fully qualified form of the same name
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidHost(f"{raw!r} is not a valid host name.")
    return host


def ip_literal(host: str) -> IPAddress | None:
    """The address a canonical host is, or ``None`` for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer for ``host`` (``socket.getaddrinfo``, looked up at call time)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def resolve(host: str, port: int, *, policy: AddressPolicy | None = None,
            resolver: Resolver | None = None) -> list[IPAddress]:
    """The checked addresses to connect to for ``host``, in the resolver's order.

    Raises :class:`InvalidHost`, :class:`ResolutionFailed`, or :class:`AddressNotAllowed` if any
    address of the name is forbidden."""
    policy = policy or AddressPolicy.from_settings()
    canonical = canonical_host(host)
    literal = ip_literal(canonical)
    if literal is not None:
        policy.check(literal)
        return [literal]
    try:
        answers = (resolver or system_resolver)(canonical, port)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ResolutionFailed(f"Cannot resolve {canonical}: {reason}.") from exc
    out: list[IPAddress] = []
    for answer in answers:
        try:
            # A resolver's scope id only matters for link-local addresses, which are refused anyway.
            address = ipaddress.ip_address(answer.split("%", 1)[0])
        except ValueError as exc:
            raise ResolutionFailed(f"{canonical} resolved to {answer!r}, which is not an address.") from exc
        try:
            policy.check(address)
        except AddressNotAllowed as exc:
            raise AddressNotAllowed(f"{canonical} resolves to a forbidden address: {exc}") from exc
        if address not in out:
            out.append(address)
    if not out:
        raise ResolutionFailed(f"{canonical} resolved to no address.")
    return out


def check_host(host: str, port: int, *, policy: AddressPolicy | None = None,
               resolver: Resolver | None = None) -> None:
    """Validate ``host`` for storing (a source's or an endpoint's address): a forbidden or invalid
    host raises; a name that does not resolve *now* is accepted (it is checked again, and the
    connection pinned, every time the portal connects)."""
    with contextlib.suppress(ResolutionFailed):
        resolve(host, port, policy=policy, resolver=resolver)
