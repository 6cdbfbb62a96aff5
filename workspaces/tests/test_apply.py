"""workspaces.services against real sandbox clusters, called synchronously (no Celery worker): a
service map becomes a labelled namespace with our ResourceQuota and LimitRange, converges when
applied again (also after an apply killed halfway), waits as ``pending`` for an unreachable
cluster until the beat reconcile applies it, refuses a namespace it does not own, restricts
storage classes, and is deleted with its namespace."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from clusters.kube.client import KubeClient
from clusters.kube.errors import Forbidden, NotFound
from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import client_for
from portal.models import AuditRecord
from portal.testing import make_user
from workspaces import actions, services
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db
_n = itertools.count(1)
SUFFIX = int(time.time()) % 100000


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_n)}-{SUFFIX}"


@pytest.fixture(autouse=True)
def _short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blackholed cluster answers nothing: do not wait 10 s per attempt for it."""
    monkeypatch.setattr(services, "APPLY_TIMEOUT", 1.0)


def register(admin_api: APIClient, sandbox: Any, name: str) -> Cluster:
    response = admin_api.post("/api/clusters/", {
        "name": unique(f"ws-{name}"), "kubeconfig": sandbox.cluster(name).kubeconfig.read_text()}, format="json")
    assert response.status_code == 202, response.content
    return Cluster.objects.get(pk=response.json()["id"])


@pytest.fixture
def workspace(admin_user: Any) -> Workspace:
    return Workspace.objects.create(name=unique("team"), created_by=admin_user)


@pytest.fixture
def cluster(admin_api: APIClient, sandbox: Any) -> Cluster:
    return register(admin_api, sandbox, "cluster-1")


@pytest.fixture
def kube(sandbox: Any) -> Iterator[KubeClient]:
    with client_for(sandbox, "cluster-1") as client:
        yield client


def allocate(workspace: Workspace, cluster: Cluster, quota: dict[str, str], **kwargs: Any) -> ClusterAllocation:
    return ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, quota=quota, status="ready",
                                            **kwargs)


def new_service_map(allocation: ClusterAllocation, quota: dict[str, str], **kwargs: Any) -> ServiceMap:
    return ServiceMap.objects.create(workspace=allocation.workspace, cluster=allocation.cluster,
                                     namespace=kwargs.pop("namespace", unique("ns")), quota=quota, **kwargs)


def live_quota(kube: KubeClient, namespace: str) -> dict[str, str]:
    return dict(kube.get_object("ResourceQuota", services.QUOTA_NAME, namespace)["spec"]["hard"])


def gone_or_terminating(kube: KubeClient, namespace: str) -> bool:
    try:
        ns = kube.get_object("Namespace", namespace)
    except NotFound:
        return True
    return bool((ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"))


def test_apply_creates_and_converges_when_run_twice(workspace: Workspace, cluster: Cluster,
                                                    kube: KubeClient) -> None:
    allocation = allocate(workspace, cluster, {"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"})
    sm = new_service_map(allocation, {"requests.cpu": "1500m", "requests.memory": "2Gi", "pods": "5"},
                         display_name="Shop")
    assert services.apply_service_map(sm.pk) == "ready"
    sm.refresh_from_db()
    assert (sm.status, sm.message, sm.applied_generation) == ("ready", "", 1)
    assert sm.last_applied is not None
    ns = kube.get_object("Namespace", sm.namespace)
    labels = ns["metadata"]["labels"]
    assert labels[services.LABEL_WORKSPACE] == workspace.name
    assert labels[services.LABEL_SERVICEMAP] == str(sm.pk)
    assert ns["metadata"]["annotations"][f"{services.LABEL_PREFIX}display-name"] == "Shop"
    assert live_quota(kube, sm.namespace) == {"requests.cpu": "1500m", "requests.memory": "2Gi", "pods": "5"}
    limits = kube.get_object("LimitRange", services.LIMITS_NAME, sm.namespace)["spec"]["limits"]
    assert limits == [{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"},
                       "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]

    # Again: the same objects, still ready.
    assert services.apply_service_map(sm.pk) == "ready"
    assert live_quota(kube, sm.namespace) == {"requests.cpu": "1500m", "requests.memory": "2Gi", "pods": "5"}
    quotas = kube.get_json(kube.core.list_namespaced_resource_quota, sm.namespace)["items"]
    assert [q["metadata"]["name"] for q in quotas] == [services.QUOTA_NAME]
    ranges = kube.get_json(kube.core.list_namespaced_limit_range, sm.namespace)["items"]
    assert [r["metadata"]["name"] for r in ranges] == [services.LIMITS_NAME]

    # A change of the share reaches the cluster on the next apply.
    manager = make_user(unique("mgr"))
    Membership.objects.create(workspace=workspace, user=manager, role=Role.objects.get(key="manager"))
    request = RequestFactory().patch("/")
    request.user = manager
    actions.update_service_map(sm=sm, data={"quota": {"requests.cpu": "1", "pods": "3"},
                                            "limits": {"default_request": {"cpu": "50m"}}}, request=request)
    sm.refresh_from_db()
    assert (sm.status, sm.generation) == ("pending", 2)
    assert services.apply_service_map(sm.pk) == "ready"
    sm.refresh_from_db()
    assert sm.applied_generation == 2
    assert live_quota(kube, sm.namespace) == {"requests.cpu": "1", "requests.memory": "0", "pods": "3"}
    limits = kube.get_object("LimitRange", services.LIMITS_NAME, sm.namespace)["spec"]["limits"]
    assert limits[0]["defaultRequest"] == {"cpu": "50m", "memory": "128Mi"}


def test_unreachable_cluster_leaves_pending_until_the_beat_applies(admin_api: APIClient, sandbox: Any,
                                                                   workspace: Workspace) -> None:
    cluster = register(admin_api, sandbox, "cluster-3")
    sandbox.inject_fault("cluster-3", blackhole=True)
    response = admin_api.post(f"/api/workspaces/{workspace.pk}/allocations/", {
        "cluster": cluster.pk, "quota": {"requests.cpu": "2", "pods": "10"}}, format="json")
    assert response.status_code == 201, response.content
    allocation = ClusterAllocation.objects.get(pk=response.json()["id"])
    assert allocation.status == "pending"
    response = admin_api.post(f"/api/workspaces/{workspace.pk}/servicemaps/", {
        "cluster": cluster.pk, "namespace": unique("far"), "quota": {"requests.cpu": "1", "pods": "4"}},
        format="json")
    assert response.status_code == 201, response.content
    sm = ServiceMap.objects.get(pk=response.json()["id"])

    assert services.check_allocation(allocation.pk) == "pending"
    allocation.refresh_from_db()
    assert allocation.status == "pending"
    assert "Waiting for the cluster" in allocation.message
    sm.refresh_from_db()
    assert sm.status == "pending"
    assert services.apply_service_map(sm.pk) == "pending"
    sm.refresh_from_db()
    assert sm.status == "pending"
    assert "Waiting for the cluster" in sm.message
    assert sm.applied_generation == 0

    sandbox.clear_faults("cluster-3")
    ran: list[tuple[str, int]] = []

    def apply(sm_id: int, reason: str = "") -> str:
        ran.append(("apply", sm_id))
        return services.apply_service_map(sm_id, restore_reason=reason)

    def delete(sm_id: int) -> str:
        ran.append(("delete", sm_id))
        return services.delete_service_map(sm_id)

    def check(allocation_id: int) -> str:
        ran.append(("check", allocation_id))
        return services.check_allocation(allocation_id)

    assert services.enqueue_due(apply=apply, delete=delete, check=check) >= 1
    assert ("apply", sm.pk) in ran
    sm.refresh_from_db()
    allocation.refresh_from_db()
    assert (sm.status, sm.message, sm.applied_generation) == ("ready", "", 1)
    assert (allocation.status, allocation.message) == ("ready", "")
    with client_for(sandbox, "cluster-3") as kube:
        assert live_quota(kube, sm.namespace) == {"requests.cpu": "1", "pods": "4"}
    # Nothing is due any more.
    ran.clear()
    assert services.enqueue_due(apply=apply, delete=delete, check=check) == 0


def test_a_namespace_we_do_not_own_is_an_error_and_untouched(workspace: Workspace, cluster: Cluster,
                                                             kube: KubeClient) -> None:
    namespace = unique("theirs")
    kube.call(kube.core.create_namespace, {"metadata": {"name": namespace, "labels": {"team": "other"}}})
    allocation = allocate(workspace, cluster, {"requests.cpu": "2"})
    sm = new_service_map(allocation, {"requests.cpu": "1"}, namespace=namespace)
    assert services.apply_service_map(sm.pk) == "error"
    sm.refresh_from_db()
    assert sm.status == "error"
    assert f"Namespace {namespace} already exists" in sm.message
    assert "not managed by this service map" in sm.message
    labels = kube.get_object("Namespace", namespace)["metadata"]["labels"]
    assert labels["team"] == "other"
    assert not any(key.startswith(services.LABEL_PREFIX) for key in labels)
    assert kube.get_json(kube.core.list_namespaced_resource_quota, namespace)["items"] == []
    assert kube.get_json(kube.core.list_namespaced_limit_range, namespace)["items"] == []
    # Deleting that service map leaves their namespace alone.
    sm.status = "deleting"
    sm.save()
    assert services.delete_service_map(sm.pk) == "deleted"
    assert not ServiceMap.objects.filter(pk=sm.pk).exists()
    assert not gone_or_terminating(kube, namespace)


def test_delete_service_map_deletes_the_namespace_and_the_row(admin_api: APIClient, workspace: Workspace,
                                                              cluster: Cluster, kube: KubeClient) -> None:
    allocation = allocate(workspace, cluster, {"pods": "5"})
    sm = new_service_map(allocation, {"pods": "5"})
    assert services.apply_service_map(sm.pk) == "ready"
    # not deleting: the delete task does nothing
    assert services.delete_service_map(sm.pk) == "ready"
    assert not gone_or_terminating(kube, sm.namespace)
    response = admin_api.delete(f"/api/workspaces/{workspace.pk}/servicemaps/{sm.pk}/")
    assert response.status_code == 202
    # an apply that arrives now deletes instead of re-creating; the row goes once the namespace
    # (Terminating while its content is removed) is gone
    outcome = services.apply_service_map(sm.pk)
    deadline = time.monotonic() + 10
    while outcome == "terminating" and time.monotonic() < deadline:
        time.sleep(0.1)
        outcome = services.delete_service_map(sm.pk)
    assert outcome == "deleted"
    assert not ServiceMap.objects.filter(pk=sm.pk).exists()
    assert gone_or_terminating(kube, sm.namespace)
    assert services.delete_service_map(sm.pk) == "gone"
    assert AuditRecord.objects.filter(action="servicemap.deleted", target_id=str(sm.pk)).exists()


def test_storage_classes_restrict_the_others_to_zero(workspace: Workspace, cluster: Cluster,
                                                     kube: KubeClient) -> None:
    try:
        kube.call(kube.storage.create_storage_class, {
            "metadata": {"name": "fast"}, "provisioner": "sandbox.k8s.io/hostpath", "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate"})
    except Exception as exc:  # created by an earlier test of this session
        if "exists" not in str(exc):
            raise
    # the read model, as the watcher would have it
    for name in ("standard", "fast"):
        KubeObject.objects.create(cluster=cluster, kind="StorageClass", name=name, uid=unique("uid"),
                                  resource_version="1", data={"is_default": name == "standard"})
    allocation = allocate(workspace, cluster, {"requests.storage": "10Gi", "persistentvolumeclaims": "5"},
                          storage_classes=["fast"])
    sm = new_service_map(allocation, {"requests.storage": "10Gi", "persistentvolumeclaims": "5"})
    assert services.apply_service_map(sm.pk) == "ready"
    assert live_quota(kube, sm.namespace) == {
        "requests.storage": "10Gi", "persistentvolumeclaims": "5",
        "standard.storageclass.storage.k8s.io/requests.storage": "0",
        "standard.storageclass.storage.k8s.io/persistentvolumeclaims": "0"}

    def pvc(name: str, storage_class: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        if storage_class:
            spec["storageClassName"] = storage_class
        return {"metadata": {"name": name}, "spec": spec}

    with pytest.raises(Forbidden, match="exceeded quota"):
        kube.call(kube.core.create_namespaced_persistent_volume_claim, sm.namespace, pvc("slow", "standard"),
                  attempts=1)
    kube.call(kube.core.create_namespaced_persistent_volume_claim, sm.namespace, pvc("quick", "fast"), attempts=1)

    # All classes allowed again: the zeros go away on the next apply.
    allocation.storage_classes = []
    allocation.save()
    assert services.apply_service_map(sm.pk) == "ready"
    assert live_quota(kube, sm.namespace) == {"requests.storage": "10Gi", "persistentvolumeclaims": "5"}


def test_an_apply_killed_halfway_converges(workspace: Workspace, cluster: Cluster, kube: KubeClient) -> None:
    allocation = allocate(workspace, cluster, {"requests.cpu": "2", "pods": "10"})
    sm = new_service_map(allocation, {"requests.cpu": "1", "pods": "4"})
    # The first apply got as far as the namespace, then the worker died.
    namespace = services.desired_objects(sm, allocation)[0]
    kube.apply(namespace, field_manager=services.FIELD_MANAGER)
    with pytest.raises(NotFound):
        kube.get_object("ResourceQuota", services.QUOTA_NAME, sm.namespace)
    sm.refresh_from_db()
    assert sm.status == "pending"
    assert [pk for pk, _ in services.due_service_maps()] == [sm.pk]
    assert services.apply_service_map(sm.pk) == "ready"
    assert live_quota(kube, sm.namespace) == {"requests.cpu": "1", "pods": "4"}
    kube.get_object("LimitRange", services.LIMITS_NAME, sm.namespace)
    assert services.due_service_maps() == []

    # Killed after the quota but before the row was marked: the rerun converges too.
    ServiceMap.objects.filter(pk=sm.pk).update(generation=2, status="pending")
    kube.delete_object("LimitRange", services.LIMITS_NAME, sm.namespace)
    assert services.apply_service_map(sm.pk) == "ready"
    sm.refresh_from_db()
    assert (sm.status, sm.applied_generation) == ("ready", 2)
    kube.get_object("LimitRange", services.LIMITS_NAME, sm.namespace)


def test_restore_reason_records_an_event_and_audit(workspace: Workspace, cluster: Cluster,
                                                   kube: KubeClient) -> None:
    allocation = allocate(workspace, cluster, {"pods": "10"})
    sm = new_service_map(allocation, {"pods": "4"})
    assert services.apply_service_map(sm.pk) == "ready"
    kube.delete_object("ResourceQuota", services.QUOTA_NAME, sm.namespace)
    assert services.apply_service_map(sm.pk, restore_reason="deleted in the cluster") == "ready"
    assert live_quota(kube, sm.namespace) == {"pods": "4"}
    events = kube.get_json(kube.core.list_namespaced_event, sm.namespace)["items"]
    assert [e["reason"] for e in events if e.get("reason") == "QuotaRestored"] == ["QuotaRestored"]
    assert AuditRecord.objects.filter(action="servicemap.quota_restored", target_id=str(sm.pk)).count() == 1
    # a duplicate notice (already restored): applied, not recorded again
    assert services.apply_service_map(sm.pk, restore_reason="deleted in the cluster") == "ready"
    assert AuditRecord.objects.filter(action="servicemap.quota_restored", target_id=str(sm.pk)).count() == 1
