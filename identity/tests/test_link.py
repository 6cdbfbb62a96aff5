"""An admin links identities (docs/sso.md, "Linking identities"): the same person signing in
through a second provider is a second just-in-time user until an admin moves that identity to
the first user. Then either provider signs in the one user with the union of the mapped roles;
the left-over user is deactivated; refusals carry stable codes; unlinking keeps the account and
says when it has no way in left. Real PostgreSQL and Redis; sign-ins go through the entry point
every provider kind calls (identity.actions.sign_in_external)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from identity.models import ExternalIdentity, GroupMapping, MappedMembership
from identity.tests.helpers import provider, role, sign_in, workspace
from portal.models import AuditRecord, User
from portal.testing import ControlListener, make_user
from workspaces.models import Membership

pytestmark = pytest.mark.django_db


def link(api: APIClient, identity: ExternalIdentity, user: User) -> Any:
    return api.post(f"/api/identity/identities/{identity.pk}/link/", {"user": user.pk}, format="json")


def test_link_moves_the_identity_and_both_providers_sign_in_one_user_with_the_union(
        admin_api: APIClient, admin_user: User, django_capture_on_commit_callbacks: Any) -> None:
    corp, ldap = provider("oidc"), provider("ldap")
    shop = workspace()
    GroupMapping.objects.create(provider=corp, group="devs", workspace=shop, role=role("developer"))
    GroupMapping.objects.create(provider=ldap, group="cn=ops,ou=groups,dc=example,dc=com", system_role="operator")
    kim = sign_in(corp, "corp-kim", "kim", ["devs"])
    kim_ldap = sign_in(ldap, "ldap-kim", "kim.lee", ["cn=ops,ou=groups,dc=example,dc=com"])
    assert kim_ldap.pk != kim.pk
    assert kim_ldap.role == "operator"  # two identities: two users
    identity = ExternalIdentity.objects.get(provider=ldap, subject="ldap-kim")

    listeners = [ControlListener(kim.pk), ControlListener(kim_ldap.pk)]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = link(admin_api, identity, kim)
        messages = [listener.next() for listener in listeners]
    finally:
        for listener in listeners:
            listener.close()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["from_user"] == kim_ldap.pk
    assert body["to_user"] == kim.pk
    assert body["deactivated_user"] == kim_ldap.pk  # left with no identity and no local login
    assert body["message_code"] == "link_previous_user_deactivated"
    assert [m["type"] if m else None for m in messages] == ["portal.reauthorize"] * 2

    identity.refresh_from_db()
    kim.refresh_from_db()
    kim_ldap.refresh_from_db()
    assert identity.user_id == kim.pk
    assert kim.role == "operator"  # the LDAP mapping applies to the target at once
    assert not kim_ldap.is_active
    assert kim_ldap.role == "user"  # what the link gave the old user is gone
    record = AuditRecord.objects.filter(action="identity.link").latest("pk")
    assert record.detail["provider"] == ldap.name
    assert (record.detail["from"], record.detail["to"]) == ("kim.lee", "kim")
    assert record.actor_id == admin_user.pk

    # The next sign-in through either provider lands in kim, with both providers' roles.
    for idp, subject, username, groups in ((ldap, "ldap-kim", "kim.lee", ["cn=ops,ou=groups,dc=example,dc=com"]),
                                            (corp, "corp-kim", "kim", ["devs"])):
        user = sign_in(idp, subject, username, groups)
        assert user.pk == kim.pk
        assert user.role == "operator"
        assert Membership.objects.get(user=user, workspace=shop).role.key == "developer"

    # Leaving the LDAP group takes away only what LDAP gave.
    sign_in(ldap, "ldap-kim", "kim.lee", [])
    kim.refresh_from_db()
    assert kim.role == "user"
    assert Membership.objects.filter(user=kim, workspace=shop).exists()


def test_the_old_user_keeps_its_account_when_it_has_another_way_in(admin_api: APIClient) -> None:
    corp, other = provider("oidc"), provider("oidc")
    target = make_user("link-target")
    sign_in(corp, "s-1", "dual", [])
    sign_in(other, "s-2", "dual2", [])
    old = User.objects.get(username="dual")
    old.local_login_enabled = True  # a break-glass password
    old.save(update_fields=["local_login_enabled"])
    response = link(admin_api, ExternalIdentity.objects.get(provider=corp, subject="s-1"), target)
    assert response.status_code == 200, response.content
    assert response.json()["deactivated_user"] is None
    assert response.json()["message_code"] == ""
    old.refresh_from_db()
    assert old.is_active


def test_link_refusals_have_stable_codes_and_change_nothing(admin_api: APIClient) -> None:
    corp = provider("oidc")
    GroupMapping.objects.create(provider=corp, group="admins", system_role="admin")
    sign_in(corp, "s-a", "alpha", ["admins"])
    sign_in(corp, "s-b", "beta", [])
    alpha = ExternalIdentity.objects.get(provider=corp, subject="s-a")
    beta_user = User.objects.get(username="beta")
    inactive = make_user("gone")
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])

    cases = [(alpha.user, "already_linked"), (inactive, "account_disabled"),
             (beta_user, "provider_already_linked")]
    for user, code in cases:
        response = link(admin_api, alpha, user)
        assert response.status_code == 409, response.content
        assert response.json()["code"] == code
    alpha.refresh_from_db()
    assert alpha.user.username == "alpha"
    assert alpha.user.role == "admin"
    assert alpha.user.is_active
    assert not AuditRecord.objects.filter(action="identity.link").exists()

    response = link(admin_api, alpha, User(pk=999_999))
    assert response.status_code == 400
    assert "user" in response.json()["errors"]
    assert admin_api.post("/api/identity/identities/999999/link/", {"user": beta_user.pk},
                          format="json").status_code == 404


def test_only_admins_link_or_unlink() -> None:
    corp = provider("oidc")
    sign_in(corp, "s-x", "xavier", [])
    identity = ExternalIdentity.objects.get(provider=corp, subject="s-x")
    operator = make_user("op-link", role="operator")
    api = APIClient()
    api.force_authenticate(operator)
    assert link(api, identity, operator).status_code in (403, 404)
    assert api.post(f"/api/identity/identities/{identity.pk}/unlink/").status_code in (403, 404)
    assert ExternalIdentity.objects.filter(pk=identity.pk, user__username="xavier").exists()


def test_unlink_keeps_the_account_and_says_when_no_way_in_is_left(admin_api: APIClient) -> None:
    corp = provider("oidc")
    shop = workspace()
    GroupMapping.objects.create(provider=corp, group="devs", workspace=shop, role=role("developer"))
    user = sign_in(corp, "s-u", "una", ["devs"])
    identity = ExternalIdentity.objects.get(provider=corp, subject="s-u")
    assert MappedMembership.objects.filter(identity=identity).exists()

    response = admin_api.post(f"/api/identity/identities/{identity.pk}/unlink/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user"] == user.pk
    assert body["can_sign_in"] is False
    assert body["message_code"] == "unlink_no_sign_in_left"
    assert User.objects.filter(pk=user.pk, is_active=True).exists()  # the account stays
    assert not ExternalIdentity.objects.filter(pk=identity.pk).exists()
    assert not Membership.objects.filter(user=user, workspace=shop).exists()  # what the mapping gave is gone
    assert AuditRecord.objects.filter(action="identity.unlink", target_id=str(user.pk)).exists()

    # A user who still has a local login: no warning.
    local = make_user("has-password")
    ExternalIdentity.objects.create(provider=corp, subject="s-l", user=local, username="has-password")
    body = admin_api.post(f"/api/identity/identities/{local.external_identities.get().pk}/unlink/").json()
    assert body["can_sign_in"] is True
    assert body["message_code"] == ""
