"""OIDC sign-in through a real provider (node-oidc-provider on loopback, identity/tests/conftest.py):
the browser's path is followed over HTTP (the provider's login form filled in), the portal's
callback is called with what the provider redirected to. Every bad-input case of issue 19 is made
by the provider itself (its test endpoint re-issues the next ID token spoiled in one way) and must
be refused with its code, audited, and create nothing."""

from __future__ import annotations

import io
import re
import time
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.test import Client

from identity import oidc
from identity.models import ExternalIdentity, GroupMapping, IdentityProvider
from identity.testing import OidcServer, run_oidc_provider
from portal.errors import PortalError
from portal.models import AuditRecord, User
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(oidc_server: OidcServer) -> IdentityProvider:
    item = IdentityProvider.objects.create(name="local", display_name="Test IdP", kind="oidc",
                                           config=oidc_server.config())
    item.set_secret(oidc_server.client_secret)
    item.save()
    return item


def _follow_to_callback(browser: requests.Session, url: str) -> str:
    """Follow the provider's redirects until one leaves for the portal (http://testserver)."""
    for _ in range(10):
        if url.startswith("http://testserver"):
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code not in (302, 303):
            raise AssertionError(f"expected a redirect from {url}, got {response.status_code}: {response.text[:300]}")
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("too many redirects")


def provider_login(client: Client, *, username: str, password: str | None = None, name: str = "local",
                   next_path: str = "/workspaces") -> str:
    """Start at the portal, sign in on the provider's login page; the callback URL the provider sent."""
    start = client.get(f"/api/auth/oidc/{name}/start/", {"next": next_path})
    assert start.status_code == 302, start.content
    browser = requests.Session()
    page = browser.get(start["Location"], allow_redirects=True, timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert 'name="username"' in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    submitted = browser.post(urljoin(page.url, action.group(1)), allow_redirects=False, timeout=10,
                             data={"username": username, "password": password or f"{username}-password"})
    assert submitted.status_code in (302, 303), submitted.text[:500]
    return _follow_to_callback(browser, urljoin(submitted.url, submitted.headers["Location"]))


def callback(client: Client, url: str) -> Any:
    parts = urlsplit(url)
    return client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def refusals(code: str) -> int:
    return AuditRecord.objects.filter(action="identity.refused", detail__code=code).count()


# ---------------------------------------------------------------------------- sign-in


def test_sign_in_creates_the_user_with_mapped_roles(client: Client, provider: IdentityProvider,
                                                    oidc_server: OidcServer) -> None:
    workspace = Workspace.objects.create(name="team-a")
    developer = Role.objects.get(key="developer")
    GroupMapping.objects.create(provider=provider, group="devs", workspace=workspace, role=developer)
    GroupMapping.objects.create(provider=provider, group="ops", system_role="operator")

    userinfo_before = oidc_server.stats()["userinfo"]
    response = callback(client, provider_login(client, username="bob", next_path="/workspaces/team-a"))

    assert response.status_code == 302
    assert response["Location"] == "/workspaces/team-a"
    me = client.get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "bob"
    user = User.objects.get(username="bob")
    assert user.role == "operator"
    assert user.email == "bob@example.test"  # from userinfo: the ID token carries sub only
    assert oidc_server.stats()["userinfo"] == userinfo_before + 1
    assert Membership.objects.get(workspace=workspace, user=user).role == developer
    identity = ExternalIdentity.objects.get(provider=provider, user=user)
    assert sorted(identity.groups) == ["devs", "ops"]
    assert AuditRecord.objects.filter(action="identity.sign_in", actor=user).count() == 1


def test_user_without_mapped_groups_signs_in_with_no_roles(client: Client, provider: IdentityProvider) -> None:
    GroupMapping.objects.create(provider=provider, group="ops", system_role="operator")
    response = callback(client, provider_login(client, username="carol"))
    assert response.status_code == 302
    assert response["Location"] == "/workspaces"
    user = User.objects.get(username="carol")
    assert user.role == "user"
    assert not Membership.objects.filter(user=user).exists()


def test_losing_a_group_at_the_provider_removes_the_role_at_next_sign_in(
        client: Client, provider: IdentityProvider, oidc_server: OidcServer) -> None:
    GroupMapping.objects.create(provider=provider, group="ops", system_role="operator")
    assert callback(client, provider_login(client, username="bob")).status_code == 302
    assert User.objects.get(username="bob").role == "operator"
    oidc_server.post("/_test/users/bob/groups", {"groups": ["devs"]})
    try:
        again = Client()
        assert callback(again, provider_login(again, username="bob"))["Location"] == "/workspaces"
        assert User.objects.get(username="bob").role == "user"
    finally:
        oidc_server.post("/_test/users/bob/groups", {"groups": ["ops", "devs"]})


def test_next_must_be_a_local_path(provider: IdentityProvider) -> None:
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/ok\nLocation: x"):
        browser = Client()
        response = callback(browser, provider_login(browser, username="alice", next_path=bad))
        assert response["Location"] == "/"


def test_wrong_password_stays_on_the_provider(client: Client, provider: IdentityProvider) -> None:
    start = client.get("/api/auth/oidc/local/start/")
    browser = requests.Session()
    page = browser.get(start["Location"], timeout=10)
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None
    again = browser.post(urljoin(page.url, action.group(1)), data={"username": "alice", "password": "nope"},
                         allow_redirects=False, timeout=10)
    assert again.status_code == 200
    assert "Invalid username or password." in again.text
    assert not User.objects.filter(username="alice").exists()


def test_start_redirects_with_pkce_state_and_nonce(client: Client, provider: IdentityProvider) -> None:
    start = client.get("/api/auth/oidc/local/start/")
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["portal"]
    assert query["redirect_uri"] == ["http://testserver/api/auth/oidc/local/callback/"]
    assert len(query["state"][0]) >= 32
    assert len(query["nonce"][0]) >= 32
    assert query["code_challenge"][0]
    assert "openid" in query["scope"][0].split()


def test_unknown_or_disabled_provider_is_refused(client: Client, provider: IdentityProvider) -> None:
    assert client.get("/api/auth/oidc/nope/start/")["Location"] == "/login?error=provider_disabled&provider=nope"
    provider.enabled = False
    provider.save()
    assert client.get("/api/auth/oidc/local/start/")["Location"] == "/login?error=provider_disabled&provider=local"
    assert refusals("provider_disabled") == 2


# ---------------------------------------------------------------------------- bad input


def _now() -> int:
    return int(time.time())


SPOILED: list[tuple[str, dict[str, Any], str]] = [
    ("wrong issuer", {"claims": {"iss": "https://other-issuer.example"}}, "oidc_issuer_mismatch"),
    ("wrong audience", {"claims": {"aud": "someone-else"}}, "oidc_audience_mismatch"),
    ("expired", {"claims": {"exp": "{now-3600}", "iat": "{now-7200}"}}, "oidc_token_expired"),
    ("not yet valid", {"claims": {"nbf": "{now+3600}"}}, "oidc_token_not_yet_valid"),
    ("issued in the future", {"claims": {"iat": "{now+3600}", "exp": "{now+7200}"}}, "oidc_token_not_yet_valid"),
    ("bad signature", {"sign": "rogue"}, "oidc_bad_signature"),
    ("unknown key id", {"sign": "rogue", "kid": "no-such-key"}, "oidc_unknown_key"),
    ("nonce mismatch", {"claims": {"nonce": "not-the-nonce"}}, "oidc_nonce_mismatch"),
    ("nonce missing", {"claims": {"nonce": None}}, "oidc_nonce_mismatch"),
    ("alg none", {"sign": "none"}, "oidc_alg_not_allowed"),
]


def _times(change: dict[str, Any]) -> dict[str, Any]:
    claims = {}
    for key, value in (change.get("claims") or {}).items():
        if isinstance(value, str) and value.startswith("{now"):
            value = _now() + int(value[4:-1])
        claims[key] = value
    return {**change, "claims": claims}


@pytest.mark.parametrize(("change", "code"), [(c, code) for _, c, code in SPOILED], ids=[i for i, _, _ in SPOILED])
def test_spoiled_id_token_is_refused(client: Client, provider: IdentityProvider, oidc_server: OidcServer,
                                     change: dict[str, Any], code: str) -> None:
    url = provider_login(client, username="alice")
    oidc_server.post("/_test/next-id-token", _times(change))
    response = callback(client, url)
    assert response.status_code == 302
    assert response["Location"] == f"/login?error={code}&provider=local"
    assert refusals(code) == 1
    assert not User.objects.filter(username="alice").exists()
    assert not ExternalIdentity.objects.exists()
    assert client.get("/api/auth/me/").status_code in (401, 403)


def test_replayed_state_is_refused(client: Client, provider: IdentityProvider) -> None:
    url = provider_login(client, username="alice")
    assert callback(client, url)["Location"] == "/workspaces"
    client.post("/api/auth/logout/")
    replay = callback(client, url)
    assert replay["Location"] == "/login?error=oidc_state_invalid&provider=local"
    assert refusals("oidc_state_invalid") == 1


def test_state_from_another_browser_is_refused(client: Client, provider: IdentityProvider) -> None:
    url = provider_login(client, username="alice")
    other = Client()
    assert callback(other, url)["Location"] == "/login?error=oidc_state_invalid&provider=local"
    assert not User.objects.filter(username="alice").exists()


def test_provider_error_answer_is_refused(client: Client, provider: IdentityProvider) -> None:
    start = client.get("/api/auth/oidc/local/start/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    response = client.get("/api/auth/oidc/local/callback/", {"state": state, "error": "access_denied"})
    assert response["Location"] == "/login?error=oidc_provider_error&provider=local"


def test_username_collision_with_a_local_account_is_refused(client: Client, provider: IdentityProvider) -> None:
    User.objects.create_user("alice", password="local-password-123")
    response = callback(client, provider_login(client, username="alice"))
    assert response["Location"] == "/login?error=username_taken&provider=local"
    assert refusals("username_taken") == 1
    assert not ExternalIdentity.objects.exists()


# ---------------------------------------------------------------------------- keys and connection


def test_rotated_key_is_fetched_again(client: Client, provider: IdentityProvider, oidc_server: OidcServer) -> None:
    metadata = oidc.discover(provider)
    before = {k.kid for k in oidc._jwks(provider, metadata).keys}  # cached now
    kids = oidc_server.post("/_test/rotate")["kids"]
    assert isinstance(kids, list)
    assert kids[0] not in before
    response = callback(client, provider_login(client, username="alice"))
    assert response["Location"] == "/workspaces"
    assert kids[0] in {k.kid for k in oidc._jwks(provider, metadata).keys}


def test_test_connection_reports_what_the_provider_publishes(provider: IdentityProvider,
                                                              oidc_server: OidcServer) -> None:
    found = oidc.test_connection(provider)
    assert found["issuer"] == oidc_server.issuer
    assert found["token_endpoint"] == f"{oidc_server.issuer}/token"
    assert found["end_session_endpoint"] == f"{oidc_server.issuer}/session/end"
    assert found["key_count"] == 2


def test_test_connection_with_a_wrong_issuer_says_so(provider: IdentityProvider, oidc_server: OidcServer) -> None:
    provider.config = oidc_server.config(issuer=oidc_server.issuer + "/")
    provider.save()
    with pytest.raises(PortalError) as caught:
        oidc.test_connection(provider)
    assert caught.value.code in ("oidc_issuer_mismatch", "oidc_bad_response")


def test_test_connection_to_nothing_listening(provider: IdentityProvider) -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider.config = {**provider.config, "issuer": f"http://127.0.0.1:{port}"}
    provider.save()
    with pytest.raises(PortalError) as caught:
        oidc.test_connection(provider)
    assert caught.value.code == "oidc_unreachable"
    assert "Could not connect to 127.0.0.1" in caught.value.message


def test_metadata_address_refused_by_the_policy(provider: IdentityProvider) -> None:
    provider.config = {**provider.config, "issuer": "http://169.254.169.254"}
    provider.save()
    with pytest.raises(PortalError) as caught:
        oidc.test_connection(provider)
    assert caught.value.code == "oidc_unreachable"
    assert "not allowed" in caught.value.message


# ---------------------------------------------------------------------------- logout


def test_logout_offers_the_providers_end_session(client: Client, provider: IdentityProvider,
                                                  oidc_server: OidcServer) -> None:
    assert callback(client, provider_login(client, username="alice"))["Location"] == "/workspaces"
    response = client.post("/api/auth/logout/")
    assert response.status_code == 200
    url = response.json()["end_session_url"]
    assert url.startswith(f"{oidc_server.issuer}/session/end?")
    query = parse_qs(urlsplit(url).query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/login"]
    assert query["client_id"] == ["portal"]
    assert query["id_token_hint"][0].count(".") == 2
    assert client.get("/api/auth/me/").status_code in (401, 403)
    # the provider takes the offer (hint and redirect URI valid): its sign-out confirmation page
    confirm = requests.get(url, timeout=10)
    assert confirm.status_code == 200, confirm.text[:300]


def test_logout_of_a_local_session_offers_nothing(client: Client, provider: IdentityProvider) -> None:
    User.objects.create_user("dave", password="local-password-123")
    client.login(username="dave", password="local-password-123")
    assert client.post("/api/auth/logout/").status_code == 204


def test_claims_in_the_id_token_need_no_userinfo() -> None:
    """A provider that puts every claim in the ID token (OIDC_ID_TOKEN_CLAIMS=all): the sign-in reads
    username, email and groups from it."""
    uris = ["http://testserver/api/auth/oidc/full/callback/"]
    with run_oidc_provider(redirect_uris=uris, extra_env={"OIDC_ID_TOKEN_CLAIMS": "all"}) as server:
        item = IdentityProvider.objects.create(name="full", kind="oidc", config=server.config())
        item.set_secret(server.client_secret)
        item.save()
        GroupMapping.objects.create(provider=item, group="ops", system_role="operator")
        client = Client()
        url = provider_login(client, username="bob", name="full")
        assert callback(client, url)["Location"] == "/workspaces"
        assert server.stats() == {"userinfo": 0, "token": 1}
    user = User.objects.get(username="bob")
    assert user.role == "operator"
    assert user.email == "bob@example.test"


def test_make_run_registers_the_demo_provider_once(oidc_server: OidcServer) -> None:
    from django.core.management import call_command

    Workspace.objects.create(name="demo-team")
    call_command("seed_demo_oidc", issuer=oidc_server.issuer, stdout=io.StringIO())
    call_command("seed_demo_oidc", issuer="http://127.0.0.1:1", stdout=io.StringIO())  # already there: unchanged
    provider = IdentityProvider.objects.get(name="demo-idp")
    assert provider.get_secret() == oidc_server.client_secret
    assert oidc.test_connection(provider)["issuer"] == oidc_server.issuer
    assert sorted(provider.mappings.values_list("group", flat=True)) == ["devs", "ops"]


def test_admin_tests_the_connection_through_the_api(admin_api: Any, provider: IdentityProvider,
                                                     oidc_server: OidcServer) -> None:
    response = admin_api.post(f"/api/identity/providers/{provider.pk}/test/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True
    assert body["details"]["key_count"] == 2
    assert body["details"]["issuer"] == oidc_server.issuer
    assert body["message"] == (f"Found the issuer {oidc_server.issuer} with 2 signing keys and an end-session "
                               "endpoint.")
    assert "portal-test-secret" not in response.content.decode()
