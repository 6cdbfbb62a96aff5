"""The service map's Config tab in a real Chromium against a sandbox cluster: a developer (grant
``config.edit``, no ``secrets.reveal``) creates a ConfigMap, edits it (version 2), restores
version 1 (saved as version 3 with the first data), then creates a Secret whose values stay hidden, and saves the service map as a package.

Running pieces: uvicorn (``portal_server``), a Celery worker and ``manage.py runwatchers``
(``backend_workers`` from test_clusters, which registers nothing itself: the cluster is
registered through the API so its check runs), a one-cluster sandbox fleet.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, PASSWORD
from tests.browser.helpers import builtin_roles as _builtin_roles
from tests.browser.helpers import login as _login
from tests.browser.helpers import logout as _logout
from tests.browser.helpers import register_cluster as _register_cluster

pytestmark = pytest.mark.browser

NAMESPACE = "cfg"


def _service_map(cluster_id: int) -> Any:
    from django.contrib.auth import get_user_model

    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

    workspace = Workspace.objects.create(name="team-cfg", display_name="Team Config")
    Membership.objects.create(workspace=workspace, user=get_user_model().objects.get(username="devon"),
                              role=Role.objects.get(key="developer"))
    quota = q.dump(q.parse({"requests.cpu": "1", "requests.memory": "1Gi", "pods": "5"}))
    ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=NAMESPACE, quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"
    return sm


def test_developer_edits_a_config_map_restores_it_and_sees_secrets_hidden(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    from playwright.sync_api import expect

    _builtin_roles()
    make_user("ada", role="admin", password=PASSWORD)
    make_user("devon", role="user", password=PASSWORD)
    base = portal_server
    _login(page, base, "ada")
    sm = _service_map(_register_cluster(page, base, fleet.cluster(CLUSTER).kubeconfig.read_text()))
    _logout(page)

    _login(page, base, "devon")
    page.goto(f"{base}/workspaces/{sm.workspace_id}/servicemaps/{sm.pk}")
    expect(page.get_by_test_id("servicemap-header")).to_be_visible()
    expect(page.get_by_test_id("save-as-package")).to_be_visible()  # developers hold workloads.deploy
    page.get_by_test_id("tab-config").click()
    expect(page.locator("[data-testid=configs-empty], [data-testid=config-table]")).to_be_visible()

    # --- create a ConfigMap -------------------------------------------------------------------------
    page.get_by_test_id("create-config").click()
    dialog = page.get_by_test_id("config-dialog")
    dialog.locator("input[name=name]").fill("app-config")
    dialog.get_by_test_id("config-key-0").fill("mode")
    dialog.get_by_test_id("config-value-0").fill("blue")
    page.get_by_test_id("config-create-submit").click()
    editor = page.get_by_test_id("config-editor")
    expect(editor).to_have_attribute("data-version", "1")
    expect(editor.get_by_test_id("config-value-0")).to_have_value("blue")

    # --- edit it: version 2 --------------------------------------------------------------------------
    editor.get_by_test_id("config-value-0").fill("green")
    editor.get_by_test_id("config-save").click()
    expect(editor.get_by_test_id("config-saved")).to_have_attribute("data-version", "2")
    expect(editor).to_have_attribute("data-version", "2")
    expect(editor.get_by_test_id("config-version-row-2")).to_have_attribute("data-current", "true")

    # --- restore version 1: saved again as version 3 with the first data -----------------------------
    editor.get_by_test_id("restore-version-1").click()
    page.get_by_test_id("confirm-restore").click()
    expect(editor).to_have_attribute("data-version", "3")
    expect(editor.get_by_test_id("config-value-0")).to_have_value("blue")
    expect(editor.get_by_test_id("config-version-row-3")).to_be_visible()

    # --- a Secret: its value is hidden (no secrets.reveal) -------------------------------------------
    editor.get_by_test_id("config-back").click()
    expect(page.get_by_test_id("config-row-ConfigMap-app-config")).to_have_attribute("data-version", "3")
    page.get_by_test_id("create-config").click()
    dialog = page.get_by_test_id("config-dialog")
    dialog.locator("select[name=kind]").select_option("Secret")
    dialog.locator("input[name=name]").fill("db")
    dialog.get_by_test_id("config-key-0").fill("password")
    dialog.get_by_test_id("config-value-0").fill("s3cret")
    page.get_by_test_id("config-create-submit").click()
    editor = page.get_by_test_id("config-editor")
    expect(editor).to_have_attribute("data-kind", "Secret")
    expect(editor.get_by_test_id("secret-hidden-0")).to_have_text("•••• (hidden)")
    expect(editor.get_by_test_id("reveal-secret")).to_have_count(0)
    expect(editor).not_to_contain_text("s3cret")

    # --- the service map saved as a package: a link to it in the catalog ------------------------------
    page.get_by_test_id("save-as-package").click()
    dialog = page.get_by_test_id("save-package-dialog")
    dialog.locator("input[name=version]").fill("1.0.0")
    page.get_by_test_id("save-package-submit").click()
    page.get_by_test_id("saved-package-link").click()
    expect(page).to_have_url(re.compile(r"/catalog/packages/\d+$"))
