"""monitoring.samples: every level's figures from read-model rows (made by the watcher's own
projection) and metrics.k8s.io items, checked against figures computed by hand."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.watcher.projection import project
from monitoring.samples import (
    ContainerResources,
    Figures,
    NodeRow,
    OwnerRow,
    PodRow,
    SeriesKey,
    build,
    needs_container_resources,
    pod_container_resources,
    top_owner,
    usage,
)

Mi = 2**20
Gi = 2**30
CID = 7


def node_obj(name: str, cpu: str, mem: str, cap_cpu: str, cap_mem: str) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"},
                       "capacity": {"cpu": cap_cpu, "memory": cap_mem, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def container(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
              ) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"name": name, "image": "x", "resources": res}


def pod_obj(ns: str, name: str, node: str, containers: list[dict[str, Any]], *, phase: str = "Running",
            owner: tuple[str, str] | None = None, restarts: int = 0, labels: dict[str, str] | None = None
            ) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": ns, "name": name, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"metadata": meta, "spec": {"nodeName": node, "containers": containers},
            "status": {"phase": phase, "containerStatuses": [
                {"name": c["name"], "ready": True, "restartCount": restarts, "state": {"running": {}}}
                for c in containers]}}


def pod_row(obj: dict[str, Any]) -> PodRow:
    row = project("Pod", obj)
    return PodRow(namespace=row["namespace"], name=row["name"], node_name=row["node_name"], phase=row["phase"],
                  data=row["data"], labels=row["labels"])


def owner_row(kind: str, ns: str, name: str, owner: tuple[str, str] | None) -> OwnerRow:
    meta: dict[str, Any] = {"namespace": ns, "name": name}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    row = project(kind, {"metadata": meta, "spec": {}, "status": {}})
    return OwnerRow(kind=kind, namespace=ns, name=name, owner=row["data"]["owner"])


def pod_metrics(ns: str, name: str, **containers: tuple[str, str]) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name},
            "containers": [{"name": c, "usage": {"cpu": u[0], "memory": u[1]}} for c, u in containers.items()]}


def node_metrics(name: str, cpu: str, mem: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "usage": {"cpu": cpu, "memory": mem}}


MULTI = pod_obj("shop", "db-0", "n1", [
    container("db", {"cpu": "1", "memory": "1Gi"}, {"cpu": "2", "memory": "2Gi"}),
    container("sidecar", {"cpu": "100m", "memory": "64Mi"}),
], owner=("StatefulSet", "db"))

PODS = [
    pod_obj("shop", "web-abc-1", "n1", [container("app", {"cpu": "500m", "memory": "256Mi"},
                                                  {"cpu": "1", "memory": "512Mi"})],
            owner=("ReplicaSet", "web-abc"), labels={"pod-template-hash": "abc"}),
    pod_obj("shop", "web-abc-2", "n2", [container("app", {"cpu": "500m", "memory": "256Mi"},
                                                  {"cpu": "1", "memory": "512Mi"})],
            owner=("ReplicaSet", "web-abc"), labels={"pod-template-hash": "abc"}),
    MULTI,
    pod_obj("batch", "nightly-123-x", "n2", [container("job", {"cpu": "200m", "memory": "128Mi"})],
            owner=("Job", "nightly-123"), restarts=2),
    pod_obj("batch", "nightly-122-y", "n2", [container("job", {"cpu": "4", "memory": "4Gi"})],
            owner=("Job", "nightly-122"), phase="Succeeded"),
    pod_obj("shop", "bare", "", [container("c", {"cpu": "100m"})], phase="Pending"),
    pod_obj("shop", "api-5d9f-q", "n1", [container("api")], owner=("ReplicaSet", "api-5d9f"),
            labels={"pod-template-hash": "5d9f"}),
]
OWNERS = [owner_row("ReplicaSet", "shop", "web-abc", ("Deployment", "web")),
          owner_row("Job", "batch", "nightly-123", ("CronJob", "nightly"))]
NODES = [NodeRow(name=r["name"], data=r["data"]) for r in (
    project("Node", node_obj("n1", "3500m", "8Gi", "4", "8704Mi")),
    project("Node", node_obj("n2", "2", "4Gi", "2", "4Gi")))]
POD_METRICS = [
    pod_metrics("shop", "web-abc-1", app=("250m", "300Mi")),
    pod_metrics("shop", "web-abc-2", app=("750000000n", "102400Ki")),
    pod_metrics("shop", "db-0", db=("1200m", "512Mi"), sidecar=("50m", "100Mi")),
    pod_metrics("shop", "api-5d9f-q", api=("10m", "20Mi")),
]
NODE_METRICS = [node_metrics("n1", "1500m", "2Gi")]
MAPS = {"shop": (11, 21)}


def _build(**overrides: Any) -> dict[SeriesKey, Figures]:
    args: dict[str, Any] = {
        "cluster_id": CID, "nodes": NODES, "pods": [pod_row(p) for p in PODS], "owners": OWNERS,
        "node_metrics": NODE_METRICS, "pod_metrics": POD_METRICS, "service_maps": MAPS,
        "container_resources_by_pod": {("shop", "db-0"): pod_container_resources(MULTI)},
    }
    args.update(overrides)
    return build(**args).rows


def _find(rows: dict[SeriesKey, Figures], level: str, name: str = "", container: str = "") -> tuple[SeriesKey, Figures]:
    found = [(k, f) for k, f in rows.items() if k.level == level and k.name == name and k.container == container]
    assert len(found) == 1, (level, name, container, found)
    return found[0]


def test_usage_parses_quantities() -> None:
    assert usage({"usage": {"cpu": "250m", "memory": "1Ki"}}) == (0.25, 1024.0)
    assert usage({"usage": {"cpu": "123456789n", "memory": "1Gi"}}) == (0.123457, float(Gi))
    assert usage({"usage": {}}) == (None, None)
    assert pod_container_resources(MULTI)["sidecar"] == ContainerResources(0.1, 64.0 * Mi, None, None)


def test_top_owner_follows_replicaset_and_job() -> None:
    owners = {(o.kind, o.namespace, o.name): o for o in OWNERS}
    rows = {p["metadata"]["name"]: pod_row(p) for p in PODS}
    assert top_owner(rows["web-abc-1"], owners) == ("Deployment", "web")
    assert top_owner(rows["nightly-123-x"], owners) == ("CronJob", "nightly")
    assert top_owner(rows["db-0"], owners) == ("StatefulSet", "db")
    assert top_owner(rows["bare"], owners) == ("", "")
    # the ReplicaSet is not in the read model: named by its pod-template-hash
    assert top_owner(rows["api-5d9f-q"], owners) == ("Deployment", "api")
    # a Job without a CronJob is its own workload
    assert top_owner(pod_row(pod_obj("b", "j-1", "n", [container("c")], owner=("Job", "j"))), owners) == ("Job", "j")


def test_pod_rows_single_container() -> None:
    rows = _build()
    key, fig = _find(rows, "pod", "web-abc-1")
    assert (key.namespace, key.workload_kind, key.workload_name, key.node) == ("shop", "Deployment", "web", "n1")
    assert (key.service_map_id, key.workspace_id) == (11, 21)
    assert (fig.cpu_usage, fig.mem_usage) == (0.25, 300.0 * Mi)
    assert (fig.cpu_request, fig.mem_request, fig.cpu_limit, fig.mem_limit) == (0.5, 256.0 * Mi, 1.0, 512.0 * Mi)
    assert (fig.cpu_billed, fig.mem_billed) == (0.5, 300.0 * Mi)  # max(request, usage) each
    assert fig.pods == 1
    _, fig2 = _find(rows, "pod", "web-abc-2")
    assert (fig2.cpu_usage, fig2.mem_usage, fig2.cpu_billed, fig2.mem_billed) == (0.75, 100.0 * Mi, 0.75, 256.0 * Mi)
    # no container rows for one-container pods
    assert not [k for k in rows if k.level == "container" and k.name != "db-0"]
    # a pod without metrics bills its request; no limits → None, not 0
    _, job = _find(rows, "pod", "nightly-123-x")
    assert (job.cpu_usage, job.cpu_request, job.cpu_billed, job.mem_billed) == (None, 0.2, 0.2, 128.0 * Mi)
    assert (job.cpu_limit, job.mem_limit) == (None, None)
    # terminated pods hold nothing
    assert not [k for k in rows if k.name == "nightly-122-y"]


def test_multi_container_pod_bills_per_container() -> None:
    rows = _build()
    _, db = _find(rows, "container", "db-0", "db")
    assert (db.cpu_usage, db.mem_usage, db.cpu_request, db.mem_request) == (1.2, 512.0 * Mi, 1.0, 1.0 * Gi)
    assert (db.cpu_limit, db.mem_limit, db.cpu_billed, db.mem_billed) == (2.0, 2.0 * Gi, 1.2, 1.0 * Gi)
    _, side = _find(rows, "container", "db-0", "sidecar")
    assert (side.cpu_billed, side.mem_billed, side.cpu_limit) == (0.1, 100.0 * Mi, None)
    key, pod = _find(rows, "pod", "db-0")
    assert (key.workload_kind, key.workload_name) == ("StatefulSet", "db")
    assert pod.cpu_usage == pytest.approx(1.25)
    assert pod.mem_usage == 612.0 * Mi
    assert (pod.cpu_request, pod.mem_request) == (pytest.approx(1.1), 1088.0 * Mi)
    assert (pod.cpu_limit, pod.mem_limit) == (2.0, 2.0 * Gi)  # the sidecar sets none: the sum of those set
    # billed: 1.2 + 0.1 = 1.3 cores (not max(1.1, 1.25) = 1.25); 1 GiB + 100 MiB
    assert pod.cpu_billed == pytest.approx(1.3)
    assert pod.mem_billed == 1.0 * Gi + 100.0 * Mi


def legacy(row: PodRow) -> PodRow:
    """The row as the projection wrote it before it kept requests per container."""
    data = dict(row.data)
    data["containers"] = [{k: v for k, v in c.items() if k not in ("requests", "limits")} for c in data["containers"]]
    return PodRow(namespace=row.namespace, name=row.name, node_name=row.node_name, phase=row.phase, data=data)


def test_multi_container_without_per_container_requests_falls_back_to_the_pod() -> None:
    rows = _build(pods=[legacy(pod_row(MULTI))], container_resources_by_pod={})
    _, pod = _find(rows, "pod", "db-0")
    assert (pod.cpu_request, pod.mem_request) == (pytest.approx(1.1), 1088.0 * Mi)  # the row's effective requests
    assert pod.cpu_billed == pytest.approx(1.25)  # max(1.1, 1.25) at the pod
    _, db = _find(rows, "container", "db-0", "db")
    assert (db.cpu_usage, db.cpu_request, db.cpu_billed) == (1.2, None, None)


def test_per_container_requests_read_from_the_row() -> None:
    """The projection keeps requests/limits per container of multi-container pods: no live list."""
    row = pod_row(MULTI)
    assert row.data["containers"][1]["requests"] == {"cpu": 0.1, "memory": 64 * Mi}
    assert not needs_container_resources([row])
    assert needs_container_resources([legacy(row)])
    assert not needs_container_resources([pod_row(p) for p in PODS if p is not MULTI])
    rows = build(cluster_id=CID, nodes=[], pods=[row], pod_metrics=POD_METRICS).rows
    _, pod = _find(rows, "pod", "db-0")
    assert pod.cpu_billed == pytest.approx(1.3)
    assert (pod.cpu_limit, pod.mem_limit) == (2.0, 2.0 * Gi)
    _, side = _find(rows, "container", "db-0", "sidecar")
    assert (side.cpu_request, side.cpu_limit, side.mem_limit) == (0.1, None, None)  # 0 in the row: no limit
    assert rows == _build(pods=[row], container_resources_by_pod={}, owners=[], service_maps={}, nodes=[],
                          node_metrics=[])


def test_workload_namespace_node_and_cluster_sums() -> None:
    rows = _build()
    key, web = _find(rows, "workload", "web")
    assert (key.workload_kind, key.namespace, key.service_map_id, key.workspace_id) == ("Deployment", "shop", 11, 21)
    assert (web.pods, web.cpu_usage, web.cpu_request, web.cpu_billed) == (2, 1.0, 1.0, 1.25)
    assert (web.mem_usage, web.mem_billed, web.cpu_limit) == (400.0 * Mi, 556.0 * Mi, 2.0)
    _, nightly = _find(rows, "workload", "nightly")
    assert (nightly.pods, nightly.cpu_request, nightly.cpu_usage) == (1, 0.2, None)
    assert _find(rows, "workload", "api")[1].pods == 1
    assert not [k for k in rows if k.level == "workload" and k.name in ("bare", "")]

    nkey, shop = _find(rows, "namespace", "shop")
    assert (nkey.namespace, nkey.service_map_id, nkey.workspace_id) == ("shop", 11, 21)
    # web-abc-1, web-abc-2, db-0, bare (pending), api-5d9f-q
    assert shop.pods == 5
    assert shop.cpu_usage == pytest.approx(0.25 + 0.75 + 1.25 + 0.01)
    assert shop.cpu_request == pytest.approx(0.5 + 0.5 + 1.1 + 0.1 + 0.0)
    assert shop.cpu_billed == pytest.approx(0.5 + 0.75 + 1.3 + 0.1 + 0.01)
    bkey, batch = _find(rows, "namespace", "batch")
    assert (bkey.service_map_id, batch.pods, batch.mem_request) == (None, 1, 128.0 * Mi)

    _, n1 = _find(rows, "node", "n1")
    assert (n1.cpu_usage, n1.mem_usage) == (1.5, 2.0 * Gi)
    assert (n1.cpu_allocatable, n1.mem_allocatable, n1.cpu_capacity, n1.mem_capacity) == (3.5, 8.0 * Gi, 4.0,
                                                                                       8704.0 * Mi)
    assert n1.pods == 3  # web-abc-1, db-0, api-5d9f-q
    assert n1.cpu_request == pytest.approx(0.5 + 1.1)
    assert n1.cpu_billed == pytest.approx(0.5 + 1.3 + 0.01)
    _, n2 = _find(rows, "node", "n2")
    assert (n2.cpu_usage, n2.pods, n2.cpu_request, n2.mem_request) == (None, 2, pytest.approx(0.7), 384.0 * Mi)

    _, cluster = _find(rows, "cluster")
    assert (cluster.cpu_usage, cluster.mem_usage) == (1.5, 2.0 * Gi)  # sum of the measured nodes
    assert (cluster.cpu_allocatable, cluster.mem_allocatable, cluster.cpu_capacity) == (5.5, 12.0 * Gi, 6.0)
    assert cluster.pods == 6
    assert cluster.cpu_request == pytest.approx(0.5 + 0.5 + 1.1 + 0.2 + 0.1)
    assert cluster.cpu_billed == pytest.approx((shop.cpu_billed or 0) + (batch.cpu_billed or 0))
    assert cluster.mem_billed == (shop.mem_billed or 0) + (batch.mem_billed or 0)
    assert cluster.cpu_limit == pytest.approx(1 + 1 + 2)


def test_cluster_usage_from_pods_when_no_node_is_measured() -> None:
    collected = build(cluster_id=CID, nodes=[], pods=[pod_row(p) for p in PODS], owners=OWNERS,
                      pod_metrics=POD_METRICS)
    _, cluster = _find(collected.rows, "cluster")
    assert cluster.cpu_usage == pytest.approx(0.25 + 0.75 + 1.25 + 0.01)
    assert cluster.cpu_allocatable is None
    assert not [k for k in collected.rows if k.level == "node"]
    assert (collected.measured_pods, collected.measured_nodes) == (4, 0)


def test_restart_points_and_empty_cluster() -> None:
    collected = build(cluster_id=CID, nodes=NODES, pods=[pod_row(p) for p in PODS], owners=OWNERS)
    assert [(k.name, m, v) for k, m, v in collected.points] == [("nightly-123-x", "restarts", 2.0)]
    empty = build(cluster_id=CID, nodes=[], pods=[])
    assert list(empty.rows) == [SeriesKey(cluster_id=CID, level="cluster")]
    assert empty.rows[SeriesKey(cluster_id=CID, level="cluster")].pods == 0


def test_workloads_of_one_name_and_two_kinds_stay_apart() -> None:
    pods = [pod_row(pod_obj("shop", "a-0", "n1", [container("c", {"cpu": "1"})], owner=("StatefulSet", "a"))),
            pod_row(pod_obj("shop", "a-x", "n1", [container("c", {"cpu": "2"})], owner=("DaemonSet", "a")))]
    rows = build(cluster_id=CID, nodes=[], pods=pods).rows
    workloads = sorted((k.name, k.workload_kind, f.cpu_request) for k, f in rows.items() if k.level == "workload")
    assert workloads == [("DaemonSet/a", "DaemonSet", 2.0), ("a", "StatefulSet", 1.0)]
