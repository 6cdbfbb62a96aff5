"""The catalog main path in a real Chromium, against every real backend piece: a workspace with
two sandbox clusters and a service map on each, an upload source. An admin uploads a chart in the
console; a developer of the workspace finds it under "My catalog", deploys it to both service
maps as a rollout (values from the generated form, a plan per target with its diff), watches both
targets turn healthy live, opens one release, upgrades its values, then rolls back to revision 1
and sees it deployed.

Running pieces: uvicorn (``portal_server``), a Celery worker and ``manage.py runwatchers``
(``backend_workers`` from test_clusters, here on a two-cluster sandbox fleet: this module's
``fleet`` replaces that module's one-cluster fleet). Clusters are registered through the API with
the admin's browser session, so the worker that checks them reads the same Redis database.
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
from tests.browser.helpers import login as _login
from tests.browser.helpers import logout as _logout

pytestmark = pytest.mark.browser

CLUSTERS = ("sandbox-east", "sandbox-west")
NAMESPACE = "shop"


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Any]:
    """Two sandbox clusters with one node each, served over HTTPS on 127.0.0.1."""
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=2, nodes=1, names=list(CLUSTERS), state_dir=tmp_path / "sandbox") as running:
        yield running


def _headers(page: Any, base: str) -> dict[str, str]:
    page.request.get(base + "/api/auth/csrf/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token, "Referer": base + "/"}


def _register(page: Any, base: str, fleet: Any) -> list[int]:
    """Registers both clusters with the admin's session and waits until both are connected."""
    headers = _headers(page, base)
    ids = []
    for name in CLUSTERS:
        response = page.request.post(base + "/api/clusters/", headers=headers,
                                     data={"name": name, "kubeconfig": fleet.cluster(name).kubeconfig.read_text()})
        assert response.status == 202, response.text()
        ids.append(int(response.json()["id"]))
    deadline = time.monotonic() + 30
    for cluster_id in ids:
        while page.request.get(f"{base}/api/clusters/{cluster_id}/").json()["status"] != "connected":
            assert time.monotonic() < deadline, "a sandbox cluster never became connected"
            time.sleep(0.3)
    return ids


def _workspace(cluster_ids: list[int]) -> tuple[Any, Any]:
    """A workspace with both clusters allocated, a service map on each, devon as developer and an
    upload source (the same steps as catalog/tests/test_deploy.py)."""
    from django.contrib.auth import get_user_model

    from catalog.models import CatalogSource, SourceKind
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

    workspace = Workspace.objects.create(name="team-cat", display_name="Team Cat")
    Membership.objects.create(workspace=workspace, user=get_user_model().objects.get(username="devon"),
                              role=Role.objects.get(key="developer"))
    quota = q.dump(q.parse({"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10", "services": "5"}))
    for cluster_id in cluster_ids:
        ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
        sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=NAMESPACE, quota=quota)
        assert ws_services.apply_service_map(sm.pk) == "ready"
    source = CatalogSource.objects.create(name="team-charts", kind=SourceKind.UPLOAD, workspace=workspace)
    return workspace, source


def test_deploy_a_chart_to_two_clusters_upgrade_and_roll_back(
    portal_server: str, backend_workers: None, fleet: Any, page: Any, tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    from catalog import helm
    from catalog.tests.helpers import CHART_FILES

    _builtin_roles()
    make_user("ada", role="admin", password=PASSWORD)
    make_user("devon", role="user", password=PASSWORD)
    base = portal_server

    # --- the admin: clusters (API), workspace (ORM), then the chart uploaded in the console ----------
    _login(page, base, "ada")
    _workspace(_register(page, base, fleet))
    chart = tmp_path / "shop-1.0.0.tgz"
    chart.write_bytes(helm.build_archive("shop", "1.0.0", CHART_FILES, description="A small shop"))
    page.get_by_test_id("nav-catalog").click()
    page.get_by_test_id("catalog-sources-link").click()
    row = page.get_by_test_id("source-row-team-charts")
    row.get_by_test_id("upload-chart-team-charts").set_input_files(str(chart))
    expect(row.get_by_test_id("upload-result")).to_contain_text("shop 1.0.0")
    _logout(page)

    # --- the developer: My catalog → the package → the wizard ---------------------------------------
    _login(page, base, "devon")
    page.get_by_test_id("nav-catalog").click()
    page.get_by_test_id("scope-mine").click()
    card = page.get_by_test_id("package-card-shop")
    expect(card.get_by_test_id("pkg-latest")).to_contain_text("1.0.0")
    expect(card).to_contain_text("A small shop")
    card.click()
    expect(page.get_by_test_id("version-panel")).to_be_visible()
    expect(page.get_by_test_id("package-defaults")).to_contain_text("message: hello")
    page.get_by_test_id("deploy-package").click()

    # step 1: values from the form (the schema's fields)
    wizard = page.get_by_test_id("deploy-wizard")
    expect(wizard.get_by_test_id("value-message")).to_have_value("hello")
    wizard.get_by_test_id("value-message").fill("from the wizard")
    page.get_by_test_id("deploy-next").click()
    # step 2: both service maps
    for name in CLUSTERS:
        target = wizard.get_by_test_id(f"target-{name}-{NAMESPACE}")
        target.locator("input[type=checkbox]").check()
    expect(wizard.get_by_test_id("deploy-rollout-policy")).to_be_visible()
    page.get_by_test_id("deploy-release-name").fill("shop")
    page.get_by_test_id("deploy-next").click()
    # step 3: a valid plan per target, with the objects to create as a diff
    plans = wizard.locator("[data-testid^=plan-][data-valid]")
    expect(plans).to_have_count(2, timeout=20_000)
    for i in range(2):
        expect(plans.nth(i)).to_have_attribute("data-valid", "true")
        expect(plans.nth(i).get_by_test_id("plan-diff")).to_contain_text("from the wizard")
        expect(plans.nth(i).get_by_test_id("plan-preflight")).to_be_visible()
    page.get_by_test_id("deploy-next").click()
    # step 4: the rollout
    page.get_by_test_id("deploy-submit").click()
    expect(page).to_have_url(re.compile(r"/rollouts/\d+$"))
    page.evaluate("window.__sameDocument = true")
    for name in CLUSTERS:
        expect(page.get_by_test_id(f"target-row-{name}-{NAMESPACE}")).to_have_attribute("data-state", "healthy",
                                                                                        timeout=30_000)
    expect(page.get_by_test_id("rollout-header")).to_have_attribute("data-status", "succeeded", timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True, "the ledger was reloaded, not live"

    # --- one release: upgrade the values, then roll back to revision 1 ------------------------------
    page.get_by_test_id(f"target-row-{CLUSTERS[0]}-{NAMESPACE}").get_by_test_id("target-release-link").click()
    header = page.get_by_test_id("release-header")
    expect(header).to_have_attribute("data-status", "deployed")
    expect(header).to_have_attribute("data-deployed-revision", "1")
    page.get_by_test_id("upgrade-release").click()
    dialog = page.get_by_test_id("upgrade-dialog")
    dialog.get_by_test_id("value-message").fill("upgraded")
    page.get_by_test_id("upgrade-submit").click()
    expect(header).to_have_attribute("data-deployed-revision", "2", timeout=30_000)
    expect(header).to_have_attribute("data-status", "deployed")
    expect(page.get_by_test_id("revision-row-1")).to_have_attribute("data-status", "superseded")
    expect(page.get_by_test_id("revision-diff")).to_contain_text("upgraded")

    page.get_by_test_id("rollback-1").click()
    page.get_by_test_id("confirm-rollback").click()
    expect(header).to_have_attribute("data-deployed-revision", "3", timeout=30_000)
    expect(header).to_have_attribute("data-status", "deployed")
    row3 = page.get_by_test_id("revision-row-3")
    expect(row3).to_have_attribute("data-status", "deployed")
    expect(row3).to_contain_text("Rollback")
    expect(page.get_by_test_id("release-progress")).to_have_attribute("data-revision", "3")
    expect(page.get_by_test_id("release-progress")).to_contain_text("Deployment/shop-web")
