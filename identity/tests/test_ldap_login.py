"""POST /api/auth/ldap/{name}/login/ against a real slapd: sign-in, nested groups mapped to roles,
losing a group (at the next sign-in and at the periodic refresh), and every refusal with its
code, its audit entry and nothing created."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from identity import actions, ldap
from identity.models import ExternalIdentity, GroupMapping, IdentityProvider, ProviderKind
from identity.testing import LdapServer
from portal.models import AuditRecord, User
from portal.testing import make_user
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db

BASE = "dc=example,dc=org"
ALICE = f"uid=alice,ou=people,{BASE}"
DEVS = f"cn=devs,ou=groups,{BASE}"
ENGINEERING = f"cn=engineering,ou=groups,{BASE}"
URL = "/api/auth/ldap/corp/login/"


@pytest.fixture
def provider(ldap_server: LdapServer) -> IdentityProvider:
    item = IdentityProvider.objects.create(name="corp", display_name="Corp directory", kind=ProviderKind.LDAP,
                                           config=ldap_server.config())
    item.set_secret(ldap_server.bind_password)
    item.save()
    return item


@pytest.fixture
def team(provider: IdentityProvider) -> Workspace:
    """engineering (nested: alice through devs) → developer in "team"; admins → system admin;
    the group with an escaped comma in its DN → operator."""
    workspace = Workspace.objects.create(name="team")
    GroupMapping.objects.create(provider=provider, group=ENGINEERING, workspace=workspace,
                                role=Role.objects.get(key="developer"))
    GroupMapping.objects.create(provider=provider, group="admins", system_role="admin")
    GroupMapping.objects.create(provider=provider, group=f"cn=ops\\, on-call,ou=groups,{BASE}", system_role="operator")
    return workspace


def csrf_client() -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf/").json()["csrfToken"]
    return client, token


def sign_in(username: str, password: str, url: str = URL) -> tuple[APIClient, object]:
    client, token = csrf_client()
    response = client.post(url, {"username": username, "password": password}, format="json",
                           HTTP_X_CSRFTOKEN=token)
    return client, response


@pytest.fixture
def alice_out_of_devs(ldap_server: LdapServer) -> Iterator[None]:
    """Takes alice out of devs (so out of engineering too) for the test, and puts her back."""
    ldap_server.ldapmodify(f"dn: {DEVS}\nchangetype: modify\ndelete: member\nmember: {ALICE}\n")
    try:
        yield
    finally:
        ldap_server.ldapmodify(f"dn: {DEVS}\nchangetype: modify\nadd: member\nmember: {ALICE}\n")


def refusals(code: str) -> list[AuditRecord]:
    return [r for r in AuditRecord.objects.filter(action="identity.refused") if r.detail.get("code") == code]


def test_login_requires_csrf(provider: IdentityProvider) -> None:
    response = APIClient(enforce_csrf_checks=True).post(URL, {"username": "alice", "password": "alice-pass"},
                                                        format="json")
    assert response.status_code == 403
    assert not User.objects.filter(username="alice").exists()


def test_sign_in_creates_the_user_with_the_roles_of_nested_groups(team: Workspace) -> None:
    client, response = sign_in("alice", "alice-pass")
    assert response.status_code == 200, response.content  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.org"
    assert body["role"] == "user"
    assert client.get("/api/auth/me/").json()["username"] == "alice"
    user = User.objects.get(username="alice")
    assert user.local_login_enabled is False
    identity = ExternalIdentity.objects.get(user=user)
    assert identity.groups == sorted([DEVS, ENGINEERING])
    # engineering reached through devs ⊂ engineering
    assert Membership.objects.get(user=user, workspace=team).role.key == "developer"
    record = AuditRecord.objects.filter(action="identity.sign_in").latest("id")
    assert record.detail["provider"] == "corp"
    assert "alice-pass" not in str(AuditRecord.objects.values_list("detail", flat=True))


def test_system_roles_by_cn_and_by_escaped_dn(team: Workspace) -> None:
    _, response = sign_in("carol", "carol-pass")
    assert response.json()["role"] == "admin"  # type: ignore[attr-defined]
    _, response = sign_in("bob", "bob-pass")
    assert response.json()["role"] == "operator"  # type: ignore[attr-defined]  # cn=ops\, on-call
    bob = User.objects.get(username="bob")
    assert Membership.objects.get(user=bob, workspace=team).role.key == "developer"
    _, response = sign_in("jsmith", "jsmith-pass")  # DN cn=Smith\, John: group search by escaped DN
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert Membership.objects.filter(user__username="jsmith", workspace=team).exists()


def test_removed_from_the_group_loses_the_role_at_the_next_sign_in(
        team: Workspace, ldap_server: LdapServer) -> None:
    sign_in("alice", "alice-pass")
    assert Membership.objects.filter(user__username="alice", workspace=team).exists()
    ldap_server.ldapmodify(f"dn: {DEVS}\nchangetype: modify\ndelete: member\nmember: {ALICE}\n")
    try:
        _, response = sign_in("alice", "alice-pass")
    finally:
        ldap_server.ldapmodify(f"dn: {DEVS}\nchangetype: modify\nadd: member\nmember: {ALICE}\n")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert not Membership.objects.filter(user__username="alice", workspace=team).exists()
    assert ExternalIdentity.objects.get(user__username="alice").groups == []


def test_removed_from_the_group_loses_the_role_at_the_refresh(team: Workspace, ldap_server: LdapServer) -> None:
    sign_in("alice", "alice-pass")
    identity = ExternalIdentity.objects.select_related("provider").get(user__username="alice")
    assert ldap.refresh_groups(identity) == sorted([DEVS, ENGINEERING])
    ldap_server.ldapmodify(f"dn: {DEVS}\nchangetype: modify\ndelete: member\nmember: {ALICE}\n")
    try:
        groups = ldap.refresh_groups(identity)
    finally:
        ldap_server.ldapmodify(f"dn: {DEVS}\nchangetype: modify\nadd: member\nmember: {ALICE}\n")
    assert groups == []
    actions.reevaluate(identity, groups)
    assert not Membership.objects.filter(user__username="alice", workspace=team).exists()
    assert AuditRecord.objects.filter(action="identity.reevaluate").exists()


def test_refresh_of_an_entry_with_another_subject_has_no_groups(team: Workspace) -> None:
    sign_in("alice", "alice-pass")
    identity = ExternalIdentity.objects.select_related("provider").get(user__username="alice")
    identity.subject = "00000000-0000-0000-0000-000000000000"  # the directory's alice is someone else now
    assert ldap.refresh_groups(identity) == []


@pytest.mark.parametrize(("username", "password"), [
    ("alice", "wrong-pass"),
    ("nobody", "nobody-pass"),
    ("*)(uid=*", "alice-pass"),
    ("*", "alice-pass"),
])
def test_refused_sign_ins_are_audited_and_create_nothing(team: Workspace, username: str, password: str) -> None:
    client, response = sign_in(username, password)
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json() == {"detail": "Wrong username or password.",  # type: ignore[attr-defined]
                                "code": "invalid_credentials"}
    assert client.get("/api/auth/me/").status_code in (401, 403)
    assert not ExternalIdentity.objects.exists()
    assert not User.objects.filter(local_login_enabled=False).exists()
    assert not Membership.objects.filter(workspace=team).exists()
    [record] = refusals("invalid_credentials")
    assert record.actor_username == username
    assert password not in str(record.detail)


def test_a_server_certificate_not_from_the_ca_is_refused(provider: IdentityProvider, ldap_server: LdapServer) -> None:
    provider.config = {**provider.config, "ca_pem": ldap_server.other_ca_pem}
    provider.save()
    _, response = sign_in("alice", "alice-pass")
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response.json()["code"] == "ldap_certificate_rejected"  # type: ignore[attr-defined]
    assert "CA" in response.json()["detail"]  # type: ignore[attr-defined]
    assert not User.objects.filter(username="alice").exists()
    assert len(refusals("ldap_certificate_rejected")) == 1


def test_a_local_account_of_the_same_name_is_never_merged(provider: IdentityProvider) -> None:
    make_user("alice")
    _, response = sign_in("alice", "alice-pass")
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert response.json()["code"] == "username_taken"  # type: ignore[attr-defined]
    assert not ExternalIdentity.objects.exists()
    assert len(refusals("username_taken")) == 1


def test_disabled_and_unknown_providers(provider: IdentityProvider) -> None:
    provider.enabled = False
    provider.save()
    _, response = sign_in("alice", "alice-pass")
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert response.json()["code"] == "provider_disabled"  # type: ignore[attr-defined]
    _, response = sign_in("alice", "alice-pass", url="/api/auth/ldap/nope/login/")
    assert response.status_code == 404  # type: ignore[attr-defined]
    assert response.json()["code"] == "provider_not_found"  # type: ignore[attr-defined]
    assert not User.objects.filter(username="alice").exists()
    assert len(refusals("provider_disabled")) == 1
    assert len(refusals("provider_not_found")) == 1


def test_failures_are_throttled_per_directory_account(provider: IdentityProvider, settings: object) -> None:
    settings.PORTAL_LOGIN_MAX_FAILURES = 2  # type: ignore[attr-defined]
    for _ in range(2):
        _, response = sign_in("alice", "wrong-pass")
        assert response.status_code == 401  # type: ignore[attr-defined]
    _, response = sign_in("alice", "alice-pass")  # even the right password waits
    assert response.status_code == 429  # type: ignore[attr-defined]
    assert response.json()["code"] == "login_throttled"  # type: ignore[attr-defined]
    assert int(response["Retry-After"]) > 0  # type: ignore[index]
    # a local account of the same name is not throttled by the directory's failures
    make_user("alice")
    client, token = csrf_client()
    local = client.post("/api/auth/login/", {"username": "alice", "password": "correct-horse-battery"},
                        format="json", HTTP_X_CSRFTOKEN=token)
    assert local.status_code == 200, local.content


def test_empty_password_is_invalid_input(provider: IdentityProvider) -> None:
    _, response = sign_in("alice", "")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert not User.objects.filter(username="alice").exists()


def test_admin_test_action_reports_what_the_directory_holds(provider: IdentityProvider, admin_api: APIClient,
                                                           ldap_server: LdapServer) -> None:
    response = admin_api.post(f"/api/identity/providers/{provider.pk}/test/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True
    assert body["kind"] == "ldap"
    assert body["details"]["users"] == 4
    assert body["details"]["groups"] == 4
    assert "found 4 users and 4 groups" in body["message"]
    assert ldap_server.bind_password not in response.content.decode()
    provider.config = {**provider.config, "ca_pem": ldap_server.other_ca_pem}
    provider.save()
    response = admin_api.post(f"/api/identity/providers/{provider.pk}/test/")
    assert response.status_code == 503
    assert response.json()["code"] == "ldap_certificate_rejected"
