"""The periodic LDAP re-evaluation (identity/tasks.py) against the real slapd of
scripts/ldap-server.sh: someone removed from a group in the directory loses what the mapping gave
at the next run, a second run changes nothing, and a directory that cannot be asked takes nothing
away."""

from __future__ import annotations

import socket

import pytest

from identity import actions, ldap, tasks
from identity.models import ExternalIdentity, IdentityProvider
from portal.models import AuditRecord, User
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db

BASE = "dc=example,dc=org"
BOB = f"uid=bob,ou=people,{BASE}"
ENGINEERING = f"cn=engineering,ou=groups,{BASE}"


def sign_in(provider: IdentityProvider, username: str) -> User:
    found = ldap.authenticate(provider, username, f"{username}-pass")
    return actions.sign_in_external(provider=provider, subject=found.subject, username=found.username,
                                    email=found.email, display_name=found.display_name, groups=found.groups)


@pytest.fixture
def directory(ldap_server: object) -> IdentityProvider:
    provider = actions.create_provider(data={"name": "corp-recheck", "kind": "ldap", "display_name": "Corp",
                                             "config": ldap_server.config(),  # type: ignore[attr-defined]
                                             "secret": ldap_server.bind_password})  # type: ignore[attr-defined]
    Role.ensure_builtin()
    return provider


def test_the_recheck_takes_away_what_a_removed_group_gave(directory: IdentityProvider, ldap_server: object,
                                                         django_capture_on_commit_callbacks: object) -> None:
    team = Workspace.objects.create(name="recheck-team")
    actions.create_mapping(data={"provider": directory, "group": ENGINEERING, "workspace": team,
                                 "role": Role.objects.get(key="developer")})
    actions.create_mapping(data={"provider": directory, "group": "engineering", "system_role": "operator"})
    bob = sign_in(directory, "bob")
    bob.refresh_from_db()
    assert bob.role == "operator"
    assert Membership.objects.filter(user=bob, workspace=team).exists()
    assert tasks.recheck_provider(directory.pk) == {"checked": 1, "changed": 0}

    server = ldap_server  # bob leaves engineering (a group keeps at least one member: devs stays in it)
    server.ldapmodify(f"dn: {ENGINEERING}\nchangetype: modify\ndelete: member\nmember: {BOB}\n")  # type: ignore[attr-defined]
    try:
        assert tasks.recheck_provider(directory.pk) == {"checked": 1, "changed": 1}
        assert tasks.recheck_provider(directory.pk) == {"checked": 1, "changed": 0}  # converges
    finally:
        server.ldapmodify(f"dn: {ENGINEERING}\nchangetype: modify\nadd: member\nmember: {BOB}\n")  # type: ignore[attr-defined]
    bob.refresh_from_db()
    assert bob.role == "user"
    assert not Membership.objects.filter(user=bob, workspace=team).exists()
    record = AuditRecord.objects.filter(action="identity.reevaluate", target_id=str(bob.pk)).latest("pk")
    assert record.detail["reason"] == "groups_changed"
    assert record.detail["removed"] == ["recheck-team:developer"]


def test_a_directory_that_cannot_be_asked_takes_nothing_away(directory: IdentityProvider) -> None:
    actions.create_mapping(data={"provider": directory, "group": "ops, on-call", "system_role": "operator"})
    bob = sign_in(directory, "bob")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    actions.update_provider(provider=directory, data={"config": {"server_uri": f"ldaps://127.0.0.1:{closed}"}})
    assert tasks.recheck_provider(directory.pk) == {"checked": 0, "changed": 0}
    bob.refresh_from_db()
    assert bob.role == "operator"
    assert ExternalIdentity.objects.get(user=bob).mapped_role == "operator"


def test_disabled_and_oidc_providers_are_not_rechecked(directory: IdentityProvider) -> None:
    sign_in(directory, "bob")
    actions.update_provider(provider=directory, data={"enabled": False})
    assert tasks.recheck_provider(directory.pk) == {"checked": 0, "changed": 0}
