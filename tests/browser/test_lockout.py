"""Per-account lockout in a real Chromium: failed logins lock an account (the login page says so),
an admin sees "Locked" on the users page and lifts it, and the user logs in again."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.testing import make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def backend_env(backend_env: dict[str, str]) -> dict[str, str]:
    # Three failures lock it; the per-(address, user) limit (5) must not answer first.
    return {**backend_env, "PORTAL_LOGIN_ACCOUNT_MAX_FAILURES": "3"}


def submit(page: Any, username: str, password: str) -> int:
    """Log in through the form; the status of the login call, once it has answered."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_response(lambda r: r.url.endswith("/api/auth/login/")) as answer:
        page.click("button[type=submit]")
    return int(answer.value.status)


def test_locked_account_is_unlocked_by_an_admin(portal_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    make_user("dana", role="admin", password="correct-horse-battery")
    make_user("kim", password="kim-password-2026!")
    page.goto(portal_server + "/login")
    for _ in range(3):
        assert submit(page, "kim", "wrong-password") == 401
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password.")
    assert submit(page, "kim", "kim-password-2026!") == 429
    expect(page.get_by_role("alert")).to_contain_text("ask an administrator to unlock it")

    assert submit(page, "dana", "correct-horse-battery") == 200
    expect(page.get_by_test_id("dashboard")).to_be_visible()
    page.get_by_test_id("nav-admin-users").click()
    row = page.get_by_test_id("user-row-kim")
    expect(row.get_by_test_id("locked-kim")).to_have_text("Locked")
    expect(page.get_by_test_id("locked-dana")).to_have_count(0)
    row.get_by_test_id("unlock-user-kim").click()
    expect(row.get_by_test_id("locked-kim")).to_have_count(0)
    expect(row.get_by_test_id("unlock-user-kim")).to_have_count(0)

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login"))
    assert submit(page, "kim", "kim-password-2026!") == 200
    expect(page.get_by_test_id("dashboard")).to_contain_text("kim")
