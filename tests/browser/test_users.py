"""Users administration in a real Chromium: an admin creates an operator in Admin → Users, logs
out; the operator logs in and sees no Admin menu (and is refused the admin pages)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.testing import make_user

pytestmark = pytest.mark.browser


def login(page: Any, base: str, username: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("dashboard")).to_be_visible()


def test_admin_creates_operator_who_sees_no_admin_menu(portal_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    make_user("dana", role="admin", password="correct-horse-battery")
    login(page, portal_server, "dana", "correct-horse-battery")

    page.get_by_test_id("nav-admin-users").click()
    expect(page.get_by_test_id("users-page")).to_be_visible()
    expect(page.get_by_test_id("user-row-dana")).to_contain_text("System admin")

    page.get_by_test_id("create-user").click()
    dialog = page.get_by_test_id("create-user-dialog")
    dialog.locator("input[name=username]").fill("minsu")
    dialog.locator("input[name=email]").fill("minsu@example.com")
    dialog.locator("input[name=first_name]").fill("민수")
    dialog.locator("select[name=role]").select_option("operator")
    dialog.locator("input[name=password]").fill("operator-pass-2026!")
    dialog.get_by_test_id("create-user-submit").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("user-row-minsu")
    expect(row).to_contain_text("Operator")
    expect(row).to_contain_text("minsu@example.com")

    # The role filter goes to the server and keeps only operators.
    page.locator("[data-testid=users-filters] select[name=role]").select_option("operator")
    expect(page.get_by_test_id("user-row-dana")).to_be_hidden()
    expect(page.get_by_test_id("user-row-minsu")).to_be_visible()

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login"))

    page.fill("input[name=username]", "minsu")
    page.fill("input[name=password]", "operator-pass-2026!")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("dashboard")).to_contain_text("Operator")
    expect(page.get_by_test_id("nav-clusters")).to_be_visible()
    expect(page.get_by_test_id("nav-admin")).to_have_count(0)
    expect(page.get_by_test_id("nav-admin-users")).to_have_count(0)
    page.goto(portal_server + "/admin/users")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
