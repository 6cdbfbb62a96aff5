"""Read-side helpers over the read model: how fresh a cluster's data is, and per-node figures
aggregated from pods.

Lists must say how fresh they are (stale and unreachable are shown, never hidden), computed from
the watcher's :class:`KindSync` rows in one query for a whole page of clusters. Nothing here
calls a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db.models import Count, FloatField, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from clusters.models import Cluster, ClusterStatus, KindSync, KubeObject, SyncState

# Worst first: the state of a list spanning several kinds is the worst of theirs.
_SEVERITY: list[str] = [str(s) for s in (SyncState.UNREACHABLE, SyncState.UNAUTHORIZED, SyncState.STALE,
                                          SyncState.SYNCING, SyncState.SYNCED)]
TERMINAL_POD_PHASES = ("Succeeded", "Failed")


def freshness_window() -> timedelta:
    """A synced kind without an event or bookmark for this long counts as stale (the watcher's
    ``PORTAL_WATCHER_FRESH_SECONDS``, so lists and live events agree)."""
    from clusters.watcher.config import WatcherConfig

    return timedelta(seconds=WatcherConfig.from_settings().fresh_seconds)


def _effective(sync: Any, now: datetime) -> str:
    """The state of one KindSync row (``values()`` dict), with a quiet synced kind as stale."""
    state, last = sync["state"], sync["last_event"]
    if state == SyncState.SYNCED and (last is None or now - last > freshness_window()):
        return str(SyncState.STALE)
    return str(state)


def kind_freshness(cluster: Cluster, kinds: Iterable[str]) -> dict[str, Any]:
    """``{"state", "last_event"}`` for the listed kind(s) of one cluster (one query)."""
    wanted = list(kinds)
    syncs: list[dict[str, Any]] = [dict(row) for row in
             KindSync.objects.filter(cluster=cluster, kind__in=wanted).values("kind", "state", "last_event")]
    now = timezone.now()
    states = [_effective(s, now) for s in syncs]
    if len(syncs) < len(wanted):
        states.append(str(SyncState.SYNCING))  # the watcher has not started this kind yet
    if cluster.status == ClusterStatus.UNREACHABLE:
        states.append(str(SyncState.UNREACHABLE))
    state = min(states, key=_SEVERITY.index) if states else str(SyncState.SYNCING)
    events: list[datetime] = [s["last_event"] for s in syncs if s["last_event"] is not None]
    # The list is as fresh as its stalest kind.
    return {"state": state, "last_event": min(events) if len(events) == len(wanted) else None}


class _SyncView(NamedTuple):
    state: str
    last_event: datetime | None


def cluster_freshness(clusters: Iterable[Cluster]) -> dict[int, dict[str, Any]]:
    """Per cluster id: ``{"freshness": fresh|syncing|stale|unreachable, "last_sync"}``, with the
    watcher's own rule (:func:`clusters.watcher.summary.freshness`, which ``cluster.updated``
    events use too) over all their KindSync rows fetched in one query."""
    from clusters.watcher.summary import freshness

    by_id = {c.pk: c for c in clusters}
    syncs: dict[int, list[Any]] = {pk: [] for pk in by_id}
    # One row per (cluster, state), not per kind: the rule only asks whether any, all or none of
    # a cluster's kinds are in a state, and a page of 100 clusters has ~1,700 KindSync rows.
    for cluster_id, state in (KindSync.objects.filter(cluster_id__in=list(by_id)).order_by()
                              .values_list("cluster_id", "state").distinct()):
        syncs[cluster_id].append(_SyncView(state, None))
    fresh_seconds = freshness_window().total_seconds()
    now = timezone.now()
    return {pk: {"freshness": freshness(c, syncs[pk], now=now, fresh_seconds=fresh_seconds), "last_sync": c.last_sync}
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
