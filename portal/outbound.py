"""Outbound HTTP(S) for everything the portal fetches outside the cluster client: chart
repositories, OCI registries (and webhooks and notification targets later).

Every target is user input, so every connection goes through the address policy of
:mod:`portal.addresses`, and is *pinned*: :func:`session` returns a ``requests`` session whose
connections resolve the host once, check every address, and open the socket to the checked
address itself. ``requests``/``urllib3`` never resolve the name a second time, so a DNS answer
that changes between check and use (DNS rebinding) cannot move the connection; the URL keeps
the host name, so the ``Host`` header, SNI and certificate verification are for the name. The
check happens when a connection is opened, so each redirect hop, whoever follows it, is checked
and pinned too. Proxies and ``.netrc`` from the environment are ignored (a proxy would connect
on our behalf to an address we never checked).

:func:`failure_message` turns what went wrong into one message a person can act on without
turning the portal into a port scanner: refused, reset, closed and timed-out connections all read
"Could not connect to <host>"; the detail goes to the server log only.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from portal import addresses
from portal.addresses import (
    AddressError,
    AddressNotAllowed,
    AddressPolicy,
    InvalidHost,
    ResolutionFailed,
    Resolver,
)

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Pinning:
    """How a session's connections choose their address. ``policy=None``: the settings' policy,
    read when each connection is opened."""

    policy: AddressPolicy | None = None
    resolver: Resolver | None = None


def open_pinned_socket(host: str, port: int, *, pinning: Pinning, timeout: Any = _DEFAULT_TIMEOUT,
                       source_address: tuple[str, int] | None = None,
                       socket_options: list[tuple[int, int, int | bytes]] | None = None) -> tuple[socket.socket, str]:
    """A TCP socket to a checked address of ``host`` and that address (raises :class:`AddressError`
    when the policy refuses, ``OSError`` when no address answers)."""
    checked = addresses.resolve(host, port, policy=pinning.policy, resolver=pinning.resolver)
    error: OSError | None = None
    for address in checked:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in socket_options or []:
                sock.setsockopt(*option)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect((str(address), port))
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock, str(address)
    assert error is not None
    raise error


class _PinnedConnectionMixin:
    """``_new_conn`` of urllib3's connections, connecting to the checked address only."""

    host: str
    port: int
    timeout: Any
    source_address: tuple[str, int] | None
    socket_options: Any
    _dns_host: str

    def __init__(self, *args: Any, pinning: Pinning, **kwargs: Any) -> None:
        self.pinning = pinning
        self.pinned_address = ""
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        try:
            sock, self.pinned_address = open_pinned_socket(
                self._dns_host, self.port, pinning=self.pinning, timeout=self.timeout,
                source_address=self.source_address, socket_options=self.socket_options)
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc  # type: ignore[arg-type]
        logger.debug("outbound connection to %s:%s pinned to %s", self.host, self.port, self.pinned_address)
        return sock


class PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedPoolManager(urllib3.PoolManager):
    def __init__(self, *args: Any, pinning: Pinning, **kwargs: Any) -> None:
        self.pinning = pinning
        super().__init__(*args, **kwargs)

    def _new_pool(self, scheme: str, host: str, port: int,
                  request_context: dict[str, Any] | None = None) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection
        pool.conn_kw["pinning"] = self.pinning
        return pool


class PinnedAdapter(HTTPAdapter):
    """A transport adapter whose every connection is checked and pinned (:class:`Pinning`)."""

    def __init__(self, pinning: Pinning, **kwargs: Any) -> None:
        self.pinning = pinning
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _PinnedPoolManager(num_pools=connections, maxsize=maxsize, block=block,
                                              pinning=self.pinning, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise requests.exceptions.InvalidURL("Outbound requests of the portal do not go through proxies.")


def canonical_url(url: str) -> str:
    """``url`` with its host in the canonical form the policy checks (:func:`portal.addresses.canonical_host`:
    IDNA-mapped, numeric IPv4 forms in dotted-quad), so what is requested is what was checked.
    Raises :class:`InvalidHost` for a host that is no name or address."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    host = addresses.canonical_host(parts.hostname)
    try:
        port = parts.port
    except ValueError:
        return url  # requests reports the invalid port
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}{f'[{host}]' if ':' in host else host}{f':{port}' if port is not None else ''}"
    return parts._replace(netloc=netloc).geturl()


class PinnedSession(requests.Session):
    """A session requesting URLs in canonical form; its adapters check and pin every connection."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        return super().request(method, canonical_url(url if isinstance(url, str) else url.decode()), *args, **kwargs)


def session(*, policy: AddressPolicy | None = None, resolver: Resolver | None = None) -> requests.Session:
    """A ``requests`` session whose every connection (redirect hops included) is checked against the
    address policy and pinned to the checked address. Close it when done (``with session() as s``)."""
    out = PinnedSession()
    out.trust_env = False  # no proxies or .netrc from the environment
    out.max_redirects = MAX_REDIRECTS
    adapter = PinnedAdapter(Pinning(policy=policy, resolver=resolver))
    out.mount("http://", adapter)
    out.mount("https://", adapter)
    return out


def validate_url(url: str, *, policy: AddressPolicy | None = None, resolver: Resolver | None = None,
                 schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Check a URL the portal will store and fetch later; return its canonical host.

    Raises :class:`AddressError` (``code`` says which) for a forbidden or invalid host; a name that
    does not resolve now is accepted (every connection checks again)."""
    if any(c.isspace() or not c.isprintable() or c == "\\" for c in url):
        raise InvalidHost("The address has spaces, control characters or backslashes.")
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise InvalidHost(f"The address must start with {' or '.join(s + '://' for s in schemes)} and name a host.")
    if "@" in parts.netloc:
        raise InvalidHost("Put credentials in their own fields, not in the address.")
    try:
        port = parts.port or (443 if parts.scheme.endswith("https") or parts.scheme == "oci" else 80)
    except ValueError as exc:
        raise InvalidHost("The port is not a number between 1 and 65535.") from exc
    host = addresses.canonical_host(parts.hostname)
    addresses.check_host(host, port, policy=policy, resolver=resolver)
    return host


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or url)[:255]


def failure_message(exc: BaseException, *, url: str, what: str = "the server") -> str:
    """One message a person can act on for an outbound request that failed, or for a refusal of the
    address policy. Connection-level failures all give the same text; the detail is logged."""
    host = host_of(url)
    if isinstance(exc, AddressNotAllowed):
        return f"The address is not allowed: {exc}"
    if isinstance(exc, InvalidHost | ResolutionFailed | AddressError):
        return str(exc)
    if isinstance(exc, requests.exceptions.SSLError) and _is_verification_failure(exc):
        logger.info("outbound TLS verification of %s failed: %s", host, exc)
        return (f"TLS verification of {host} failed: its certificate is not trusted for that name; if {what} uses "
                "a private CA, give its certificate (ca_pem).")
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"{url} redirected more than {MAX_REDIRECTS} times."
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema
                  | requests.exceptions.MissingSchema):
        return f"{url} is not an address the portal fetches."
    logger.warning("outbound request to %s failed: %s: %s", host, type(exc).__name__, exc)
    return f"Could not connect to {host}; check the address and that the portal may reach it."


def _is_verification_failure(exc: BaseException) -> bool:
    """Whether an SSLError is a certificate the CA or the name does not match (worth telling the user),
    not a handshake that failed for another reason (reported as a failed connection)."""
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text
