"""The capacity trend of the operator dashboard: per cluster, the share of allocatable CPU and
memory requested, averaged in buckets over the last hours, from the raw monitoring samples of
the cluster-level series (``monitoring_sample``, kept 24 h; see monitoring/migrations/0002).

One grouped statement for every cluster asked about; a cluster nobody collects gets no points.
Pure read: SQL in, lists of numbers out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

TREND_HOURS = 6
BUCKET_MINUTES = 20

_SQL = """
SELECT s.cluster_id,
       date_bin(%(bucket)s::interval, x.ts, %(origin)s) AS b,
       avg(x.cpu_request / NULLIF(x.cpu_allocatable, 0)),
       avg(x.mem_request / NULLIF(x.mem_allocatable, 0))
FROM monitoring_sample x
JOIN monitoring_metricseries s ON s.id = x.series_id
WHERE s.level = 'cluster' AND s.cluster_id = ANY(%(ids)s) AND x.ts >= %(since)s AND x.ts <= %(now)s
GROUP BY 1, 2
ORDER BY 1, 2
"""


def capacity_trend(cluster_ids: Sequence[int], *, now: datetime) -> dict[int, dict[str, list[Any]]]:
    """``{cluster_id: {"cpu": [[iso, ratio], …], "memory": [...]}}`` over the last TREND_HOURS."""
    if not cluster_ids:
        return {}
    since = now - timedelta(hours=TREND_HOURS)
    with connection.cursor() as cursor:
        cursor.execute(_SQL, {"bucket": f"{BUCKET_MINUTES} minutes", "origin": since, "ids": list(cluster_ids),
                              "since": since, "now": now})
        rows = cursor.fetchall()
    out: dict[int, dict[str, list[Any]]] = {}
    for cluster_id, bucket, cpu, mem in rows:
        series = out.setdefault(int(cluster_id), {"cpu": [], "memory": []})
        stamp = bucket.isoformat().replace("+00:00", "Z")
        if cpu is not None:
            series["cpu"].append([stamp, round(float(cpu), 4)])
        if mem is not None:
            series["memory"].append([stamp, round(float(mem), 4)])
    return out
