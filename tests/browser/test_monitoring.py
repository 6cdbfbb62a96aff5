"""The monitoring console in a real Chromium, against every real backend piece: an admin registers a
sandbox cluster whose service map runs a Deployment; the collector (``monitoring.collect``, the
code the Celery beat runs every interval) reads the sandbox's metrics.k8s.io a few times; a catalog
release of the service map gets a new revision (the deploy). The admin opens the cluster's charts
and sees the CPU and memory plots drawn by uPlot with the deploy as a marker: a line with a flag
whose tooltip says who deployed what, and an entry under the chart; the data is fresh. The admin adds
a price sheet for the cluster (a bad price is answered at its field). The page reads in Korean; the
metering report of the month has the workspace's row with its cost in won, and its CSV says the same.

Running pieces: uvicorn (``portal_server``), a Celery worker and ``manage.py runwatchers``
(``backend_workers``), a one-cluster sandbox fleet.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest

from portal.testing import make_user, wait_for
from tests.browser.helpers import CLUSTER, PASSWORD
from tests.browser.helpers import builtin_roles as _builtin_roles
from tests.browser.helpers import deployment as _deployment
from tests.browser.helpers import login as _login
from tests.browser.helpers import register_cluster as _register_cluster

pytestmark = pytest.mark.browser

WORKSPACE = "team-mon"
NAMESPACE = "shop"


def _service_map(cluster_id: int) -> Any:
    """team-mon with the cluster allocated and a service map whose namespace exists in the sandbox."""
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, ServiceMap, Workspace

    workspace = Workspace.objects.create(name=WORKSPACE, display_name="Team Monitoring")
    quota = q.dump(q.parse({"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}))
    ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=NAMESPACE, quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"
    return sm


def _deploy(sm: Any, user: Any, at: Any) -> None:
    """A release of the service map with a second revision (an upgrade by ``user``) at ``at``."""
    from catalog.models import CatalogSource, Package, PackageVersion, Release, Revision

    source, _ = CatalogSource.objects.get_or_create(name="charts", kind="upload", workspace=None)
    package, _ = Package.objects.get_or_create(source=source, name="web")
    version, _ = PackageVersion.objects.get_or_create(package=package, version="1.2.0")
    release = Release.objects.create(workspace=sm.workspace, service_map=sm, name="web", package_version=version)
    resources = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}]
    Revision.objects.create(release=release, number=1, package_version=version, created=at - timedelta(minutes=20),
                            created_by=user, status="succeeded", action="install", resources=resources)
    Revision.objects.create(release=release, number=2, package_version=version, created=at, created_by=user,
                            status="succeeded", action="upgrade", resources=resources)


def test_admin_sees_a_cluster_chart_with_a_deploy_marker_and_the_metering_row(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    from django.utils import timezone
    from playwright.sync_api import expect

    from clusters.models import KubeObject
    from monitoring import collect
    from sandbox.resources import DEPLOYMENTS

    _builtin_roles()
    ada = make_user("ada", role="admin", password=PASSWORD)
    base = portal_server

    _login(page, base, "ada")
    cluster_id = _register_cluster(page, base, fleet.cluster(CLUSTER).kubeconfig.read_text())
    sm = _service_map(cluster_id)
    body = _deployment("web", 2)
    body["metadata"]["namespace"] = NAMESPACE
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, body))
    wait_for(lambda: KubeObject.objects.filter(cluster_id=cluster_id, kind="Pod", namespace=NAMESPACE).count() == 2,
             timeout=30, what="the watcher seeing the Deployment's two pods")

    # a few collections, 30 s apart, ending now (what the beat would have written over 3 minutes)
    now = timezone.now()
    for k in range(6, -1, -1):
        outcome = collect.collect_cluster(cluster_id, now=now - timedelta(seconds=30 * k))
        assert outcome.samples_written > 0, outcome
    _deploy(sm, ada, now - timedelta(minutes=2))

    # --- the cluster's charts: uPlot canvases, the deploy marker, fresh data ------------------------
    page.goto(f"{base}/monitoring/clusters/{cluster_id}")
    card = page.get_by_test_id("cluster-chart")
    cpu = card.get_by_test_id("panel-cpu")
    expect(cpu.locator("canvas")).to_have_count(1, timeout=15_000)
    expect(card.get_by_test_id("panel-mem").locator("canvas")).to_have_count(1)
    expect(cpu.locator(".u-legend")).to_contain_text("Usage")
    expect(cpu.locator(".u-legend")).to_contain_text("Allocatable")
    entry = card.get_by_test_id("chart-marker")
    expect(entry).to_have_count(2)  # the install 20 minutes ago and the upgrade
    upgrade = entry.first  # newest first
    expect(upgrade).to_have_attribute("data-kind", "deploy")
    expect(upgrade).to_contain_text("Deploy: Upgrade of web: revision 2")
    expect(upgrade).to_contain_text("by ada")
    flags = cpu.get_by_test_id("marker-flag")
    expect(flags).to_have_count(2)
    flag = flags.nth(1)
    expect(flag).to_have_attribute("data-kind", "deploy")
    tip = flag.get_by_test_id("marker-tip")
    expect(tip).to_be_hidden()
    flag.hover()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Upgrade of web: revision 2")
    expect(tip).to_contain_text("ada")
    expect(card.get_by_test_id("chart-freshness")).to_have_attribute("data-fresh", "fresh")
    expect(card.get_by_test_id("chart-freshness")).to_contain_text("raw samples")
    expect(card.get_by_test_id("chart-pods")).to_have_text(re.compile(r"^Pods now: [1-9]\d*$"))
    expect(page.get_by_test_id(re.compile(r"^node-row-"))).to_have_count(2)

    # --- a price sheet for the cluster (admins edit them) -----------------------------------------------
    page.get_by_test_id("monitoring-tabs").get_by_role("link", name="Price sheets").click()
    expect(page.get_by_test_id("prices-empty")).to_be_visible()
    page.get_by_test_id("price-new").click()
    form = page.get_by_test_id("price-form")
    form.get_by_test_id("price-name").fill("sandbox")
    form.get_by_test_id("price-cluster").select_option(str(cluster_id))
    form.get_by_test_id("price-cpu").fill("100")
    form.get_by_test_id("price-memory").fill("abc")
    form.get_by_test_id("price-save").click()
    expect(form.get_by_test_id("price-memory")).to_have_attribute("aria-invalid", "true")
    form.get_by_test_id("price-memory").fill("20")
    form.get_by_test_id("price-save").click()
    expect(page.get_by_test_id("price-row-sandbox")).to_contain_text(f"Cluster {CLUSTER}")
    expect(page.get_by_test_id("price-row-sandbox")).to_contain_text("₩100")
    page.go_back()
    expect(card.get_by_test_id("chart-marker")).to_have_count(2)

    # --- in Korean ---------------------------------------------------------------------------------
    page.get_by_test_id("lang-switch").select_option("ko")
    expect(upgrade).to_contain_text("배포: web 업그레이드: 리비전 2 (web 1.2.0)")
    flag.hover()
    expect(tip).to_contain_text("web 업그레이드: 리비전 2")
    expect(cpu.locator(".u-legend")).to_contain_text("사용량")
    expect(card.get_by_test_id("chart-freshness")).to_contain_text("마지막 수집")
    expect(page.get_by_role("heading", name=f"클러스터 {CLUSTER}")).to_be_visible()

    # --- the metering report of the month has the workspace's row -----------------------------------
    page.get_by_test_id("monitoring-tabs").get_by_role("link", name="사용량 정산").click()
    expect(page).to_have_url(re.compile(r"/monitoring/metering$"))
    row = page.get_by_test_id("metering-row").filter(has_text="Team Monitoring")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("metering-cost")).to_have_text(re.compile(r"^₩\d"))
    expect(page.get_by_test_id("metering-total")).to_be_visible()
    expect(page.get_by_test_id("metering-table")).to_contain_text("과금")
    page.get_by_test_id("lang-switch").select_option("en")
    expect(page.get_by_test_id("metering-table")).to_contain_text("Billed")
    href = page.get_by_test_id("metering-csv").get_attribute("href") or ""
    assert "format=csv" in href, href
    answer = page.request.get(base + href)
    assert answer.status == 200, answer.text()
    lines = list(csv.DictReader(io.StringIO(answer.text())))
    assert any(line["workspace"] == WORKSPACE for line in lines), lines
