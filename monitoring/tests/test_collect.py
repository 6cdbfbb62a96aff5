"""Metric collection end to end against a sandbox cluster over HTTPS, the watcher filling the read
model: samples for nodes, pods, containers, workloads, the namespace and the cluster arrive and match
the sandbox's metrics.k8s.io answer; a second collection in the same interval writes nothing; a
cluster without the metrics API still gets the read model's figures; Prometheus figures come from a
real HTTP server on loopback answering the Prometheus HTTP API's JSON (the "HTTP receiver" kind of
real server: the sandbox has no Prometheus); the Celery tasks collect and roll up."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from clusters.kube.client import list_pod_metrics
from clusters.models import Cluster, ClusterStatus, KubeObject
from clusters.tests.helpers import client_for, engine, register, synced
from clusters.watcher.projection import byte_count, cores
from monitoring import collect, store, tasks_metrics
from monitoring.models import MetricSeries
from portal.testing import unique, wait_for
from sandbox.resources import NAMESPACES, PERSISTENTVOLUMECLAIMS
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db(transaction=True)

SANDBOX = "cluster-3"
Mi = 2**20
COLUMNS = ("cpu_usage", "mem_usage", "cpu_request", "mem_request", "cpu_limit", "mem_limit", "cpu_billed",
           "mem_billed", "cpu_allocatable", "mem_allocatable", "cpu_capacity", "mem_capacity", "pods")


@pytest.fixture(autouse=True)
def _empty_sample_tables() -> Iterator[None]:
    """The sample tables are not Django models: the transactional tests' flush leaves them alone."""
    yield
    with connection.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(store.TABLES))


def deployment(name: str, replicas: int, containers: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {"app": name}
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}}}


def resources(cpu: str, mem: str, cpu_limit: str | None = None, mem_limit: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"requests": {"cpu": cpu, "memory": mem}}
    if cpu_limit:
        out["limits"] = {"cpu": cpu_limit, "memory": mem_limit}
    return out


def rows(ts: dt.datetime, **where: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The stored samples at ``ts`` by (level, name, container) of the series matching ``where``."""
    series = {s.pk: s for s in MetricSeries.objects.filter(**where)}
    with connection.cursor() as cur:
        cur.execute(f"SELECT series_id, {', '.join(COLUMNS)} FROM monitoring_sample "
                    "WHERE ts = %s AND series_id = ANY(%s)", [ts, list(series)])
        found = cur.fetchall()
    return {(series[r[0]].level, series[r[0]].name, series[r[0]].container): dict(zip(COLUMNS, r[1:], strict=True))
            for r in found}


def count(ts: dt.datetime) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM monitoring_sample WHERE ts = %s", [ts])
        return int(cur.fetchone()[0])


def pod_usage(items: list[dict[str, Any]], ns: str, name: str) -> tuple[float, float]:
    item = next(i for i in items if i["metadata"]["namespace"] == ns and i["metadata"]["name"] == name)
    return (sum(cores(c["usage"]["cpu"]) or 0.0 for c in item["containers"]),
            float(sum(byte_count(c["usage"]["memory"]) or 0 for c in item["containers"])))


class Prometheus(BaseHTTPRequestHandler):
    """Answers ``/api/v1/query`` as Prometheus does: a vector per query, by what the query names."""

    answers: dict[str, list[dict[str, Any]]] = {}
    queries: list[str] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/prom/api/v1/query":
            self.send_response(404)
            self.end_headers()
            return
        query = parse_qs(parts.query)["query"][0]
        type(self).queries.append(query)
        result = next((v for k, v in self.answers.items() if k in query), [])
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prom"
    server.shutdown()
    server.server_close()


def test_collect_from_a_sandbox_cluster(sandbox: Any, prometheus: str, celery_worker_process: Any) -> None:
    cluster = register(sandbox, SANDBOX)
    ns = unique("metrics")
    with client_for(sandbox, SANDBOX) as kube:
        kube.call(kube.core.create_namespace, {"metadata": {"name": ns}})
        kube.call(kube.apps.create_namespaced_deployment, ns, deployment("web", 2, [
            {"name": "web", "image": "nginx:1.27", "resources": resources("100m", "64Mi", "200m", "128Mi")}]))
        kube.call(kube.apps.create_namespaced_deployment, ns, deployment("duo", 1, [
            {"name": "app", "image": "nginx:1.27", "resources": resources("200m", "128Mi")},
            {"name": "side", "image": "busybox:1.36", "resources": resources("50m", "32Mi")}]))
    sandbox.in_cluster(SANDBOX, lambda c: c.store.create(PERSISTENTVOLUMECLAIMS, {
        "metadata": {"name": "data", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    assert sandbox.in_cluster(SANDBOX, lambda c: c.store.get(NAMESPACES, None, ns)) is not None
    workspace = Workspace.objects.create(name=unique("ws"))
    service_map = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=ns)

    with engine(holder="metrics-test"):
        wait_for(lambda: synced(cluster), timeout=30, what="the cluster synced")
        wait_for(lambda: KubeObject.objects.filter(cluster=cluster, kind="Pod", namespace=ns,
                                                   phase="Running").count() == 3, timeout=30, what="3 pods running")
        wait_for(lambda: KubeObject.objects.filter(cluster=cluster, kind="PersistentVolumeClaim",
                                                   namespace=ns).exists(), what="the claim in the read model")
        with client_for(sandbox, SANDBOX) as kube:
            wait_for(lambda: len(list_pod_metrics(kube, ns)) == 3, what="pod metrics")

        # Collections stamped in the past, so the task-driven one at the end has an interval of its own.
        base = store.align(timezone.now(), 300) - dt.timedelta(minutes=10)
        outcome = collect.collect_cluster(cluster.pk, now=base + dt.timedelta(seconds=1))
        assert outcome.status == "ok", outcome
        assert (outcome.ts, outcome.prometheus) == (base, "")
        ts = base
        got = rows(ts, cluster=cluster)
        pods = {name: data for name, data in KubeObject.objects.filter(
            cluster=cluster, kind="Pod", namespace=ns).values_list("name", "data")}
        web_pods = sorted(n for n in pods if n.startswith("web-"))
        duo_pod = next(n for n in pods if n.startswith("duo-"))

        # pods: usage as the sandbox answered in this collection; requests/limits as the deployments ask
        for name in web_pods:
            row = got[("pod", name, "")]
            cpu, mem = pod_usage(outcome.pod_metrics, ns, name)
            assert (row["cpu_usage"], row["mem_usage"]) == (pytest.approx(cpu), mem)
            assert (row["cpu_request"], row["mem_request"], row["cpu_limit"], row["mem_limit"]) == (
                0.1, 64.0 * Mi, 0.2, 128.0 * Mi)
            assert row["cpu_billed"] == pytest.approx(max(0.1, cpu))
            assert row["mem_billed"] == max(64.0 * Mi, mem)
            assert ("container", name, "web") not in got  # one container: the pod row is its container
        # the two-container pod: container rows, requests per container (the read model keeps them)
        duo_item = next(i for i in outcome.pod_metrics if i["metadata"]["name"] == duo_pod)
        billed = 0.0
        for c in duo_item["containers"]:
            row = got[("container", duo_pod, c["name"])]
            request = {"app": 0.2, "side": 0.05}[c["name"]]
            assert (row["cpu_usage"], row["cpu_request"]) == (pytest.approx(cores(c["usage"]["cpu"])), request)
            assert row["cpu_billed"] == pytest.approx(max(request, cores(c["usage"]["cpu"]) or 0))
            billed += row["cpu_billed"]
        with client_for(sandbox, SANDBOX) as kube:  # where a read model lacks them: the live pod list
            live = collect._container_resources(kube, [ns])
        assert (live[(ns, duo_pod)]["side"].cpu_request, live[(ns, duo_pod)]["app"].mem_request) == (0.05, 128.0 * Mi)
        duo = got[("pod", duo_pod, "")]
        assert (duo["cpu_request"], duo["mem_request"]) == (pytest.approx(0.25), 160.0 * Mi)
        assert duo["cpu_billed"] == pytest.approx(billed)
        # workloads, namespace (with its service map), cluster
        web = got[("workload", "web", "")]
        assert (web["pods"], web["cpu_request"]) == (2, pytest.approx(0.2))
        assert web["cpu_usage"] == pytest.approx(sum(got[("pod", n, "")]["cpu_usage"] for n in web_pods))
        assert got[("workload", "duo", "")]["pods"] == 1
        namespace = got[("namespace", ns, "")]
        assert (namespace["pods"], namespace["cpu_request"]) == (3, pytest.approx(0.45))
        series = MetricSeries.objects.get(cluster=cluster, level="namespace", name=ns)
        assert (series.service_map_id, series.workspace_id) == (service_map.pk, workspace.pk)
        assert MetricSeries.objects.get(cluster=cluster, level="pod", name=web_pods[0]).workload_name == "web"
        # nodes: usage from NodeMetrics, allocatable/capacity from the Node objects
        with client_for(sandbox, SANDBOX) as kube:
            nodes = {n["metadata"]["name"]: n for n in kube.list_nodes()["items"]}
            fresh = list_pod_metrics(kube, ns)
        assert {k[1] for k in got if k[0] == "node"} == set(nodes)
        total_cpu = 0.0
        for item in outcome.node_metrics:
            row = got[("node", item["metadata"]["name"], "")]
            assert row["cpu_usage"] == pytest.approx(cores(item["usage"]["cpu"]))
            assert row["cpu_allocatable"] == cores(nodes[item["metadata"]["name"]]["status"]["allocatable"]["cpu"])
            total_cpu += row["cpu_usage"]
        cluster_row = got[("cluster", "", "")]
        assert cluster_row["cpu_usage"] == pytest.approx(total_cpu)
        assert cluster_row["pods"] == KubeObject.objects.filter(cluster=cluster, kind="Pod").exclude(
            phase__in=("Succeeded", "Failed")).count()
        assert cluster_row["cpu_allocatable"] == pytest.approx(sum(r["cpu_allocatable"] for k, r in got.items()
                                                                   if k[0] == "node"))
        # and against a fresh answer of the sandbox (usage moves smoothly with time)
        for item in fresh:
            cpu, _ = pod_usage(fresh, ns, item["metadata"]["name"])
            assert got[("pod", item["metadata"]["name"], "")]["cpu_usage"] == pytest.approx(cpu, rel=0.3)

        # the same interval again: nothing new
        written = count(ts)
        again = collect.collect_cluster(cluster.pk, now=base + dt.timedelta(seconds=20))
        assert (again.status, again.ts, again.samples_written, again.points_written) == ("ok", ts, 0, 0)
        assert count(ts) == written == outcome.samples_written

        # a cluster that does not serve the metrics API (the sandbox's real 404 for an unknown
        # version): the read model's figures still arrive
        ts2 = base + dt.timedelta(seconds=30)
        missing = collect.collect_cluster(cluster.pk, now=ts2, metrics_api="metrics.k8s.io/v1beta9")
        assert missing.status == "no_metrics_api", missing
        got2 = rows(ts2, cluster=cluster)
        assert got2[("pod", web_pods[0], "")]["cpu_usage"] is None
        assert got2[("pod", web_pods[0], "")]["cpu_request"] == 0.1
        assert got2[("namespace", ns, "")]["cpu_billed"] == pytest.approx(0.45)  # nothing measured: requests
        node = next(k for k in got2 if k[0] == "node")
        assert (got2[node]["cpu_usage"], got2[node]["cpu_allocatable"]) == (None, got[node]["cpu_allocatable"])

        # Prometheus configured: network, filesystem and volume figures as points
        Prometheus.answers = {
            "container_network_receive_bytes_total": [
                {"metric": {"namespace": ns, "pod": web_pods[0]}, "value": [0, "1234.5"]},
                {"metric": {"namespace": ns, "pod": "not-ours"}, "value": [0, "1"]},
                {"metric": {"namespace": ns, "pod": web_pods[1]}, "value": [0, "NaN"]}],
            "container_network_transmit_bytes_total": [
                {"metric": {"namespace": ns, "pod": web_pods[0]}, "value": [0, "99"]}],
            "kubelet_volume_stats_used_bytes": [
                {"metric": {"namespace": ns, "persistentvolumeclaim": "data"}, "value": [0, "0.875"]}],
        }
        Prometheus.queries = []
        Cluster.objects.filter(pk=cluster.pk).update(prometheus_url=prometheus)
        ts3 = base + dt.timedelta(seconds=60)
        with_prom = collect.collect_cluster(cluster.pk, now=ts3 + dt.timedelta(seconds=2))
        assert (with_prom.status, with_prom.prometheus) == ("ok", "ok")
        assert len(Prometheus.queries) == len(collect.PROMETHEUS_QUERIES)
        with connection.cursor() as cur:
            cur.execute("SELECT s.level, s.name, s.container, p.metric, p.value FROM monitoring_point p "
                        "JOIN monitoring_metricseries s ON s.id = p.series_id WHERE p.ts = %s AND s.cluster_id = %s "
                        "AND p.metric <> 'restarts' ORDER BY p.metric", [ts3, cluster.pk])
            points = cur.fetchall()
        assert points == [("pod", web_pods[0], "", "net_rx_bytes_per_second", 1234.5),
                          ("pod", web_pods[0], "", "net_tx_bytes_per_second", 99.0),
                          ("namespace", "data", "pvc", "pvc_used_ratio", 0.875)]
        claim = MetricSeries.objects.get(cluster=cluster, level="namespace", name="data", container="pvc")
        assert (claim.namespace, claim.service_map_id) == (ns, service_map.pk)

        # Prometheus failing: logged in the outcome, the samples still written
        Cluster.objects.filter(pk=cluster.pk).update(prometheus_url=prometheus.replace("/prom", "/nothing"))
        broken = collect.collect_cluster(cluster.pk, now=ts3 + dt.timedelta(seconds=30))
        assert broken.status == "ok"
        assert "not JSON" in broken.prometheus
        assert broken.samples_written == outcome.samples_written

        # The tasks: collect_due sends a collection per connected cluster to the real worker, which
        # stamps the current interval; the roll-up task aggregates the old buckets.
        Cluster.objects.filter(pk=cluster.pk).update(status=ClusterStatus.CONNECTED, prometheus_url="")
        assert tasks_metrics.collect_due() >= 1
        wait_for(lambda: rows(store.align(timezone.now(), 30), cluster=cluster, level="cluster")
                 or rows(store.align(timezone.now(), 30) - dt.timedelta(seconds=30), cluster=cluster,
                         level="cluster"), timeout=30, what="a collection by the worker")
    tasks_metrics.rollup()
    with connection.cursor() as cur:
        cur.execute("SELECT s.name, r.samples, r.cpu_request FROM monitoring_sample_5m r "
                    "JOIN monitoring_metricseries s ON s.id = r.series_id "
                    "WHERE s.cluster_id = %s AND s.level = 'namespace' AND s.name = %s AND r.ts = %s",
                    [cluster.pk, ns, store.align(base, 300)])
        rolled = cur.fetchall()
    assert rolled
    assert rolled[0][0] == ns
    assert rolled[0][1] == 4  # base, +30 s (no metrics API), +60 s and +90 s (Prometheus)
