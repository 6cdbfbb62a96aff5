"""The admin API of single sign-on (docs/sso.md): providers with a write-only secret encrypted at
rest, mappings and their preview, the login page's public list, local login switched off per user,
API tokens that stop with the provider, and identity links on the user detail."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from identity import actions
from identity.models import GroupMapping, IdentityProvider
from portal import actions as portal_actions
from portal.models import AuditRecord, User
from portal.testing import make_user
from workspaces.models import Membership, Workspace

pytestmark = pytest.mark.django_db
_n = itertools.count(1)
SECRET = "s3cr3t-client-value-never-shown"
OIDC = {"issuer": "https://login.example.com/realms/main", "client_id": "portal"}


def name() -> str:
    return f"idp-{next(_n)}"


def create(admin_api: APIClient, **body: Any) -> Any:
    payload = {"name": name(), "kind": "oidc", "config": OIDC, **body}
    return admin_api.post("/api/identity/providers/", payload, format="json")


def test_create_provider_keeps_the_secret_encrypted_and_never_returns_it(admin_api: APIClient) -> None:
    response = create(admin_api, display_name="Company SSO", secret=SECRET)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["has_secret"] is True
    assert body["config"]["scopes"] == ["openid", "profile", "email", "groups"]  # defaults filled
    assert body["config"]["username_claim"] == "preferred_username"
    provider = IdentityProvider.objects.get(pk=body["id"])
    assert SECRET not in provider.secret_encrypted
    assert provider.get_secret() == SECRET
    for path in ("/api/identity/providers/", f"/api/identity/providers/{provider.pk}/"):
        assert SECRET not in admin_api.get(path).content.decode()
    record = AuditRecord.objects.filter(action="identity.provider_create").latest("pk")
    assert SECRET not in json.dumps(record.detail)
    # A ciphertext copied to another provider does not decrypt there (bound to the row).
    other = IdentityProvider.objects.create(name=name(), kind="oidc", secret_encrypted=provider.secret_encrypted)
    with pytest.raises(Exception, match="another record"):
        other.get_secret()


def test_patch_keeps_clears_or_replaces_the_secret(admin_api: APIClient) -> None:
    pid = create(admin_api, secret=SECRET).json()["id"]
    url = f"/api/identity/providers/{pid}/"
    assert admin_api.patch(url, {"display_name": "Renamed"}, format="json").json()["has_secret"] is True
    assert IdentityProvider.objects.get(pk=pid).get_secret() == SECRET
    assert admin_api.patch(url, {"secret": "new-one"}, format="json").status_code == 200
    assert IdentityProvider.objects.get(pk=pid).get_secret() == "new-one"
    assert admin_api.patch(url, {"secret": ""}, format="json").json()["has_secret"] is False
    assert admin_api.patch(url, {"config": {"client_id": "other"}}, format="json").json()["config"]["issuer"] == \
        OIDC["issuer"]  # a partial config keeps the other keys
    # name and kind are fixed once created
    response = admin_api.patch(url, {"kind": "ldap"}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "oidc", "config": {"issuer": "ftp://x", "client_id": "a"}}, "config.issuer"),
    ({"kind": "oidc", "config": {"issuer": "https://x.example.com"}}, "config.client_id"),
    ({"kind": "oidc", "config": {**OIDC, "scopes": ["profile"]}}, "config.scopes"),
    ({"kind": "oidc", "config": {**OIDC, "server_uri": "ldaps://x"}}, "config.server_uri"),
    ({"kind": "oidc", "config": {**OIDC, "ca_pem": "not a pem"}}, "config.ca_pem"),
    ({"kind": "ldap", "config": {"server_uri": "ldap://x.example.com", "user_search_base": "dc=x"}},
     "config.start_tls"),
    ({"kind": "ldap", "config": {"server_uri": "ldaps://x.example.com"}}, "config.user_search_base"),
    ({"kind": "ldap", "config": {"server_uri": "ldaps://x.example.com", "user_search_base": "dc=x",
                                 "user_filter": "(uid=*)"}}, "config.user_filter"),
])
def test_bad_provider_settings_are_refused_with_the_key_named(admin_api: APIClient, body: dict[str, Any],
                                                              field: str) -> None:
    response = admin_api.post("/api/identity/providers/", {"name": name(), **body}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_provider_config"
    assert field in response.json()["errors"]


@pytest.mark.parametrize("body", [
    {"name": "Bad Name", "kind": "oidc"}, {"name": "ok", "kind": "saml"}, {"name": "x" * 41, "kind": "oidc"},
    {"name": "ok", "kind": "oidc", "config": {"issuer": "https://" + "a" * 3000}}, {"name": "ok", "kind": "oidc",
                                                                                  "unknown": 1},
    {"name": "ok", "kind": "oidc", "config": "not an object"},
])
def test_malformed_provider_bodies_are_400(admin_api: APIClient, body: dict[str, Any]) -> None:
    response = admin_api.post("/api/identity/providers/", body, format="json")
    assert response.status_code == 400, response.content


def test_duplicate_provider_name_is_refused(admin_api: APIClient) -> None:
    first = create(admin_api).json()["name"]
    response = admin_api.post("/api/identity/providers/", {"name": first, "kind": "oidc", "config": OIDC},
                              format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "provider_name_taken"


def test_non_admins_cannot_see_or_manage_providers(user_api: APIClient, admin_api: APIClient) -> None:
    pid = create(admin_api, secret=SECRET).json()["id"]
    assert user_api.get("/api/identity/providers/").status_code == 403
    assert user_api.get(f"/api/identity/providers/{pid}/").status_code == 403
    assert user_api.post(f"/api/identity/providers/{pid}/test/").status_code == 403
    assert user_api.get("/api/identity/mappings/").status_code == 403


def test_public_list_shows_enabled_providers_only(api: APIClient, admin_api: APIClient) -> None:
    on = create(admin_api, display_name="On", secret=SECRET).json()
    off = create(admin_api, enabled=False).json()
    response = api.get("/api/auth/providers/")
    assert response.status_code == 200
    names = {p["name"]: p for p in response.json()}
    assert names[on["name"]] == {"name": on["name"], "display_name": "On", "kind": "oidc"}
    assert off["name"] not in names
    assert SECRET not in response.content.decode()


def test_test_connection_of_a_misconfigured_provider_is_a_clear_4xx(admin_api: APIClient) -> None:
    provider = IdentityProvider.objects.create(name=name(), kind="ldap", config={
        "server_uri": "ldap://ldap.example.invalid", "start_tls": False, "user_search_base": "dc=x"})
    response = admin_api.post(f"/api/identity/providers/{provider.pk}/test/")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "ldap_misconfigured"


def test_mappings_crud_and_preview(admin_api: APIClient, admin_user: Any) -> None:
    pid = create(admin_api).json()["id"]
    provider = IdentityProvider.objects.get(pk=pid)
    team = Workspace.objects.create(name=f"ws-{next(_n)}")
    created = admin_api.post("/api/identity/mappings/", {"provider": pid, "group": "devs", "workspace": team.pk,
                                                         "role": "developer"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["role"] == "developer"
    assert created.json()["workspace_name"] == team.name
    ops = admin_api.post("/api/identity/mappings/", {"provider": pid, "group": "ops", "system_role": "operator"},
                         format="json")
    assert ops.status_code == 201
    dup = admin_api.post("/api/identity/mappings/", {"provider": pid, "group": "ops", "system_role": "operator"},
                         format="json")
    assert dup.status_code == 409
    assert dup.json()["code"] == "mapping_exists"

    for who, groups in (("pv-ann", ["devs"]), ("pv-ben", ["ops", "devs"]), ("pv-cid", [])):
        actions.sign_in_external(provider=provider, subject=who, username=who, groups=groups)
    rows = {r["username"]: r for r in admin_api.post("/api/identity/mappings/preview/", {"provider": pid},
                                                     format="json").json()}
    assert rows["pv-ann"]["workspaces"] == [{"workspace": team.pk, "workspace_name": team.name, "role": "developer"}]
    assert rows["pv-ben"]["system_role"] == "operator"
    assert rows["pv-cid"] == {**rows["pv-cid"], "system_role": "", "workspaces": []}
    # A proposed set instead of the stored one, and nothing written.
    proposed = admin_api.post("/api/identity/mappings/preview/", {"provider": pid, "mappings": [
        {"group": "devs", "system_role": "admin"}]}, format="json")
    assert {r["username"]: r["system_role"] for r in proposed.json()} == {"pv-ann": "admin", "pv-ben": "admin",
                                                                         "pv-cid": ""}
    assert User.objects.get(username="pv-ann").role == "user"

    listed = admin_api.get(f"/api/identity/mappings/?provider={pid}").json()["results"]
    assert {m["group"] for m in listed} == {"devs", "ops"}
    mid = created.json()["id"]
    changed = admin_api.patch(f"/api/identity/mappings/{mid}/", {"role": "viewer"}, format="json")
    assert changed.status_code == 200
    assert Membership.objects.get(user__username="pv-ann", workspace=team).role.key == "viewer"
    assert admin_api.delete(f"/api/identity/mappings/{mid}/").status_code == 204
    assert not Membership.objects.filter(workspace=team).exists()


@pytest.mark.parametrize(("body", "code"), [
    ({"group": "g", "system_role": "admin", "workspace": "WS", "role": "viewer"}, "mapping_target_ambiguous"),
    ({"group": "g"}, "mapping_target_missing"),
    ({"group": "g", "workspace": "WS"}, "mapping_target_missing"),
    ({"group": "  ", "system_role": "admin"}, "blank"),
    ({"group": "g", "workspace": "WS", "role": "no-such-role"}, "invalid"),
    ({"group": "g", "system_role": "root"}, "invalid_choice"),
    ({"group": "x" * 513, "system_role": "admin"}, "max_length"),
])
def test_bad_mappings_are_400(admin_api: APIClient, body: dict[str, Any], code: str) -> None:
    pid = create(admin_api).json()["id"]
    team = Workspace.objects.create(name=f"ws-{next(_n)}")
    body = {k: team.pk if v == "WS" else v for k, v in body.items()}
    response = admin_api.post("/api/identity/mappings/", {"provider": pid, **body}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not GroupMapping.objects.filter(provider_id=pid).exists()


def test_local_login_refused_when_switched_off(api: APIClient, admin_api: APIClient) -> None:
    user = make_user("breakglass-off")
    assert admin_api.patch(f"/api/users/{user.pk}/", {"local_login_enabled": False}, format="json").status_code == 200
    api.get("/api/auth/csrf/")
    client = APIClient(enforce_csrf_checks=False)
    response = client.post("/api/auth/login/", {"username": "breakglass-off", "password": "correct-horse-battery"},
                           format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "local_login_disabled"
    assert "_auth_user_id" not in client.session
    assert AuditRecord.objects.filter(action="auth.login_refused", actor=user).exists()
    User.objects.filter(pk=user.pk).update(local_login_enabled=True)
    ok = client.post("/api/auth/login/", {"username": "breakglass-off", "password": "correct-horse-battery"},
                     format="json")
    assert ok.status_code == 200


def test_tokens_stop_when_the_only_provider_is_disabled_or_removed(admin_api: APIClient) -> None:
    pid = create(admin_api).json()["id"]
    provider = IdentityProvider.objects.get(pk=pid)
    user = actions.sign_in_external(provider=provider, subject="tok-1", username="tok-user", groups=[])
    _, raw = portal_actions.create_api_token(user=user, name="script", expires=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/auth/me/").status_code == 200
    assert admin_api.patch(f"/api/identity/providers/{pid}/", {"enabled": False}, format="json").status_code == 200
    refused = client.get("/api/auth/me/")
    assert refused.status_code == 401
    assert "switched off" in refused.json()["detail"]
    assert AuditRecord.objects.filter(action="auth.token_rejected", actor=user).exists()
    admin_api.patch(f"/api/identity/providers/{pid}/", {"enabled": True}, format="json")
    assert client.get("/api/auth/me/").status_code == 200
    assert admin_api.delete(f"/api/identity/providers/{pid}/").status_code == 204
    assert client.get("/api/auth/me/").status_code == 401
    # The session of such a user stops too.
    session = APIClient()
    session.force_login(User.objects.get(pk=user.pk))
    assert session.get("/api/auth/me/").status_code in (401, 403)


def test_user_detail_shows_identity_links(admin_api: APIClient) -> None:
    pid = create(admin_api, display_name="Company").json()["id"]
    provider = IdentityProvider.objects.get(pk=pid)
    user = actions.sign_in_external(provider=provider, subject="link-1", username="linked", email="l@example.com",
                                    groups=["devs"])
    body = admin_api.get(f"/api/users/{user.pk}/").json()
    assert body["local_login_enabled"] is False
    [link] = body["identities"]
    assert link["provider"] == provider.name
    assert link["provider_display_name"] == "Company"
    assert (link["kind"], link["subject"], link["groups"]) == ("oidc", "link-1", ["devs"])
    listed = admin_api.get("/api/users/").json()["results"]
    assert [row["identities"][0]["subject"] for row in listed if row["id"] == user.pk] == ["link-1"]
