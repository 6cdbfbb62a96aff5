"""The console's main path in a real Chromium: log in through the SPA, see the dashboard with
live system health and an open WebSocket, switch to Korean, create an API token, log out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.testing import make_user

pytestmark = pytest.mark.browser


def test_login_dashboard_language_tokens_logout(portal_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    make_user("dana", role="admin", password="correct-horse-battery")
    page.goto(portal_server + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "wrong-password-123")
    page.click("button[type=submit]")
    expect(page.get_by_text("Wrong username or password.")).to_be_visible()

    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("dashboard")).to_be_visible()
    expect(page.get_by_test_id("dashboard")).to_contain_text("dana")
    expect(page.get_by_test_id("ws-status")).to_have_attribute("data-state", "open", timeout=10_000)
    expect(page.get_by_test_id("nav-clusters")).to_be_visible()

    page.get_by_test_id("lang-switch").select_option("ko")
    expect(page.get_by_test_id("nav-dashboard")).to_contain_text("대시보드")
    page.get_by_test_id("lang-switch").select_option("en")
    expect(page.get_by_test_id("nav-dashboard")).to_contain_text("Dashboard")

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login"))
