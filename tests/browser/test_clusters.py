"""The clusters main path in a real Chromium, against every real backend piece: register a
sandbox cluster through the wizard (kubeconfig upload, context picked from the API's answer),
see its nodes and pods once the watcher has synced them, and see a pod created inside the
sandbox arrive in the open page over the WebSocket, without a reload.

Running pieces: uvicorn (``portal_server``), a Celery worker (the registration check) and
``manage.py runwatchers``, all on the pytest test database; a one-cluster sandbox fleet that the
portal reaches only through the kubeconfig uploaded in the browser.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER
from tests.browser.helpers import deployment as _deployment

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
def test_register_sandbox_cluster_see_nodes_pods_and_a_live_pod(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    from playwright.sync_api import expect

    from sandbox.resources import DEPLOYMENTS, NODES, PODS

    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, _deployment("web", 2)))
    make_user("dana", role="admin", password="correct-horse-battery")

    page.goto(portal_server + "/")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("dashboard")).to_be_visible()
    expect(page.get_by_test_id("ws-status")).to_have_attribute("data-state", "open", timeout=10_000)

    # --- the wizard ---------------------------------------------------------------
    page.get_by_test_id("nav-clusters").click()
    expect(page.get_by_test_id("clusters-empty")).to_be_visible()
    page.get_by_test_id("register-cluster").click()
    wizard = page.get_by_test_id("wizard")
    wizard.locator("input[name=name]").fill(CLUSTER)
    wizard.locator("input[name=display_name]").fill("서울 샌드박스")
    wizard.locator("select[name=provider]").select_option("onprem")
    wizard.locator("input[name=region]").fill("seoul-1")
    wizard.locator("select[name=stage]").select_option("dev")
    wizard.get_by_test_id("add-label").click()
    wizard.get_by_test_id("label-key-0").fill("team")
    wizard.get_by_test_id("label-value-0").fill("platform")
    page.get_by_test_id("wizard-next").click()

    page.get_by_test_id("kubeconfig-file").set_input_files(str(fleet.cluster(CLUSTER).kubeconfig))
    expect(page.get_by_test_id("context-select")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("context-details")).to_contain_text("https://127.0.0.1")
    page.get_by_test_id("wizard-next").click()
    expect(page.get_by_test_id("wizard-review")).to_contain_text("team=platform")
    page.get_by_test_id("wizard-submit").click()

    # --- the cluster page: nodes, then pods ------------------------------------------
    expect(page).to_have_url(re.compile(r"/clusters/\d+$"), timeout=30_000)
    header = page.get_by_test_id("cluster-header")
    expect(header).to_contain_text("서울 샌드박스")
    expect(header).to_have_attribute("data-status", "connected", timeout=30_000)
    nodes = page.locator("[data-testid^=node-row-]")
    expect(nodes).to_have_count(2, timeout=30_000)
    expect(nodes.first).to_contain_text("Ready")

    page.get_by_test_id("tab-pods").click()
    web_pods = page.locator('[data-testid^="pod-row-default/web-"]')
    expect(web_pods).to_have_count(2, timeout=30_000)
    expect(web_pods.first).to_have_attribute("data-status", "Running", timeout=30_000)

    # --- a pod change made inside the cluster arrives live -------------------------------
    page.evaluate("window.__sameDocument = true")
    fleet.in_cluster(CLUSTER, lambda c: c.store.mutate(
        DEPLOYMENTS, "default", "web", lambda d: d["spec"].__setitem__("replicas", 3)))
    expect(web_pods).to_have_count(3, timeout=20_000)
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, _deployment("api", 1)))
    expect(page.locator('[data-testid^="pod-row-default/api-"]')).to_have_count(1, timeout=20_000)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    # Cordon a node: a confirmation names it, progress arrives live, the row shows it cordoned.
    page.get_by_test_id("tab-nodes").click()
    node = f"{CLUSTER}-node-1"
    page.get_by_test_id(f"cordon-{node}").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text(node)
    page.get_by_test_id("confirm-dialog").get_by_role("button", name="Cordon").click()
    expect(page.get_by_test_id(f"node-op-{node}")).to_have_attribute("data-status", "succeeded", timeout=20_000)
    expect(page.get_by_test_id(f"node-row-{node}").get_by_test_id("cordoned")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id(f"uncordon-{node}")).to_be_visible()
    assert fleet.in_cluster(CLUSTER, lambda c: c.store.get(NODES, None, node)["spec"].get("unschedulable")) is True

    # Drain the other node: a pod no controller recreates blocks it (kubectl drain's rule); the
    # dialog lists it, holds the button, and once force is ticked shows it as lost before confirming.
    other = f"{CLUSTER}-node-2"
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(PODS, {
        "metadata": {"name": "bare", "namespace": "default"},
        "spec": {"nodeName": other, "containers": [{"name": "c", "image": "busybox:1.36"}]}}))
    page.get_by_test_id(f"drain-{other}").click()
    dialog = page.get_by_test_id("drain-dialog")
    expect(dialog).to_contain_text(other)
    expect(dialog.get_by_test_id("drain-blocking-default/bare")).to_be_visible(timeout=15_000)
    expect(dialog.get_by_test_id("drain-submit")).to_be_disabled()
    dialog.get_by_test_id("drain-option-force").check()
    expect(dialog.get_by_test_id("drain-lost-default/bare")).to_be_visible()
    dialog.get_by_test_id("drain-submit").click()
    expect(page.get_by_test_id(f"node-op-{other}")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    bare = fleet.in_cluster(CLUSTER, lambda c: c.store.get(PODS, "default", "bare"))
    assert bare is None or bare["metadata"].get("deletionTimestamp"), "the bare pod was not evicted"

    # The fleet table shows the new cluster with its figures and freshness.
    page.get_by_test_id("nav-clusters").click()
    row = page.get_by_test_id(f"cluster-row-{CLUSTER}")
    expect(row).to_contain_text("서울 샌드박스")
    expect(row.get_by_test_id("cell-nodes")).to_contain_text("2/2", timeout=20_000)
    expect(row).to_have_attribute("data-freshness", re.compile("fresh|syncing"))
