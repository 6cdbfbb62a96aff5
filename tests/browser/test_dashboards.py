"""The role dashboards in a real Chromium (issue 20), against every real backend piece: uvicorn,
a Celery worker (its heartbeat is the portal-health tile's worker figure) and ``manage.py
runwatchers`` on a sandbox cluster registered through the API.

An admin, an operator and a developer (member of a workspace with a service map on the cluster)
each land on their dashboard with live figures. Live changes update a tile without a reload: the
cluster going unreachable turns the admin's fleet tile critical; a Deployment started in the
service map's namespace shows in the developer's service-map tile. Each tile links to the list
behind it. No Content-Security-Policy violation on the way (the page fixture checks).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, login, logout, register_cluster
from tests.browser.helpers import builtin_roles as _builtin_roles
from tests.browser.helpers import deployment as _deployment

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WORKSPACE = "team-dash"
NAMESPACE = "dash"


def _service_map(cluster_id: int) -> Any:
    """team-dash with the cluster allocated and a service map whose namespace exists in the sandbox."""
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, ServiceMap, Workspace

    workspace = Workspace.objects.create(name=WORKSPACE, display_name="Team Dash")
    quota = q.dump(q.parse({"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}))
    ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=NAMESPACE, quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"
    return sm


def _shot(page: Any, name: str) -> None:
    """A full-page screenshot for a person to review (var/ is git-ignored)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"dashboards-{name}.png"), full_page=True)


def _follow(page: Any, base: str, key: str, url: re.Pattern[str], landmark: str) -> None:
    """The tile's link opens the list behind it; back to the dashboard."""
    from playwright.sync_api import expect

    page.get_by_test_id(f"tile-{key}-link").click()
    expect(page).to_have_url(url)
    expect(page.get_by_test_id(landmark).first).to_be_visible(timeout=15_000)
    page.goto(base + "/")
    expect(page.get_by_test_id(f"tile-{key}")).to_be_visible(timeout=15_000)


def test_each_role_lands_on_its_dashboard_with_live_figures(
        portal_server: str, backend_workers: None, fleet: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from workspaces.models import Membership, Role

    base = portal_server
    _builtin_roles()
    make_user("ada", role="admin")
    make_user("otto", role="operator")
    devi = make_user("devi")

    # --- admin: fleet health, portal health, and the fleet going dark live -----------------------
    login(page, base, "ada")
    cluster_id = register_cluster(page, base, fleet.cluster(CLUSTER).kubeconfig.read_text())
    sm = _service_map(cluster_id)
    Membership.objects.create(workspace=sm.workspace, user=devi, role=Role.objects.get(key="developer"))
    page.goto(base + "/")
    expect(page.get_by_test_id("dashboard-role")).to_contain_text("System admin")
    tile = page.get_by_test_id("tile-fleet")
    expect(tile.get_by_test_id("fleet-clusters")).to_contain_text("1", timeout=30_000)
    expect(tile.get_by_test_id("fleet-status-connected")).to_contain_text("1", timeout=30_000)
    expect(tile.get_by_test_id("tile-fleet-fresh")).to_contain_text("Updated", timeout=30_000)
    expect(page.get_by_test_id("health-workers")).to_have_text(re.compile(r"^[1-9]\d*/"), timeout=40_000)
    expect(page.get_by_test_id("health-watchers")).to_contain_text("1/1", timeout=30_000)
    for key in ("quota", "cost", "alerts", "audit", "capacity", "firing", "events", "nodes"):
        expect(page.get_by_test_id(f"tile-{key}")).to_be_visible()
    expect(page.get_by_test_id("quota-list")).to_contain_text("Team Dash")
    expect(page.get_by_test_id("dashboard")).not_to_contain_text("upcoming releases")

    page.evaluate("window.__sameDocument = true")
    fleet.inject_fault(CLUSTER, blackhole=True)
    expect(tile).to_have_attribute("data-attention", "3", timeout=40_000)
    expect(tile.get_by_test_id("fleet-status-unreachable")).to_contain_text("1")
    expect(tile.get_by_test_id("tile-fleet-link")).to_have_attribute("href", "/clusters?status=unreachable")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    _shot(page, "admin")
    _follow(page, base, "fleet", re.compile(r"/clusters\?status=unreachable$"), "clusters-page")
    fleet.clear_faults(CLUSTER)
    expect(page.get_by_test_id("tile-fleet").get_by_test_id("fleet-status-connected")).to_contain_text(
        "1", timeout=40_000)
    _follow(page, base, "audit", re.compile(r"/admin/audit"), "audit-page")
    page.get_by_test_id("lang-switch").select_option("ko")
    expect(page.get_by_test_id("tile-fleet")).to_contain_text("전체 클러스터 상태")
    _shot(page, "admin-ko")
    page.get_by_test_id("lang-switch").select_option("en")
    logout(page)

    # --- operator: clusters with freshness, capacity with its figures -----------------------------
    login(page, base, "otto")
    expect(page.get_by_test_id("dashboard-role")).to_contain_text("Operator")
    clusters = page.get_by_test_id("tile-clusters")
    expect(clusters.get_by_test_id("clusters-list")).to_contain_text(CLUSTER, timeout=30_000)
    expect(page.get_by_test_id(f"capacity-{cluster_id}")).to_contain_text("%", timeout=30_000)
    expect(page.get_by_test_id("tile-fleet")).to_have_count(0)
    expect(page.get_by_test_id("tile-audit")).to_have_count(0)
    _shot(page, "operator")
    _follow(page, base, "firing", re.compile(r"/alerts\?state=firing$"), "alerts-page")
    logout(page)

    # --- developer: my service map, live when a Deployment starts in it ---------------------------
    login(page, base, "devi")
    expect(page.get_by_test_id("dashboard-roles")).to_contain_text("developer")
    expect(page.get_by_test_id("tile-fleet")).to_have_count(0)
    expect(page.get_by_test_id("tile-capacity")).to_have_count(0)
    figures = page.get_by_test_id(f"service-map-{sm.pk}-figures")
    expect(figures).to_contain_text("0/0 workloads ready", timeout=30_000)
    expect(page.get_by_test_id("my_quota-list")).to_contain_text("Team Dash")
    page.evaluate("window.__sameDocument = true")
    from sandbox.resources import DEPLOYMENTS

    web = _deployment("web", 2)
    web["metadata"]["namespace"] = NAMESPACE
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, web))
    expect(figures).to_contain_text("1/1 workloads ready", timeout=40_000)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    _shot(page, "developer")
    _follow(page, base, "service_maps", re.compile(rf"/servicemaps\?workspace={sm.workspace_id}$"), "servicemaps-page")
    _follow(page, base, "releases", re.compile(rf"/releases\?workspace={sm.workspace_id}$"), "releases-page")
    _follow(page, base, "builds", re.compile(rf"/builds\?workspace={sm.workspace_id}$"), "builds-page")
