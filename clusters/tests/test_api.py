"""The clusters API over the read model: who sees what, filters, ordering and keyset cursors,
freshness, node figures without N+1 queries, the live pod detail, and cross-cluster search.

Rows are inserted straight into KubeObject/KindSync (the read model the watcher fills); the pod
detail and node operations talk to sandbox clusters over HTTPS."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.kube.connection import spec_from_kubeconfig
from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, KindSync, KubeObject, NodeOperation, WatcherLease
from portal.testing import make_user

pytestmark = pytest.mark.django_db
URL = "/api/clusters/"
_uids = itertools.count(1)


def cluster(name: str, **fields: Any) -> Cluster:
    return Cluster.objects.create(name=name, server=f"https://{name}.example.com", **fields)


def obj(c: Cluster, kind: str, name: str, namespace: str = "", **fields: Any) -> KubeObject:
    return KubeObject.objects.create(cluster=c, kind=kind, name=name, namespace=namespace, uid=f"uid-{next(_uids)}",
                                     resource_version="1", **fields)


def pod(c: Cluster, name: str, namespace: str = "default", *, node: str = "node-1", phase: str = "Running",
        labels: dict[str, str] | None = None, restarts: int = 0, cpu: float = 0.1, memory: int = 2**20,
        created: Any = None) -> KubeObject:
    return obj(c, "Pod", name, namespace, node_name=node, phase=phase, labels=labels or {},
               created=created or timezone.now(),
               data={"restarts": restarts, "requests": {"cpu": cpu, "memory": memory}, "status_text": phase})


def synced(c: Cluster, *kinds: str, state: str = "synced", age: float = 1.0, watched: bool = True) -> None:
    """KindSync rows (and Cluster.last_sync) as the watcher writes them, and the lease of the live
    watcher that holds the cluster (``watched``)."""
    last = timezone.now() - timedelta(seconds=age)
    for kind in kinds or [k.kind for k in WATCHED_KINDS]:
        KindSync.objects.update_or_create(cluster=c, kind=kind, defaults={"state": state, "last_event": last})
    Cluster.objects.filter(pk=c.pk).update(last_sync=last)
    expires = timezone.now() + timedelta(seconds=30 if watched else -1)
    WatcherLease.objects.update_or_create(cluster=c, defaults={"holder": "test", "expires": expires})


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


def walk(api: APIClient, url: str) -> list[str]:
    """Every name over every page, following ``next``."""
    out: list[str] = []
    while url:
        response = api.get(url)
        out += names(response)
        url = response.json()["next"]
    return out


@pytest.fixture
def operator_api(operator_user: object) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator_user)  # type: ignore[arg-type]
    return client


# ---------------------------------------------------------------------------- permissions


def test_permission_matrix(user_api: APIClient, operator_api: APIClient, admin_api: APIClient) -> None:
    c = cluster("perm")
    obj(c, "Node", "node-1", data={"ready": True})
    pod(c, "web-1")
    paths = [f"{URL}{c.pk}/", f"{URL}{c.pk}/nodes/", f"{URL}{c.pk}/nodes/node-1/", f"{URL}{c.pk}/pods/",
             f"{URL}{c.pk}/events/", f"{URL}{c.pk}/namespaces/"]

    # A plain user sees no cluster yet (workspaces grant them later): empty list, 404 everywhere.
    assert names(user_api.get(URL)) == []
    for path in paths:
        assert user_api.get(path).status_code == 404, path
    assert names(user_api.get(f"{URL}search/?q=web")) == []
    assert user_api.post(URL, {"name": "x"}, format="json").status_code == 403
    assert user_api.post(f"{URL}{c.pk}/nodes/node-1/cordon/").status_code == 404

    # Operators read everything but cannot register, change or delete.
    assert names(operator_api.get(URL)) == ["perm"]
    for path in paths:
        assert operator_api.get(path).status_code == 200, path
    assert operator_api.post(URL, {"name": "x"}, format="json").status_code == 403
    assert operator_api.patch(f"{URL}{c.pk}/", {"description": "x"}, format="json").status_code == 403
    assert operator_api.delete(f"{URL}{c.pk}/").status_code == 403
    assert operator_api.post(f"{URL}{c.pk}/credentials/", {}, format="json").status_code == 403
    assert operator_api.post(f"{URL}{c.pk}/check/").status_code == 403
    assert operator_api.post(f"{URL}kubeconfig-contexts/", {"kubeconfig": "x"}, format="json").status_code == 403

    # Admins do everything.
    assert admin_api.patch(f"{URL}{c.pk}/", {"description": "x"}, format="json").status_code == 200
    assert admin_api.post(f"{URL}{c.pk}/check/").status_code == 202
    assert admin_api.delete(f"{URL}{c.pk}/").status_code == 204


def test_objects_of_other_clusters_answer_404(admin_api: APIClient) -> None:
    a, b = cluster("a"), cluster("b")
    obj(b, "Node", "only-in-b")
    pod(b, "p", "ns")
    assert admin_api.get(f"{URL}{a.pk}/nodes/only-in-b/").status_code == 404
    assert admin_api.get(f"{URL}{a.pk}/pods/ns/p/").status_code == 404
    assert admin_api.get(f"{URL}{a.pk + b.pk + 100}/pods/").status_code == 404
    assert names(admin_api.get(f"{URL}{a.pk}/pods/")) == []


# ---------------------------------------------------------------------------- cluster list


def test_cluster_list_filters_ordering_and_freshness(admin_api: APIClient) -> None:
    fresh = cluster("fresh", provider="eks", region="ap-northeast-2", stage="prod", labels={"team": "core"},
                    status="connected", summary={"nodes_ready": 3, "cpu": {"capacity": 24.0}, "pods": {"running": 40}})
    synced(fresh)
    stale = cluster("stale", provider="gke", status="connected", summary={"nodes_ready": 10, "cpu": {"capacity": 8.0}})
    synced(stale, age=3600)
    down = cluster("down", provider="gke", status="unreachable", display_name="Busan edge")
    synced(down)
    cluster("new")  # registered, the watcher has not started: syncing

    response = admin_api.get(URL)
    rows = {r["name"]: r for r in response.json()["results"]}
    assert [r["name"] for r in response.json()["results"]] == ["down", "fresh", "new", "stale"]
    assert rows["fresh"]["freshness"] == "fresh"
    assert rows["stale"]["freshness"] == "stale"
    assert rows["down"]["freshness"] == "unreachable"
    assert rows["new"]["freshness"] == "syncing"
    assert rows["fresh"]["last_sync"] is not None
    assert rows["fresh"]["summary"]["nodes_ready"] == 3
    assert "credentials_encrypted" not in rows["fresh"]

    assert names(admin_api.get(URL + "?provider=gke")) == ["down", "stale"]
    assert names(admin_api.get(URL + "?status=unreachable")) == ["down"]
    assert names(admin_api.get(URL + "?q=busan")) == ["down"]
    assert names(admin_api.get(URL + "?q=cor")) == ["fresh"]  # a label value
    assert names(admin_api.get(URL + "?label=team=core")) == ["fresh"]
    assert names(admin_api.get(URL + "?stage=prod&region=ap-northeast-2")) == ["fresh"]
    assert names(admin_api.get(URL + "?ordering=-nodes_ready"))[:2] == ["stale", "fresh"]
    assert names(admin_api.get(URL + "?ordering=-cpu_capacity"))[:2] == ["fresh", "stale"]
    assert walk(admin_api, URL + "?ordering=-name&page_size=1") == ["stale", "new", "fresh", "down"]
    assert walk(admin_api, URL + "?ordering=last_sync&page_size=3")[-1] == "new"  # never synced sorts last
    bad = admin_api.get(URL + "?ordering=token")
    assert bad.status_code == 400
    assert "ordering" in bad.json()["errors"]


def test_cluster_detail_has_syncs(admin_api: APIClient) -> None:
    c = cluster("detail")
    synced(c, "Pod", "Node")
    body = admin_api.get(f"{URL}{c.pk}/").json()
    assert sorted(s["kind"] for s in body["syncs"]) == ["Node", "Pod"]
    assert set(body["syncs"][0]) == {"kind", "state", "last_event", "object_count", "message", "code", "relists",
                                     "last_relist_reason", "last_relist_at"}
    assert {s["state"] for s in body["syncs"]} == {"synced"}


def test_cluster_row_kinds_and_lists_agree(admin_api: APIClient) -> None:
    """One rule at one moment: a kind not heard from in time is stale in its list, in the
    detail's syncs, and makes the cluster row stale; the other kinds' lists stay synced."""
    c = cluster("agree", status="connected")
    synced(c)
    synced(c, "StatefulSet", age=3600)
    body = admin_api.get(f"{URL}{c.pk}/").json()
    assert body["freshness"] == "stale"
    states = {s["kind"]: s["state"] for s in body["syncs"]}
    assert states["StatefulSet"] == "stale"
    assert {k for k, v in states.items() if v != "synced"} == {"StatefulSet"}
    assert admin_api.get(f"{URL}{c.pk}/workloads/?kind=StatefulSet").json()["freshness"]["state"] == "stale"
    assert admin_api.get(f"{URL}{c.pk}/pods/").json()["freshness"]["state"] == "synced"
    assert {r["name"]: r["freshness"] for r in admin_api.get(URL).json()["results"]}["agree"] == "stale"


def test_cluster_list_query_count_does_not_grow(admin_api: APIClient, django_assert_max_num_queries: Any) -> None:
    for i in range(30):
        synced(cluster(f"c{i:02d}"), "Pod")
    with django_assert_max_num_queries(6):
        assert len(names(admin_api.get(URL + "?page_size=30"))) == 30


# ---------------------------------------------------------------------------- pods


def test_pod_filters(admin_api: APIClient) -> None:
    c = cluster("pods")
    pod(c, "web-1", "shop", node="n1", labels={"app": "web", "tier": "front"})
    pod(c, "web-2", "shop", node="n2", labels={"app": "web", "tier": "front", "canary": "yes"})
    pod(c, "db-1", "shop", node="n1", labels={"app": "db", "tier": "back"}, phase="Pending")
    pod(c, "job-1", "batch", node="n2", labels={"app": "job"}, phase="Succeeded")
    base = f"{URL}{c.pk}/pods/?ordering=name&"
    assert names(admin_api.get(base + "namespace=shop")) == ["db-1", "web-1", "web-2"]
    assert names(admin_api.get(base + "node=n1")) == ["db-1", "web-1"]
    assert names(admin_api.get(base + "phase=Pending")) == ["db-1"]
    assert names(admin_api.get(base + "name_prefix=web-")) == ["web-1", "web-2"]
    assert names(admin_api.get(base + "label_selector=app=web")) == ["web-1", "web-2"]
    assert names(admin_api.get(base + "label_selector=app==web,canary")) == ["web-2"]
    assert names(admin_api.get(base + "label_selector=app=web,!canary")) == ["web-1"]
    assert names(admin_api.get(base + "label_selector=tier!=front")) == ["db-1", "job-1"]  # includes no-key
    assert names(admin_api.get(base + "label_selector=app in (db,job)")) == ["db-1", "job-1"]
    assert names(admin_api.get(base + "label_selector=app notin (db, job),tier")) == ["web-1", "web-2"]
    bad = admin_api.get(base + "label_selector=app in (a,")
    assert bad.status_code == 400
    assert "label_selector" in bad.json()["errors"]
    assert admin_api.get(base + "label_selector=bad key!=x").status_code == 400


@pytest.mark.parametrize("ordering", ["name", "-name", "namespace", "-namespace", "created", "-created",
                                      "restarts", "-restarts", "phase", "-phase", "node_name", "-node_name"])
def test_pod_orderings_page_through_every_row_once(admin_api: APIClient, ordering: str) -> None:
    c = cluster("order")
    now = timezone.now()
    expected = []
    for i in range(23):
        p = pod(c, f"p{i:02d}", f"ns{i % 3}", node=f"n{i % 4}", phase=["Running", "Pending"][i % 2], restarts=i % 5,
                created=now - timedelta(minutes=i % 7))
        expected.append(p)
    field = ordering.lstrip("-")
    key = {"restarts": lambda p: (p.data["restarts"], p.pk), "name": lambda p: (p.name, p.namespace),
           "namespace": lambda p: (p.namespace, p.name), "created": lambda p: (p.created, p.pk),
           "phase": lambda p: (p.phase, p.pk), "node_name": lambda p: (p.node_name, p.pk)}[field]
    want = [p.name for p in sorted(expected, key=key, reverse=ordering.startswith("-"))]
    url = f"{URL}{c.pk}/pods/?ordering={ordering}&page_size=5"
    assert walk(admin_api, url) == want
    # previous goes back exactly one page
    first = admin_api.get(url).json()
    second = admin_api.get(first["next"]).json()
    assert first["previous"] is None
    back = admin_api.get(second["previous"]).json()
    assert [r["name"] for r in back["results"]] == [r["name"] for r in first["results"]]


def test_cursor_of_another_ordering_is_refused(admin_api: APIClient) -> None:
    c = cluster("cursor")
    for i in range(3):
        pod(c, f"p{i}")
    first = admin_api.get(f"{URL}{c.pk}/pods/?ordering=name&page_size=1").json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    response = admin_api.get(f"{URL}{c.pk}/pods/?ordering=phase&cursor={cursor}")
    assert response.status_code == 400
    assert admin_api.get(f"{URL}{c.pk}/pods/?cursor=garbage").status_code == 400


def test_inventory_lists_say_how_fresh_they_are(admin_api: APIClient) -> None:
    c = cluster("freshness")
    pod(c, "p")
    body = admin_api.get(f"{URL}{c.pk}/pods/").json()
    assert body["freshness"] == {"state": "syncing", "last_event": None}
    synced(c, "Pod")
    assert admin_api.get(f"{URL}{c.pk}/pods/").json()["freshness"]["state"] == "synced"
    synced(c, "Pod", age=3600)
    assert admin_api.get(f"{URL}{c.pk}/pods/").json()["freshness"]["state"] == "stale"
    synced(c, "Pod", watched=False)  # heard from a second ago, but no live watcher holds it now
    assert admin_api.get(f"{URL}{c.pk}/pods/").json()["freshness"]["state"] == "stale"
    synced(c, *[k for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")])
    KindSync.objects.filter(cluster=c, kind="Job").update(state="unreachable")
    assert admin_api.get(f"{URL}{c.pk}/workloads/").json()["freshness"]["state"] == "unreachable"


# ---------------------------------------------------------------------------- other kinds


def test_nodes_with_requests_and_pod_counts_in_constant_queries(
    admin_api: APIClient, django_assert_max_num_queries: Any
) -> None:
    c = cluster("nodes")
    for n in range(12):
        obj(c, "Node", f"node-{n:02d}", data={"ready": n != 3, "unschedulable": n == 5})
        for i in range(n % 4):
            pod(c, f"p-{n}-{i}", node=f"node-{n:02d}", cpu=0.25, memory=2**30)
    pod(c, "done", node="node-01", phase="Succeeded", cpu=8)  # terminated pods request nothing
    with django_assert_max_num_queries(6):
        response = admin_api.get(f"{URL}{c.pk}/nodes/?page_size=100")
    rows = {r["name"]: r for r in response.json()["results"]}
    assert len(rows) == 12
    assert rows["node-03"]["pod_count"] == 3
    assert rows["node-03"]["requests"] == {"cpu": 0.75, "memory": 3 * 2**30}
    assert rows["node-01"]["pod_count"] == 1
    assert rows["node-04"]["pod_count"] == 0
    assert rows["node-04"]["requests"] == {"cpu": 0.0, "memory": 0}
    assert names(admin_api.get(f"{URL}{c.pk}/nodes/?ready=false")) == ["node-03"]
    assert names(admin_api.get(f"{URL}{c.pk}/nodes/?unschedulable=true")) == ["node-05"]
    assert names(admin_api.get(f"{URL}{c.pk}/nodes/?q=-1")) == ["node-10", "node-11"]
    assert "pod_count" not in rows["node-03"]["data"], "beside data, as the contract says"
    detail = admin_api.get(f"{URL}{c.pk}/nodes/node-02/").json()
    assert detail["pod_count"] == 2
    assert [p["name"] for p in detail["pods"]] == ["p-2-0", "p-2-1"]


def test_a_pending_operation_shows_every_documented_progress_key(admin_api: APIClient) -> None:
    c = cluster("ops")
    op = NodeOperation.objects.create(cluster=c, node="n1", kind="drain",
                                      progress={"evicted": [], "failed": [], "remaining": 0})
    body = admin_api.get(f"{URL}{c.pk}/operations/{op.pk}/").json()
    assert body["status"] == "pending"
    assert body["progress"] == {"evicted": [], "failed": [], "skipped": [], "remaining": 0}
    op.progress = {"evicted": ["a/b"], "failed": [], "skipped": [], "remaining": 1, "blocked": []}
    op.save()
    assert admin_api.get(f"{URL}{c.pk}/operations/{op.pk}/").json()["progress"] == op.progress


def test_namespaces_workloads_services_and_events(admin_api: APIClient) -> None:
    c = cluster("kinds")
    obj(c, "Namespace", "shop", phase="Active")
    obj(c, "Deployment", "web", "shop", data={"replicas": 2})
    obj(c, "StatefulSet", "db", "shop")
    obj(c, "CronJob", "nightly", "ops")
    obj(c, "Service", "web", "shop", data={"type": "ClusterIP"})
    obj(c, "Service", "api", "ops")
    obj(c, "PersistentVolume", "pv-1")
    obj(c, "PersistentVolumeClaim", "data", "shop")
    obj(c, "StorageClass", "standard")
    obj(c, "ResourceQuota", "q", "shop")
    obj(c, "HorizontalPodAutoscaler", "web", "shop")
    obj(c, "Ingress", "web", "shop")
    now = timezone.now()
    obj(c, "Event", "old-warning", "shop", phase="Warning", data={"last_seen": (now - timedelta(hours=2)).isoformat()})
    obj(c, "Event", "new-normal", "shop", phase="Normal", data={"last_seen": now.isoformat()})
    obj(c, "Event", "new-warning", "ops", phase="Warning",
        data={"last_seen": (now - timedelta(minutes=1)).isoformat(), "involved": {"kind": "Pod", "name": "x"}})
    obj(c, "Event", "old-normal", "shop", phase="Normal", data={"last_seen": (now - timedelta(hours=1)).isoformat()})
    base = f"{URL}{c.pk}"
    assert names(admin_api.get(f"{base}/namespaces/")) == ["shop"]
    assert names(admin_api.get(f"{base}/workloads/?namespace=shop")) == ["db", "web"]
    assert names(admin_api.get(f"{base}/workloads/?kind=CronJob")) == ["nightly"]
    assert names(admin_api.get(f"{base}/workloads/?kind=CronJob&kind=Deployment&ordering=name")) == ["nightly", "web"]
    assert names(admin_api.get(f"{base}/services/?q=ap")) == ["api"]
    for path, expected in (("ingresses", ["web"]), ("volumes", ["pv-1"]), ("claims", ["data"]),
                           ("storageclasses", ["standard"]), ("quotas", ["q"]), ("hpas", ["web"])):
        assert names(admin_api.get(f"{base}/{path}/")) == expected, path
    assert walk(admin_api, f"{base}/events/?page_size=1") == ["new-warning", "old-warning", "new-normal", "old-normal"]
    assert names(admin_api.get(f"{base}/events/?type=Normal")) == ["new-normal", "old-normal"]
    assert names(admin_api.get(f"{base}/events/?involved_kind=Pod&involved_name=x")) == ["new-warning"]
    row = admin_api.get(f"{base}/services/?q=web").json()["results"][0]
    assert set(row) == {"cluster", "kind", "namespace", "name", "uid", "labels", "node_name", "phase", "created",
                        "updated", "data"}
    assert row["data"] == {"type": "ClusterIP"}


def test_search_across_visible_clusters(admin_api: APIClient, operator_api: APIClient) -> None:
    a, b = cluster("east"), cluster("west")
    pod(a, "checkout-1", "shop", labels={"app": "checkout"})
    pod(b, "checkout-2", "shop", labels={"app": "checkout"})
    obj(b, "Deployment", "checkout", "shop", labels={"app": "checkout"})
    obj(b, "Service", "checkout", "shop", labels={"app": "checkout"})
    obj(b, "ConfigMap", "checkout", "shop")  # not a searched kind
    response = operator_api.get(f"{URL}search/?q=checkout")
    rows = response.json()["results"]
    assert sorted((r["cluster_name"], r["kind"], r["name"]) for r in rows) == [
        ("east", "Pod", "checkout-1"), ("west", "Deployment", "checkout"), ("west", "Pod", "checkout-2"),
        ("west", "Service", "checkout")]
    assert names(admin_api.get(f"{URL}search/?q=checkout&kind=pods")) == ["checkout-1", "checkout-2"]
    assert names(admin_api.get(f"{URL}search/?label_selector=app=checkout&kind=workloads,services")) == [
        "checkout", "checkout"]
    assert admin_api.get(f"{URL}search/").status_code == 400
    assert admin_api.get(f"{URL}search/?q=x&kind=secrets").status_code == 400
    other = make_user("nobody")
    client = APIClient()
    client.force_authenticate(other)
    assert names(client.get(f"{URL}search/?q=checkout")) == []


# ---------------------------------------------------------------------------- live pod detail


def registered(fleet: Any, name: str) -> Cluster:
    spec, _ = spec_from_kubeconfig(fleet.cluster(name).kubeconfig.read_text())
    c = Cluster.objects.create(name=f"live-{name}-{next(_uids)}", server=spec.server, ca_pem=spec.ca_pem)
    c.set_credentials(spec.credentials)
    c.save()
    return c


def test_pod_detail_fetches_the_object_live(admin_api: APIClient, sandbox: Any, settings: Any) -> None:
    from sandbox.resources import PODS

    c = registered(sandbox, "cluster-1")
    name = f"live-{next(_uids)}"
    sandbox.in_cluster("cluster-1", lambda sim: sim.store.create(PODS, {
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "live"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}))
    pod(c, name)
    response = admin_api.get(f"{URL}{c.pk}/pods/default/{name}/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["name"] == name
    assert body["object"]["metadata"]["labels"] == {"app": "live"}
    assert body["object"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert "managedFields" not in body["object"]["metadata"]

    pod(c, "gone-from-cluster")
    assert admin_api.get(f"{URL}{c.pk}/pods/default/gone-from-cluster/").status_code == 404

    settings.PORTAL_VIEW_READ_BUDGET = 0.5
    sandbox.inject_fault("cluster-1", blackhole=True)
    response = admin_api.get(f"{URL}{c.pk}/pods/default/{name}/")
    assert response.status_code == 503
    assert response.json()["code"] == "cluster_timeout"
    assert "sent no answer within 0.5 s" in response.json()["detail"]
    sandbox.inject_fault("cluster-1", blackhole=False, error_rate=1.0, error_codes=[500])
    response = admin_api.get(f"{URL}{c.pk}/pods/default/{name}/")
    assert response.status_code == 502
    assert "500" in response.json()["detail"]
