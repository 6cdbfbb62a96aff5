"""The pods tab at 10,000 pods in a real Chromium (issue 20: "a list of 10,000 pods scrolls at
60 fps in headless Chromium").

How the pods get there: bulk rows in the read model, each made by the watcher's own projection
(``clusters.watcher.projection.project``, the function every list and watch event goes through)
from a pod as the API server serves it, with the per-kind sync rows of a synced cluster. The
sandbox plus the watcher would produce the same rows, but creating 10,000 pods there (and
scheduling, starting and projecting them) takes minutes; what this test measures starts at the
read model, so the rows are written straight into it.

The browser opens the pods tab (uvicorn on the test database, the built console), then a script
scrolls the table's box a fixed distance per animation frame to the end while the table loads
page after page (keyset paging, 200 rows a request) and records every frame's interval
(``requestAnimationFrame``) and the long animation frames / long tasks Chromium reports
(``PerformanceObserver``). Asserted: every pod was loaded, the last one (in the default order) is
reachable and shown, and the DOM never held more than a bounded window of rows. The frame figures
(p50/p95/p99 frame time, fps, dropped frames, rows rendered) are written to
``var/table_scroll.json`` (a test run shares the machine with the rest of the suite; the recorded
figure is ``bench/table_scroll.py --record`` on an idle machine, in ``bench/results/``); the 60 fps
goal (p95 frame <= 16.7 ms) is reported there and in docs/performance.md rather than asserted, because frame times depend on the machine and its load
(PREAMBLE: tests check behaviour, not wall-clock time). ``bench/table_scroll.py`` runs the same
measurement standalone.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import PASSWORD
from tests.browser.table_scale import SCROLL_JS, figures, fill_pods

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "var" / "table_scroll.json"
PODS = 10_000
PAGE_SIZE = 200  # clusters/tabs/PodsTab.tsx POD_PAGE_SIZE
# The virtualised window: the rows in view plus the overscan, whatever the number of rows loaded.
MAX_DOM_ROWS = 120


def test_ten_thousand_pods_scroll_with_a_bounded_dom(portal_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    from clusters.models import Cluster

    cluster = Cluster.objects.create(name="scale", display_name="Scale", server="https://scale.invalid",
                                     status="connected", kubernetes_version="v1.32.4")
    last_row = fill_pods(cluster, PODS)
    make_user("scale-admin", role="admin", password=PASSWORD)

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(portal_server + "/")
    page.fill("input[name=username]", "scale-admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("ws-status")).to_have_attribute("data-state", "open", timeout=15_000)

    page.goto(f"{portal_server}/clusters/{cluster.pk}/pods")
    table = page.get_by_test_id("pods-list")
    expect(page.locator("[data-testid^='pod-row-scale-00/']").first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("list-freshness")).to_be_visible()
    # Paged, not all at once: the first screen holds one page.
    assert int(table.get_attribute("data-rows") or 0) == PAGE_SIZE

    result = page.evaluate(SCROLL_JS, {"testId": "pods-list", "total": PODS, "step": 240, "limitMs": 240_000})
    found = figures(result, total=PODS, page_size=PAGE_SIZE)

    # Everything loaded as the user scrolled, and the last pod is there at the bottom.
    assert found["rows_loaded"] == PODS, found
    expect(page.get_by_test_id(last_row)).to_be_visible()
    # The DOM held a window, never the list.
    assert 0 < found["dom_rows"]["max"] <= MAX_DOM_ROWS, found
    assert page.locator("[data-testid='pods-list'] tbody tr.dt-row").count() <= MAX_DOM_ROWS
    assert found["frames"] > 100, found  # the measurement saw the scroll, frame by frame

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "how": "tests/browser/test_table_scale.py (bench/table_scroll.py runs the same): headless Chromium "
               "(--headless=new, --disable-gpu), 1440x900, pods tab, scripted scroll of 240 px per animation frame "
               "to the end while keyset pages of 200 load",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_1m": round(os.getloadavg()[0], 2)},
        **found,
    }, indent=2) + "\n")
