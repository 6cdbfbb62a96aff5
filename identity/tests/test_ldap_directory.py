"""identity.ldap against a real slapd (scripts/ldap-server.sh): binds, escaped searches, nested
groups, StartTLS and LDAPS with CA verification, and the errors a person can act on."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from identity import ldap
from identity.models import IdentityProvider, ProviderKind
from identity.testing import LdapServer
from portal.errors import Invalid, Unavailable

pytestmark = pytest.mark.django_db

BASE = "dc=example,dc=org"
DEVS = f"cn=devs,ou=groups,{BASE}"
ENGINEERING = f"cn=engineering,ou=groups,{BASE}"
ONCALL = f"cn=ops\\, on-call,ou=groups,{BASE}"


def provider_for(server: LdapServer, *, secret: str = "service-pass", name: str = "corp",
                 **config: object) -> IdentityProvider:
    provider = IdentityProvider.objects.create(name=name, kind=ProviderKind.LDAP, config=server.config(**config))
    provider.set_secret(secret)
    provider.save()
    return provider


def test_sign_in_over_ldaps_returns_the_entry_and_its_nested_groups(ldap_server: LdapServer) -> None:
    found = ldap.authenticate(provider_for(ldap_server), "alice", "alice-pass")
    assert found.dn == f"uid=alice,ou=people,{BASE}"
    assert found.username == "alice"
    assert found.email == "alice@example.org"
    assert found.display_name == "Alice Liddell"
    assert len(found.subject) == 36  # entryUUID, stable across renames
    # alice is in devs; devs is a member of engineering.
    assert found.groups == sorted([DEVS, ENGINEERING])


def test_without_nested_groups_only_direct_groups(ldap_server: LdapServer) -> None:
    found = ldap.authenticate(provider_for(ldap_server, nested_groups=False), "alice", "alice-pass")
    assert found.groups == [DEVS]


def test_start_tls_over_plain_port(ldap_server: LdapServer) -> None:
    provider = provider_for(ldap_server, server_uri=f"ldap://127.0.0.1:{ldap_server.ldap_port}", start_tls=True)
    assert ldap.authenticate(provider, "bob", "bob-pass").username == "bob"


def test_plain_ldap_without_start_tls_is_refused_before_connecting(ldap_server: LdapServer) -> None:
    provider = provider_for(ldap_server, server_uri=f"ldap://127.0.0.1:{ldap_server.ldap_port}")
    with pytest.raises(Invalid) as info:
        ldap.authenticate(provider, "bob", "bob-pass")
    assert info.value.code == "ldap_misconfigured"
    assert info.value.params["key"] == "start_tls"


def test_user_with_escaped_dn_and_a_group_with_an_escaped_comma(ldap_server: LdapServer) -> None:
    found = ldap.authenticate(provider_for(ldap_server), "jsmith", "jsmith-pass")
    assert found.display_name == "Smith, John"
    assert found.groups == sorted([DEVS, ENGINEERING])
    bob = ldap.authenticate(provider_for(ldap_server, name="corp2"), "bob", "bob-pass")
    assert bob.groups == sorted([ENGINEERING, ONCALL])


@pytest.mark.parametrize(("username", "password"), [
    ("alice", "wrong"),
    ("alice", ""),  # an empty password would be an anonymous bind, which LDAP accepts
    ("nobody", "nobody-pass"),
    ("*)(uid=*", "alice-pass"),
    ("*", "alice-pass"),
    ("alice)(|(uid=*", "alice-pass"),
    ("al*", "alice-pass"),
])
def test_wrong_unknown_and_injected_usernames_are_refused_alike(
        ldap_server: LdapServer, username: str, password: str) -> None:
    with pytest.raises(ldap.SignInRefused) as info:
        ldap.authenticate(provider_for(ldap_server), username, password)
    assert info.value.code == "invalid_credentials"
    assert info.value.status == 401


def test_the_injection_is_escaped_in_the_filter(ldap_server: LdapServer) -> None:
    config = ldap.LdapSettings.of(provider_for(ldap_server))
    assert config.user_filter_for("*)(uid=*") == r"(uid=\2a\29\28uid=\2a)"
    assert config.group_filter_for(f"cn=Smith\\, John,ou=people,{BASE}") == (
        r"(member=cn=Smith\5c, John,ou=people,dc=example,dc=org)")
    assert config.in_chain_filter_for("cn=a(b)") == r"(member:1.2.840.113556.1.4.1941:=cn=a\28b\29)"
    ad = ldap.LdapSettings(server_uri="ldaps://dc", group_filter="(&(objectClass=group)(member={user_dn}))")
    assert ad.in_chain_filter_for("CN=x*") == r"(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=x\2a))"
    assert ldap.LdapSettings(server_uri="ldaps://dc", group_filter="(memberUid={username})").in_chain_filter_for(
        "cn=x", "x") is None


def test_a_server_certificate_not_from_the_ca_is_refused(ldap_server: LdapServer) -> None:
    provider = provider_for(ldap_server, ca_pem=ldap_server.other_ca_pem)
    with pytest.raises(Unavailable) as info:
        ldap.authenticate(provider, "alice", "alice-pass")
    assert info.value.code == "ldap_certificate_rejected"
    starttls = provider_for(ldap_server, name="corp2", ca_pem=ldap_server.other_ca_pem, start_tls=True,
                            server_uri=f"ldap://127.0.0.1:{ldap_server.ldap_port}")
    with pytest.raises(Unavailable) as info:
        ldap.authenticate(starttls, "alice", "alice-pass")
    assert info.value.code == "ldap_certificate_rejected"


def test_a_host_name_is_checked_against_the_certificate(ldap_server: LdapServer) -> None:
    # localhost resolves (through the address policy) to loopback; the certificate names it.
    provider = provider_for(ldap_server, server_uri=f"ldaps://localhost:{ldap_server.ldaps_port}")
    assert ldap.authenticate(provider, "carol", "carol-pass").groups == [f"cn=admins,ou=groups,{BASE}"]


@pytest.mark.parametrize(("dn", "normal"), [
    (r"cn=ops\2C on-call,ou=groups,dc=example,dc=org", r"cn=ops\, on-call,ou=groups,dc=example,dc=org"),
    (r"CN=ops\, on-call,OU=groups,DC=example,DC=org", r"cn=ops\, on-call,ou=groups,dc=example,dc=org"),
    (r"cn=J\C3\BCrgen+uid=x,dc=a", "cn=J\u00fcrgen+uid=x,dc=a"),
    ("devs", "devs"),
])
def test_group_dns_have_one_spelling(dn: str, normal: str) -> None:
    assert ldap.normalize_dn(dn) == normal


def test_wrong_service_password(ldap_server: LdapServer) -> None:
    with pytest.raises(Unavailable) as info:
        ldap.authenticate(provider_for(ldap_server, secret="nope"), "alice", "alice-pass")
    assert info.value.code == "ldap_service_bind_failed"


def test_nothing_listening(ldap_server: LdapServer) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    provider = provider_for(ldap_server, server_uri=f"ldaps://127.0.0.1:{port}")
    with pytest.raises(Unavailable) as info:
        ldap.authenticate(provider, "alice", "alice-pass")
    assert info.value.code == "ldap_unreachable"


def test_a_server_that_never_answers_times_out(ldap_server: LdapServer, settings: object) -> None:
    settings.PORTAL_LDAP_TIMEOUT = 1  # type: ignore[attr-defined]
    with socket.socket() as silent:  # accepts the TCP connection, then says nothing (no TLS handshake)
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        provider = provider_for(ldap_server, server_uri=f"ldaps://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(Unavailable) as info:
            ldap.authenticate(provider, "alice", "alice-pass")
    assert info.value.code == "ldap_timeout"
    assert time.monotonic() - started < 5


def test_address_policy_refuses_metadata_and_loopback_in_production(
        ldap_server: LdapServer, settings: object) -> None:
    provider = provider_for(ldap_server, server_uri="ldaps://169.254.169.254")
    with pytest.raises(Unavailable) as info:
        ldap.authenticate(provider, "alice", "alice-pass")
    assert info.value.code == "ldap_address_not_allowed"
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = False  # type: ignore[attr-defined]
    with pytest.raises(Unavailable) as info:
        ldap.authenticate(provider_for(ldap_server, name="corp2"), "alice", "alice-pass")
    assert info.value.code == "ldap_address_not_allowed"


def test_test_connection_reports_what_it_found(ldap_server: LdapServer) -> None:
    result = ldap.test_connection(provider_for(ldap_server))
    assert result["ok"] is True
    assert result["details"]["users"] == 4  # alice, bob, carol, jsmith
    assert result["details"]["groups"] == 4  # devs, engineering, admins, ops\, on-call
    assert result["details"]["tls"] == "LDAPS"
    assert "found 4 users and 4 groups" in result["message"]


def test_test_connection_names_a_missing_base(ldap_server: LdapServer) -> None:
    provider = provider_for(ldap_server, user_search_base=f"ou=nobody,{BASE}")
    with pytest.raises(Invalid) as info:
        ldap.test_connection(provider)
    assert info.value.code == "ldap_base_not_found"


def test_active_directory_subject_is_the_object_guid() -> None:
    guid = uuid.UUID("a5a4e4b6-3c2d-4f1e-9b8a-0123456789ab")
    entry = {"dn": "CN=x,DC=corp", "attributes": {}, "raw_attributes": {"objectGUID": [guid.bytes_le]}}
    assert ldap._subject(entry) == str(guid)
    assert ldap._subject({"dn": "CN=x,DC=corp", "attributes": {}, "raw_attributes": {}}) == "CN=x,DC=corp"
