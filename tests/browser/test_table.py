"""The console's table (components/table) in a real Chromium against the real API, on the
clusters page with two sandbox clusters: sorting asks the server, the column chooser hides and
shows columns, a saved column set survives a reload as the default, the keyboard moves between
rows and Enter opens one, and the table fits the screen: every column at 1,440 px, low-priority
columns dropped at 1,024 px, and the document never scrolls sideways."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, PASSWORD, login

pytestmark = pytest.mark.browser

OTHER = "sandbox-busan"
ALL_COLUMNS = ["name", "status", "health", "provider", "stage", "version", "nodes", "services", "cpu", "memory",
               "disk", "pods", "lastSync"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Any]:
    """Two sandbox clusters (this module's own fleet: the table needs more than one row)."""
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=2, nodes=2, names=[CLUSTER, OTHER], state_dir=tmp_path / "sandbox") as running:
        yield running


def _csrf(page: Any, base: str) -> dict[str, str]:
    page.request.get(base + "/api/auth/csrf/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token, "Referer": base + "/"}


def _register(page: Any, base: str, name: str, kubeconfig: str) -> int:
    response = page.request.post(base + "/api/clusters/", data={"name": name, "kubeconfig": kubeconfig},
                                 headers=_csrf(page, base))
    assert response.status == 202, response.text()
    cluster_id = int(response.json()["id"])
    deadline = time.monotonic() + 60
    while page.request.get(f"{base}/api/clusters/{cluster_id}/").json()["status"] != "connected":
        assert time.monotonic() < deadline, f"{name} never became connected"
        time.sleep(0.5)
    return cluster_id


def _row_names(page: Any) -> list[str]:
    ids: list[str] = page.locator("[data-testid^=cluster-row-]").evaluate_all(
        "rows => rows.map(r => r.dataset.testid)")
    return [i.removeprefix("cluster-row-") for i in ids]


def _shown_columns(page: Any) -> list[str]:
    cols: list[str] = page.locator("[data-testid=clusters-table] thead th").evaluate_all(
        "ths => ths.map(th => th.dataset.column)")
    return cols


def _fits(page: Any) -> dict[str, Any]:
    """Widths: the document against the window, the table against its box, each header inside the box."""
    result: dict[str, Any] = page.evaluate("""() => {
      const box = document.querySelector('[data-testid=clusters-table-scroll]');
      const table = document.querySelector('[data-testid=clusters-table]');
      const right = box.getBoundingClientRect().right;
      const cut = [...table.querySelectorAll('thead th')]
        .filter(th => th.getBoundingClientRect().right > right + 1).map(th => th.dataset.column);
      return {doc: document.documentElement.scrollWidth, win: window.innerWidth,
              table: table.scrollWidth, box: box.clientWidth, cut, level: table.dataset.level};
    }""")
    return result


def test_table_sorting_columns_saved_sets_keyboard_and_widths(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    from playwright.sync_api import expect

    make_user("tara", role="admin", password=PASSWORD)
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, portal_server, "tara")
    seoul = _register(page, portal_server, CLUSTER, fleet.cluster(CLUSTER).kubeconfig.read_text())
    _register(page, portal_server, OTHER, fleet.cluster(OTHER).kubeconfig.read_text())

    page.goto(portal_server + "/clusters")
    for name in (CLUSTER, OTHER):
        expect(page.get_by_test_id(f"cluster-row-{name}").get_by_test_id("cell-nodes")).to_contain_text(
            "2/2", timeout=30_000)
        expect(page.get_by_test_id(f"cluster-row-{name}").get_by_test_id("cell-pods")).not_to_contain_text(
            "—", timeout=30_000)

    # --- 1,440 px: every column, nothing cut, no sideways scroll --------------------------------
    expect(page.get_by_test_id("clusters-table")).to_have_attribute("data-level", "0")
    assert _shown_columns(page) == ALL_COLUMNS
    shots = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "table-clusters-1440.png"))
    fits = _fits(page)
    assert fits["cut"] == [], fits
    assert fits["table"] <= fits["box"], fits
    assert fits["doc"] <= fits["win"], fits

    # --- sorting asks the server --------------------------------------------------------------
    name_header = page.locator("[data-testid=clusters-table] th[data-column=name]")
    with page.expect_request(lambda r: "/api/clusters/?" in r.url and "ordering=name" in r.url
                             and "ordering=-name" not in r.url):
        page.get_by_test_id("sort-name").click()
    expect(name_header).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"ordering=name"))
    expect(page.locator("[data-testid^=cluster-row-]").first).to_have_attribute(
        "data-testid", f"cluster-row-{OTHER}")
    with page.expect_request(lambda r: "/api/clusters/?" in r.url and "ordering=-name" in r.url):
        page.get_by_test_id("sort-name").click()
    expect(name_header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("[data-testid^=cluster-row-]").first).to_have_attribute(
        "data-testid", f"cluster-row-{CLUSTER}")
    assert _row_names(page) == [CLUSTER, OTHER]

    # --- the column chooser hides and shows a column; Escape returns focus ---------------------
    columns_button = page.get_by_test_id("columns-button")
    columns_button.click()
    panel = page.get_by_test_id("columns-panel")
    expect(panel).to_be_visible()
    panel.get_by_test_id("column-toggle-services").uncheck()
    expect(page.locator("[data-testid=clusters-table] th[data-column=services]")).to_have_count(0)
    panel.get_by_test_id("column-toggle-services").check()
    expect(page.locator("[data-testid=clusters-table] th[data-column=services]")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(columns_button).to_be_focused()

    # --- a saved set becomes the default and survives a reload ---------------------------------
    columns_button.click()
    panel.get_by_test_id("column-toggle-disk").uncheck()
    panel.get_by_test_id("column-toggle-services").uncheck()
    panel.get_by_test_id("view-save-as").click()
    panel.get_by_test_id("view-name").fill("Slim")
    panel.get_by_test_id("view-save").click()
    expect(panel.get_by_test_id("view-notice")).to_contain_text("Slim")
    panel.get_by_test_id("view-make-default").click()
    expect(panel.get_by_test_id("view-notice")).to_contain_text("opens by default")
    saved = page.request.get(portal_server + "/api/account/table-views/?table=clusters").json()
    assert [(v["name"], v["is_default"]) for v in saved] == [("Slim", True)]
    assert "disk" not in saved[0]["columns"]
    assert "services" not in saved[0]["columns"]

    page.reload()
    expect(page.get_by_test_id(f"cluster-row-{CLUSTER}")).to_be_visible(timeout=20_000)
    expect(page.locator("[data-testid=clusters-table] th[data-column=disk]")).to_have_count(0)
    expect(page.locator("[data-testid=clusters-table] th[data-column=services]")).to_have_count(0)
    expect(columns_button).to_contain_text("Slim")
    assert _shown_columns(page) == [c for c in ALL_COLUMNS if c not in ("disk", "services")]

    # --- keyboard: arrows move focus between rows, Enter opens the cluster ----------------------
    rows = page.locator("[data-testid^=cluster-row-]")
    rows.first.focus()
    first_id = rows.first.get_attribute("data-testid")
    second_id = rows.nth(1).get_attribute("data-testid")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id(second_id)).to_be_focused()
    expect(page.get_by_test_id(second_id)).to_have_attribute("tabindex", "0")
    expect(page.get_by_test_id(first_id)).to_have_attribute("tabindex", "-1")
    page.keyboard.press("ArrowUp")
    expect(page.get_by_test_id(first_id)).to_be_focused()
    page.keyboard.press("End")
    expect(page.get_by_test_id(second_id)).to_be_focused()
    page.keyboard.press("Home")
    expect(page.get_by_test_id(first_id)).to_be_focused()
    target = seoul if first_id == f"cluster-row-{CLUSTER}" else None
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/clusters/\d+$"))
    if target is not None:
        assert page.url.endswith(f"/clusters/{seoul}")

    # --- 1,024 px: low-priority columns hidden, still no sideways scroll ------------------------
    page.request.delete(f"{portal_server}/api/account/table-views/{saved[0]['id']}/", headers=_csrf(page, portal_server))
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(portal_server + "/clusters")
    expect(page.get_by_test_id(f"cluster-row-{CLUSTER}")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("clusters-table")).not_to_have_attribute("data-level", "0")
    shown = _shown_columns(page)
    for low in ("provider", "version", "services", "disk"):
        assert low not in shown, shown
    for high in ("name", "status", "health", "nodes", "pods", "lastSync"):
        assert high in shown, shown
    page.screenshot(path=str(shots / "table-clusters-1024.png"))
    fits = _fits(page)
    assert fits["doc"] <= fits["win"], fits
    assert fits["table"] <= fits["box"], fits
    # The chooser says which columns the narrow screen hides.
    page.get_by_test_id("columns-button").click()
    expect(page.get_by_test_id("columns-panel").locator("label", has_text="Disk")).to_contain_text("narrow screen")
    # Wider again: they come back.
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 1440, "height": 900})
    expect(page.get_by_test_id("clusters-table")).to_have_attribute("data-level", "0", timeout=10_000)
    assert _shown_columns(page) == ALL_COLUMNS
