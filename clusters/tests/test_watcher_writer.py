"""The watcher's database writer and summary on their own (real PostgreSQL, no cluster): ordering
inside a batch, list boundaries, resourceVersions stored with their rows, state words, the
summary figures and freshness, and writes of a cluster deleted mid-flight."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from clusters.models import Cluster, KindSync, KubeObject, WatcherLease
from clusters.tests.helpers import node, pod
from clusters.watcher.config import WatcherConfig
from clusters.watcher.projection import project
from clusters.watcher.summary import (
    cluster_row,
    compute_summaries,
    compute_summary,
    freshness,
    refresh_cluster,
    refresh_clusters,
)
from clusters.watcher.writer import (
    BOOKMARK,
    CLUSTER_STATE,
    DELETE,
    KIND_STATE,
    LIST_START,
    LISTED,
    UPSERT,
    DatabaseThread,
    Op,
    apply_batch,
    ensure_kindsyncs,
    refresh_counts,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster() -> Cluster:
    c = Cluster.objects.create(name="w1", server="https://127.0.0.1:6443")
    ensure_kindsyncs(c.pk)
    return c


def svc(name: str, rv: str, ns: str = "default") -> Any:
    return project("Service", {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "uid": name},
                               "spec": {"ports": [{"port": 80}]}})


def test_list_then_events_store_rows_and_versions_together(cluster: Cluster) -> None:
    now = timezone.now()
    cid = cluster.pk
    apply_batch([
        Op(LIST_START, cid, "Service"),
        Op(UPSERT, cid, "Service", row=svc("a", "5")),
        Op(UPSERT, cid, "Service", row=svc("b", "6")),
        Op(LISTED, cid, "Service", rv="10", keys={("default", "a"), ("default", "b")}, at=now),
    ])
    sync = KindSync.objects.get(cluster=cluster, kind="Service")
    assert (sync.state, sync.resource_version, sync.object_count) == ("synced", "10", 2)
    assert sync.last_list == now

    # In one batch only the last op per object counts; the version moves to the last event.
    changes = apply_batch([
        Op(UPSERT, cid, "Service", row=svc("c", "11"), rv="11", at=now),
        Op(DELETE, cid, "Service", row=svc("c", "12"), rv="12", at=now),
        Op(UPSERT, cid, "Service", row=svc("a", "13"), rv="13", at=now),
        Op(BOOKMARK, cid, "Service", rv="20", at=now),
    ])
    names = set(KubeObject.objects.filter(cluster=cluster, kind="Service").values_list("name", flat=True))
    assert names == {"a", "b"}
    assert KubeObject.objects.get(cluster=cluster, kind="Service", name="a").resource_version == "13"
    assert KindSync.objects.get(cluster=cluster, kind="Service").resource_version == "20"
    assert set(changes.upserts[(cid, "Service")]) == {("default", "a")}
    assert changes.deletes[(cid, "Service")] == {("default", "c")}


def test_a_relist_removes_what_it_did_not_return(cluster: Cluster) -> None:
    cid = cluster.pk
    apply_batch([Op(UPSERT, cid, "Service", row=svc(n, "1")) for n in ("a", "b", "c")])
    changes = apply_batch([
        Op(LIST_START, cid, "Service"),
        Op(UPSERT, cid, "Service", row=svc("a", "2")),
        Op(LISTED, cid, "Service", rv="30", keys={("default", "a")}, at=timezone.now()),
    ])
    assert list(KubeObject.objects.filter(cluster=cluster, kind="Service").values_list("name", flat=True)) == ["a"]
    assert changes.deletes[(cid, "Service")] == {("default", "b"), ("default", "c")}
    assert (cid, "Service") in changes.relisted


def test_a_relist_rewrites_only_what_changed(cluster: Cluster) -> None:
    cid = cluster.pk
    apply_batch([Op(UPSERT, cid, "Service", row=svc(n, "1")) for n in ("a", "b")])
    before = dict(KubeObject.objects.filter(cluster=cluster).values_list("name", "updated"))
    changes = apply_batch([
        Op(LIST_START, cid, "Service"),
        Op(UPSERT, cid, "Service", row=svc("a", "1")),  # unchanged
        Op(UPSERT, cid, "Service", row=svc("b", "2")),  # changed while we were not watching
        Op(LISTED, cid, "Service", rv="40", keys={("default", "a"), ("default", "b")}, at=timezone.now()),
    ])
    after = dict(KubeObject.objects.filter(cluster=cluster).values_list("name", "updated"))
    assert after["a"] == before["a"]
    assert after["b"] > before["b"]
    assert set(changes.upserts[(cid, "Service")]) == {("default", "b")}
    assert KindSync.objects.get(cluster=cluster, kind="Service").object_count == 2


def test_states_unreachable_then_connected(cluster: Cluster) -> None:
    cid = cluster.pk
    apply_batch([Op(LISTED, cid, "Node", rv="1", keys=set(), at=timezone.now())])
    apply_batch([Op(CLUSTER_STATE, cid, state="unreachable", message="no answer")])
    cluster.refresh_from_db()
    assert cluster.status == "unreachable"
    assert cluster.status_message == "no answer"
    assert set(KindSync.objects.filter(cluster=cluster).values_list("state", flat=True)) == {"unreachable"}
    assert freshness(cluster, KindSync.objects.filter(cluster=cluster)) == "unreachable"
    apply_batch([Op(CLUSTER_STATE, cid, state="connected", message="v1.32.4")])
    cluster.refresh_from_db()
    # The outage's message goes; a status message is never left empty.
    assert (cluster.status, cluster.kubernetes_version, cluster.status_message) == (
        "connected", "v1.32.4", "Connected: Kubernetes v1.32.4.")
    assert KindSync.objects.get(cluster=cluster, kind="Node").state == "synced", "it had been listed"
    assert KindSync.objects.get(cluster=cluster, kind="Pod").state == "syncing", "never listed"
    # A kind that keeps failing is stale until its next event.
    apply_batch([Op(KIND_STATE, cid, "Node", state="stale", message="watch keeps failing")])
    assert KindSync.objects.get(cluster=cluster, kind="Node").state == "stale"
    changes = apply_batch([Op(BOOKMARK, cid, "Node", rv="2", at=timezone.now())])
    node_sync = KindSync.objects.get(cluster=cluster, kind="Node")
    assert (node_sync.state, node_sync.message) == ("synced", "")
    assert cid in changes.status_changed, "stale -> synced is a state change (cluster.updated follows)"
    # A reopened watch is recorded as a bookmark without a version: heard from, version kept.
    changes = apply_batch([Op(BOOKMARK, cid, "Node", at=timezone.now())])
    node_sync = KindSync.objects.get(cluster=cluster, kind="Node")
    assert (node_sync.state, node_sync.resource_version) == ("synced", "2")
    assert node_sync.last_event is not None
    assert timezone.now() - node_sync.last_event < datetime.timedelta(seconds=5)
    assert cid not in changes.status_changed


def test_summary_freshness_and_row(cluster: Cluster) -> None:
    cid = cluster.pk
    ops = [Op(UPSERT, cid, "Node", row=node("n1")), Op(UPSERT, cid, "Node", row=node("n2", ready=False)),
           Op(UPSERT, cid, "Pod", row=pod("p1", "Running", "500m")),
           Op(UPSERT, cid, "Pod", row=pod("p2", "Succeeded", "2")),
           Op(UPSERT, cid, "Pod", row=pod("p3", "Pending", "250m")),
           Op(UPSERT, cid, "Service", row=svc("s", "1"))]
    apply_batch(ops)
    summary = compute_summary(cid)
    assert summary["nodes_total"] == 2
    assert summary["nodes_ready"] == 1
    assert summary["services"] == 1
    assert summary["cpu"] == {"capacity": 8.0, "allocatable": 6.0, "requested": 0.75}
    assert summary["memory"]["capacity"] == 16 * 1024**3
    assert summary["memory"]["requested"] == 2 * 1024**3
    assert summary["pods"] == {"running": 1, "total": 3, "capacity": 200}
    assert summary["disk"] == {"capacity": 20 * 1024**3, "allocatable": 0}

    now = timezone.now()
    for sync in KindSync.objects.filter(cluster=cluster):
        apply_batch([Op(LISTED, cid, sync.kind, rv="1", keys=set(KubeObject.objects.filter(
            cluster=cluster, kind=sync.kind).values_list("namespace", "name")), at=now)])
    refreshed = refresh_cluster(cid)
    assert refreshed is not None
    assert refreshed.status == "connected"
    assert refreshed.summary == summary
    assert refreshed.last_sync == now
    syncs = list(KindSync.objects.filter(cluster=cluster))
    assert freshness(refreshed, syncs, now=now) == "stale", "synced, but no live watcher holds it"
    WatcherLease.objects.create(cluster=refreshed, holder="t", expires=now + datetime.timedelta(seconds=30))
    assert freshness(refreshed, syncs, now=now) == "fresh"
    # Fresh while each kind was heard from (event, bookmark or watch renewal) within the limit.
    limit = WatcherConfig.from_settings().fresh_limit
    later = now + datetime.timedelta(seconds=limit - 1)
    assert freshness(refreshed, syncs, now=later, watched=True) == "fresh"
    assert freshness(refreshed, syncs, now=now + datetime.timedelta(hours=1), watched=True) == "stale"
    row = cluster_row(refreshed, syncs, detail=True)
    assert row["freshness"] == "fresh"
    assert len(row["syncs"]) == 17
    assert "credentials_encrypted" not in row


@pytest.mark.django_db(transaction=True)  # foreign keys are checked at commit (deferred)
def test_writes_of_a_deleted_cluster_are_dropped(cluster: Cluster) -> None:
    other = Cluster.objects.create(name="w2", server="https://127.0.0.1:6444")
    ensure_kindsyncs(other.pk)
    gone = cluster.pk
    cluster.delete()
    apply_batch([Op(UPSERT, gone, "Service", row=svc("x", "1")), Op(UPSERT, other.pk, "Service", row=svc("y", "1"))])
    assert list(KubeObject.objects.values_list("name", flat=True)) == ["y"]


@pytest.mark.django_db(transaction=True)
def test_a_connection_left_without_autocommit_is_replaced_before_the_next_batch(django_db_blocker: Any) -> None:
    """Seen in CI: a watcher engine that outlived its test was refused database access (pytest-django
    blocks it between tests) right after a COMMIT, as Django turned autocommit back on. Django then
    took every later batch for a nested block: a savepoint in a transaction nobody committed, which
    held its locks for the rest of the run. A watcher database thread starts a new connection."""
    c = Cluster.objects.create(name="w-autocommit", server="https://127.0.0.1:6445")
    ensure_kindsyncs(c.pk)

    def refused_after_commit() -> tuple[bool, bool]:
        block = transaction.atomic()
        block.__enter__()
        KindSync.objects.filter(cluster=c, kind="Service").update(state="listing")
        with django_db_blocker.block(), pytest.raises(RuntimeError):
            block.__exit__(None, None, None)  # COMMIT done; turning autocommit back on is refused
        return connection.autocommit, connection.in_atomic_block

    thread = DatabaseThread("test-writer")
    try:
        # The state is left behind, in the thread's own connection...
        assert thread.submit(refused_after_commit).result(10) == (False, False)
        # ...and the next batch on that thread is committed all the same.
        thread.submit(apply_batch, [Op(LISTED, c.pk, "Service", rv="7", keys=set(), at=timezone.now())]).result(10)
        assert thread.submit(lambda: (connection.autocommit, connection.in_atomic_block)).result(10) == (True, False)
    finally:
        thread.submit(lambda: connection.close()).result(10)
        thread.shutdown()
    # Seen from this thread's connection: only what was committed.
    assert KindSync.objects.values_list("state", "resource_version").get(cluster=c, kind="Service") == ("synced", "7")


def test_a_batch_refresh_agrees_with_one_cluster_at_a_time(cluster: Cluster) -> None:
    """The watcher refreshes its due clusters in one batch (``refresh_clusters``): the same figures,
    status and last sync as ``refresh_cluster`` per cluster, a cluster without rows included, and a
    deleted one left out."""
    empty = Cluster.objects.create(name="w2", server="https://127.0.0.1:6444")
    ensure_kindsyncs(empty.pk)
    cid = cluster.pk
    now = timezone.now()
    apply_batch([Op(UPSERT, cid, "Node", row=node("n1")), Op(UPSERT, cid, "Pod", row=pod("p1", "Running", "500m"))])
    for sync in KindSync.objects.filter(cluster=cluster):
        apply_batch([Op(LISTED, cid, sync.kind, rv="1", keys=set(KubeObject.objects.filter(
            cluster=cluster, kind=sync.kind).values_list("namespace", "name")), at=now)])
    batch = refresh_clusters([cid, empty.pk, 999_999])
    assert set(batch) == {cid, empty.pk}
    assert compute_summaries([cid, empty.pk]) == {cid: compute_summary(cid), empty.pk: compute_summary(empty.pk)}
    assert batch[empty.pk][0].summary == compute_summary(empty.pk)
    assert batch[empty.pk][0].summary["pods"] == {"running": 0, "total": 0, "capacity": 0}
    refreshed, syncs = batch[cid]
    assert [s.kind for s in syncs] == sorted(s.kind for s in syncs)
    assert Cluster.objects.get(pk=cid).summary == refreshed.summary == compute_summary(cid)
    assert refreshed.summary["pods"]["running"] == 1
    assert (refreshed.status, refreshed.last_sync) == ("connected", now)
    again = refresh_cluster(cid)
    assert again is not None
    assert again.summary == refreshed.summary


@pytest.mark.django_db(transaction=True)  # the lock is held by another connection: rows must be committed
def test_object_counts_skip_a_row_a_write_holds_and_count_it_next_time() -> None:
    """The summary thread's count refresh waits for no lock. A writer holding a KindSync row (its
    batch is updating the kind) and the refresh updating many rows had deadlocked: PostgreSQL broke
    it after a second, and the read model stalled. Now the held row is skipped, returned, and
    counted at the next refresh; the others are counted at once."""
    import psycopg

    c = Cluster.objects.create(name="w-counts", server="https://127.0.0.1:6446")
    ensure_kindsyncs(c.pk)
    apply_batch([Op(UPSERT, c.pk, "Service", row=svc(f"s{i}", str(i))) for i in range(3)]
                + [Op(UPSERT, c.pk, "Node", row=node("n1"))])
    KindSync.objects.filter(cluster=c).update(object_count=0)
    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], host=db["HOST"], port=db["PORT"], user=db["USER"],
                         password=db["PASSWORD"]) as other:
        other.execute("SELECT 1 FROM clusters_kindsync WHERE cluster_id = %s AND kind = 'Service' FOR UPDATE", [c.pk])
        with connection.cursor() as cursor:  # a refresh that waited would fail here, not hang the test
            cursor.execute("SET lock_timeout = '3s'")
        started = time.monotonic()
        try:
            skipped = refresh_counts([(c.pk, "Service"), (c.pk, "Node"), (c.pk, "NoSuchKind")])
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        assert time.monotonic() - started < 1.0  # not waited for
        assert skipped == {(c.pk, "Service")}  # held; a kind without a row is not returned
        assert dict(KindSync.objects.filter(cluster=c, kind__in=["Service", "Node"]).values_list(
            "kind", "object_count")) == {"Service": 0, "Node": 1}
        other.rollback()
    assert refresh_counts(skipped) == set()
    assert KindSync.objects.get(cluster=c, kind="Service").object_count == 3
