"""A deleted service map stays ``deleting`` while its namespace is Terminating in the cluster
(the sandbox keeps it so while an object in it holds a finalizer, as a real server does), shows
what holds it and turns ``deletion_stuck`` after the deadline, refuses deploys and changes with
409, and goes (row, API, socket) only once the namespace is really gone."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from pytest_django.fixtures import SettingsWrapper
from rest_framework.test import APIClient

from clusters.kube.client import KubeClient
from clusters.kube.errors import NotFound
from clusters.models import Cluster
from clusters.tests.helpers import client_for
from portal.models import AuditRecord
from portal.testing import Subscriber
from workspaces import services
from workspaces.models import ClusterAllocation, ServiceMap, Workspace

_n = itertools.count(1)
SUFFIX = int(time.time()) % 100000
HOLD = "example.com/hold"


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_n)}-{SUFFIX}"


def setup_map(admin_api: APIClient, sandbox: Any, admin_user: Any) -> tuple[ServiceMap, KubeClient]:
    response = admin_api.post("/api/clusters/", {
        "name": unique("del"), "kubeconfig": sandbox.cluster("cluster-1").kubeconfig.read_text()}, format="json")
    assert response.status_code == 202, response.content
    cluster = Cluster.objects.get(pk=response.json()["id"])
    workspace = Workspace.objects.create(name=unique("gone-team"), created_by=admin_user)
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, quota={"pods": "5"}, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=unique("gone-ns"),
                                   quota={"pods": "5"})
    assert services.apply_service_map(sm.pk) == "ready"
    kube = client_for(sandbox, "cluster-1")
    # Something in the namespace holds a finalizer, as a controller's object would.
    kube.call(kube.core.create_namespaced_config_map, sm.namespace, {
        "metadata": {"name": "held", "finalizers": [HOLD]}, "data": {"a": "b"}})
    return sm, kube


def release_hold(kube: KubeClient, namespace: str) -> None:
    kube.call(kube.core.patch_namespaced_config_map, "held", namespace, {"metadata": {"finalizers": None}})


def namespace_gone(kube: KubeClient, namespace: str) -> bool:
    try:
        kube.get_object("Namespace", namespace)
    except NotFound:
        return True
    return False


@pytest.mark.django_db
def test_row_stays_deleting_until_the_namespace_is_gone_and_says_when_it_is_stuck(
        admin_api: APIClient, admin_user: Any, sandbox: Any, settings: SettingsWrapper) -> None:
    sm, kube = setup_map(admin_api, sandbox, admin_user)
    url = f"/api/workspaces/{sm.workspace_id}/servicemaps/{sm.pk}/"
    with kube:
        response = admin_api.delete(url)
        assert response.status_code == 202, response.content
        body = response.json()
        assert body["status"] == "deleting"
        assert body["deleting_since"] is not None
        assert body["deletion_stuck"] is False
        # The namespace is Terminating: the row stays, and says what it waits for.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert services.delete_service_map(sm.pk) == "terminating"
            sm.refresh_from_db()
            if HOLD in sm.message:
                break
            time.sleep(0.3)
        assert "is Terminating" in sm.message
        assert f"{HOLD} in 1 resource instances" in sm.message
        assert services.recheck_delay(sm.pk, "terminating") is not None  # the task follows it up
        got = admin_api.get(url)
        assert got.status_code == 200
        assert got.json()["status"] == "deleting"
        ns = kube.get_object("Namespace", sm.namespace)
        assert ns["status"]["phase"] == "Terminating"
        # A deleting service map takes no deploy and no change.
        preflight = admin_api.post(f"{url}preflight/", {"manifests": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}]}, format="json")
        assert preflight.status_code == 409, preflight.content
        assert "is being deleted" in preflight.json()["detail"]
        change = admin_api.patch(url, {"display_name": "again"}, format="json")
        assert change.status_code == 409
        # Past the deadline it is stuck: shown with the reason, audited once, left to the beat.
        settings.PORTAL_SERVICEMAP_DELETE_STUCK_SECONDS = 0
        assert services.delete_service_map(sm.pk) == "terminating"
        sm.refresh_from_db()
        assert sm.deletion_stuck is True
        assert "is stuck" in sm.message
        assert f"{HOLD} in 1 resource instances" in sm.message
        assert services.recheck_delay(sm.pk, "terminating") is None
        assert services.delete_service_map(sm.pk) == "terminating"
        assert AuditRecord.objects.filter(action="servicemap.deletion_stuck", target_id=str(sm.pk)).count() == 1
        assert admin_api.get(url).json()["deletion_stuck"] is True
        # The beat picks up the stuck one.
        ran: list[int] = []
        services.enqueue_due(apply=lambda *a: None, delete=ran.append, check=lambda *a: None)
        assert sm.pk in ran
        # The finalizer goes, the namespace goes, and then the row.
        release_hold(kube, sm.namespace)
        deadline = time.monotonic() + 10
        outcome = ""
        while time.monotonic() < deadline and outcome != "deleted":
            outcome = services.delete_service_map(sm.pk)
            time.sleep(0.2)
        assert outcome == "deleted"
        assert namespace_gone(kube, sm.namespace)
        assert admin_api.get(url).status_code == 404
        assert AuditRecord.objects.filter(action="servicemap.deleted", target_id=str(sm.pk)).exists()


@pytest.mark.django_db
def test_a_second_delete_request_keeps_the_start_time(admin_api: APIClient, admin_user: Any, sandbox: Any) -> None:
    sm, kube = setup_map(admin_api, sandbox, admin_user)
    url = f"/api/workspaces/{sm.workspace_id}/servicemaps/{sm.pk}/"
    with kube:
        first = admin_api.delete(url).json()["deleting_since"]
        assert services.delete_service_map(sm.pk) == "terminating"
        # a real server answers 409 to a second DELETE of a Terminating namespace: still terminating
        assert services.delete_service_map(sm.pk) == "terminating"
        again = admin_api.delete(url)
        assert again.status_code == 202
        assert again.json()["deleting_since"] == first
        release_hold(kube, sm.namespace)


@pytest.mark.django_db(transaction=True)
def test_the_worker_follows_the_namespace_until_it_is_gone(
        admin_api: APIClient, admin_user: Any, sandbox: Any, celery_worker_process: Any) -> None:
    """No test calls the services here: the delete task re-enqueues itself while the namespace is
    Terminating, and the socket hears ``deleting`` with the reason, then ``servicemap.deleted``."""
    sm, kube = setup_map(admin_api, sandbox, admin_user)
    url = f"/api/workspaces/{sm.workspace_id}/servicemaps/{sm.pk}/"
    sub = Subscriber(f"workspace.{sm.workspace_id}")
    try:
        with kube:
            assert admin_api.delete(url).status_code == 202
            sub.wait(lambda e: e["type"] == "servicemap.updated" and e["data"]["id"] == sm.pk
                     and e["data"]["status"] == "deleting" and HOLD in e["data"]["message"], timeout=20)
            time.sleep(2)  # several rechecks later the row is still there
            assert admin_api.get(url).status_code == 200
            assert not namespace_gone(kube, sm.namespace)
            release_hold(kube, sm.namespace)
            sub.wait(lambda e: e["type"] == "servicemap.deleted" and e["data"]["id"] == sm.pk, timeout=30)
            assert admin_api.get(url).status_code == 404
            assert namespace_gone(kube, sm.namespace)
    finally:
        sub.close()
