"""Signing in against an LDAP directory or Active Directory, with ldap3.

The flow is the classic one: bind with the provider's service account, search the user under
``user_search_base`` with ``user_filter`` (the typed username escaped with
``escape_filter_chars``, so ``*)(uid=*`` is a literal that matches nobody), bind as the entry
found with the typed password, then resolve the user's groups with the service account: direct
groups by ``group_filter`` and, with ``nested_groups``, the groups containing those groups,
breadth first with a depth cap (or, when the server says it is Active Directory, in one query
with LDAP_MATCHING_RULE_IN_CHAIN). The outcome goes to :func:`identity.actions.sign_in_external`,
which owns users, links, mappings and their audit.

Why ldap3 and not django-auth-ldap: django-auth-ldap is an authentication backend over
python-ldap (a C extension needing libldap headers), configured by global settings, and it
writes users itself. Here providers are rows (several at once, edited by admins), and the one
writer of users is identity.actions; ldap3 is pure Python, takes a connection per call with our
own socket timeouts, and lets us connect to the address the address policy checked.

Transport: ``ldaps://`` or ``ldap://`` with StartTLS; plain LDAP (a password in clear) is refused.
The server certificate must chain to the provider's ``ca_pem`` (or the system CAs when empty)
and name the configured host. The host goes through :mod:`portal.addresses` and the connection
is made to the address it checked, never resolved again. Every connection has a connect and an
operation timeout.

Errors are :mod:`portal.errors` with stable codes: a refused sign-in is :class:`SignInRefused`
(401 ``invalid_credentials``, the same whether the user is unknown, the password wrong or the
username an injection attempt); a directory that cannot be used is Unavailable (503) with a
code saying why (``ldap_unreachable``, ``ldap_timeout``, ``ldap_certificate_rejected``,
``ldap_service_bind_failed``, ``ldap_address_not_allowed``); a provider configured wrongly is
Invalid (400, ``ldap_misconfigured``).
"""

from __future__ import annotations

import contextlib
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from django.conf import settings
from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from portal import addresses
from portal.errors import Invalid, PortalError, Unavailable

if TYPE_CHECKING:
    from identity.models import ExternalIdentity, IdentityProvider

# Seconds to open the TCP connection, and for any one answer of the server (the TLS handshake
# included); settings PORTAL_LDAP_CONNECT_TIMEOUT and PORTAL_LDAP_TIMEOUT override them.
CONNECT_TIMEOUT = 5
OPERATION_TIMEOUT = 10
MAX_GROUP_DEPTH = 8  # nested groups followed this many levels below the direct ones
MAX_GROUPS = 1000  # and no more groups than this in all
COUNT_LIMIT = 1000  # test_connection counts up to this many entries per base
IN_CHAIN = "1.2.840.113556.1.4.1941"  # AD's LDAP_MATCHING_RULE_IN_CHAIN
AD_CAPABILITY = "1.2.840.113556.1.4.800"  # LDAP_CAP_ACTIVE_DIRECTORY_OID, in the root DSE's supportedCapabilities
MEMBER_TEMPLATE = "(member={user_dn})"


class SignInRefused(PortalError):
    """401: the directory does not vouch for this username and password (whichever part is wrong)."""

    status = 401
    default_code = "invalid_credentials"


def _refused() -> SignInRefused:
    return SignInRefused("Wrong username or password.")


@dataclass(frozen=True)
class LdapSettings:
    """A provider's LDAP configuration with its defaults (the keys are documented in docs/sso.md)."""

    server_uri: str
    start_tls: bool = False
    ca_pem: str = ""
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    user_search_base: str = ""
    user_filter: str = "(uid={username})"
    username_attr: str = "uid"
    email_attr: str = "mail"
    display_name_attr: str = "cn"
    group_search_base: str = ""
    group_filter: str = "(member={user_dn})"
    nested_groups: bool = False
    connect_timeout: int = CONNECT_TIMEOUT
    timeout: int = OPERATION_TIMEOUT

    @classmethod
    def of(cls, provider: IdentityProvider) -> LdapSettings:
        config = dict(provider.config or {})
        known = {name for name in cls.__dataclass_fields__
                 if name not in ("bind_password", "connect_timeout", "timeout")}
        values = {key: value for key, value in config.items() if key in known and value not in (None, "")}
        if not values.get("server_uri"):
            raise Invalid("The LDAP provider has no server_uri.", code="ldap_misconfigured",
                          params={"provider": provider.name, "key": "server_uri"})
        if not values.get("user_search_base"):
            raise Invalid("The LDAP provider has no user_search_base.", code="ldap_misconfigured",
                          params={"provider": provider.name, "key": "user_search_base"})
        return cls(bind_password=provider.get_secret(),
                   connect_timeout=max(1, int(getattr(settings, "PORTAL_LDAP_CONNECT_TIMEOUT", CONNECT_TIMEOUT))),
                   timeout=max(1, int(getattr(settings, "PORTAL_LDAP_TIMEOUT", OPERATION_TIMEOUT))), **values)

    def user_filter_for(self, username: str) -> str:
        """The search filter for ``username``; every filter metacharacter in it is escaped."""
        return self.user_filter.replace("{username}", escape_filter_chars(username))

    def group_filter_for(self, member_dn: str, username: str = "", *, template: str | None = None) -> str:
        return ((template or self.group_filter).replace("{user_dn}", escape_filter_chars(member_dn))
                .replace("{username}", escape_filter_chars(username)))

    def in_chain_filter_for(self, user_dn: str, username: str = "") -> str | None:
        """Active Directory: ``group_filter`` with its ``(member={user_dn})`` made transitive
        (every group the user is in, through any depth, in one query); None if it has none."""
        if MEMBER_TEMPLATE not in self.group_filter:
            return None
        template = self.group_filter.replace(MEMBER_TEMPLATE, f"(member:{IN_CHAIN}:={{user_dn}})")
        return self.group_filter_for(user_dn, username, template=template)


@dataclass(frozen=True)
class Endpoint:
    scheme: str  # "ldap" or "ldaps"
    host: str  # as configured (the name the certificate must carry)
    port: int
    address: str  # the checked address connected to


def endpoint(config: LdapSettings) -> Endpoint:
    """The server to connect to, checked by the address policy. Plain LDAP without StartTLS is refused."""
    parts = urlsplit(config.server_uri)
    scheme = parts.scheme.lower()
    if scheme not in ("ldap", "ldaps") or not parts.hostname:
        raise Invalid(f"server_uri {config.server_uri!r} is not ldaps://host[:port] or ldap://host[:port].",
                      code="ldap_misconfigured", params={"key": "server_uri"})
    if scheme == "ldap" and not config.start_tls:
        raise Invalid("ldap:// without start_tls would send passwords in clear; use ldaps:// or turn on start_tls.",
                      code="ldap_misconfigured", params={"key": "start_tls"})
    try:
        port = parts.port or (636 if scheme == "ldaps" else 389)
    except ValueError as exc:
        raise Invalid(f"server_uri {config.server_uri!r} has an invalid port.", code="ldap_misconfigured",
                      params={"key": "server_uri"}) from exc
    try:
        resolved = addresses.resolve(parts.hostname, port)
    except addresses.AddressError as exc:
        raise Unavailable(f"The LDAP server {parts.hostname}: {exc}", code="ldap_address_not_allowed",
                          params={"host": parts.hostname, "reason": exc.code}) from exc
    return Endpoint(scheme, parts.hostname, port, str(resolved[0]))


def _server(config: LdapSettings, where: Endpoint) -> Server:
    # Verified against the provider's CA (the system's CAs when it has none); the certificate must
    # name the configured host (or the checked address connected to).
    tls = Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_data=config.ca_pem or None,
        valid_names=[where.host],
        sni=None if addresses.ip_literal(addresses.canonical_host(where.host)) else where.host,
    )
    host = f"[{where.address}]" if ":" in where.address else where.address
    return Server(host, port=where.port, use_ssl=where.scheme == "ldaps", tls=tls, get_info=NONE,
                  connect_timeout=config.connect_timeout)


def _connection_error(exc: Exception, where: Endpoint) -> Unavailable:
    text = str(exc)
    params = {"host": where.host, "port": where.port}
    if isinstance(exc, ldap_exc.LDAPCertificateError) or "CERTIFICATE" in text.upper() or "certificate" in text:
        return Unavailable(f"The LDAP server {where.host}:{where.port} presented a certificate that does not "
                           "chain to the provider's CA or does not name the host; check ca_pem and server_uri.",
                           code="ldap_certificate_rejected", params=params)
    if "timed out" in text or isinstance(exc, ldap_exc.LDAPSocketReceiveError):
        return Unavailable(f"The LDAP server {where.host}:{where.port} did not answer in time.",
                           code="ldap_timeout", params=params)
    if isinstance(exc, ldap_exc.LDAPStartTLSError):
        return Unavailable(f"StartTLS with the LDAP server {where.host}:{where.port} failed: {text}",
                           code="ldap_certificate_rejected", params=params)
    return Unavailable(f"Cannot reach the LDAP server {where.host}:{where.port}.", code="ldap_unreachable",
                       params=params)


@contextmanager
def _connection(config: LdapSettings, where: Endpoint, *, user: str | None, password: str | None
                ) -> Iterator[tuple[Connection, bool]]:
    """An open connection with TLS in place, bound as ``user`` (anonymous when None): (conn, bound)."""
    conn = Connection(_server(config, where), user=user, password=password, auto_bind=False,
                      raise_exceptions=False, receive_timeout=config.timeout, auto_referrals=False,
                      read_only=True)
    try:
        try:
            conn.open()
            if where.scheme == "ldap" and not conn.start_tls():
                raise Unavailable(f"The LDAP server {where.host}:{where.port} refused StartTLS.",
                                  code="ldap_starttls_refused", params={"host": where.host, "port": where.port})
            bound = conn.bind() if user is not None else True
        except ldap_exc.LDAPException as exc:
            raise _connection_error(exc, where) from exc
        yield conn, bool(bound)
    finally:
        with contextlib.suppress(ldap_exc.LDAPException):
            conn.unbind()


@contextmanager
def _service(config: LdapSettings, where: Endpoint) -> Iterator[Connection]:
    user = config.bind_dn or None
    with _connection(config, where, user=user, password=config.bind_password if user else None) as (conn, bound):
        if not bound:
            raise Unavailable("The LDAP service account could not bind: check bind_dn and its password.",
                              code="ldap_service_bind_failed", params={"host": where.host})
        yield conn


def _search(conn: Connection, where: Endpoint, base: str, flt: str, attributes: list[str], *,
            scope: Literal["BASE", "LEVEL", "SUBTREE"] = SUBTREE, size_limit: int = 0) -> list[dict[str, Any]]:
    try:
        conn.search(base, flt, search_scope=scope, attributes=attributes, size_limit=size_limit,
                    time_limit=int(conn.receive_timeout or OPERATION_TIMEOUT))
    except ldap_exc.LDAPException as exc:
        raise _connection_error(exc, where) from exc
    code = conn.result.get("result", 0) if conn.result else 0
    if code not in (0, 4, 32):  # success, size limit exceeded, no such object
        raise Unavailable(f"The LDAP search under {base!r} failed: {conn.result.get('description')} "
                          f"{conn.result.get('message') or ''}".strip(), code="ldap_search_failed",
                          params={"base": base, "result": conn.result.get("description")})
    return [entry for entry in (conn.response or []) if entry.get("type") == "searchResEntry"]


def _first(entry: dict[str, Any], attr: str) -> str:
    value = entry.get("attributes", {}).get(attr)
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value or "")


def _subject(entry: dict[str, Any]) -> str:
    """entryUUID (OpenLDAP), objectGUID (Active Directory, as a UUID) or, lacking both, the DN."""
    raw = entry.get("raw_attributes", {}).get("objectGUID") or []
    if raw and isinstance(raw[0], bytes) and len(raw[0]) == 16:
        return str(uuid.UUID(bytes_le=raw[0]))
    return _first(entry, "entryUUID") or str(entry["dn"])


def _unescape(value: str) -> str:
    out = bytearray()
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            pair = value[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out += bytes.fromhex(pair)
                i += 3
                continue
            out += value[i + 1].encode()
            i += 2
            continue
        out += value[i].encode()
        i += 1
    return out.decode("utf-8", errors="replace")


def normalize_dn(dn: str) -> str:
    """One spelling of a DN (RFC 4514 escapes, attribute types in lower case), so a group mapping
    written ``cn=ops\\, on-call,...`` matches the ``cn=ops\\2C on-call,...`` a server returns.
    Values keep their case (mappings compare LDAP groups case-insensitively). A string that is
    not a DN is returned as it is."""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except ldap_exc.LDAPInvalidDnError:
        return dn
    return "".join(f"{attr.lower()}={escape_rdn(_unescape(value))}{sep}" for attr, value, sep in parts)


@dataclass(frozen=True)
class DirectoryUser:
    dn: str
    subject: str
    username: str
    email: str
    display_name: str
    groups: list[str]


def _find_user(config: LdapSettings, conn: Connection, where: Endpoint, username: str) -> dict[str, Any] | None:
    attributes = [config.username_attr, config.email_attr, config.display_name_attr, "entryUUID", "objectGUID"]
    found = _search(conn, where, config.user_search_base, config.user_filter_for(username), attributes,
                    size_limit=2)
    # None, or several (a filter that is not unique): nobody is signed in.
    return found[0] if len(found) == 1 else None


def _is_active_directory(conn: Connection) -> bool:
    """Whether the root DSE lists Active Directory's capability (False when it cannot be read)."""
    try:
        conn.search("", "(objectClass=*)", search_scope=BASE, attributes=["supportedCapabilities"],
                    time_limit=int(conn.receive_timeout or OPERATION_TIMEOUT))
    except ldap_exc.LDAPException:
        return False
    for entry in conn.response or []:
        if entry.get("type") == "searchResEntry":
            return AD_CAPABILITY in (entry.get("attributes", {}).get("supportedCapabilities") or [])
    return False


def _groups(config: LdapSettings, conn: Connection, where: Endpoint, user_dn: str, username: str) -> list[str]:
    base = config.group_search_base or config.user_search_base
    in_chain = config.in_chain_filter_for(user_dn, username) if config.nested_groups else None
    if in_chain and _is_active_directory(conn):
        found = _search(conn, where, base, in_chain, ["cn"], size_limit=MAX_GROUPS)
        return sorted({normalize_dn(str(e["dn"])) for e in found})
    seen: dict[str, None] = {}
    seen_lower: set[str] = set()
    frontier = [str(e["dn"]) for e in _search(conn, where, base, config.group_filter_for(user_dn, username),
                                              ["cn"], size_limit=MAX_GROUPS)]
    depth = 0
    while frontier and len(seen) < MAX_GROUPS:
        next_level: list[str] = []
        for dn in frontier:
            if dn.lower() in seen_lower:
                continue
            seen[dn] = None
            seen_lower.add(dn.lower())
            if config.nested_groups and depth < MAX_GROUP_DEPTH:
                next_level += [str(e["dn"]) for e in _search(conn, where, base, config.group_filter_for(dn),
                                                             ["cn"], size_limit=MAX_GROUPS)]
        frontier = next_level
        depth += 1
    return sorted({normalize_dn(dn) for dn in seen})


def authenticate(provider: IdentityProvider, username: str, password: str) -> DirectoryUser:
    """Who the directory says ``username`` is, with their groups, if ``password`` is theirs.

    Raises :class:`SignInRefused` for any wrong username/password pair (an empty password too:
    LDAP would take it as an anonymous bind and succeed), or an Unavailable/Invalid saying why the
    directory could not be asked."""
    if not username or not password or "\x00" in username or "\x00" in password:
        raise _refused()
    config = LdapSettings.of(provider)
    where = endpoint(config)
    with _service(config, where) as conn:
        entry = _find_user(config, conn, where, username)
        # An unknown user costs the same connection and bind as a wrong password (to an entry that
        # cannot exist), so the answer's timing does not tell which usernames the directory has.
        dn = str(entry["dn"]) if entry is not None else f"cn={uuid.uuid4()},{config.user_search_base}"
        with _connection(config, where, user=dn, password=password) as (_, bound):
            if entry is None or not bound:
                raise _refused()
        return DirectoryUser(
            dn=dn, subject=_subject(entry), username=_first(entry, config.username_attr) or username,
            email=_first(entry, config.email_attr), display_name=_first(entry, config.display_name_attr),
            groups=_groups(config, conn, where, dn, username),
        )


def refresh_groups(identity: ExternalIdentity) -> list[str]:
    """The groups the directory gives this identity now, for the periodic re-evaluation.

    The user is looked up by the username it signed in with and must still carry the same
    subject; a user gone from the directory (or replaced by another entry of the same name) has
    no groups. A directory that cannot be asked raises (Unavailable/Invalid): nothing is taken
    away because of an outage."""
    config = LdapSettings.of(identity.provider)
    where = endpoint(config)
    with _service(config, where) as conn:
        entry = _find_user(config, conn, where, identity.username)
        if entry is None or _subject(entry) != identity.subject:
            return []
        return _groups(config, conn, where, str(entry["dn"]), identity.username)


def _count(conn: Connection, where: Endpoint, base: str, flt: str) -> tuple[int, bool]:
    found = _search(conn, where, base, flt, ["1.1"], size_limit=COUNT_LIMIT)
    return len(found), bool(conn.result and conn.result.get("result") == 4)


def test_connection(provider: IdentityProvider) -> dict[str, Any]:
    """Bind with the service account and count the users and groups under the search bases.

    Returns ``{"ok": True, "message", "details": {server, tls, users, groups, truncated}}``;
    a failure raises the same errors as a sign-in would (with their codes)."""
    config = LdapSettings.of(provider)
    where = endpoint(config)
    group_base = config.group_search_base or config.user_search_base
    with _service(config, where) as conn:
        for base in dict.fromkeys([config.user_search_base, group_base]):
            if not _search(conn, where, base, "(objectClass=*)", ["1.1"], scope=BASE):
                raise Invalid(f"The search base {base!r} does not exist or the service account cannot read it.",
                              code="ldap_base_not_found", params={"base": base})
        users, users_more = _count(conn, where, config.user_search_base, config.user_filter.replace("{username}", "*"))
        group_filter = config.group_filter.replace("{user_dn}", "*").replace("{username}", "*")
        groups, groups_more = _count(conn, where, group_base, group_filter)
    tls = "LDAPS" if where.scheme == "ldaps" else "StartTLS"
    more = "+" if users_more else ""
    gmore = "+" if groups_more else ""
    return {
        "ok": True,
        "message": f"Bound to {where.host}:{where.port} over {tls} as the service account; found "
                   f"{users}{more} users and {groups}{gmore} groups.",
        "details": {"server": f"{where.host}:{where.port}", "tls": tls, "users": users, "groups": groups,
                    "truncated": users_more or groups_more},
    }
