"""Single sign-on in a real browser (issue 19): Chromium signs in through the real OpenID Connect
provider's own login page (node-oidc-provider, scripts/oidc-provider/) and through the login
page's form against a real slapd (scripts/ldap-server.sh), and lands in the console with the
roles its groups map to; and an admin configures a provider and its mappings in the admin
pages against the real API. Nothing is mocked: the portal runs under uvicorn on the test database,
the providers on loopback.

The providers are started here rather than taken from identity/tests/conftest.py, which pytest
does not load for tests/browser; they are started the same way, from the same scripts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from identity.testing import OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, run_ldap_server, run_oidc_provider
from tests.browser.helpers import PASSWORD, builtin_roles, login

LDAP_BASE = "dc=example,dc=org"
LDAP_SERVICE_PASSWORD = "service-pass"  # the throw-away slapd's service account
LDAP_OPS = rf"cn=ops\, on-call,ou=groups,{LDAP_BASE}"  # bob is in it: a DN with an escaped comma
LDAP_ENGINEERING = f"cn=engineering,ou=groups,{LDAP_BASE}"


@pytest.fixture
def oidc_issuer(portal_server: str) -> Iterator[str]:
    """The test OIDC provider (identity.testing), its client allowed to come back to this run's portal."""
    with run_oidc_provider(redirect_uris=[f"{portal_server}/api/auth/oidc/corp/callback/"],
                           post_logout_uris=[f"{portal_server}/login"]) as server:
        yield server.issuer


@pytest.fixture
def ldap_config(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A running slapd with the test tree (users' passwords "<uid>-pass"); yields an LDAPS
    provider configuration for it."""
    directory = tmp_path / "slapd"
    directory.mkdir()
    with run_ldap_server(directory) as server:
        yield server.config()


def _shop() -> Any:
    from workspaces.models import Workspace

    builtin_roles()
    return Workspace.objects.create(name="shop", display_name="Shop")


def _open_user_menu(page: Any) -> Any:
    page.get_by_test_id("user-menu").click()
    return page.get_by_role("menu")


def test_oidc_sign_in_through_the_providers_login_page(portal_server: str, oidc_issuer: str, page: Any) -> None:
    from playwright.sync_api import expect

    from identity.models import ExternalIdentity, GroupMapping, IdentityProvider
    from portal.models import User
    from workspaces.models import Role

    shop = _shop()
    provider = IdentityProvider.objects.create(
        name="corp", display_name="Corp SSO", kind="oidc",
        config={"issuer": oidc_issuer, "client_id": OIDC_CLIENT_ID})
    provider.set_secret(OIDC_CLIENT_SECRET)
    provider.save()
    GroupMapping.objects.create(provider=provider, group="ops", system_role="operator")
    GroupMapping.objects.create(provider=provider, group="devs", workspace=shop, role=Role.objects.get(key="developer"))
    User.objects.create_user("carol", password=PASSWORD)  # a local account: the provider's carol is refused

    # An anonymous visit goes to the login page, which offers the provider as a button.
    page.goto(portal_server + "/workspaces")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fworkspaces"))
    page.get_by_role("link", name="Sign in with Corp SSO").click()

    # The provider's own login page, on its own origin.
    expect(page).to_have_url(re.compile(re.escape(oidc_issuer) + r"/interaction/"))
    page.fill("#username", "bob")
    page.fill("#password", "bob-password")
    page.click("#sign-in")

    # Back in the console where the visitor wanted to go, with what bob's groups map to:
    # ops → operator, devs → developer in shop.
    expect(page).to_have_url(portal_server + "/workspaces")
    expect(page.get_by_test_id("workspace-row-shop")).to_contain_text("Developer")
    expect(_open_user_menu(page)).to_contain_text("Operator")
    bob = User.objects.get(username="bob")
    assert bob.role == "operator"
    link = ExternalIdentity.objects.get(provider=provider, user=bob)
    assert link.subject == "bob"
    assert sorted(link.groups) == ["devs", "ops"]

    # Signing out of the portal offers signing out at the provider too (RP-initiated logout): the
    # provider asks, then sends the browser back to the login page.
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(re.escape(oidc_issuer) + r"/session/end"))
    page.locator("button[name=logout][value=yes]").click()
    expect(page).to_have_url(portal_server + "/login")

    # carol, whose username a local account holds, is refused and told so on the login page;
    # nothing is created.
    page.get_by_role("link", name="Sign in with Corp SSO").click()
    expect(page).to_have_url(re.compile(re.escape(oidc_issuer) + r"/interaction/"))
    page.fill("#username", "carol")
    page.fill("#password", "carol-password")
    page.click("#sign-in")
    expect(page).to_have_url(re.compile(r"/login\?error=username_taken"))
    expect(page.get_by_test_id("sso-refused")).to_contain_text(
        "Your username at the provider is already used by another account of the portal.")
    assert not ExternalIdentity.objects.filter(provider=provider, username="carol").exists()


def test_ldap_sign_in_through_the_login_form(portal_server: str, ldap_config: dict[str, object], page: Any) -> None:
    from playwright.sync_api import expect

    from identity.models import ExternalIdentity, GroupMapping, IdentityProvider
    from portal.models import User
    from workspaces.models import Role

    shop = _shop()
    provider = IdentityProvider.objects.create(name="head-office", display_name="Head office AD", kind="ldap",
                                               config=ldap_config)
    provider.set_secret(LDAP_SERVICE_PASSWORD)
    provider.save()
    GroupMapping.objects.create(provider=provider, group=LDAP_OPS, system_role="operator")
    GroupMapping.objects.create(provider=provider, group=LDAP_ENGINEERING, workspace=shop,
                                role=Role.objects.get(key="developer"))

    page.goto(portal_server + "/login")
    page.get_by_role("radio", name="Head office AD").check()

    # An LDAP injection in the username is a failed sign-in like any other, on the page.
    page.fill("input[name=username]", "*)(uid=*")
    page.fill("input[name=password]", "x")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))

    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "bob-pass")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("dashboard")).to_be_visible()
    expect(_open_user_menu(page)).to_contain_text("Operator")
    page.keyboard.press("Escape")
    page.goto(portal_server + "/workspaces")
    expect(page.get_by_test_id("workspace-row-shop")).to_contain_text("Developer")
    bob = User.objects.get(username="bob")
    assert bob.role == "operator"
    assert ExternalIdentity.objects.filter(provider=provider, user=bob).exists()


def test_admin_configures_a_provider_and_its_mappings(portal_server: str, oidc_issuer: str, page: Any) -> None:
    """The admin pages against the real API: create an OIDC provider (secret write-only), test the
    connection to the real provider, preview a group mapping before saving it, save it, and read
    a user's identity link."""
    from playwright.sync_api import expect

    from identity.models import ExternalIdentity, IdentityProvider
    from portal.models import User
    from portal.testing import make_user

    make_user("root", role="admin", password=PASSWORD)
    login(page, portal_server, "root")
    page.get_by_test_id("nav-admin-identity").click()
    expect(page.get_by_test_id("identity-providers-page")).to_be_visible()
    page.get_by_test_id("create-provider").click()
    dialog = page.get_by_test_id("provider-dialog")
    dialog.get_by_role("textbox", name="Name", exact=True).fill("corp")
    dialog.get_by_role("textbox", name="Display name").fill("Corp SSO")
    dialog.get_by_role("textbox", name=re.compile("Issuer URL")).fill(oidc_issuer)
    dialog.get_by_role("textbox", name=re.compile("Client ID")).fill(OIDC_CLIENT_ID)
    dialog.get_by_label("Client secret").fill(OIDC_CLIENT_SECRET)
    dialog.get_by_test_id("provider-submit").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("provider-row-corp")
    expect(row).to_contain_text(oidc_issuer)
    expect(row).to_contain_text("Set")
    provider = IdentityProvider.objects.get(name="corp")
    assert provider.get_secret() == OIDC_CLIENT_SECRET
    assert provider.config["scopes"] == ["openid", "profile", "email", "groups"]

    # Editing without touching the secret keeps it.
    row.get_by_test_id("edit-provider-corp").click()
    page.get_by_test_id("provider-dialog").get_by_role("textbox", name="Display name").fill("Corp single sign-on")
    page.get_by_test_id("provider-submit").click()
    expect(page.get_by_test_id("provider-row-corp")).to_contain_text("Corp single sign-on")
    provider.refresh_from_db()
    assert provider.get_secret() == OIDC_CLIENT_SECRET

    page.get_by_test_id("test-provider-corp").click()
    test = page.get_by_test_id("test-dialog")
    expect(test.get_by_test_id("test-outcome")).to_contain_text("Connected.")
    expect(test.get_by_test_id("test-findings")).to_contain_text(f"{oidc_issuer}/jwks")
    test.get_by_role("button", name="Close").click()

    # bob has signed in before with groups ops and devs.
    bob = User.objects.create_user("bob")
    ExternalIdentity.objects.create(provider=provider, subject="bob", user=bob, username="bob", groups=["ops", "devs"])
    page.get_by_test_id("mappings-corp").click()
    expect(page.get_by_test_id("preview-row-bob")).to_contain_text("No role from the mappings")
    form = page.get_by_test_id("add-mapping")
    form.get_by_role("textbox", name="Group").fill("ops")
    form.get_by_role("combobox", name="Role").select_option("operator")
    form.get_by_test_id("preview-mapping").click()  # before saving: what the new rule would give
    expect(page.get_by_test_id("mapping-preview")).to_contain_text("not saved")
    expect(page.get_by_test_id("preview-row-bob")).to_contain_text("System role: Operator")
    bob.refresh_from_db()
    assert bob.role == "user"
    form.get_by_test_id("add-mapping-submit").click()
    expect(page.get_by_test_id("mappings-table")).to_contain_text("System role: Operator")
    expect(page.get_by_test_id("preview-row-bob")).to_contain_text("System role: Operator")

    page.goto(f"{portal_server}/admin/users/{bob.pk}")
    link = page.get_by_test_id("identity-link-corp")
    expect(link).to_contain_text("Corp single sign-on (OpenID Connect)")
    expect(link).to_contain_text("ops, devs")
