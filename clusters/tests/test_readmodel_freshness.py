"""``clusters.readmodel.kind_freshness`` over real rows: the kinds' sync states and whether a live
watcher holds the cluster, read by one query written once per process, give what the freshness
rule (:func:`clusters.freshness.list_state`) says for those same rows."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clusters.freshness import list_state
from clusters.models import Cluster, KindSync, WatcherLease
from clusters.readmodel import freshness_limit, kind_freshness

pytestmark = pytest.mark.django_db


def _expected(cluster: Cluster, kinds: list[str]) -> dict[str, object]:
    """The rule applied to the rows as the ORM reads them."""
    now = timezone.now()
    rows = list(KindSync.objects.filter(cluster=cluster, kind__in=kinds).values_list("state", "last_event"))
    watched = WatcherLease.objects.filter(cluster=cluster, expires__gt=now).exists()
    state = list_state(rows, missing=len(rows) < len(kinds), cluster_status=cluster.status, enabled=cluster.enabled,
                       watched=watched, now=now, limit=freshness_limit())
    events = [e for _, e in rows if e is not None]
    return {"state": state, "last_event": min(events) if len(events) == len(kinds) else None}


def test_kind_freshness_reads_the_rows_and_the_lease_as_the_rule_wants() -> None:
    cluster = Cluster.objects.create(name="fresh-1", server="https://127.0.0.1:6443")
    other = Cluster.objects.create(name="fresh-2", server="https://127.0.0.1:6444")
    now = timezone.now()
    kinds = ["Deployment", "Service"]

    # nothing yet: no rows, no watcher
    assert kind_freshness(cluster, kinds) == _expected(cluster, kinds) == {"state": "syncing", "last_event": None}
    # a watcher holds the cluster, no rows yet
    WatcherLease.objects.create(cluster=cluster, holder="w", expires=now + datetime.timedelta(seconds=15))
    assert kind_freshness(cluster, kinds) == _expected(cluster, kinds)

    # one kind synced: the other is missing
    KindSync.objects.create(cluster=cluster, kind="Deployment", state="synced", last_event=now)
    assert kind_freshness(cluster, kinds) == _expected(cluster, kinds)
    assert kind_freshness(cluster, kinds)["last_event"] is None
    # both synced and held: synced, as fresh as the stalest kind
    older = now - datetime.timedelta(seconds=30)
    KindSync.objects.create(cluster=cluster, kind="Service", state="synced", last_event=older)
    assert kind_freshness(cluster, kinds) == _expected(cluster, kinds) == {"state": "synced", "last_event": older}
    # another cluster's rows and lease change nothing
    KindSync.objects.create(cluster=other, kind="Deployment", state="unauthorized")
    WatcherLease.objects.create(cluster=other, holder="w", expires=now - datetime.timedelta(seconds=1))
    assert kind_freshness(cluster, kinds)["state"] == "synced"
    # one kind never heard from
    KindSync.objects.filter(cluster=cluster, kind="Service").update(last_event=None)
    assert kind_freshness(cluster, kinds) == _expected(cluster, kinds)
    # the lease ran out: nobody would know of a change
    KindSync.objects.filter(cluster=cluster, kind="Service").update(last_event=older)
    WatcherLease.objects.filter(cluster=cluster).update(expires=now - datetime.timedelta(seconds=1))
    assert kind_freshness(cluster, kinds) == _expected(cluster, kinds)
    assert kind_freshness(cluster, kinds)["state"] != "synced"
    # a kind the cluster was never asked for, and the other cluster alone
    assert kind_freshness(cluster, ["Deployment", "StatefulSet"]) == _expected(cluster, ["Deployment", "StatefulSet"])
    assert kind_freshness(other, kinds) == _expected(other, kinds)
