"""Cluster figures, freshness and status derived from the read model.

The cluster list shows per cluster: nodes ready/total, services, workloads, CPU, memory, disk and
pods (``Cluster.summary``), when the watcher last heard from it (``last_sync``) and how fresh the
data is. These are facts about the read model, so they are computed from it here, in one place,
by the watcher after it writes and by the API whenever it needs them (``refresh_cluster``).
Shapes follow ``docs/clusters-api.md``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.utils import timezone

from clusters.freshness import cluster_word, kind_state, list_state
from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, ClusterStatus, KindSync, SyncState, WatcherLease

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob")
OWNED_WORKLOAD_KINDS = ("ReplicaSet", "Job")  # counted as workloads only when nothing owns them
TERMINATED_PHASES = ("Succeeded", "Failed")

_SUMMARY_SQL = """
SELECT
  count(*) FILTER (WHERE kind = 'Node'),
  count(*) FILTER (WHERE kind = 'Node' AND data->>'ready' = 'true'),
  count(*) FILTER (WHERE kind = 'Service'),
  count(*) FILTER (WHERE kind IN ('Deployment', 'StatefulSet', 'DaemonSet', 'CronJob')
                    OR (kind IN ('ReplicaSet', 'Job')
                        AND (data->'owner' IS NULL OR data->'owner' = 'null'::jsonb))),
  coalesce(sum((data->'capacity'->>'cpu')::float8) FILTER (WHERE kind = 'Node'), 0),
  coalesce(sum((data->'allocatable'->>'cpu')::float8) FILTER (WHERE kind = 'Node'), 0),
  coalesce(sum((data->'capacity'->>'memory')::numeric) FILTER (WHERE kind = 'Node'), 0),
  coalesce(sum((data->'allocatable'->>'memory')::numeric) FILTER (WHERE kind = 'Node'), 0),
  coalesce(sum((data->'capacity'->>'ephemeral_storage')::numeric) FILTER (WHERE kind = 'Node'), 0),
  coalesce(sum((data->'allocatable'->>'ephemeral_storage')::numeric) FILTER (WHERE kind = 'Node'), 0),
  coalesce(sum((data->'allocatable'->>'pods')::numeric) FILTER (WHERE kind = 'Node'), 0),
  count(*) FILTER (WHERE kind = 'Pod' AND phase = 'Running'),
  count(*) FILTER (WHERE kind = 'Pod'),
  coalesce(sum((data->'requests'->>'cpu')::float8)
           FILTER (WHERE kind = 'Pod' AND phase NOT IN ('Succeeded', 'Failed')), 0),
  coalesce(sum((data->'requests'->>'memory')::numeric)
           FILTER (WHERE kind = 'Pod' AND phase NOT IN ('Succeeded', 'Failed')), 0),
  count(*) FILTER (WHERE kind = 'Pod' AND (data->>'status_text' = 'CrashLoopBackOff'
                                           OR data->'containers' @> '[{"reason": "CrashLoopBackOff"}]'::jsonb)),
  count(*) FILTER (WHERE kind = 'Pod' AND phase = 'Pending')
FROM clusters_kubeobject
WHERE cluster_id = ANY(%s)
  AND kind IN ('Node', 'Service', 'Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'ReplicaSet', 'Job')
GROUP BY cluster_id
"""
_NO_ROWS = (0,) * 17  # a cluster without any of those rows


def compute_summary(cluster_id: int) -> dict[str, Any]:
    """The ``summary`` object of the contract, from the cluster's rows (one query)."""
    return compute_summaries([cluster_id])[cluster_id]


def compute_summaries(cluster_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """:func:`compute_summary` of several clusters in one query (the watcher refreshes a batch)."""
    ids = sorted(set(cluster_ids))
    with connection.cursor() as cursor:
        cursor.execute("SELECT cluster_id," + _SUMMARY_SQL.lstrip().removeprefix("SELECT"), [ids])
        found = {int(r[0]): tuple(r[1:]) for r in cursor.fetchall()}
    return {cluster_id: _summary(found.get(cluster_id, _NO_ROWS)) for cluster_id in ids}


def _summary(r: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "nodes_ready": int(r[1]),
        "nodes_total": int(r[0]),
        "services": int(r[2]),
        "workloads": int(r[3]),
        "cpu": {"capacity": round(float(r[4]), 3), "allocatable": round(float(r[5]), 3),
                "requested": round(float(r[13]), 3)},
        "memory": {"capacity": int(r[6]), "allocatable": int(r[7]), "requested": int(r[14])},
        "disk": {"capacity": int(r[8]), "allocatable": int(r[9])},
        "pods": {"running": int(r[11]), "total": int(r[12]), "capacity": int(r[10])},
        # What needs a look, for the list's health column (issue 22).
        "health": {"nodes_not_ready": int(r[0]) - int(r[1]), "pods_crashlooping": int(r[15]),
                   "pods_pending": int(r[16])},
    }


def derive_status(current: str, *, enabled: bool, states: Iterable[str], listed: bool) -> str:
    """Cluster status as the read model shows it: unreachable and unauthorized when every kind is;
    a pending (or re-enabled) cluster the watcher has listed is connected; otherwise the word the
    watcher or the registration check last wrote stands (``error`` among them)."""
    states = [s for s in states if s != SyncState.FORBIDDEN]  # what the identity may not read says nothing
    if not enabled:
        return str(ClusterStatus.DISABLED)
    if states and all(s == SyncState.UNREACHABLE for s in states):
        return str(ClusterStatus.UNREACHABLE)
    if states and all(s == SyncState.UNAUTHORIZED for s in states):
        return str(ClusterStatus.UNAUTHORIZED)
    if current in (ClusterStatus.UNREACHABLE, ClusterStatus.UNAUTHORIZED) and states:
        # No longer every kind: the cluster answers again.
        return str(ClusterStatus.CONNECTED if listed else ClusterStatus.PENDING)
    if current in (ClusterStatus.PENDING, ClusterStatus.DISABLED) and listed:
        return str(ClusterStatus.CONNECTED)
    return current


def freshness(
    cluster: Cluster, syncs: Iterable[KindSync], *, now: datetime.datetime | None = None,
    fresh_seconds: float | None = None, watched: bool | None = None,
) -> str:
    """``fresh`` | ``syncing`` | ``stale`` | ``unreachable`` for the cluster row: the rule of
    :mod:`clusters.freshness` over every kind (what :func:`clusters.readmodel.cluster_freshness`
    computes for the API). ``watched`` (a live lease) is looked up when not given."""
    if fresh_seconds is None:
        from clusters.watcher.config import WatcherConfig

        fresh_seconds = WatcherConfig.from_settings().fresh_limit
    now = now or timezone.now()
    syncs = list(syncs)
    if watched is None:
        watched = WatcherLease.objects.filter(cluster_id=cluster.pk, expires__gt=now).exists()
    state = list_state([(s.state, s.last_event) for s in syncs], missing=len(syncs) < len(WATCHED_KINDS),
                       cluster_status=cluster.status, enabled=cluster.enabled, watched=watched, now=now,
                       limit=fresh_seconds)
    return cluster_word(state)


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def sync_row(sync: KindSync, state: str | None = None) -> dict[str, Any]:
    return {"kind": sync.kind, "state": state or sync.state, "last_event": _iso(sync.last_event),
            "object_count": sync.object_count, "message": sync.message, "code": sync.code,
            "relists": sync.relists, "last_relist_reason": sync.last_relist_reason,
            "last_relist_at": _iso(sync.last_relist_at)}


def cluster_row(cluster: Cluster, syncs: Iterable[KindSync] | None = None, *, detail: bool = False,
                watched: bool | None = None) -> dict[str, Any]:
    """A cluster as in the list of the contract (``cluster.updated`` carries this); never credentials.
    ``watched`` (a live lease on the cluster) is looked up when not given (the watcher knows it)."""
    from clusters.watcher.config import WatcherConfig

    syncs = list(syncs) if syncs is not None else list(KindSync.objects.filter(cluster=cluster).order_by("kind"))
    now, limit = timezone.now(), WatcherConfig.from_settings().fresh_limit
    if watched is None:
        watched = WatcherLease.objects.filter(cluster_id=cluster.pk, expires__gt=now).exists()
    row: dict[str, Any] = {
        "id": cluster.pk, "name": cluster.name, "display_name": cluster.display_name,
        "description": cluster.description, "provider": cluster.provider, "region": cluster.region,
        "stage": cluster.stage, "labels": cluster.labels, "server": cluster.server,
        "auth_method": cluster.auth_method, "enabled": cluster.enabled, "status": cluster.status,
        "status_message": cluster.status_message, "status_code": cluster.status_code,
        "kubernetes_version": cluster.kubernetes_version, "missing_permissions": cluster.missing_permissions,
        "namespaces": cluster.namespaces, "last_checked": _iso(cluster.last_checked),
        "last_sync": _iso(cluster.last_sync),
        "freshness": freshness(cluster, syncs, now=now, fresh_seconds=limit, watched=watched),
        "summary": cluster.summary, "created": _iso(cluster.created),
    }
    if detail:
        row["syncs"] = [sync_row(s, kind_state(s.state, s.last_event, now=now, limit=limit, watched=watched))
                        for s in syncs]
    return row


def refresh_cluster(cluster_id: int, *, status_message: str | None = None,
                    syncs: list[KindSync] | None = None) -> Cluster | None:
    """Recompute ``summary``, ``last_sync`` and ``status`` of one cluster from the read model and save
    the fields that changed. Returns the cluster (None if it was deleted). ``syncs``: the cluster's
    KindSync rows if the caller has just read them."""
    cluster = next(iter(Cluster.objects.filter(pk=cluster_id)), None)
    if cluster is None:
        return None
    if syncs is None:
        syncs = list(KindSync.objects.filter(cluster_id=cluster_id))
    return _refreshed(cluster, syncs, compute_summary(cluster_id), status_message)


def refresh_clusters(cluster_ids: Iterable[int]) -> dict[int, tuple[Cluster, list[KindSync]]]:
    """:func:`refresh_cluster` for a batch, with three reads in all instead of three per cluster
    (the watcher refreshes about twenty clusters at a time under load; each read's ORM work cost
    it more than PostgreSQL's). Returns each cluster still there with its KindSync rows, in kind
    order, for :func:`cluster_row`."""
    ids = sorted(set(cluster_ids))
    if not ids:
        return {}
    syncs: dict[int, list[KindSync]] = {cluster_id: [] for cluster_id in ids}
    for sync in KindSync.objects.filter(cluster_id__in=ids).order_by("cluster_id", "kind"):
        syncs[sync.cluster_id].append(sync)
    summaries = compute_summaries(ids)
    return {cluster.pk: (_refreshed(cluster, syncs[cluster.pk], summaries[cluster.pk], None), syncs[cluster.pk])
            for cluster in Cluster.objects.filter(pk__in=ids)}


def _refreshed(cluster: Cluster, syncs: list[KindSync], summary: dict[str, Any], status_message: str | None) -> Cluster:
    """Save the fields of ``cluster`` that its read model (``syncs``, ``summary``) changes."""
    cluster_id = cluster.pk
    last_sync = max((s.last_event for s in syncs if s.last_event is not None), default=None)
    status = derive_status(cluster.status, enabled=cluster.enabled, states=[s.state for s in syncs],
                           listed=any(s.last_list is not None and s.state in (SyncState.SYNCED, SyncState.STALE,
                                                                              SyncState.SYNCING) for s in syncs))
    changes: dict[str, Any] = {}
    if summary != cluster.summary:
        changes["summary"] = summary
    if last_sync != cluster.last_sync:
        changes["last_sync"] = last_sync
    if status != cluster.status:
        changes["status"] = status
    if status_message is not None and status_message != cluster.status_message:
        changes["status_message"] = status_message
    elif status == ClusterStatus.CONNECTED and cluster.status != ClusterStatus.CONNECTED:
        # The outage's message goes, but a status message is never left empty.
        changes["status_message"], changes["status_code"] = "Connected.", "connected"
    if changes:
        # update(), not save(): the API may be changing other fields of the row at the same time.
        Cluster.objects.filter(pk=cluster_id).update(**changes)
        for key, value in changes.items():
            setattr(cluster, key, value)
    return cluster
