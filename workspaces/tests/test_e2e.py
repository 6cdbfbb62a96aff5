"""The issue's done-when story against real sandbox clusters, a real Celery worker and the watcher:

an admin creates a workspace and allocates two clusters with quotas; a manager splits the quota
into service maps (an over-share is refused with what is left); the namespaces, ResourceQuotas and
LimitRanges appear in the clusters; a developer bypasses the portal and creates pods beyond the
quota directly in the cluster and is refused with Kubernetes' "exceeded quota"; usage updates
arrive live on ``workspace.<id>``; a user of another workspace sees nothing through the API or the
socket; and our ResourceQuota deleted in the cluster is restored (with an audit record and a
Kubernetes Event).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.kube.errors import Forbidden, NotFound
from clusters.models import Cluster
from clusters.tests.helpers import FAST, client_for, synced
from clusters.watcher.config import WatcherConfig
from clusters.watcher.engine import Engine, EngineThread
from portal.events import can_subscribe
from portal.models import AuditRecord
from portal.testing import Subscriber, make_user, wait_for
from workspaces import services
from workspaces.models import ServiceMap

pytestmark = pytest.mark.django_db(transaction=True)
_n = itertools.count(1)


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def pod(name: str, cpu: str = "200m") -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}}


def test_workspace_quota_holds_in_the_cluster_isolated_and_restored(
        admin_api: APIClient, sandbox: Any, celery_worker_process: Any) -> None:
    n = f"{next(_n)}{int(time.time()) % 100000}"
    # Two sandbox clusters registered as an admin would.
    cluster_ids = []
    for name in ("cluster-1", "cluster-2"):
        response = admin_api.post("/api/clusters/", {
            "name": f"ws-{name}-{n}", "kubeconfig": sandbox.cluster(name).kubeconfig.read_text()}, format="json")
        assert response.status_code == 202, response.content
        cluster_ids.append(response.json()["id"])
    one, two = cluster_ids

    workspace = admin_api.post("/api/workspaces/", {"name": f"team-{n}", "display_name": "Team"}, format="json")
    assert workspace.status_code == 201, workspace.content
    ws = workspace.json()["id"]
    for cid, cpu in ((one, "2"), (two, "1")):
        response = admin_api.post(f"/api/workspaces/{ws}/allocations/", {
            "cluster": cid, "quota": {"requests.cpu": cpu, "requests.memory": "2Gi", "pods": "6"}}, format="json")
        assert response.status_code == 201, response.content

    manager, developer, stranger = make_user(f"mgr{n}"), make_user(f"dev{n}"), make_user(f"str{n}")
    for user, role in ((manager, "manager"), (developer, "developer")):
        response = admin_api.post(f"/api/workspaces/{ws}/members/", {"user": user.username, "role": role},
                                  format="json")
        assert response.status_code == 201, response.content
    other = admin_api.post("/api/workspaces/", {"name": f"other-{n}"}, format="json").json()["id"]
    admin_api.post(f"/api/workspaces/{other}/members/", {"user": stranger.username, "role": "manager"}, format="json")

    # The manager splits the quota of cluster one; a share larger than what is left is refused.
    mgr = api_for(manager)
    shop = mgr.post(f"/api/workspaces/{ws}/servicemaps/", {
        "cluster": one, "namespace": f"shop-{n}", "display_name": "Shop",
        "quota": {"requests.cpu": "500m", "requests.memory": "1Gi", "pods": "2"}}, format="json")
    assert shop.status_code == 201, shop.content
    too_much = mgr.post(f"/api/workspaces/{ws}/servicemaps/", {
        "cluster": one, "namespace": f"big-{n}", "quota": {"requests.cpu": "1600m", "pods": "1"}}, format="json")
    assert too_much.status_code == 400
    assert "at most 1500m is left" in too_much.json()["errors"]["quota.requests.cpu"][0]
    assert not ServiceMap.objects.filter(namespace=f"big-{n}").exists()
    stage = mgr.post(f"/api/workspaces/{ws}/servicemaps/", {
        "cluster": two, "namespace": f"shop-stage-{n}", "quota": {"requests.cpu": "1", "pods": "3"}}, format="json")
    assert stage.status_code == 201, stage.content
    sm_id, namespace = shop.json()["id"], f"shop-{n}"

    # The worker applies them: namespace, ResourceQuota and LimitRange in each cluster.
    wait_for(lambda: ServiceMap.objects.filter(pk=sm_id, status="ready").exists(),
             what=f"service map applied ({ServiceMap.objects.filter(pk=sm_id).values('status', 'message').first()})",
             timeout=30)
    wait_for(lambda: ServiceMap.objects.filter(pk=stage.json()["id"], status="ready").exists(),
             what="second service map applied", timeout=30)
    with client_for(sandbox, "cluster-1") as kube:
        ns = kube.get_object("Namespace", namespace)
        assert ns["metadata"]["labels"][services.LABEL_WORKSPACE] == f"team-{n}"
        quota = kube.get_object("ResourceQuota", services.QUOTA_NAME, namespace)
        assert quota["spec"]["hard"] == {"requests.cpu": "500m", "requests.memory": "1Gi", "pods": "2"}
        limits = kube.get_object("LimitRange", services.LIMITS_NAME, namespace)
        assert limits["spec"]["limits"][0]["defaultRequest"] == {"cpu": "100m", "memory": "128Mi"}

    sub = Subscriber(f"workspace.{ws}")
    config = WatcherConfig(**FAST.as_dict())
    with EngineThread(Engine(config=config, holder=f"ws-e2e-{n}", cluster_ids=cluster_ids)):
        wait_for(lambda: synced(Cluster.objects.get(pk=one)), what="cluster one synced", timeout=30)

        # A developer goes around the portal: the cluster itself holds the quota.
        with client_for(sandbox, "cluster-1") as kube:
            kube.call(kube.core.create_namespaced_pod, namespace, pod("a", "200m"))
            kube.call(kube.core.create_namespaced_pod, namespace, pod("b", "200m"))
            with pytest.raises(Forbidden, match="exceeded quota"):
                kube.call(kube.core.create_namespaced_pod, namespace, pod("c", "200m"))
            # A pod without resources gets the LimitRange defaults and is counted too.
            with pytest.raises(Forbidden, match="exceeded quota"):
                kube.call(kube.core.create_namespaced_pod, namespace,
                          {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})

        # Usage arrives live.
        event = sub.wait(lambda e: e["type"] == "servicemap.updated" and e["data"]["id"] == sm_id
                         and e["data"]["usage"]["pods"]["used"] == "2", timeout=20)
        assert event["data"]["usage"]["requests.cpu"] == {"hard": "500m", "used": "400m"}
        row = admin_api.get(f"/api/workspaces/{ws}/allocations/").json()
        alloc_one = next(a for a in row if a["cluster"]["id"] == one)
        assert alloc_one["used"]["pods"] == "2"
        assert alloc_one["remaining"]["requests.cpu"] == "1500m"
        listed = admin_api.get("/api/workspaces/").json()["results"]
        mine = next(w for w in listed if w["id"] == ws)
        assert {"resource": "pods", "allocated": "12", "used": "2"} in mine["quota_use"]

        # Members see their service map's pods in the cluster API; the stranger sees nothing.
        dev = api_for(developer)
        pods = dev.get(f"/api/clusters/{one}/pods/", {"namespace": namespace}).json()["results"]
        assert {p["name"] for p in pods} == {"a", "b"}
        assert dev.get(f"/api/clusters/{one}/nodes/").json()["results"] == []
        assert {c["id"] for c in dev.get("/api/clusters/").json()["results"]} == {one, two}
        stranger_api = api_for(stranger)
        assert [w["id"] for w in stranger_api.get("/api/workspaces/").json()["results"]] == [other]
        for path in (f"/api/workspaces/{ws}/", f"/api/workspaces/{ws}/servicemaps/{sm_id}/",
                     f"/api/workspaces/{ws}/members/", f"/api/clusters/{one}/",
                     f"/api/clusters/{one}/pods/{namespace}/a/"):
            assert stranger_api.get(path).status_code == 404, path
        assert stranger_api.get("/api/clusters/").json()["results"] == []
        assert stranger_api.get("/api/workspaces/servicemaps/").json()["results"] == []
        assert not can_subscribe(stranger, f"workspace.{ws}")
        assert not can_subscribe(stranger, f"cluster.{one}.ns.{namespace}")
        assert can_subscribe(developer, f"cluster.{one}.ns.{namespace}")
        assert not can_subscribe(developer, f"cluster.{one}")

        # Someone deletes our quota in the cluster: it comes back, and that is recorded.
        with client_for(sandbox, "cluster-1") as kube:
            kube.delete_object("ResourceQuota", services.QUOTA_NAME, namespace)

            def restored() -> bool:
                try:
                    live = kube.get_object("ResourceQuota", services.QUOTA_NAME, namespace)
                except NotFound:
                    return False
                return bool(live["spec"]["hard"].get("pods") == "2")

            wait_for(restored, what="the quota restored", timeout=30)
            wait_for(lambda: AuditRecord.objects.filter(action="servicemap.quota_restored",
                                                        target_id=str(sm_id)).exists(),
                     what="the restore audited", timeout=10)
            events = kube.get_json(kube.core.list_namespaced_event, namespace)["items"]
            assert any(e.get("reason") == "QuotaRestored" for e in events)
            # Edited rather than deleted: restored the same way.
            kube.apply({"apiVersion": "v1", "kind": "ResourceQuota",
                        "metadata": {"name": services.QUOTA_NAME, "namespace": namespace},
                        "spec": {"hard": {"requests.cpu": "100", "requests.memory": "1Gi", "pods": "200"}}},
                       field_manager="kubectl-edit")
            wait_for(lambda: restored() and kube.get_object("ResourceQuota", services.QUOTA_NAME, namespace)[
                "spec"]["hard"]["requests.cpu"] == "500m", what="the edit reverted", timeout=30)
