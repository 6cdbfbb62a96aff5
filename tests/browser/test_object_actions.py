"""Acting on objects in a real Chromium (issue 15), against every real backend piece: uvicorn, a
Celery worker running the ObjectAction, the watcher, and a sandbox cluster with its controllers.

1. An admin opens a Deployment's page, types a replica count the API server refuses (its error is
   marked on the line of spec.replicas), then a valid one, previews the change (a server dry-run shown as a side-by-side diff), applies it, and the new
   pods arrive in the page's pod list live, through the watcher, without a reload.
2. A developer whose role grants ``workloads.restart`` but not ``objects.edit`` sees Edit YAML
   disabled with the reason, and restarts the Deployment from the workloads list's actions menu.
3. An admin creates objects from an uploaded YAML file: the preview says what each document
   would do, the apply's per-document results link to the new objects.
4. An edit that conflicts with another field manager (helm owns spec.replicas) is listed field by
   field with the manager; backing out changes nothing, forcing takes the field over.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, PASSWORD
from tests.browser.helpers import builtin_roles as _builtin_roles
from tests.browser.helpers import deployment as _deployment
from tests.browser.helpers import login as _login
from tests.browser.helpers import logout as _logout
from tests.browser.helpers import register_cluster as _register_cluster

pytestmark = pytest.mark.browser

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _object_page(base: str, cluster_id: int, namespace: str, name: str) -> str:
    return f"{base}/clusters/{cluster_id}/objects/apps/v1/deployments/{name}?namespace={namespace}"


def test_admin_edits_replicas_in_yaml_sees_the_diff_and_the_new_pods_arrive(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    from playwright.sync_api import expect

    from sandbox.resources import DEPLOYMENTS

    make_user("ada", role="admin", password=PASSWORD)
    _login(page, portal_server, "ada")
    cluster_id = _register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, _deployment("web", 1)))

    page.goto(_object_page(portal_server, cluster_id, "default", "web"))
    expect(page.get_by_test_id("object-kind")).to_have_text("Deployment", timeout=15_000)
    pods = page.locator('[data-testid^="object-pod-web-"]')
    expect(pods).to_have_count(1, timeout=30_000)
    page.evaluate("window.__sameDocument = true")

    # Type into CodeMirror as a person would: click at the end of the replicas line, replace the count.
    editor = page.get_by_test_id("yaml-editor")
    line = editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: 1$"))
    expect(line).to_have_count(1)
    line.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    # First a count the API server refuses: its error lands on the line of spec.replicas.
    page.keyboard.type("-1")
    page.get_by_test_id("yaml-preview").click()
    expect(page.get_by_test_id("yaml-errors")).to_contain_text("greater than or equal to 0", timeout=15_000)
    marked = editor.locator(".cm-lintRange-error")
    expect(marked).to_have_count(1)
    expect(editor.locator(".cm-line", has=page.locator(".cm-lintRange-error"))).to_have_text(re.compile(r"^\s*replicas: -1$"))
    editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: -1$")).click()  # the focus went to the button
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type("3")
    expect(editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: 3$"))).to_have_count(1)

    page.get_by_test_id("yaml-preview").click()
    result = page.get_by_test_id("yaml-preview-result")
    expect(result).to_have_attribute("data-changed", "true", timeout=15_000)
    diff = result.get_by_test_id("yaml-diff")
    # MergeView: the live side on the left, the dry-run result on the right, the changed lines marked.
    expect(diff.locator(".cm-mergeViewEditor").first.locator(".cm-changedLine")).to_contain_text("replicas: 1")
    expect(diff.locator(".cm-mergeViewEditor").nth(1).locator(".cm-changedLine")).to_contain_text("replicas: 3")
    assert fleet.in_cluster(CLUSTER, lambda c: c.store.get(DEPLOYMENTS, "default", "web")["spec"]["replicas"]) == 1

    page.get_by_test_id("yaml-apply").click()
    expect(page.get_by_test_id("apply-succeeded")).to_be_visible(timeout=30_000)
    expect(pods).to_have_count(3, timeout=30_000)
    # The editor holds the object as the cluster stores it now.
    expect(editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: 3$"))).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    live = fleet.in_cluster(CLUSTER, lambda c: c.store.get(DEPLOYMENTS, "default", "web"))
    assert live["spec"]["replicas"] == 3
    managers = {m["manager"] for m in live["metadata"].get("managedFields", [])}
    assert "portal:ada" in managers, managers


def _restart_only_member(cluster_id: int, namespace: str) -> None:
    """Workspace team-ops owns ``namespace`` on the cluster; devon's role there may restart
    workloads, and nothing else of the object grants (no objects.edit)."""
    from django.contrib.auth import get_user_model

    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

    workspace = Workspace.objects.create(name="team-ops", display_name="Team Ops")
    role = Role.objects.create(key="on-call", name="On call", grants=["workloads.restart", "pods.logs"])
    Membership.objects.create(workspace=workspace, user=get_user_model().objects.get(username="devon"), role=role)
    quota = q.dump(q.parse({"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}))
    ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=namespace, quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"


def test_developer_who_may_restart_but_not_edit(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    from playwright.sync_api import expect

    from sandbox.resources import DEPLOYMENTS

    namespace = "ops"
    _builtin_roles()
    make_user("ada", role="admin", password=PASSWORD)
    make_user("devon", role="user", password=PASSWORD)
    _login(page, portal_server, "ada")
    cluster_id = _register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())
    _logout(page)
    _restart_only_member(cluster_id, namespace)
    api = _deployment("api", 1)
    api["metadata"]["namespace"] = namespace
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, api))

    _login(page, portal_server, "devon")
    # The object page: the YAML is there to read, not to change, and the menu says why.
    page.goto(_object_page(portal_server, cluster_id, namespace, "api"))
    expect(page.get_by_test_id("object-kind")).to_have_text("Deployment", timeout=15_000)
    expect(page.get_by_test_id("edit-denied")).to_contain_text("objects.edit")
    expect(page.get_by_test_id("yaml-editor")).to_have_attribute("data-readonly", "true")
    expect(page.get_by_test_id("yaml-preview")).to_have_count(0)
    page.get_by_test_id("object-actions-button").click()
    edit = page.get_by_test_id("action-edit")
    expect(edit).to_be_disabled()
    expect(edit).to_contain_text("does not grant objects.edit")
    expect(page.get_by_test_id("action-scale")).to_be_disabled()
    expect(page.get_by_test_id("action-delete")).to_be_disabled()
    expect(page.get_by_test_id("action-restart")).to_be_enabled()
    page.keyboard.press("Escape")

    # The workloads list: restart from the row's menu; the action's result arrives live.
    page.goto(f"{portal_server}/clusters/{cluster_id}/workloads?namespace={namespace}")
    row = page.get_by_test_id(f"workload-row-Deployment-{namespace}-api")
    expect(row).to_be_visible(timeout=30_000)
    row.get_by_test_id("object-actions-button").click()
    expect(row.get_by_test_id("action-edit")).to_have_attribute("data-reason", re.compile("objects.edit"), timeout=15_000)
    expect(row.get_by_test_id("action-edit")).to_be_disabled()
    row.get_by_test_id("action-restart").click()
    dialog = page.get_by_test_id("restart-dialog")
    expect(dialog).to_contain_text("kubectl rollout restart")
    dialog.get_by_test_id("restart-submit").click()
    status = row.get_by_test_id("action-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=30_000)

    def restarted_at(c: Any) -> str | None:
        template = c.store.get(DEPLOYMENTS, namespace, "api")["spec"]["template"]
        return ((template.get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)

    deadline = time.monotonic() + 10
    while fleet.in_cluster(CLUSTER, restarted_at) is None:
        assert time.monotonic() < deadline, "the Deployment was not restarted"
        time.sleep(0.2)


MANIFESTS = """apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-settings
data:
  mode: fast
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector:
    app: shop
  ports:
  - port: 80
"""


def test_admin_creates_objects_from_an_uploaded_file(
    portal_server: str, backend_workers: None, fleet: Any, page: Any, tmp_path: Any,
) -> None:
    from playwright.sync_api import expect

    from sandbox.resources import CONFIGMAPS, SERVICES

    make_user("ada", role="admin", password=PASSWORD)
    _login(page, portal_server, "ada")
    cluster_id = _register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())
    page.goto(f"{portal_server}/clusters/{cluster_id}/nodes")
    page.get_by_test_id("create-objects").click()
    expect(page).to_have_url(re.compile(rf"/clusters/{cluster_id}/create$"))

    upload = tmp_path / "shop.yaml"
    upload.write_text(MANIFESTS)
    page.get_by_test_id("create-upload").set_input_files(str(upload))
    editor = page.get_by_test_id("create-editor")
    expect(editor.locator(".cm-line", has_text="kind: Service")).to_have_count(1)

    page.get_by_test_id("create-preview").click()
    expect(page.get_by_test_id("create-doc-0")).to_have_attribute("data-verdict", "create", timeout=15_000)
    expect(page.get_by_test_id("create-doc-0")).to_contain_text("default/shop-settings")
    expect(page.get_by_test_id("create-doc-1")).to_have_attribute("data-verdict", "create")
    assert fleet.in_cluster(CLUSTER, lambda c: c.store.get(CONFIGMAPS, "default", "shop-settings")) is None

    page.get_by_test_id("create-apply").click()
    results = page.get_by_test_id("create-results")
    expect(results).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(results.get_by_test_id("create-result-0")).to_have_attribute("data-status", "created")
    expect(results.get_by_test_id("create-result-1")).to_have_attribute("data-status", "created")
    assert fleet.in_cluster(CLUSTER, lambda c: c.store.get(CONFIGMAPS, "default", "shop-settings"))["data"] == {
        "mode": "fast"}
    assert fleet.in_cluster(CLUSTER, lambda c: c.store.get(SERVICES, "default", "shop")) is not None

    # The result links to the new object's page.
    results.get_by_test_id("create-result-0").get_by_role("link").click()
    expect(page.get_by_test_id("object-kind")).to_have_text("ConfigMap", timeout=15_000)


def test_a_conflict_with_another_manager_is_backed_out_then_forced(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    """helm owns spec.replicas (server-side apply): the portal's edit of it conflicts. The preview
    names the field and its manager; backing out changes nothing, forcing takes the field over."""
    from playwright.sync_api import expect

    from sandbox.resources import DEPLOYMENTS

    make_user("ada", role="admin", password=PASSWORD)
    _login(page, portal_server, "ada")
    cluster_id = _register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())
    body = {"apiVersion": "apps/v1", "kind": "Deployment", **_deployment("web", 1)}
    fleet.in_cluster(CLUSTER, lambda c: c.store.patch(DEPLOYMENTS, "default", "web", "application/apply-patch+yaml",
                                                      body, field_manager="helm"))

    page.goto(_object_page(portal_server, cluster_id, "default", "web"))
    # The page settles first: its pod list above the editor grows as the pod arrives, and a click
    # aimed at the replicas line while the layout still moves lands on another line.
    expect(page.locator('[data-testid^="object-pod-web-"]')).to_have_count(1, timeout=30_000)
    editor = page.get_by_test_id("yaml-editor")
    line = editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: 1$"))
    expect(line).to_have_count(1, timeout=15_000)
    line.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    page.keyboard.type("2")
    expect(editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: 2$"))).to_have_count(1)

    page.get_by_test_id("yaml-preview").click()
    conflict = page.get_by_test_id("conflict-0")
    expect(conflict).to_have_attribute("data-manager", "helm", timeout=15_000)
    expect(conflict).to_have_attribute("data-field", re.compile(r"spec\.replicas"))
    expect(page.get_by_test_id("yaml-apply")).to_have_count(0)  # only force or back out

    page.get_by_test_id("back-out").click()
    expect(editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: 2$"))).to_have_count(1)  # the draft is kept
    assert fleet.in_cluster(CLUSTER, lambda c: c.store.get(DEPLOYMENTS, "default", "web")["spec"]["replicas"]) == 1

    page.get_by_test_id("yaml-preview").click()
    page.get_by_test_id("apply-force").click()
    expect(page.get_by_test_id("apply-succeeded")).to_be_visible(timeout=30_000)
    live = fleet.in_cluster(CLUSTER, lambda c: c.store.get(DEPLOYMENTS, "default", "web"))
    assert live["spec"]["replicas"] == 2
    owners = [m["manager"] for m in live["metadata"]["managedFields"]
              if "f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})]
    assert owners == ["portal:ada"], live["metadata"]["managedFields"]


def test_admin_deletes_a_pod_from_the_pods_tab_and_sees_it_replaced_live(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    """The pods tab's row menu: Delete after typing the pod's name; the action is followed above
    the list, the pod leaves the list and its ReplicaSet's replacement arrives, through the watcher
    without a reload. The row's Logs entry opens the pod page at its log panel."""
    from playwright.sync_api import expect

    from sandbox.resources import DEPLOYMENTS, PODS

    make_user("ada", role="admin", password=PASSWORD)
    _login(page, portal_server, "ada")
    cluster_id = _register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, _deployment("web", 2)))

    page.goto(f"{portal_server}/clusters/{cluster_id}/pods?namespace=default")
    rows = page.locator('[data-testid^="pod-row-default/web-"]')
    expect(rows).to_have_count(2, timeout=30_000)
    page.evaluate("window.__sameDocument = true")
    # With the actions column the grid still fits a 1,440 px window: nothing scrolls sideways.
    page.set_viewport_size({"width": 1440, "height": 900})
    fits = "el => el.scrollWidth <= el.clientWidth"
    assert page.get_by_test_id("pods-list").evaluate(fits), "the pod grid scrolls sideways"
    assert page.evaluate(f"({fits})(document.documentElement)"), "the page scrolls sideways"
    before = set(rows.evaluate_all("els => els.map(e => e.dataset.testid.split('/')[1])"))
    victim = sorted(before)[0]

    row = page.get_by_test_id(f"pod-row-default/{victim}")
    row.get_by_test_id("object-actions-button").click()
    delete = page.get_by_test_id("action-delete")
    expect(delete).to_be_enabled(timeout=15_000)
    expect(page.get_by_test_id("action-link-logs")).to_have_attribute("href", f"/clusters/{cluster_id}/pods/default/{victim}#pod-logs")
    delete.click()
    dialog = page.get_by_test_id("type-confirm-dialog")
    expect(dialog).to_contain_text(f"Pod default/{victim}")
    expect(dialog.get_by_test_id("type-confirm-submit")).to_be_disabled()
    dialog.get_by_test_id("type-confirm-input").fill(victim)
    dialog.get_by_test_id("type-confirm-submit").click()
    status = page.get_by_test_id("pod-actions-followed").get_by_test_id("action-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(status).to_have_attribute("data-action", "delete")

    # The pod goes from the list and the ReplicaSet's replacement arrives, live.
    expect(page.get_by_test_id(f"pod-row-default/{victim}")).to_have_count(0, timeout=30_000)
    expect(rows).to_have_count(2, timeout=30_000)
    after = set(rows.evaluate_all("els => els.map(e => e.dataset.testid.split('/')[1])"))
    assert victim not in after, (before, after)
    assert len(after - before) == 1, (before, after)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    names = fleet.in_cluster(CLUSTER, lambda c: {p["metadata"]["name"] for p in c.store.list(PODS, "default")[0]})
    assert victim not in names, names

    # Logs from a row's menu: the pod page, scrolled to its log panel.
    survivor = sorted(after)[0]
    page.get_by_test_id(f"pod-row-default/{survivor}").get_by_test_id("object-actions-button").click()
    page.get_by_test_id("action-link-logs").click()
    expect(page.get_by_test_id("pod-page")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("pod-logs-card")).to_be_in_viewport(timeout=15_000)
