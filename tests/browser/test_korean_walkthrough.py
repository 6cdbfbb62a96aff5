"""Issue 22's walkthrough in Korean, in a real Chromium against every real backend piece: find
the NotReady node and the crash-looping pod from the cluster list, create a workspace with a
quota and a service map, deploy a chart, upgrade it, roll it back, delete the release and the
service map, cordon a node and find it in the audit log.

At every step the visible text is checked: no English sentence from the portal (words outside a
small allow-list of names, Kubernetes keys and units, three or more in a row), no escaped
characters (``\\uC548``), no error or "page not found" page; and a screenshot is saved to
``var/screenshots/walkthrough/`` (git-ignored) for review.

Not checked: messages the server writes in English (a release's or a service map's status
message, dry-run and plan messages, a pod's event text). Those are filed separately (server
sentences get stable codes the console translates); the check skips the elements that show them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import PASSWORD
from tests.browser.helpers import builtin_roles as _builtin_roles
from tests.browser.helpers import logout as _logout

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots" / "walkthrough"
CLUSTER = "busan-staging"
NAMESPACE = "walk-shop"  # the demo mix has a namespace "shop" of its own
HELLO = "안녕하세요"

# Words that may stay in Latin letters on a Korean page: Kubernetes kinds, states and keys,
# units, product names. Names of our own objects (cluster, namespace, release, users) are added
# by the test.
ALLOWED = {
    "kubernetes", "helm", "cpu", "gib", "mib", "kib", "tib", "gb", "ready", "notready", "running", "pending",
    "crashloopbackoff", "succeeded", "failed", "unknown", "completed", "terminating", "error", "containercreating",
    "deployment", "statefulset", "daemonset", "replicaset", "configmap", "secret", "service", "pod", "job",
    "cronjob", "ingress", "namespace", "node", "pvc", "qos", "burstable", "besteffort", "guaranteed",
    "api", "ip", "id", "yaml", "json", "kubeconfig", "clusterip", "nodeport", "loadbalancer", "tcp", "udp",
    "maxsurge", "maxunavailable", "pending", "eks", "gke", "aks", "ncp", "url", "oci", "webapp", "nginx",
    "cordon", "uncordon", "drain", "worker", "control", "plane", "sandbox", "admin", "ada", "devon", "shop",
    "web", "config", "busan", "staging", "team", "walk", "cocktail", "charts", "small", "demo", "recommendations",
    "ap", "northeast", "onprem", "ubuntu", "lts", "docker", "containerd", "requests", "limits", "storage",
    "persistentvolumeclaims", "pods", "services", "loadbalancers", "memory", "hello", "one",
}
# Elements whose text is the server's (English until the server gives codes; filed elsewhere),
# or data (YAML, diffs, values, names in monospace).
SKIP = ("[data-testid=release-message]", "[data-testid=progress-message]", "[data-testid^=progress-] td:last-child",
        "[data-testid=drift-result] p.small", "[data-testid=type-confirm-dialog] .alert", "[data-testid=servicemap-message]", "[data-testid=plan-dry-run]",
        "[data-testid^=event-row-]", "[data-testid=revision-message]", "[data-testid=route-notice-detail]",
        "pre", "code", ".mono", ".code-block", "[data-testid=pod-object]", "[title]>.muted", "select", "option",
        ".visually-hidden", "[data-testid=op-message]", "[data-testid^=node-op-] li")

_VISIBLE_TEXT_JS = """(skip) => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || !node.textContent.trim()) continue;
    if (el.closest(skip.join(','))) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || el.getClientRects().length === 0) continue;
    out.push(node.textContent.trim());
  }
  return out;
}"""

_ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'\u2019-]+(?:[ ,:]+[A-Za-z][A-Za-z'\u2019-]+){2,}")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Any]:
    """One sandbox cluster with three nodes, seeded with the demo mix: a crash-looping
    workload and a NotReady node."""
    from sandbox.fleet import seed_demo
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=1, nodes=3, names=[CLUSTER], state_dir=tmp_path / "sandbox") as running:
        running.run(lambda f: seed_demo(f.clusters[CLUSTER], "small", crashloop=True, not_ready_node=True))
        yield running


class Walk:
    """Checks the screen and saves a screenshot at each step."""

    def __init__(self, page: Any, extra_names: set[str]) -> None:
        self.page = page
        self.allowed = ALLOWED | {n.lower() for n in extra_names}
        self.step = 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob("*.png"):
            old.unlink()

    def english(self, text: str) -> list[str]:
        found = []
        for run in _ENGLISH_RUN.findall(text):
            words = [w.lower().strip("'\u2019-") for w in re.split(r"[ ,:]+", run) if w]
            unknown = [w for w in words if w not in self.allowed and not re.fullmatch(r"[a-z]?\d.*", w)]
            if len(unknown) >= 3:
                found.append(run)
        return found

    def check(self, name: str) -> None:
        from playwright.sync_api import expect

        page = self.page
        page.wait_for_load_state("networkidle")
        self.step += 1
        page.screenshot(path=str(SHOTS / f"{self.step:02d}-{name}.png"), full_page=True)
        expect(page.get_by_test_id("not-found")).to_have_count(0)
        body = page.inner_text("body")
        assert "Internal error" not in body, f"{name}: an error page"
        assert not re.search(r"\\u[0-9A-Fa-f]{4}", body), f"{name}: escaped characters on screen"
        texts = page.evaluate(_VISIBLE_TEXT_JS, list(SKIP))
        english = [run for text in texts for run in self.english(text)]
        assert not english, f"{name}: English on the Korean page: {english}"


def _headers(page: Any, base: str) -> dict[str, str]:
    page.request.get(base + "/api/auth/csrf/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token, "Referer": base + "/"}


def _login_ko(page: Any, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("dashboard")).to_be_visible()
    expect(page.get_by_test_id("ws-status")).to_have_attribute("data-state", "open", timeout=10_000)


def test_the_korean_walkthrough(
    portal_server: str, backend_workers: None, fleet: Any, page: Any, tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    from catalog import helm
    from catalog.models import CatalogSource, SourceKind
    from catalog.tests.helpers import CHART_FILES
    from workspaces.models import ServiceMap, Workspace

    _builtin_roles()
    make_user("ada", role="admin", password=PASSWORD)
    base = portal_server
    page.add_init_script("window.localStorage.setItem('portal.language', 'ko')")
    from sandbox.resources import NODES

    nodes = [n["metadata"]["name"] for n in fleet.in_cluster(CLUSTER, lambda c: c.store.list(NODES)[0])]
    walk = Walk(page, {CLUSTER, NAMESPACE, "walk-team", *nodes, *re.split(r"[-.]", "-".join(nodes))})

    _login_ko(page, base, "ada")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    response = page.request.post(base + "/api/clusters/", headers=_headers(page, base),
                                 data={"name": CLUSTER, "kubeconfig": fleet.cluster(CLUSTER).kubeconfig.read_text()})
    assert response.status == 202, response.text()
    cluster_id = int(response.json()["id"])

    # --- 1. from the cluster list to the NotReady node and the crash-looping pod ---------------------
    page.get_by_test_id("nav-clusters").click()
    row = page.get_by_test_id(f"cluster-row-{CLUSTER}")
    expect(row.get_by_test_id("health-nodes")).to_be_visible(timeout=60_000)
    expect(row.get_by_test_id("health-crash")).to_be_visible(timeout=60_000)
    walk.check("cluster-list")
    row.get_by_test_id("health-nodes").click()
    expect(page.locator("[data-testid^=node-row-][data-ready=false]")).to_have_count(1, timeout=20_000)
    walk.check("nodes-not-ready")
    page.go_back()
    page.get_by_test_id(f"cluster-row-{CLUSTER}").get_by_test_id("health-crash").click()
    first_pod = page.locator("[data-testid^=pod-row-]").first
    expect(first_pod).to_have_attribute("data-status", re.compile("CrashLoopBackOff|Error|Running"), timeout=20_000)
    walk.check("pods-by-restarts")
    first_pod.locator("a").first.click()
    expect(page.get_by_test_id("pod-page")).to_be_visible()
    expect(page.get_by_test_id("containers-table")).to_be_visible()
    walk.check("crash-looping-pod")

    # --- 2. a workspace with a quota, and a service map -----------------------------------------------
    page.get_by_test_id("nav-workspaces").click()
    page.get_by_test_id("create-workspace").click()
    dialog = page.get_by_test_id("create-workspace-dialog")
    dialog.locator("input[name=name]").fill("walk-team")
    dialog.locator("input[name=display_name]").fill("둘러보기 팀")
    page.get_by_test_id("create-workspace-submit").click()
    expect(page).to_have_url(re.compile(r"/workspaces/\d+$"))
    page.get_by_test_id("add-allocation").click()
    dialog = page.get_by_test_id("allocation-dialog")
    dialog.get_by_test_id("allocation-cluster").select_option(str(cluster_id))
    expect(dialog.get_by_test_id("quota-field-requests.cpu")).to_contain_text("CPU 요청")
    walk.check("allocation-dialog")
    for key, value in (("requests.cpu", "2"), ("requests.memory", "4Gi"), ("pods", "10"), ("services", "5")):
        dialog.get_by_test_id(f"quota-input-{key}").fill(value)
    page.get_by_test_id("allocation-submit").click()
    expect(page.get_by_test_id(f"allocation-{CLUSTER}")).to_have_attribute("data-status", "ready", timeout=30_000)
    walk.check("workspace-with-quota")
    page.get_by_test_id("tab-servicemaps").click()
    page.get_by_test_id("create-servicemap").click()
    dialog = page.get_by_test_id("create-servicemap-dialog")
    dialog.locator("input[name=namespace]").fill(NAMESPACE)
    for key, value in (("requests.cpu", "1"), ("requests.memory", "1Gi"), ("pods", "5"), ("services", "2")):
        dialog.get_by_test_id(f"quota-input-{key}").fill(value)
    walk.check("servicemap-dialog")
    page.get_by_test_id("create-servicemap-submit").click()
    expect(page).to_have_url(re.compile(r"/workspaces/\d+/servicemaps/\d+$"))
    expect(page.get_by_test_id("servicemap-header")).to_have_attribute("data-status", "ready", timeout=30_000)
    walk.check("servicemap")

    # --- 3. deploy a chart with a Korean value, upgrade, roll back --------------------------------------
    workspace = Workspace.objects.get(name="walk-team")
    CatalogSource.objects.create(name="walk-charts", kind=SourceKind.UPLOAD, workspace=workspace)
    chart = tmp_path / "shop-1.0.0.tgz"
    chart.write_bytes(helm.build_archive("shop", "1.0.0", CHART_FILES, description="가게"))
    page.get_by_test_id("nav-catalog").click()
    page.get_by_test_id("catalog-sources-link").click()
    source = page.get_by_test_id("source-row-walk-charts")
    source.get_by_test_id("upload-chart-walk-charts").set_input_files(str(chart))
    expect(source.get_by_test_id("upload-result")).to_contain_text("shop 1.0.0")
    page.get_by_test_id("nav-catalog").click()
    page.get_by_test_id("package-card-shop").click()
    page.get_by_test_id("deploy-package").click()
    wizard = page.get_by_test_id("deploy-wizard")
    wizard.get_by_test_id("value-message").fill(HELLO)
    page.get_by_test_id("deploy-next").click()
    wizard.get_by_test_id(f"target-{CLUSTER}-{NAMESPACE}").locator("input[type=checkbox]").check()
    page.get_by_test_id("deploy-release-name").fill("shop")
    page.get_by_test_id("deploy-next").click()
    plan = wizard.locator("[data-testid^=plan-][data-valid]")
    expect(plan).to_have_attribute("data-valid", "true", timeout=20_000)
    expect(plan.get_by_test_id("plan-diff")).to_contain_text(HELLO)
    walk.check("deploy-plan")
    page.get_by_test_id("deploy-next").click()
    page.get_by_test_id("deploy-submit").click()
    expect(page).to_have_url(re.compile(r"/releases/\d+$"))
    header = page.get_by_test_id("release-header")
    expect(header).to_have_attribute("data-status", "deployed", timeout=30_000)
    walk.check("release-deployed")

    page.get_by_test_id("upgrade-release").click()
    page.get_by_test_id("upgrade-dialog").get_by_test_id("value-message").fill("반갑습니다")
    page.get_by_test_id("upgrade-submit").click()
    expect(header).to_have_attribute("data-deployed-revision", "2", timeout=30_000)
    diff = page.get_by_test_id("revision-diff")
    expect(diff).to_contain_text(HELLO)
    expect(diff).to_contain_text("반갑습니다")
    # The upgrade changed the ConfigMap only: the page says so (no workload of this chart uses it).
    expect(page.get_by_test_id("change-ConfigMap/shop-config")).to_have_attribute("data-change", "changed")
    walk.check("release-upgraded")
    page.get_by_test_id("rollback-1").click()
    page.get_by_test_id("confirm-rollback").click()
    expect(header).to_have_attribute("data-deployed-revision", "3", timeout=30_000)
    expect(header).to_have_attribute("data-status", "deployed")
    walk.check("release-rolled-back")

    # --- 4. delete the release (202, followed live), then the service map ------------------------------
    page.get_by_test_id("delete-release").click()
    page.get_by_test_id("type-confirm-input").fill("shop")
    walk.check("release-delete-dialog")
    page.get_by_test_id("type-confirm-submit").click()
    expect(page).to_have_url(re.compile(r"/releases$"), timeout=30_000)
    expect(page.get_by_test_id("route-notice")).to_contain_text("shop")
    walk.check("release-deleted")

    sm = ServiceMap.objects.get(namespace=NAMESPACE, workspace=workspace)
    page.goto(f"{base}/workspaces/{workspace.pk}/servicemaps/{sm.pk}")
    page.get_by_test_id("delete-servicemap").click()
    page.get_by_test_id("type-confirm-input").fill(NAMESPACE)
    walk.check("servicemap-delete-dialog")
    page.get_by_test_id("type-confirm-submit").click()
    expect(page).to_have_url(re.compile(rf"/workspaces/{workspace.pk}/servicemaps$"))
    expect(page.get_by_test_id("route-notice")).to_contain_text(NAMESPACE)
    # the list has loaded: the row reads 삭제 중, or the namespace is already gone
    page.wait_for_function(
        "ns => { const row = document.querySelector(`[data-testid='servicemap-row-${ns}']`);"
        " const badge = row && row.querySelector('[data-testid=servicemap-status]');"
        " return row ? !!badge && badge.getAttribute('data-status') === 'deleting' : !document.querySelector('.loading'); }",
        arg=NAMESPACE, timeout=30_000)
    walk.check("servicemap-deleting")
    # The row reads 삭제 중 until the namespace is gone (how long depends on the sandbox: not waited for).
    expect(page.get_by_test_id(f"servicemap-row-{NAMESPACE}").locator(
        "[data-testid=servicemap-status][data-status=ready]")).to_have_count(0)

    # --- 5. cordon a node, and find it in the audit log -------------------------------------------------
    page.goto(f"{base}/clusters/{cluster_id}/nodes")
    ready_row = page.locator("[data-testid^=node-row-][data-ready=true]").first
    ready_node = str(ready_row.get_attribute("data-testid")).removeprefix("node-row-")
    page.get_by_test_id(f"cordon-{ready_node}").click()
    walk.check("cordon-confirm")
    page.get_by_test_id("confirm-dialog").locator("button.btn-danger").click()
    expect(page.get_by_test_id(f"node-row-{ready_node}").get_by_test_id("cordoned")).to_be_visible(timeout=20_000)
    walk.check("node-cordoned")
    page.goto(f"{base}/admin/audit")
    action = page.locator("[data-testid=audit-action][data-action='node.cordon.finished']").first
    deadline = time.monotonic() + 30
    while action.count() == 0 and time.monotonic() < deadline:
        page.reload()
        time.sleep(1)
    expect(action).to_contain_text("완료")
    expect(action).to_have_attribute("title", "node.cordon.finished")
    walk.check("audit-log")
    _logout(page)
