"""The workspaces main path in a real Chromium, against every real backend piece: an admin creates
a workspace in the console, allocates a sandbox cluster with a quota, adds a developer and creates
a service map; the Celery worker applies it in the cluster and the watcher's ResourceQuota use
reaches the service map page live. The developer then logs in and sees that workspace only (not
one created behind their back through the ORM), and the service map with its usage.

Running pieces: uvicorn (``portal_server``), a Celery worker and ``manage.py runwatchers``
(``backend_workers`` from test_clusters), a one-cluster sandbox fleet.
"""

from __future__ import annotations

import re
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

NAMESPACE = "shop"


def test_admin_sets_up_a_workspace_and_the_developer_sees_only_it(
    portal_server: str, backend_workers: None, fleet: Any, page: Any,
) -> None:
    from playwright.sync_api import expect

    from sandbox.resources import DEPLOYMENTS
    from workspaces.models import Workspace

    _builtin_roles()
    make_user("ada", role="admin", password=PASSWORD)
    make_user("devon", role="user", password=PASSWORD)
    Workspace.objects.create(name="hidden-team", display_name="Hidden")  # devon is no member

    _login(page, portal_server, "ada")
    cluster_id = _register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())

    # --- create the workspace; a bad name is answered at its field -----------------------
    page.get_by_test_id("nav-workspaces").click()
    expect(page.get_by_test_id("workspace-row-hidden-team")).to_be_visible()
    page.get_by_test_id("create-workspace").click()
    dialog = page.get_by_test_id("create-workspace-dialog")
    dialog.locator("input[name=name]").fill("Team_A")
    dialog.locator("input[name=display_name]").fill("팀 A")
    page.get_by_test_id("create-workspace-submit").click()
    expect(dialog.locator("input[name=name]")).to_have_attribute("aria-invalid", "true")
    dialog.locator("input[name=name]").fill("team-a")
    page.get_by_test_id("create-workspace-submit").click()
    expect(page).to_have_url(re.compile(r"/workspaces/\d+$"))
    expect(page.get_by_test_id("workspace-header")).to_contain_text("팀 A")

    # --- allocate the sandbox cluster with a quota ---------------------------------------
    page.get_by_test_id("add-allocation").click()
    dialog = page.get_by_test_id("allocation-dialog")
    dialog.get_by_test_id("allocation-cluster").select_option(str(cluster_id))
    for key, value in (("requests.cpu", "2"), ("requests.memory", "4Gi"), ("pods", "10")):
        dialog.get_by_test_id(f"quota-input-{key}").fill(value)
    page.get_by_test_id("allocation-submit").click()
    allocation = page.get_by_test_id(f"allocation-{CLUSTER}")
    expect(allocation).to_have_attribute("data-status", "ready", timeout=30_000)
    expect(allocation.get_by_test_id("quota-requests.cpu")).to_have_attribute("data-total", "2")

    # --- add the developer from the candidates ---------------------------------------------
    page.get_by_test_id("tab-members").click()
    page.get_by_test_id("member-search").fill("dev")
    page.get_by_test_id("candidate-devon").click()
    page.get_by_test_id("member-role").select_option("developer")
    page.get_by_test_id("add-member-submit").click()
    expect(page.get_by_test_id("member-row-devon").locator("[data-role]")).to_have_attribute("data-role", "developer")

    # --- a service map: an over-share is refused with what is left, then one that fits -----------
    page.get_by_test_id("tab-servicemaps").click()
    page.get_by_test_id("create-servicemap").click()
    dialog = page.get_by_test_id("create-servicemap-dialog")
    expect(dialog.get_by_test_id("quota-fields")).to_contain_text("2 left")
    dialog.locator("input[name=namespace]").fill(NAMESPACE)
    dialog.locator("input[name=display_name]").fill("Shop")
    dialog.get_by_test_id("quota-input-requests.cpu").fill("3")
    dialog.get_by_test_id("quota-input-pods").fill("5")
    page.get_by_test_id("create-servicemap-submit").click()
    expect(dialog.get_by_test_id("quota-input-requests.cpu")).to_have_attribute("aria-invalid", "true")
    expect(dialog).to_contain_text("at most 2 is left")
    dialog.get_by_test_id("quota-input-requests.cpu").fill("1")
    dialog.get_by_test_id("quota-input-requests.memory").fill("1Gi")
    page.get_by_test_id("create-servicemap-submit").click()
    expect(page).to_have_url(re.compile(r"/workspaces/\d+/servicemaps/\d+$"))
    header = page.get_by_test_id("servicemap-header")
    expect(header).to_have_attribute("data-status", "ready", timeout=30_000)
    expect(header.get_by_test_id("servicemap-namespace")).to_have_text(NAMESPACE)
    pods_bar = header.get_by_test_id("quota-pods")
    expect(pods_bar).to_have_attribute("data-total", "5", timeout=30_000)

    # Pods started inside the cluster show up as quota use, live.
    page.evaluate("window.__sameDocument = true")
    web = _deployment("web", 2)
    web["metadata"]["namespace"] = NAMESPACE
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, web))
    expect(pods_bar).to_have_attribute("data-used", "2", timeout=30_000)
    expect(page.locator(f'[data-testid^="workload-row-Deployment-{NAMESPACE}-web"]')).to_have_count(1, timeout=20_000)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    _logout(page)

    # --- the developer sees this workspace only, and the service map's use -----------------------
    _login(page, portal_server, "devon")
    page.get_by_test_id("nav-workspaces").click()
    row = page.get_by_test_id("workspace-row-team-a")
    expect(row).to_contain_text("Developer")  # the built-in role, translated (issue 22)
    expect(page.locator('[data-testid^="workspace-row-"]')).to_have_count(1)
    expect(page.get_by_test_id("workspace-row-hidden-team")).to_have_count(0)
    row.get_by_test_id("workspace-link").click()
    expect(page.get_by_test_id("add-allocation")).to_have_count(0)
    page.get_by_test_id("tab-servicemaps").click()
    sm_row = page.get_by_test_id(f"servicemap-row-{NAMESPACE}")
    expect(sm_row.get_by_test_id("usage-pods")).to_have_attribute("data-used", "2")
    expect(page.get_by_test_id("create-servicemap")).to_have_count(0)  # developers lack servicemaps.manage
    sm_row.get_by_test_id("servicemap-link").click()
    expect(page.get_by_test_id("servicemap-header").get_by_test_id("quota-pods")).to_have_attribute("data-used", "2")
    expect(page.get_by_test_id("edit-servicemap")).to_have_count(0)

    # The other workspace is not there for them, not even by its URL.
    hidden = Workspace.objects.get(name="hidden-team")
    page.goto(f"{portal_server}/workspaces/{hidden.pk}")
    expect(page.get_by_test_id("workspace-page")).to_have_count(0)  # the 404 page replaces it
    expect(page.get_by_test_id("workspace-header")).to_have_count(0)
    page.get_by_test_id("nav-servicemaps").click()
    expect(page.locator('[data-testid^="servicemap-row-"]')).to_have_count(1)

    # --- the admin deletes the service map: it stays "deleting", saying what holds the Terminating
    # namespace (a finalizer here), and goes from the list once the namespace is really gone -------
    from sandbox.resources import CONFIGMAPS
    from workspaces.models import ServiceMap

    fleet.in_cluster(CLUSTER, lambda c: c.store.create(CONFIGMAPS, {
        "metadata": {"name": "held", "namespace": NAMESPACE, "finalizers": ["example.com/hold"]}, "data": {"a": "b"}}))
    _logout(page)
    _login(page, portal_server, "ada")
    sm = ServiceMap.objects.get(namespace=NAMESPACE)
    page.goto(f"{portal_server}/workspaces/{sm.workspace_id}/servicemaps/{sm.pk}")
    page.get_by_test_id("delete-servicemap").click()
    page.get_by_test_id("type-confirm-input").fill(NAMESPACE)
    page.get_by_test_id("type-confirm-submit").click()
    # Back on the workspace's list, the row says 삭제 중/Deleting and (in its title) what holds it.
    expect(page).to_have_url(re.compile(rf"/workspaces/{sm.workspace_id}/servicemaps$"))
    sm_row = page.get_by_test_id(f"servicemap-row-{NAMESPACE}")
    expect(sm_row.get_by_test_id("servicemap-status")).to_have_attribute("data-status", "deleting")
    expect(sm_row.get_by_test_id("servicemap-status")).to_have_attribute(
        "title", re.compile("example.com/hold"), timeout=30_000)
    # Its page says so too, and leaves for the list once the namespace is really gone.
    sm_row.get_by_test_id("servicemap-link").click()
    expect(page.get_by_test_id("servicemap-deleting")).to_be_visible()
    expect(page.get_by_test_id("servicemap-message")).to_contain_text("example.com/hold")
    fleet.in_cluster(CLUSTER, lambda c: c.store.mutate(
        CONFIGMAPS, NAMESPACE, "held", lambda cm: cm["metadata"].__delitem__("finalizers")))
    expect(page).to_have_url(re.compile(rf"/workspaces/{sm.workspace_id}/servicemaps$"), timeout=30_000)
    expect(page.get_by_test_id(f"servicemap-row-{NAMESPACE}")).to_have_count(0, timeout=30_000)
    assert not ServiceMap.objects.filter(pk=sm.pk).exists()
