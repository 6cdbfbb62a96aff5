"""The migrated lists in a real Chromium against the real API (issue 20, LISTS): the workspaces
list sorts on the server (clicking a header asks for `ordering` and the order changes), loads the
next keyset page when scrolled to the end, and narrows by the name search on the server; the
service maps list shows a change made elsewhere without a reload (`servicemap.updated` on the
workspace's group) and sorts by cluster on the server."""

from __future__ import annotations

from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import PASSWORD, builtin_roles, login

pytestmark = pytest.mark.browser

PREFIX = "lst"
COUNT = 130  # more than two pages of 50: the table loads two by itself, the third when scrolled to


def _headers(page: Any, base: str) -> dict[str, str]:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token, "Referer": base + "/"}


def _first_row(page: Any, prefix: str) -> Any:
    return page.locator(f'[data-testid^="{prefix}"]').first


def test_workspaces_sort_page_and_filter_on_the_server(portal_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    from workspaces.models import Workspace

    builtin_roles()
    make_user("ada", role="admin", password=PASSWORD)
    Workspace.objects.bulk_create(Workspace(name=f"{PREFIX}-{i:03d}") for i in range(COUNT))
    login(page, portal_server, "ada")
    page.goto(f"{portal_server}/workspaces")
    table = page.get_by_test_id("workspaces-table")
    expect(_first_row(page, "workspace-row-")).to_have_attribute("data-testid", f"workspace-row-{PREFIX}-000")
    expect(table).to_have_attribute("data-rows", "100")  # two pages, then it waits for the scroll

    # Scrolling to the end asks for the next keyset page.
    with page.expect_request(lambda r: "/api/workspaces/" in r.url and "cursor=" in r.url):
        page.get_by_test_id("workspaces-table-scroll").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    expect(table).to_have_attribute("data-rows", str(COUNT))

    # Sorting asks the server: name ascending (as the default), then descending.
    page.get_by_test_id("workspaces-table-scroll").evaluate("box => { box.scrollTop = 0; }")
    page.get_by_test_id("sort-name").click()
    with page.expect_request(lambda r: "/api/workspaces/" in r.url and "ordering=-name" in r.url):
        page.get_by_test_id("sort-name").click()
    expect(_first_row(page, "workspace-row-")).to_have_attribute("data-testid", f"workspace-row-{PREFIX}-{COUNT - 1:03d}")
    expect(page).to_have_url(f"{portal_server}/workspaces?ordering=-name")
    expect(page.locator("th[data-column=name]")).to_have_attribute("aria-sort", "descending")

    # The search narrows the list on the server: lst-120…lst-129.
    with page.expect_request(lambda r: "/api/workspaces/" in r.url and "q=lst-12" in r.url):
        page.get_by_test_id("workspaces-filters").locator("input[name=q]").fill(f"{PREFIX}-12")
    expect(table).to_have_attribute("data-rows", "10")
    expect(_first_row(page, "workspace-row-")).to_have_attribute("data-testid", f"workspace-row-{PREFIX}-129")


def test_service_maps_follow_a_change_live_and_sort_by_cluster(portal_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    from clusters.models import Cluster
    from workspaces.models import ClusterAllocation, ServiceMap, Workspace

    builtin_roles()
    make_user("ada", role="admin", password=PASSWORD)
    team = Workspace.objects.create(name="team-lists")
    clusters = [Cluster.objects.create(name=n, server="https://127.0.0.1:9", status="connected") for n in ("zulu", "alpha")]
    for c in clusters:
        ClusterAllocation.objects.create(workspace=team, cluster=c, status="ready")
    maps = {ns: ServiceMap.objects.create(workspace=team, cluster=clusters[i % 2], namespace=ns, status="ready")
            for i, ns in enumerate(["shop", "bank", "mail"])}

    login(page, portal_server, "ada")
    page.goto(f"{portal_server}/servicemaps")
    shop = page.get_by_test_id("servicemap-row-shop")
    expect(shop.get_by_test_id("servicemap-link")).to_have_text("shop")
    expect(_first_row(page, "servicemap-row-")).to_have_attribute("data-testid", "servicemap-row-bank")  # by namespace

    # A change made elsewhere (here: the API from the same session, not the page) arrives live.
    response = page.request.patch(f"{portal_server}/api/workspaces/{team.pk}/servicemaps/{maps['shop'].pk}/",
                                  data={"display_name": "Shop front"}, headers=_headers(page, portal_server))
    assert response.status == 200, response.text()
    expect(shop.get_by_test_id("servicemap-link")).to_have_text("Shop front", timeout=15_000)

    # Sorting by cluster asks the server: alpha's service map (bank) first, then zulu's by namespace.
    with page.expect_request(lambda r: "/api/workspaces/servicemaps/" in r.url and "ordering=cluster" in r.url):
        page.get_by_test_id("sort-cluster").click()
    rows = page.locator('[data-testid^="servicemap-row-"]')
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-testid") for i in range(3)] == [
        "servicemap-row-bank", "servicemap-row-mail", "servicemap-row-shop"]
    with page.expect_request(lambda r: "ordering=-cluster" in r.url):
        page.get_by_test_id("sort-cluster").click()
    expect(_first_row(page, "servicemap-row-")).to_have_attribute("data-testid", "servicemap-row-shop")
