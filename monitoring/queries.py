"""Reads: chart series per level and top-N from the sample tables (issue 14, CHARTS; docs/charts-api.md).

* :func:`series_for` resolves a chart's scope to ``MetricSeries`` ids (the fleet: every cluster
  series; a workspace: its namespace series on every cluster; a container of a one-container pod:
  the pod's series, since the collector writes no container row for it).
* :func:`run` executes the bucketed statement :mod:`monitoring.charts` built for those ids: one
  statement per chart, bucketed in SQL over the ``(series_id, ts)`` index of each partition, so a
  chart costs the rows of its series in its window and nothing else.
* :func:`top` answers the top-N lists from the newest raw samples of each cluster in the caller's
  scope (one index probe per series at that cluster's newest ``ts``).

Nothing here checks access: the view resolves what the caller may see first
(:mod:`monitoring.access`) and passes ids and names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q

from clusters.models import Cluster
from monitoring.models import Level, MetricSeries, RollupState
from portal import errors

ROLLUP_TARGETS = ("5m", "1h", "point_5m", "point_1h")


@dataclass(frozen=True)
class SeriesSet:
    """The series answering a chart. ``workload_kind``/``workload_name``: a pod's (or container's)
    top owner, for its markers; ``fallback``: ``"pod"`` when a container chart is the pod's."""

    ids: list[int] = field(default_factory=list)
    workload_kind: str = ""
    workload_name: str = ""
    fallback: str | None = None


def _ids(qs: Any) -> list[int]:
    return [int(pk) for pk in qs.order_by("pk").values_list("pk", flat=True)]


def series_for(level: str, *, cluster_id: int | None = None, node: str = "", workspace_id: int | None = None,
               namespace: str = "", workload_kind: str = "", workload_name: str = "", pod: str = "",
               container: str = "") -> SeriesSet:
    """The series of a chart at ``level`` (``servicemap``: its cluster and namespace)."""
    series = MetricSeries.objects.all()
    if level == "fleet":
        # through the clusters: the (cluster, level, …) index, not a scan of every series
        return SeriesSet(_ids(series.filter(cluster_id__in=Cluster.objects.values("pk"), level=Level.CLUSTER)))
    if level == "cluster":
        return SeriesSet(_ids(series.filter(Q(level=Level.CLUSTER, cluster_id=cluster_id))))
    if level == "node":
        return SeriesSet(_ids(series.filter(Q(level=Level.NODE, cluster_id=cluster_id, name=node))))
    if level == "workspace":
        return SeriesSet(_ids(series.filter(Q(level=Level.NAMESPACE, workspace_id=workspace_id))))
    if level == "servicemap":
        return SeriesSet(_ids(series.filter(Q(level=Level.NAMESPACE, cluster_id=cluster_id, namespace=namespace))))
    if level == "workload":
        return SeriesSet(_ids(series.filter(Q(level=Level.WORKLOAD, cluster_id=cluster_id, namespace=namespace,
                                              workload_kind=workload_kind, name=workload_name))),
                         workload_kind=workload_kind, workload_name=workload_name)
    pod_row = (series.filter(Q(level=Level.POD, cluster_id=cluster_id, namespace=namespace, name=pod))
               .values("pk", "workload_kind", "workload_name").first())
    owner = {"workload_kind": pod_row["workload_kind"], "workload_name": pod_row["workload_name"]} if pod_row else {}
    pod_ids = [int(pod_row["pk"])] if pod_row else []
    if level == "pod":
        return SeriesSet(pod_ids, **owner)
    if level != "container":
        raise ValueError(f"unknown level {level!r}")
    containers = list(series.filter(Q(level=Level.CONTAINER, cluster_id=cluster_id, namespace=namespace, name=pod))
                      .values_list("pk", "container"))
    if not containers:  # a one-container pod: its pod row is its container's
        return SeriesSet(pod_ids, fallback="pod" if pod_ids else None, **owner)
    match = [int(pk) for pk, name in containers if name == container]
    if not match:
        raise errors.NotFound("No such container in this pod.", code="container_not_found",
                              params={"pod": pod, "container": container})
    return SeriesSet(match, **owner)


def watermarks() -> dict[str, datetime | None]:
    """How far each roll-up has aggregated (``done_until``), None for one that never ran: samples
    (``5m``, ``1h``) and points (``point_5m``, ``point_1h``), in one statement."""
    found = dict(RollupState.objects.filter(target__in=ROLLUP_TARGETS).values_list("target", "done_until"))
    return {target: found.get(target) for target in ROLLUP_TARGETS}


def run(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of a statement :func:`monitoring.charts.series_sql` built."""
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def last_sample(ids: Sequence[int], since: datetime) -> datetime | None:
    """The newest raw sample time of ``ids`` after ``since`` (one backwards index probe per series)."""
    if not ids:
        return None
    with connection.cursor() as cur:
        cur.execute(
            """SELECT max(l.ts) FROM unnest(%s::bigint[]) AS k(id)
               CROSS JOIN LATERAL (SELECT ts FROM monitoring_sample s
                                    WHERE s.series_id = k.id AND s.ts >= %s ORDER BY s.ts DESC LIMIT 1) AS l""",
            [list(ids), since])
        row = cur.fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------------------- top-N

# {r} is cpu or mem. Column names are fixed here, never input.
_TOP: dict[str, tuple[str, str, str, str]] = {
    # what: (series level, value, ratio, extra condition)
    "busiest_pods": ("pod", "s.{r}_usage", "s.{r}_usage / nullif(s.{r}_request, 0)", "s.{r}_usage IS NOT NULL"),
    "pods_near_limit": ("pod", "s.{r}_usage", "s.{r}_usage / nullif(s.{r}_limit, 0)",
                        "s.{r}_limit > 0 AND s.{r}_usage IS NOT NULL"),
    "nodes_fullest": ("node", "s.{r}_request", "s.{r}_request / nullif(s.{r}_allocatable, 0)",
                      "s.{r}_allocatable > 0"),
}
_ORDER = {"busiest_pods": "value", "pods_near_limit": "ratio", "nodes_fullest": "ratio"}


def top(what: str, *, resource: str, limit: int, now: datetime, fresh_seconds: float,
        cluster_ids: Sequence[int] | None = None, workspace_id: int | None = None,
        namespace: str | None = None) -> list[dict[str, Any]]:
    """The top ``limit`` pods or nodes of ``what`` in the newest raw samples of each cluster
    (newer than ``fresh_seconds`` ago; a cluster not sampled since is left out). ``cluster_ids``
    None: every cluster; ``workspace_id``: that workspace's pods; ``namespace`` (with one cluster):
    one service map's pods."""
    r = "cpu" if resource == "cpu" else "mem"
    level, value_sql, ratio_sql, condition_sql = _TOP[what]
    value, ratio, condition = (text.format(r=r) for text in (value_sql, ratio_sql, condition_sql))
    where = ["m.level = %(level)s", condition]
    params: dict[str, Any] = {"level": level, "since": now - timedelta(seconds=fresh_seconds), "limit": limit}
    clusters = "SELECT id FROM clusters_cluster"  # every cluster: through the (cluster, level, …) index
    if cluster_ids is not None:
        clusters = "SELECT unnest(%(clusters)s::bigint[])"
        params["clusters"] = list(cluster_ids)
    if workspace_id is not None:
        where.append("m.workspace_id = %(workspace)s")
        params["workspace"] = workspace_id
    if namespace is not None:
        where.append("m.namespace = %(namespace)s")
        params["namespace"] = namespace
    latest = f"""latest AS MATERIALIZED (
            SELECT c.cluster_id, l.ts FROM monitoring_metricseries c
            CROSS JOIN LATERAL (SELECT ts FROM monitoring_sample s WHERE s.series_id = c.id AND s.ts >= %(since)s
                                 ORDER BY s.ts DESC LIMIT 1) AS l
             WHERE c.level = 'cluster' AND c.cluster_id IN ({clusters}))"""  # noqa: S608
    picked = (f"m.cluster_id, m.namespace, m.name, m.node, m.workload_kind, m.workload_name, s.series_id, s.ts, "
              f"s.{r}_usage, s.{r}_request, s.{r}_limit, s.{r}_allocatable")
    if cluster_ids is None:
        # Every cluster: read the newest rows by time (each partition's BRIN index on ts; rows arrive
        # in time order) joined to their series, rather than probing the (series_id, ts) index once
        # per series of the fleet; then keep each cluster's newest ts. The CTE fixes that join order.
        sql = f"""
        WITH {latest}, newest AS MATERIALIZED (
            SELECT {picked} FROM monitoring_sample s JOIN monitoring_metricseries m ON m.id = s.series_id
             WHERE s.ts >= %(since)s AND s.ts >= (SELECT min(ts) FROM latest)
               AND s.ts <= (SELECT max(ts) FROM latest) AND {' AND '.join(where)})
        SELECT s.cluster_id, cl.name, s.namespace, s.name, s.node, s.workload_kind, s.workload_name, s.ts,
               {value} AS value, {ratio} AS ratio, s.{r}_usage, s.{r}_request, s.{r}_limit, s.{r}_allocatable
          FROM newest s
          JOIN latest ON latest.cluster_id = s.cluster_id AND latest.ts = s.ts
          JOIN clusters_cluster cl ON cl.id = s.cluster_id
         ORDER BY {_ORDER[what]} DESC NULLS LAST, s.series_id
         LIMIT %(limit)s"""  # noqa: S608 (fixed column names only; values are parameters)
    else:  # some clusters: one index probe per series at its cluster's newest ts
        sql = f"""
        WITH {latest}
        SELECT m.cluster_id, cl.name, m.namespace, m.name, m.node, m.workload_kind, m.workload_name, s.ts,
               {value} AS value, {ratio} AS ratio, s.{r}_usage, s.{r}_request, s.{r}_limit, s.{r}_allocatable
          FROM latest
          JOIN monitoring_metricseries m ON m.cluster_id = latest.cluster_id
          JOIN clusters_cluster cl ON cl.id = m.cluster_id
          JOIN monitoring_sample s ON s.series_id = m.id AND s.ts = latest.ts AND s.ts >= %(since)s
         WHERE {' AND '.join(where)}
         ORDER BY {_ORDER[what]} DESC NULLS LAST, m.id
         LIMIT %(limit)s"""  # noqa: S608 (fixed column names only; values are parameters)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    unit = "cores" if resource == "cpu" else "bytes"
    items = []
    for row in rows:
        item: dict[str, Any] = {
            "cluster_id": row[0], "cluster": row[1], "namespace": row[2], "name": row[3],
            "node": row[4] if level == "pod" else row[3], "workload_kind": row[5], "workload_name": row[6],
            "at": int(row[7].timestamp()), "value": row[8], "ratio": row[9], "unit": unit,
            "usage": row[10], "request": row[11], "limit": row[12],
        }
        if level == "node":
            item["allocatable"] = row[13]
            item["usage_ratio"] = (row[10] / row[13]) if row[10] is not None and row[13] else None
        items.append(item)
    return items
