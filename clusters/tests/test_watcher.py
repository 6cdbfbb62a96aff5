"""The watcher against sandbox clusters over real HTTPS, with the real PostgreSQL and Redis.

Each test registers sandbox clusters, runs the engine in-process (its own thread and loop) with
shortened intervals, changes things inside the sandbox and polls the read model and a Channels
test channel with deadlines. Faults are cleared by the ``sandbox`` fixture.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, KindSync, KubeObject, WatcherLease
from clusters.tests.helpers import engine, register, seed, synced
from portal.testing import Subscriber, backend_env, unique, wait_for
from sandbox.resources import (
    NAMESPACES,
    SERVICES,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)



def row(cluster: Cluster, kind: str, name: str, namespace: str = "") -> KubeObject | None:
    return KubeObject.objects.filter(cluster=cluster, kind=kind, namespace=namespace, name=name).first()


@pytest.fixture
def fleet(sandbox: Any) -> Iterator[Any]:
    return sandbox


def test_full_sync_of_every_kind_with_projections(fleet: Any) -> None:
    ns = unique("full")
    seed(fleet, "cluster-1", ns)
    cluster = register(fleet, "cluster-1")
    with engine():
        wait_for(lambda: synced(cluster), what="every kind synced")
        wait_for(lambda: KubeObject.objects.filter(cluster=cluster, kind="Pod", namespace=ns, labels__app="web",
                                                   phase="Running").count() >= 2, what="deployment pods running")
        wait_for(lambda: (Cluster.objects.get(pk=cluster.pk).summary or {}).get("pods", {}).get("running", 0) >= 2,
                 what="summary")
        counts = dict(KindSync.objects.filter(cluster=cluster).values_list("kind", "object_count"))

    kinds = set(KubeObject.objects.filter(cluster=cluster).values_list("kind", flat=True))
    expected = {k.kind for k in WATCHED_KINDS}
    assert kinds == expected, expected - kinds
    assert counts["Node"] == 3
    assert counts["Namespace"] >= 5
    assert not KubeObject.objects.filter(data__has_key="managedFields").exists()

    node = KubeObject.objects.filter(cluster=cluster, kind="Node").order_by("name").first()
    assert node is not None
    assert node.phase == "Ready"
    assert node.data["ready"] is True
    assert node.data["capacity"]["cpu"] == 8.0
    assert node.data["capacity"]["memory"] == 32 * 1024**3
    assert node.data["allocatable"]["pods"] == 110
    assert node.data["zone"]
    assert node.data["instance_type"]
    assert node.data["internal_ip"]

    dep = row(cluster, "Deployment", "web", ns)
    assert dep is not None
    assert dep.data["replicas"] == 2
    assert dep.data["images"] == ["nginx:1.27"]
    assert dep.data["selector"] == {"app": "web"}
    assert dep.phase in ("Available", "Progressing")
    pod = KubeObject.objects.filter(cluster=cluster, kind="Pod", namespace=ns, phase="Running",
                                    labels__app="web").first()
    assert pod is not None
    assert pod.node_name
    assert pod.labels["app"] == "web"
    assert pod.data["status_text"] == "Running"
    assert pod.data["ready"] == "1/1"
    assert pod.data["requests"] == {"cpu": 0.25, "memory": 64 * 1024**2}
    assert pod.data["owner"]["kind"] == "ReplicaSet"
    assert pod.data["containers"][0]["image"] == "nginx:1.27"
    rs = KubeObject.objects.get(cluster=cluster, kind="ReplicaSet", namespace=ns, name=pod.data["owner"]["name"])
    assert rs.data["owner"] == {"kind": "Deployment", "name": "web"}

    svc = row(cluster, "Service", "web", ns)
    assert svc is not None
    assert svc.data["type"] == "ClusterIP"
    assert svc.data["ports"][0]["port"] == 80
    assert svc.data["ports"][0]["target_port"] == 8080
    ing = row(cluster, "Ingress", "web", ns)
    assert ing is not None
    assert ing.data["class_name"] == "nginx"
    assert ing.data["tls_hosts"] == ["web.example.com"]
    assert ing.data["rules"] == [{"host": "web.example.com", "paths": [{"path": "/", "service": "web", "port": 80}]}]
    pvc = row(cluster, "PersistentVolumeClaim", "data", ns)
    assert pvc is not None
    assert pvc.data["requested"] == 1024**3
    pv = row(cluster, "PersistentVolume", f"pv-{ns}")
    assert pv is not None
    assert pv.data["capacity"] == 5 * 1024**3
    assert pv.data["reclaim_policy"] == "Retain"
    sc = row(cluster, "StorageClass", "standard")
    assert sc is not None
    assert sc.data["is_default"] is True
    quota = row(cluster, "ResourceQuota", "q", ns)
    assert quota is not None
    assert quota.data["hard"] == {"pods": "10"}
    hpa = row(cluster, "HorizontalPodAutoscaler", "web", ns)
    assert hpa is not None
    assert hpa.data["target"] == {"kind": "Deployment", "name": "web"}
    assert hpa.data["max_replicas"] == 4
    ev = row(cluster, "Event", "web.1", ns)
    assert ev is not None
    assert ev.phase == "Warning"
    assert ev.data["count"] == 3
    assert ev.data["involved"] == {"kind": "Pod", "name": "web-x", "namespace": ns}
    job = row(cluster, "Job", "once", ns)
    assert job is not None
    assert job.phase in ("Running", "Complete")
    sts, ds = row(cluster, "StatefulSet", "db", ns), row(cluster, "DaemonSet", "agent", ns)
    assert sts is not None
    assert sts.data["replicas"] == 1
    assert sts.data["images"] == ["db:1"]
    assert ds is not None
    assert ds.data["images"] == ["agent:1"]
    assert ds.data["selector"] == {"app": "agent"}
    cron = row(cluster, "CronJob", "nightly", ns)
    assert cron is not None
    assert cron.data["schedule"] == "0 3 * * *"
    assert cron.phase == "Scheduled"
    nsrow = row(cluster, "Namespace", ns)
    assert nsrow is not None
    assert nsrow.phase == "Active"
    assert nsrow.data == {}

    cluster.refresh_from_db()
    assert cluster.status == "connected"
    assert cluster.last_sync is not None
    summary = cluster.summary
    assert summary["nodes_total"] == 3
    assert summary["nodes_ready"] == 3
    assert summary["cpu"]["capacity"] == 24.0
    assert summary["cpu"]["requested"] >= 0.5
    assert summary["pods"]["capacity"] == 330
    assert summary["services"] >= 2
    assert summary["workloads"] >= 2
    assert WatcherLease.objects.count() == 0, "leases are released on shutdown"


def test_changes_arrive_in_db_and_over_websocket(fleet: Any) -> None:
    ns = unique("live")
    fleet.in_cluster("cluster-1", lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    cluster = register(fleet, "cluster-1")
    sub = Subscriber(f"cluster.{cluster.pk}", f"cluster.{cluster.pk}.ns.{ns}", "fleet")
    try:
        with engine():
            wait_for(lambda: synced(cluster), what="synced")
            fleet.in_cluster("cluster-1", lambda c: c.store.create(SERVICES, {
                "metadata": {"name": "api", "namespace": ns, "labels": {"tier": "backend"}},
                "spec": {"ports": [{"port": 8080}]}}))
            wait_for(lambda: row(cluster, "Service", "api", ns), what="service row")

            def ns_upsert(event: dict[str, Any]) -> bool:
                return event["type"] == "objects.changed" and event["group"] == f"cluster.{cluster.pk}.ns.{ns}" \
                    and any(c["kind"] == "Service" and any(r["name"] == "api" for r in c.get("upserts", []))
                            for c in event["data"]["changes"])

            event = sub.wait(ns_upsert)
            assert event["seq"] >= 1
            change = next(c for c in event["data"]["changes"] if c["kind"] == "Service")
            api_row = next(r for r in change["upserts"] if r["name"] == "api")
            assert api_row["cluster"] == cluster.pk
            assert api_row["labels"] == {"tier": "backend"}
            assert api_row["data"]["ports"][0]["port"] == 8080

            # The cluster group gets a per-namespace digest for namespaced kinds.
            sub.wait(lambda e: e["group"] == f"cluster.{cluster.pk}" and e["type"] == "objects.changed" and any(
                c["kind"] == "Service" and ns in c.get("namespaces", {}) for c in e["data"]["changes"]))

            fleet.in_cluster("cluster-1", lambda c: c.store.delete(SERVICES, ns, "api"))
            wait_for(lambda: row(cluster, "Service", "api", ns) is None, what="row deleted")
            sub.wait(lambda e: e["group"].endswith(f".ns.{ns}") and any(
                {"namespace": ns, "name": "api"} in c.get("deletes", []) for c in e["data"]["changes"]))
            # The fleet hears about the cluster's status and figures.
            fleet_event = sub.wait(lambda e: e["group"] == "fleet" and e["type"] == "cluster.updated"
                                   and e["data"]["id"] == cluster.pk and e["data"]["status"] == "connected", timeout=5)
            assert "summary" in fleet_event["data"]
            assert "credentials" not in str(fleet_event["data"])
            assert "token" not in fleet_event["data"]
    finally:
        sub.close()


def test_410_relists_only_that_kind(fleet: Any) -> None:
    ns = unique("gone")
    fleet.in_cluster("cluster-2", lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    cluster = register(fleet, "cluster-2")
    with engine():
        wait_for(lambda: synced(cluster), what="synced")
        before = dict(KindSync.objects.filter(cluster=cluster).values_list("kind", "last_list"))
        # Watches resume from their resourceVersion: expire the next one and make every stream reconnect.
        fleet.inject_fault("cluster-2", expire_next_watch=True, close_watches=True)
        wait_for(lambda: any(KindSync.objects.get(cluster=cluster, kind=k).last_list != v
                             for k, v in before.items()), what="a relist")
        fleet.in_cluster("cluster-2", lambda c: c.store.create(SERVICES, {
            "metadata": {"name": "after", "namespace": ns}, "spec": {"ports": [{"port": 1}]}}))
        wait_for(lambda: row(cluster, "Service", "after", ns), what="watching again after the relist")
        wait_for(lambda: synced(cluster), what="synced again")
        after = dict(KindSync.objects.filter(cluster=cluster).values_list("kind", "last_list"))
    relisted = [k for k in before if after[k] != before[k]]
    assert len(relisted) == 1, relisted


def test_relist_removes_objects_deleted_while_not_watching(fleet: Any) -> None:
    ns = unique("relist")
    fleet.in_cluster("cluster-2", lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    for name in ("keep", "drop"):
        fleet.in_cluster("cluster-2", lambda c, n=name: c.store.create(SERVICES, {
            "metadata": {"name": n, "namespace": ns}, "spec": {"ports": [{"port": 1}]}}))
    cluster = register(fleet, "cluster-2")
    with engine():
        wait_for(lambda: synced(cluster) and row(cluster, "Service", "drop", ns), what="synced")
    fleet.in_cluster("cluster-2", lambda c: c.store.delete(SERVICES, ns, "drop"))
    # The stored version is too old now: the next watch fails with 410 and the kind is listed again.
    KindSync.objects.filter(cluster=cluster, kind="Service").update(resource_version="1")
    fleet.inject_fault("cluster-2", expire_next_watch=True)
    with engine():
        wait_for(lambda: row(cluster, "Service", "drop", ns) is None, what="deleted row removed by the relist")
        assert row(cluster, "Service", "keep", ns) is not None


def test_blackhole_goes_unreachable_while_others_stay_live_then_resyncs(fleet: Any) -> None:
    ns = unique("dark")
    fleet.in_cluster("cluster-3", lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    fleet.in_cluster("cluster-1", lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    dark, live = register(fleet, "cluster-3"), register(fleet, "cluster-1")
    sub = Subscriber("fleet")
    try:
        with engine():
            wait_for(lambda: synced(dark) and synced(live), what="both synced")
            fleet.inject_fault("cluster-3", blackhole=True)
            started = time.monotonic()
            wait_for(lambda: Cluster.objects.get(pk=dark.pk).status == "unreachable", timeout=15,
                     what="unreachable")
            took = time.monotonic() - started
            # 2 probes of 1 s timeout at 0.5 s interval: well inside the 30 s promise at production intervals.
            assert took < 6, took
            assert set(KindSync.objects.filter(cluster=dark).values_list("state", flat=True)) == {"unreachable"}
            assert KubeObject.objects.filter(cluster=dark, kind="Node").count() == 3, "last-known rows stay"
            sub.wait(lambda e: e["type"] == "cluster.updated" and e["data"]["id"] == dark.pk
                     and e["data"]["freshness"] == "unreachable", timeout=5)

            # The other cluster stays live meanwhile.
            fleet.in_cluster("cluster-1", lambda c: c.store.create(SERVICES, {
                "metadata": {"name": "still", "namespace": ns}, "spec": {"ports": [{"port": 1}]}}))
            wait_for(lambda: row(live, "Service", "still", ns), timeout=5, what="the live cluster's change")
            assert Cluster.objects.get(pk=live.pk).status == "connected"

            # A change made during the outage arrives after it.
            fleet.in_cluster("cluster-3", lambda c: c.store.create(SERVICES, {
                "metadata": {"name": "during", "namespace": ns}, "spec": {"ports": [{"port": 1}]}}))
            fleet.inject_fault("cluster-3", blackhole=False)
            wait_for(lambda: Cluster.objects.get(pk=dark.pk).status == "connected", timeout=10, what="reconnected")
            wait_for(lambda: row(dark, "Service", "during", ns), timeout=10, what="resync after the outage")
            wait_for(lambda: synced(dark), timeout=10, what="synced after the outage")
    finally:
        sub.close()


def test_unauthorized_token(fleet: Any) -> None:
    cluster = register(fleet, "cluster-2")
    from clusters.kube.connection import Credentials

    cluster.set_credentials(Credentials(token="not-the-token"))
    cluster.save()
    with engine():
        wait_for(lambda: Cluster.objects.get(pk=cluster.pk).status == "unauthorized", what="unauthorized")
        states = set(KindSync.objects.filter(cluster=cluster).values_list("state", flat=True))
        assert states == {"unauthorized"}
        assert "not-the-token" not in Cluster.objects.get(pk=cluster.pk).status_message


def test_two_engines_split_clusters_and_take_over(fleet: Any) -> None:
    clusters = [register(fleet, name) for name in ("cluster-1", "cluster-2", "cluster-3")]
    a = engine("split-a").start()
    b = engine("split-b")
    try:
        b.start()

        def split() -> bool:
            held = dict(WatcherLease.objects.values_list("cluster_id", "holder"))
            return len(held) == 3 and set(held.values()) == {"split-a", "split-b"} and \
                set(a.engine.clusters).isdisjoint(b.engine.clusters) and \
                len(a.engine.clusters) + len(b.engine.clusters) == 3
        wait_for(split, timeout=20, what="clusters split between the two engines")
        wait_for(lambda: all(synced(c) for c in clusters), what="every cluster synced")
        # Stop one without releasing (as if killed): its leases expire and the other takes over.
        a_clusters = set(a.engine.clusters)
        holder_a = a.engine.holder
        a.engine.holder = "split-a-ghost"  # its release at shutdown now misses the real leases
        a.stop()
        from clusters.watcher import leases

        leases.retire(holder_a)
        wait_for(lambda: set(b.engine.clusters) == {c.pk for c in clusters}, timeout=15,
                 what="the survivor takes every cluster")
        assert a_clusters <= set(b.engine.clusters)
        assert set(WatcherLease.objects.values_list("holder", flat=True)) == {"split-b"}
    finally:
        a.stop()
        b.stop()


def test_restart_resumes_from_stored_resource_version(fleet: Any) -> None:
    ns = unique("resume")
    fleet.in_cluster("cluster-1", lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    cluster = register(fleet, "cluster-1")
    with engine():
        wait_for(lambda: synced(cluster), what="synced")
    before = dict(KindSync.objects.filter(cluster=cluster).values_list("kind", "last_list"))
    assert all(KindSync.objects.filter(cluster=cluster).values_list("resource_version", flat=True))
    fleet.in_cluster("cluster-1", lambda c: c.store.create(SERVICES, {
        "metadata": {"name": "while-down", "namespace": ns}, "spec": {"ports": [{"port": 1}]}}))
    with engine("test-b"):
        wait_for(lambda: row(cluster, "Service", "while-down", ns), what="the change made while stopped")
        after = dict(KindSync.objects.filter(cluster=cluster).values_list("kind", "last_list"))
    assert after == before, "no kind was listed again"


def test_disabled_and_deleted_clusters_stop_being_watched(fleet: Any) -> None:
    one, two = register(fleet, "cluster-1"), register(fleet, "cluster-2")
    with engine() as runner:
        wait_for(lambda: set(runner.engine.clusters) == {one.pk, two.pk}, what="both watched")
        Cluster.objects.filter(pk=one.pk).update(enabled=False)
        # Deleted as clusters.actions.delete_cluster does: the row locked first, so the watcher's
        # writes for it wait and then fail (and are dropped) instead of racing the cascade.
        with transaction.atomic():
            Cluster.objects.select_for_update().get(pk=two.pk).delete()
        wait_for(lambda: not runner.engine.clusters, timeout=5, what="no cluster watched")
        assert not WatcherLease.objects.exists()


def test_runwatchers_command_syncs_and_stops_on_sigterm(fleet: Any) -> None:
    cluster = register(fleet, "cluster-2")
    env = backend_env()
    proc = subprocess.Popen([sys.executable, "manage.py", "runwatchers", "--holder", "smoke"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: synced(cluster) or proc.poll() is not None, timeout=30, what="command synced")
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert WatcherLease.objects.get(cluster=cluster).holder == "smoke"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()
    assert b"watcher stopped" in out
    assert not WatcherLease.objects.exists(), "the lease is released on SIGTERM"
    token = fleet.cluster("cluster-2").token
    assert token not in out.decode()


def test_an_engine_that_does_not_stop_in_time_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A survivor would keep its leases and connections into the next test: stop() says so, with
    where its threads are, instead of returning as if it had stopped."""
    runner = engine("slow-stop")
    shutdown = runner.engine._shutdown

    async def slow(tasks: list[Any]) -> None:
        await asyncio.sleep(2)
        await shutdown(tasks)

    monkeypatch.setattr(runner.engine, "_shutdown", slow)
    runner.start()
    with pytest.raises(RuntimeError, match=r"'slow-stop' did not stop within 0.5 s(.|\n)*engine-slow-stop"):
        runner.stop(timeout=0.5)
    runner.stop()  # it ends once its (slow) shutdown is done
    assert not runner.alive
    assert not WatcherLease.objects.filter(holder="slow-stop").exists()
