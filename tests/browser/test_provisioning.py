"""Provisioning a cluster through Cluster API in a real Chromium (issue 17, docs/provisioning.md): an
admin marks the registered sandbox cluster as a management cluster, walks the wizard (provider →
the builtin sandbox template → its parameters → name and labels → the plan with the server-side
dry run) and creates the cluster; its page follows the machines live until every node is ready,
the new cluster appears in the cluster table and goes Connected, its cluster page has the
Provisioning tab, and scaling its node pool from the console adds a machine. A service map then
moves onto the new cluster ("Move to cluster…", the plan, the live ledger). Then every
provisioning page and the move's page go through axe-core in Korean and English.

Running pieces: uvicorn, a Celery worker (the management check, the create and scale operations)
and the watchers, all on the pytest test database; a one-cluster sandbox fleet whose cluster serves
the sandbox's Cluster API slice, with fast machines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, PASSWORD, login, register_cluster

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
NAME = "edge-1"
POOL = f"{NAME}-workers"
_RUN_AXE = """async () => {
  const result = await window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'best-practice'] },
    resultTypes: ['violations'],
  });
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
  }));
}"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Any]:
    """The sandbox cluster as a Cluster API management cluster (this module's own fleet)."""
    from sandbox.controllers.config import fast
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=1, nodes=1, names=[CLUSTER], cluster_api=[CLUSTER], controller_config=fast(),
                         state_dir=tmp_path / "sandbox") as running:
        yield running


def _builtin_templates() -> None:
    """Migrate stores the builtin templates; a transactional test before us may have flushed them."""
    from provisioning.actions import sync_builtin_templates
    from provisioning.models import ClusterTemplate

    if not ClusterTemplate.objects.filter(name="sandbox", builtin=True).exists():
        sync_builtin_templates()


def _axe(browser: Any, base: str, urls: list[tuple[str, str]]) -> list[str]:
    """Each (url, ready selector) through axe in both languages; the serious and critical findings."""
    findings: list[str] = []
    for lang in ("ko", "en"):
        context = browser.new_context(locale="ko-KR" if lang == "ko" else "en-US", viewport={"width": 1440, "height": 900},
                                      bypass_csp=True)
        context.add_init_script(f"window.localStorage.setItem('portal.language', '{lang}');")
        page = context.new_page()
        login(page, base, "prov-admin")
        for url, ready in urls:
            page.goto(base + url)
            page.locator(ready).first.wait_for(state="visible", timeout=20_000)
            page.wait_for_function("() => !document.querySelector('.loading, [aria-busy=true]')", timeout=10_000)
            page.add_script_tag(path=str(AXE))
            findings += [f"{lang} {url}: {v['id']} ({v['impact']}): {v['help']} {v['nodes']}"
                         for v in page.evaluate(_RUN_AXE)]
        context.close()
    return findings


def _move_onto(page: Any, base: str, admin: Any, *, source: int, target: int) -> int:
    """A workspace with allocations on both clusters and a service map on ``source``, moved to
    ``target`` through the service map page's dialog; the move's id once it is healthy."""
    from playwright.sync_api import expect

    from tests.browser.helpers import builtin_roles
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

    builtin_roles()
    workspace = Workspace.objects.create(name="edge-team")
    Membership.objects.create(workspace=workspace, user=admin, role=Role.objects.get(key="manager"))
    quota = q.dump(q.parse({"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}))
    for cluster_id in (source, target):
        ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=source, namespace="edge-shop",
                                   quota=q.dump(q.parse({"requests.cpu": "1", "pods": "5"})))
    assert ws_services.apply_service_map(sm.pk) == "ready"

    page.goto(f"{base}/workspaces/{workspace.pk}/servicemaps/{sm.pk}")
    page.get_by_test_id("move-servicemap").click()
    dialog = page.get_by_test_id("move-dialog")
    dialog.get_by_test_id("move-target").select_option(label=NAME)
    dialog.get_by_test_id("move-plan-button").click()
    expect(dialog.get_by_test_id("move-plan")).to_have_attribute("data-ok", "true", timeout=30_000)
    dialog.get_by_test_id("move-confirm").click()
    expect(page).to_have_url(re.compile(r"/moves/\d+$"), timeout=15_000)
    try:
        expect(page.get_by_test_id("move-header")).to_have_attribute("data-status", "healthy", timeout=150_000)
    except AssertionError as exc:  # say where it stopped: the ledger and the target service map
        from catalog.models import Move

        move = Move.objects.select_related("target").get(pk=int(page.url.rsplit("/", 1)[1]))
        made = move.target
        raise AssertionError(f"{exc}\nmove {move.pk} {move.status}: {move.message}\nsteps: {move.steps}\n"
                             f"target: {made and (made.status, made.message, made.generation, made.applied_generation)}"
                             ) from exc
    expect(page.get_by_test_id("retire-source")).to_be_visible()
    return int(page.url.rsplit("/", 1)[1])


@pytest.mark.timeout(600)
def test_provision_a_cluster_see_it_connected_and_scale_its_pool(
    portal_server: str, backend_workers: None, fleet: Any, page: Any, browser: Any,
) -> None:
    from playwright.sync_api import expect

    from provisioning.models import ProvisionedCluster

    base = portal_server
    _builtin_templates()
    admin = make_user("prov-admin", role="admin", password=PASSWORD)
    login(page, base, "prov-admin")
    management_id = register_cluster(page, base, fleet.cluster(CLUSTER).kubeconfig.read_text())

    # Mark the registered cluster as a management cluster; the check finds Cluster API and the sandbox provider
    page.goto(base + "/provisioning/management")
    page.get_by_test_id("mark-management").click()
    dialog = page.get_by_test_id("mark-management-dialog")
    dialog.get_by_test_id("mark-management-cluster").select_option(label=CLUSTER)
    dialog.locator("input[name=namespace]").fill("capi-browser")
    dialog.get_by_test_id("mark-management-submit").click()
    row = page.get_by_test_id(f"management-{CLUSTER}")
    expect(row).to_have_attribute("data-status", "ready", timeout=30_000)
    expect(row.get_by_test_id("management-providers")).to_contain_text("sandbox")

    # The wizard, from the sidebar's Provisioning entry
    page.get_by_test_id("nav-provisioning").click()
    page.get_by_test_id("new-provisioned").click()
    expect(page.get_by_test_id("provision-management")).to_have_value(re.compile(r"\d+"))
    page.get_by_test_id("provision-provider-sandbox").check()
    page.get_by_test_id("provision-next").click()
    page.get_by_test_id("provision-template-sandbox").check()
    expect(page.get_by_test_id("provision-next")).to_be_enabled()
    page.get_by_test_id("provision-next").click()
    expect(page.get_by_test_id("provision-parameters").get_by_test_id("values-form")).to_be_visible()
    page.get_by_test_id("provision-next").click()
    page.get_by_test_id("provision-name").fill(NAME)
    page.get_by_test_id("provision-labels").fill("team=platform")
    page.get_by_test_id("provision-next").click()
    expect(page.get_by_test_id("provision-dry-run")).to_have_attribute("data-ok", "true", timeout=30_000)
    expect(page.get_by_test_id(f"object-Cluster-{NAME}")).to_be_visible()
    expect(page.get_by_test_id(f"object-MachineDeployment-{POOL}")).to_be_visible()
    assert not ProvisionedCluster.objects.exists()  # the plan wrote nothing
    page.get_by_test_id("provision-create").click()

    # Its page follows the machines live until every node is ready
    expect(page).to_have_url(re.compile(r"/provisioning/clusters/\d+$"), timeout=15_000)
    provisioned_url = page.url
    header = page.get_by_test_id("provisioned-header")
    expect(header).to_have_attribute("data-phase", "provisioned", timeout=90_000)
    progress = page.get_by_test_id("provisioning-progress")
    expect(progress.get_by_test_id("progress-cp-initialized")).to_have_attribute("data-done", "true")
    expect(progress).to_have_attribute("data-nodes-ready", "3", timeout=60_000)
    expect(progress.get_by_test_id("progress-machines")).to_contain_text("3/3 machines running")
    expect(page.get_by_test_id("provisioned-from")).to_contain_text(f"on management cluster {CLUSTER}")
    expect(page.locator('[data-testid^="operation-"][data-kind="create"]')).to_have_attribute(
        "data-status", "succeeded", timeout=60_000)

    # Registered automatically: in the cluster table, Connected
    page.goto(base + "/clusters")
    cluster_row = page.get_by_test_id(f"cluster-row-{NAME}")
    expect(cluster_row.get_by_test_id("cluster-status")).to_have_attribute("data-status", "connected", timeout=60_000)
    cluster_id = ProvisionedCluster.objects.get(name=NAME).cluster_id
    assert cluster_id is not None
    page.goto(f"{base}/clusters/{cluster_id}")
    page.get_by_test_id("tab-provisioning").click()
    tab = page.get_by_test_id("cluster-provisioning")
    expect(tab).to_contain_text(f"from management cluster {CLUSTER} with template sandbox")

    # Scale the pool 2 → 3 from the console
    tab.get_by_test_id("open-provisioned").click()
    expect(page).to_have_url(provisioned_url)
    pool = page.get_by_test_id(f"pool-{POOL}")
    expect(pool).to_have_attribute("data-replicas", "2", timeout=15_000)
    page.get_by_test_id(f"scale-{POOL}").click()
    page.get_by_test_id("scale-pool-replicas").fill("3")
    page.get_by_test_id("scale-pool-submit").click()
    expect(page.get_by_test_id("scale-pool-dialog")).to_have_count(0)
    expect(pool).to_have_attribute("data-replicas", "3", timeout=30_000)
    expect(pool).to_have_attribute("data-ready", "3", timeout=60_000)
    expect(page.locator('[data-testid^="operation-"][data-kind="scale_pool"]')).to_have_attribute(
        "data-status", "succeeded", timeout=60_000)
    expect(page.get_by_test_id("provisioning-progress")).to_have_attribute("data-nodes-ready", "4", timeout=30_000)

    # Move a service map onto the new cluster
    move_id = _move_onto(page, base, admin, source=management_id, target=cluster_id)

    # Every provisioning page passes axe, in Korean and English
    pc = ProvisionedCluster.objects.get(name=NAME)
    template_id = pc.template_id
    findings = _axe(browser, base, [
        ("/provisioning", '[data-testid="provisioned-table"]'),
        ("/provisioning/management", '[data-testid="management-table"]'),
        ("/provisioning/templates", '[data-testid="templates-table"]'),
        (f"/provisioning/templates/{template_id}", '[data-testid="template-files-view"]'),
        ("/provisioning/new", '[data-testid="provision-wizard"]'),
        (f"/provisioning/clusters/{pc.pk}", '[data-testid="pools-table"]'),
        (f"/clusters/{cluster_id}/provisioning", '[data-testid="cluster-provisioning"]'),
        (f"/moves/{move_id}", '[data-testid="move-steps"]'),
    ])
    assert not findings, "\n".join(findings)
