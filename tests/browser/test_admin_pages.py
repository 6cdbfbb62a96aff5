"""The admin pages in a real Chromium: the audit log's filters narrow the list and it stays live,
the export downloads a CSV of the filtered rows with Korean intact, the settings page shows its
sections and no secret, and the users table sorts on the server."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import PASSWORD, login

pytestmark = pytest.mark.browser


def _csrf_headers(page: Any, base: str) -> dict[str, str]:
    page.request.get(base + "/api/auth/csrf/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token, "Referer": base + "/"}


def test_audit_filters_live_and_export(portal_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    from portal import audit
    from portal.models import AuditOutcome
    from workspaces.models import Workspace

    make_user("dana", role="admin", password=PASSWORD)
    login(page, portal_server, "dana")
    headers = _csrf_headers(page, portal_server)
    created = {}
    for name in ("team-live", "team-other"):
        response = page.request.post(portal_server + "/api/workspaces/", data={"name": name}, headers=headers)
        assert response.status == 201, response.text()
        created[name] = response.json()["id"]
    # A record in Korean about team-live (written here, read by the server from the same database).
    audit.record(action="servicemap.note", outcome=AuditOutcome.SUCCESS, actor_username="김민수",
                 target=Workspace.objects.get(pk=created["team-live"]), target_repr="결제 서비스")

    page.get_by_test_id("nav-admin-audit").click()
    table = page.get_by_test_id("audit-list")
    expect(table.locator("[data-testid=audit-workspace]", has_text="team-other")).to_have_count(1)

    page.get_by_test_id("audit-filter-workspace").fill("team-live")
    page.get_by_test_id("audit-filter-apply").click()
    expect(table.locator("[data-testid=audit-workspace]", has_text="team-other")).to_have_count(0)
    expect(table.get_by_text("김민수")).to_be_visible()
    rows = table.locator("tbody tr[data-testid^=audit-row-]")
    expect(rows).to_have_count(2)  # workspace.create and the Korean record

    # Live: a change in team-live appears without a reload; one elsewhere does not.
    response = page.request.patch(f"{portal_server}/api/workspaces/{created['team-other']}/",
                                  data={"description": "elsewhere"}, headers=headers)
    assert response.status == 200, response.text()
    response = page.request.patch(f"{portal_server}/api/workspaces/{created['team-live']}/",
                                  data={"description": "운영 팀"}, headers=headers)
    assert response.status == 200, response.text()
    expect(table.locator("[data-testid=audit-action][data-action='workspace.update']")).to_have_count(1)
    expect(rows).to_have_count(3)

    with page.expect_download() as info:
        page.get_by_test_id("audit-export").click()
    download = info.value
    assert download.suggested_filename.startswith("audit-")
    assert download.suggested_filename.endswith(".csv")
    raw = Path(download.path()).read_bytes()
    assert raw.startswith("\ufeff".encode())
    exported = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["workspace"] for r in exported} == {"team-live"}
    assert sorted(r["action"] for r in exported) == ["servicemap.note", "workspace.create", "workspace.update"]
    korean = next(r for r in exported if r["action"] == "servicemap.note")
    assert korean["actor"] == "김민수"
    assert korean["target"] == "결제 서비스"


def test_settings_page_shows_sections_and_no_secret(portal_server: str, page: Any,
                                                    backend_env: dict[str, str]) -> None:
    from playwright.sync_api import expect

    make_user("dana", role="admin", password=PASSWORD)
    login(page, portal_server, "dana")
    page.get_by_test_id("nav-admin-settings").click()
    expect(page.get_by_test_id("settings-page")).to_be_visible()
    for section in ("address_policy", "retention", "intervals", "watcher", "limits", "secrets"):
        expect(page.get_by_test_id(f"settings-section-{section}")).to_be_visible()
    expect(page.get_by_test_id("setting-PORTAL_CLUSTER_ALLOW_LOOPBACK")).to_be_visible()
    expect(page.get_by_test_id("setting-SECRET_KEY")).to_contain_text("Set (hidden)")
    expect(page.get_by_test_id("settings-environment")).to_have_text("test")

    from django.conf import settings

    text = page.content()
    secrets = [settings.SECRET_KEY, *settings.PORTAL_ENCRYPTION_KEYS,
               *(k.partition(":")[2] for k in settings.PORTAL_ENCRYPTION_KEYS)]
    for secret in filter(None, [*secrets, backend_env.get("SECRET_KEY"), backend_env.get("EMAIL_HOST_PASSWORD")]):
        assert secret not in text

    page.get_by_test_id("settings-search").fill("RETENTION")
    expect(page.get_by_test_id("settings-section-address_policy")).to_have_count(0)
    expect(page.get_by_test_id("setting-PORTAL_ACTIVITY_RETENTION_DAYS")).to_be_visible()


def test_users_table_sorts_on_the_server(portal_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    make_user("dana", role="admin", password=PASSWORD)
    for name in ("yuna", "bora", "minho"):
        make_user(name)
    login(page, portal_server, "dana")
    page.get_by_test_id("nav-admin-users").click()
    rows = page.locator("[data-testid=users-table] tbody tr[data-testid^=user-row-]")
    expect(rows).to_have_count(4)

    def order() -> list[str]:
        return [str(r.get_attribute("data-testid")).removeprefix("user-row-") for r in rows.all()]

    with page.expect_response(lambda r: "ordering=username" in r.url):
        page.get_by_test_id("sort-username").click()
    expect(rows.first).to_have_attribute("data-testid", "user-row-bora")
    assert order() == ["bora", "dana", "minho", "yuna"]
    with page.expect_response(lambda r: "ordering=-username" in r.url):
        page.get_by_test_id("sort-username").click()
    expect(rows.first).to_have_attribute("data-testid", "user-row-yuna")
    assert order() == ["yuna", "minho", "dana", "bora"]
    expect(page.locator("[data-testid=users-table] th[aria-sort=descending]")).to_have_count(1)


_AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
_RUN_AXE = """async () => {
  const result = await window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'best-practice'] }, resultTypes: ['violations'],
  });
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
}"""


def test_admin_pages_pass_axe_in_both_languages(portal_server: str, browser: Any) -> None:
    from playwright.sync_api import expect

    from portal import audit
    from portal.models import AuditOutcome
    from tests.browser.helpers import builtin_roles

    builtin_roles()
    make_user("dana", role="admin", password=PASSWORD)
    audit.record(action="workspace.update", outcome=AuditOutcome.SUCCESS, actor_username="김민수",
                 target_type="workspaces.workspace", target_id="1", target_repr="결제 서비스")
    problems: list[str] = []
    for lang in ("ko", "en"):
        context = browser.new_context(locale="ko-KR" if lang == "ko" else "en-US",
                                      viewport={"width": 1440, "height": 900}, bypass_csp=True)
        context.add_init_script(f"window.localStorage.setItem('portal.language', '{lang}');")
        page = context.new_page()
        login(page, portal_server, "dana")
        for path, ready in (("/admin/audit", "audit-list"), ("/admin/settings", "settings-section-limits"),
                            ("/admin/users", "users-table"), ("/admin/roles", "roles-table")):
            page.goto(portal_server + path)
            expect(page.get_by_test_id(ready)).to_be_visible()
            page.wait_for_function("() => !document.querySelector('.loading, [aria-busy=true]')")
            expect(page.locator("h1")).to_have_count(1)
            page.add_script_tag(path=str(_AXE))
            problems += [f"{lang} {path}: {v}" for v in page.evaluate(_RUN_AXE)]
        context.close()
    assert not problems, "\n".join(problems)
