"""The issue's end-to-end story for the read model: clusters registered through the API are
watched, a deployment scaled inside a cluster arrives over the WebSocket groups, a blackholed
cluster turns Unreachable while the others stay live, and it resyncs when it answers again."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import FAST, client_for, synced
from clusters.watcher.config import WatcherConfig
from clusters.watcher.engine import Engine, EngineThread
from portal.testing import Subscriber, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
_n = itertools.count(1)


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}


def test_registered_clusters_sync_scale_live_go_unreachable_and_resync(admin_api: APIClient, sandbox: Any) -> None:
    suffix = next(_n)
    ids = {}
    for name in ("cluster-1", "cluster-2", "cluster-3"):
        response = admin_api.post("/api/clusters/", {
            "name": f"e2e-{name}-{suffix}", "kubeconfig": sandbox.cluster(name).kubeconfig.read_text()}, format="json")
        assert response.status_code == 202, response.content
        ids[name] = response.json()["id"]
    ns = f"e2e-{suffix}-{int(time.time()) % 100000}"
    with client_for(sandbox, "cluster-1") as kube:
        kube.call(kube.core.create_namespace, {"metadata": {"name": ns}})
        kube.call(kube.apps.create_namespaced_deployment, ns, deployment("web", 1))
    one = ids["cluster-1"]
    sub = Subscriber(f"cluster.{one}", f"cluster.{one}.ns.{ns}", "fleet")
    config = WatcherConfig(**FAST.as_dict())
    try:
        with EngineThread(Engine(config=config, holder="e2e")):
            clusters = {name: Cluster.objects.get(pk=pk) for name, pk in ids.items()}
            wait_for(lambda: all(synced(c) for c in clusters.values()), what="three clusters synced")
            for c in clusters.values():
                assert KubeObject.objects.filter(cluster=c, kind="Node").count() == 3
            wait_for(lambda: KubeObject.objects.filter(cluster_id=one, kind="Pod", namespace=ns,
                                                       phase="Running").count() == 1, what="the pod running")
            assert KubeObject.objects.filter(cluster_id=one, kind="Deployment", namespace=ns, name="web").exists()

            # Scale inside the cluster, as its owner would; the change arrives live.
            with client_for(sandbox, "cluster-1") as kube:
                kube.call(kube.apps.patch_namespaced_deployment_scale, "web", ns, {"spec": {"replicas": 3}})
            event = sub.wait(lambda e: e["type"] == "objects.changed" and e["group"] == f"cluster.{one}.ns.{ns}"
                             and any(c["kind"] == "Deployment" and any(r["data"]["replicas"] == 3
                                                                       for r in c.get("upserts", []))
                                     for c in e["data"]["changes"]))
            assert event["seq"] >= 1
            sub.wait(lambda e: e["group"] == f"cluster.{one}" and e["type"] == "objects.changed" and any(
                c["kind"] == "Pod" and ns in c.get("namespaces", {}) for c in e["data"]["changes"]))
            wait_for(lambda: KubeObject.objects.filter(cluster_id=one, kind="Pod", namespace=ns,
                                                       phase="Running").count() == 3, what="three pods running")
            wait_for(lambda: (Cluster.objects.get(pk=one).summary.get("pods") or {}).get("running", 0) >= 3,
                     what="the summary follows")

            # Blackhole one cluster: Unreachable, data kept; the others stay live.
            dark = ids["cluster-2"]
            sandbox.inject_fault("cluster-2", blackhole=True)
            wait_for(lambda: Cluster.objects.get(pk=dark).status == "unreachable", timeout=10, what="unreachable")
            sub.wait(lambda e: e["group"] == "fleet" and e["type"] == "cluster.updated"
                     and e["data"]["id"] == dark and e["data"]["freshness"] == "unreachable", timeout=5)
            assert KubeObject.objects.filter(cluster_id=dark, kind="Node").count() == 3
            with client_for(sandbox, "cluster-1") as kube:
                kube.call(kube.apps.patch_namespaced_deployment_scale, "web", ns, {"spec": {"replicas": 2}})
            wait_for(lambda: KubeObject.objects.get(cluster_id=one, kind="Deployment", namespace=ns,
                                                    name="web").data["replicas"] == 2, timeout=5,
                     what="a live cluster's change during the other's outage")
            assert Cluster.objects.get(pk=ids["cluster-3"]).status == "connected"

            # Restore: connected and synced again.
            sandbox.inject_fault("cluster-2", blackhole=False)
            wait_for(lambda: Cluster.objects.get(pk=dark).status == "connected", timeout=10, what="reconnected")
            wait_for(lambda: synced(Cluster.objects.get(pk=dark)), timeout=10, what="resynced")
            sub.wait(lambda e: e["group"] == "fleet" and e["type"] == "cluster.updated"
                     and e["data"]["id"] == dark and e["data"]["freshness"] == "fresh", timeout=10)
    finally:
        sub.close()
        with client_for(sandbox, "cluster-1") as kube:
            kube.call(kube.core.delete_namespace, ns)
