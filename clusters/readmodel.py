"""Read-side helpers over the read model: how fresh a cluster's data is, and per-node figures
aggregated from pods.

Lists must say how fresh they are (stale and unreachable are shown, never hidden), computed from
the watcher's :class:`KindSync` rows and leases by the one rule of :mod:`clusters.freshness`, in
two queries for a whole page of clusters. Nothing here calls a cluster.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, FloatField, Min, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from clusters.freshness import cluster_word, list_state
from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, KindSync, KubeObject, WatcherLease

TERMINAL_POD_PHASES = ("Succeeded", "Failed")


def freshness_limit() -> float:
    """Seconds a synced kind stays fresh without being heard from (the watcher's
    :attr:`~clusters.watcher.config.WatcherConfig.fresh_limit`, so lists and live events agree)."""
    from clusters.watcher.config import WatcherConfig

    return WatcherConfig.from_settings().fresh_limit


def watched_clusters(cluster_ids: Iterable[int], now: datetime) -> set[int]:
    """The clusters a live watcher holds an unexpired lease on (one query)."""
    return set(WatcherLease.objects.filter(cluster_id__in=list(cluster_ids), expires__gt=now)
               .values_list("cluster_id", flat=True))


def kind_freshness(cluster: Cluster, kinds: Iterable[str]) -> dict[str, Any]:
    """``{"state", "last_event"}`` for the listed kind(s) of one cluster, by the rule of
    :mod:`clusters.freshness`, from one query: the kinds' rows and whether a live watcher holds
    the cluster. Every deploy and every look at a rollout asks this, so the SQL is written once
    per process (:func:`_kind_freshness_sql`) instead of compiled by the ORM at each call, which
    cost more CPU than PostgreSQL spends answering."""
    wanted = list(kinds)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_kind_freshness_sql(), [cluster.pk, now, cluster.pk, wanted])
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    watched = bool(rows[0][0]) if rows else False
    syncs = [(state, last_event) for _, kind, state, last_event in rows if kind is not None]
    state = list_state(syncs, missing=len(syncs) < len(wanted), cluster_status=cluster.status,
                       enabled=cluster.enabled, watched=watched, now=now, limit=freshness_limit())
    events: list[datetime] = [last_event for _, last_event in syncs if last_event is not None]
    # The list is as fresh as its stalest kind.
    return {"state": state, "last_event": min(events) if len(events) == len(wanted) else None}


@functools.cache
def _kind_freshness_sql() -> str:
    """(held, kind, state, last_event): one row per KindSync row of the cluster among the kinds,
    or a single row of nulls but ``held`` when there is none. Parameters: cluster id, now,
    cluster id, kinds (a list)."""
    lease, sync = WatcherLease._meta, KindSync._meta

    def col(meta: Any, name: str) -> str:
        return connection.ops.quote_name(meta.get_field(name).column)

    q = connection.ops.quote_name
    # identifiers from the models' own metadata, quoted; every value is a parameter
    sql = (f"SELECT EXISTS (SELECT 1 FROM {q(lease.db_table)} WHERE {col(lease, 'cluster')} = %s "  # noqa: S608
           f"AND {col(lease, 'expires')} > %s), s.{col(sync, 'kind')}, s.{col(sync, 'state')}, "
           f"s.{col(sync, 'last_event')} FROM (SELECT 1) AS one LEFT JOIN {q(sync.db_table)} AS s "
           f"ON s.{col(sync, 'cluster')} = %s AND s.{col(sync, 'kind')} = ANY(%s)")
    return sql


def cluster_freshness(clusters: Iterable[Cluster]) -> dict[int, dict[str, Any]]:
    """Per cluster id: ``{"freshness": fresh|syncing|stale|unreachable, "last_sync"}`` by the same
    rule as the lists (:mod:`clusters.freshness`), over all their kinds, in two queries per page."""
    by_id = {c.pk: c for c in clusters}
    now = timezone.now()
    # One row per (cluster, state), not per kind: a page of 100 clusters has ~1,700 KindSync rows,
    # and the rule only needs, per state, the oldest last_event (null if any kind has none).
    groups: dict[int, list[tuple[str, datetime | None]]] = {pk: [] for pk in by_id}
    counts: dict[int, int] = dict.fromkeys(by_id, 0)
    for row in (KindSync.objects.filter(cluster_id__in=list(by_id)).order_by().values("cluster_id", "state")
                .annotate(oldest=Min("last_event"), n=Count("id"),
                          unheard=Count("id", filter=Q(last_event__isnull=True)))):
        groups[row["cluster_id"]].append((row["state"], None if row["unheard"] else row["oldest"]))
        counts[row["cluster_id"]] += row["n"]
    watched = watched_clusters(by_id, now)
    limit = freshness_limit()
    total = len(WATCHED_KINDS)
    return {pk: {"freshness": cluster_word(list_state(groups[pk], missing=counts[pk] < total,
                                                      cluster_status=c.status, enabled=c.enabled,
                                                      watched=pk in watched, now=now, limit=limit)),
                 "last_sync": c.last_sync,
                 # what a detail's per-kind rows are judged by (the same moment and rule)
                 "rule": {"now": now, "limit": limit, "watched": pk in watched}}
            for pk, c in by_id.items()}


def node_pod_figures(cluster_id: int, node_names: list[str]) -> dict[str, dict[str, Any]]:
    """Per node: ``pod_count`` and summed ``requests`` {cpu, memory} of its non-terminated pods,
    in one grouped query whatever the number of nodes."""
    if not node_names:
        return {}
    rows = (
        KubeObject.objects.filter(cluster_id=cluster_id, kind="Pod", node_name__in=node_names)
        .exclude(phase__in=TERMINAL_POD_PHASES)
        .values("node_name")
        .annotate(
            pod_count=Count("id"),
            cpu=Sum(Cast(KT("data__requests__cpu"), FloatField())),
            memory=Sum(Cast(KT("data__requests__memory"), FloatField())),
        )
    )
    out = {name: {"pod_count": 0, "requests": {"cpu": 0.0, "memory": 0}} for name in node_names}
    for row in rows:
        out[row["node_name"]] = {
            "pod_count": row["pod_count"],
            "requests": {"cpu": round(row["cpu"] or 0.0, 3), "memory": int(row["memory"] or 0)},
        }
    return out
