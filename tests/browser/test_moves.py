"""Moving a service map to another cluster in a real Chromium (issue 17, docs/moves.md): a
workspace manager opens the service map, "Move to cluster…", picks the other cluster the
workspace has an allocation on, reads the plan (the Secret by key count, never its value; the
target's quota), confirms, and follows the move's ledger live until the target is healthy; then
retires the source after typing its namespace, and the ledger ends "Source retired".

Running pieces: uvicorn, a Celery worker (the move's steps, the config intent) and the watchers,
all on the pytest test database; a sandbox fleet of two clusters over HTTPS.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, PASSWORD, login, logout

pytestmark = pytest.mark.browser

TARGET = "sandbox-busan"
SECRET_VALUE = "moved-s3cret-value"
QUOTA = {"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Any]:
    """Two sandbox clusters (this module's own fleet: conftest's has one)."""
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=2, nodes=1, names=[CLUSTER, TARGET], state_dir=tmp_path / "sandbox") as running:
        yield running


def _headers(page: Any, base: str) -> dict[str, str]:
    page.request.get(base + "/api/auth/csrf/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token, "Referer": base + "/"}


def _register(page: Any, base: str, name: str, kubeconfig: str) -> int:
    """Register a sandbox cluster with the browser's (admin) session and wait until it is connected."""
    response = page.request.post(base + "/api/clusters/", data={"name": name, "kubeconfig": kubeconfig},
                                 headers=_headers(page, base))
    assert response.status == 202, response.text()
    cluster_id = int(response.json()["id"])
    deadline = time.monotonic() + 30
    while page.request.get(f"{base}/api/clusters/{cluster_id}/").json()["status"] != "connected":
        assert time.monotonic() < deadline, f"{name} never became connected"
        time.sleep(0.5)
    return cluster_id


def _secret(page: Any, base: str, service_map: int) -> None:
    """A Secret in the service map through the config API (202 + intent), as the manager."""
    response = page.request.post(f"{base}/api/catalog/configs/{service_map}/", headers=_headers(page, base),
                                 data={"kind": "Secret", "name": "db", "data": {"user": "shop", "password": SECRET_VALUE}})
    assert response.status == 202, response.text()
    url = base + response.headers.get("location", f"/api/catalog/intents/{response.json()['id']}/")
    deadline = time.monotonic() + 60
    while (status := page.request.get(url).json()["status"]) not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the Secret's intent never finished"
        time.sleep(0.3)
    assert status == "succeeded"


def test_move_a_service_map_to_another_cluster_and_retire_the_source(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    from playwright.sync_api import expect

    from clusters.tests.helpers import client_for
    from tests.browser.helpers import builtin_roles
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

    base = portal_server
    make_user("mover-admin", role="admin", password=PASSWORD)
    manager = make_user("mover", password=PASSWORD)

    login(page, base, "mover-admin")
    source_id = _register(page, base, CLUSTER, fleet.cluster(CLUSTER).kubeconfig.read_text())
    target_id = _register(page, base, TARGET, fleet.cluster(TARGET).kubeconfig.read_text())
    logout(page)

    builtin_roles()
    workspace = Workspace.objects.create(name="movers")
    Membership.objects.create(workspace=workspace, user=manager, role=Role.objects.get(key="manager"))
    for cluster_id in (source_id, target_id):
        ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=q.dump(q.parse(QUOTA)),
                                         status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=source_id, namespace="shop-move",
                                   quota=q.dump(q.parse({"requests.cpu": "1", "pods": "5"})))
    assert ws_services.apply_service_map(sm.pk) == "ready"

    login(page, base, "mover")
    _secret(page, base, sm.pk)

    # The plan, from the service map page
    page.goto(f"{base}/workspaces/{workspace.pk}/servicemaps/{sm.pk}")
    expect(page.get_by_test_id("servicemap-header")).to_be_visible()
    page.get_by_test_id("move-servicemap").click()
    dialog = page.get_by_test_id("move-dialog")
    expect(dialog).to_be_visible()
    target = dialog.get_by_test_id("move-target")
    expect(target.locator(f'option[value="{target_id}"]')).to_have_count(1, timeout=10_000)
    expect(target.locator(f'option[value="{source_id}"]')).to_have_count(0)  # where it is now
    target.select_option(str(target_id))
    expect(dialog.get_by_test_id("move-confirm")).to_be_disabled()  # not planned yet
    dialog.get_by_test_id("move-plan-button").click()
    plan = dialog.get_by_test_id("move-plan")
    expect(plan).to_have_attribute("data-ok", "true", timeout=30_000)
    expect(dialog.get_by_test_id("move-plan-configs")).to_contain_text("Secret db: 2 keys")
    expect(dialog.get_by_test_id("move-plan-quota")).to_have_attribute("data-ok", "true")
    assert SECRET_VALUE not in dialog.inner_text()
    dialog.get_by_test_id("move-confirm").click()

    # The ledger, live, until the target is healthy
    expect(page).to_have_url(re.compile(r"/moves/\d+$"), timeout=15_000)
    header = page.get_by_test_id("move-header")
    expect(page.get_by_test_id("move-step-plan")).to_have_attribute("data-state", "done")
    expect(header).to_have_attribute("data-status", "healthy", timeout=150_000)
    for step in ("service_map", "configs", "releases", "healthy", "autoscalers"):
        expect(page.get_by_test_id(f"move-step-{step}")).to_have_attribute("data-state", "done")
    expect(page.get_by_test_id("move-step-retire")).to_have_attribute("data-state", "pending")
    assert SECRET_VALUE not in page.content()
    with client_for(fleet, TARGET) as kube:
        secret = kube.get_object("Secret", "db", "shop-move")
        assert base64.b64decode(secret["data"]["password"]).decode() == SECRET_VALUE
    with client_for(fleet, CLUSTER) as kube:  # the source is untouched until it is retired
        assert kube.get_object("Secret", "db", "shop-move")

    # Retire the source: type its namespace to confirm
    page.get_by_test_id("retire-source").click()
    confirm = page.get_by_test_id("type-confirm-dialog")
    expect(confirm).to_contain_text(CLUSTER)  # removed from the source cluster; the target keeps running
    expect(page.get_by_test_id("type-confirm-submit")).to_be_disabled()
    page.get_by_test_id("type-confirm-input").fill("shop-move")
    page.get_by_test_id("type-confirm-submit").click()
    expect(header).to_have_attribute("data-status", re.compile("retiring|retired"), timeout=15_000)
    expect(header).to_have_attribute("data-status", "retired", timeout=120_000)
    expect(page.get_by_test_id("move-step-retire")).to_have_attribute("data-state", "done")
    expect(page.get_by_test_id("retire-source")).to_have_count(0)
