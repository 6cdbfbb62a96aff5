"""Fleet tiles: clusters by status and freshness, nodes not ready, API certificates expiring
(admin ``fleet``), clusters worst-first with their freshness (operator ``clusters``), capacity
headroom with its trend (operator ``capacity``) and nodes under pressure (operator ``nodes``).

Read from the clusters app's models and read-side helpers (``clusters.readmodel``: freshness by
the one rule of ``clusters.freshness``), and the monitoring sample tables for the trend
(:mod:`dashboards.tiles.trend`). Queries: one for the clusters, two for freshness, one for the
nodes, one for the trend, whatever the number of clusters.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q

from clusters.access import ClusterAccess
from clusters.models import Cluster, ClusterStatus, KubeObject
from clusters.readmodel import cluster_freshness
from clusters.rows import iso
from dashboards.tiles import (
    ATTENTION_CRITICAL,
    ATTENTION_NONE,
    ATTENTION_NOTICE,
    ATTENTION_WARNING,
    Context,
    Tile,
    oldest,
)
from dashboards.tiles.trend import TREND_HOURS, capacity_trend

CERT_WARN_DAYS = 30
CERT_CRITICAL_DAYS = 7
LIST_MAX = 8
PRESSURE_TYPES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
FRESHNESS_RANK = {"unreachable": 0, "stale": 1, "syncing": 2, "fresh": 3}
STATUS_RANK = {"unreachable": 0, "unauthorized": 1, "error": 2, "pending": 3, "disabled": 4, "connected": 5}


class Fleet:
    """The clusters a user sees with their freshness, read once per request and shared by the
    fleet tiles."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.clusters = list(ClusterAccess().visible(ctx.user).order_by("name").only(
            "id", "name", "display_name", "status", "enabled", "last_sync", "summary", "api_cert_not_after",
            "message_code", "message_params", "status_message"))
        self.fresh = cluster_freshness(self.clusters) if self.clusters else {}

    def freshness(self, cluster: Cluster) -> str:
        return str(self.fresh.get(cluster.pk, {}).get("freshness") or "syncing")

    def as_of(self, clusters: list[Cluster] | None = None) -> Any:
        enabled = [c for c in (self.clusters if clusters is None else clusters) if c.enabled]
        return oldest([c.last_sync for c in enabled], self.ctx.now)

    def worst_first(self) -> list[Cluster]:
        return sorted(self.clusters, key=lambda c: (STATUS_RANK.get(c.status, 9),
                                                    FRESHNESS_RANK.get(self.freshness(c), 9), c.name))

    def ref(self, c: Cluster) -> dict[str, Any]:
        return {"id": c.pk, "name": c.name, "display_name": c.display_name, "status": c.status,
                "freshness": self.freshness(c), "last_sync": iso(c.last_sync),
                "message_code": c.message_code, "message_params": c.message_params or {},
                "link": f"/clusters/{c.pk}"}


def _summary(c: Cluster, *path: str) -> float:
    value: Any = c.summary or {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _counts(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def fleet_tile(ctx: Context, fleet: Fleet) -> Tile:
    """Admin: clusters by status, freshness, nodes not ready, API certificates expiring."""
    by_status = _counts([c.status for c in fleet.clusters])
    by_freshness = _counts([fleet.freshness(c) for c in fleet.clusters if c.enabled])
    nodes_total = int(sum(_summary(c, "nodes_total") for c in fleet.clusters))
    not_ready = int(sum(_summary(c, "health", "nodes_not_ready") for c in fleet.clusters))
    soon = ctx.now + timedelta(days=CERT_WARN_DAYS)
    expiring = sorted((c for c in fleet.clusters if c.api_cert_not_after is not None and c.api_cert_not_after <= soon),
                      key=lambda c: c.api_cert_not_after or ctx.now)
    certificates = [{"id": c.pk, "name": c.name, "not_after": iso(c.api_cert_not_after),
                     "days": int((c.api_cert_not_after - ctx.now).total_seconds() // 86400) if c.api_cert_not_after else 0,
                     "link": f"/clusters/{c.pk}"} for c in expiring[:LIST_MAX]]
    down = by_status.get(str(ClusterStatus.UNREACHABLE), 0) + by_status.get(str(ClusterStatus.UNAUTHORIZED), 0) \
        + by_status.get(str(ClusterStatus.ERROR), 0)
    critical_cert = any(c.api_cert_not_after and c.api_cert_not_after <= ctx.now + timedelta(days=CERT_CRITICAL_DAYS)
                        for c in expiring)
    if down or critical_cert:
        attention = ATTENTION_CRITICAL
    elif not_ready or expiring or by_freshness.get("stale") or by_freshness.get("unreachable"):
        attention = ATTENTION_WARNING
    else:
        attention = ATTENTION_NONE
    worst = [fleet.ref(c) for c in fleet.worst_first()
             if c.status != ClusterStatus.CONNECTED or fleet.freshness(c) != "fresh"][:LIST_MAX]
    link = "/clusters"
    for status in (ClusterStatus.UNREACHABLE, ClusterStatus.UNAUTHORIZED, ClusterStatus.ERROR):
        if by_status.get(str(status)):
            link = f"/clusters?status={status}"
            break
    return Tile(key="fleet", role="admin", attention=attention, as_of=fleet.as_of(), link=link, data={
        "clusters": {"total": len(fleet.clusters), "by_status": by_status, "by_freshness": by_freshness},
        "nodes": {"total": nodes_total, "not_ready": not_ready},
        "certificates": {"within_days": CERT_WARN_DAYS, "expiring": certificates, "count": len(expiring)},
        "attention": worst,
    })


def clusters_tile(ctx: Context, fleet: Fleet) -> Tile:
    """Operator: every cluster worst first with status and freshness (at most LIST_MAX listed)."""
    by_status = _counts([c.status for c in fleet.clusters])
    by_freshness = _counts([fleet.freshness(c) for c in fleet.clusters if c.enabled])
    ordered = fleet.worst_first()
    bad = [c for c in ordered if c.status in (ClusterStatus.UNREACHABLE, ClusterStatus.UNAUTHORIZED, ClusterStatus.ERROR)]
    stale = [c for c in ordered if c.enabled and fleet.freshness(c) in ("stale", "unreachable")]
    attention = ATTENTION_CRITICAL if bad else ATTENTION_WARNING if stale else ATTENTION_NONE
    link = f"/clusters?status={bad[0].status}" if bad else "/clusters"
    return Tile(key="clusters", role="operator", attention=attention, as_of=fleet.as_of(), link=link, data={
        "total": len(fleet.clusters), "by_status": by_status, "by_freshness": by_freshness,
        "clusters": [fleet.ref(c) for c in ordered[:LIST_MAX]],
    })


def _ratio(used: float, total: float) -> float | None:
    return round(used / total, 4) if total > 0 else None


def capacity_tile(ctx: Context, fleet: Fleet) -> Tile:
    """Operator: CPU and memory requested vs allocatable per cluster, tightest first, with the
    requested share over the last hours from the monitoring samples."""
    connected = [c for c in fleet.clusters if c.enabled and _summary(c, "cpu", "allocatable") > 0]
    trend = capacity_trend([c.pk for c in connected], now=ctx.now)
    rows: list[dict[str, Any]] = []
    for c in connected:
        cpu = _ratio(_summary(c, "cpu", "requested"), _summary(c, "cpu", "allocatable"))
        mem = _ratio(_summary(c, "memory", "requested"), _summary(c, "memory", "allocatable"))
        rows.append({
            "id": c.pk, "name": c.name, "freshness": fleet.freshness(c), "last_sync": iso(c.last_sync),
            "cpu": {"requested": _summary(c, "cpu", "requested"), "allocatable": _summary(c, "cpu", "allocatable"),
                    "ratio": cpu},
            "memory": {"requested": int(_summary(c, "memory", "requested")),
                       "allocatable": int(_summary(c, "memory", "allocatable")), "ratio": mem},
            "trend": trend.get(c.pk, {"cpu": [], "memory": []}),
            "link": f"/monitoring/clusters/{c.pk}",
        })
    rows.sort(key=lambda r: -max(r["cpu"]["ratio"] or 0, r["memory"]["ratio"] or 0))
    top = max((max(r["cpu"]["ratio"] or 0, r["memory"]["ratio"] or 0) for r in rows), default=0.0)
    attention = ATTENTION_CRITICAL if top >= 0.95 else ATTENTION_WARNING if top >= 0.85 else \
        ATTENTION_NOTICE if top >= 0.7 else ATTENTION_NONE
    return Tile(key="capacity", role="operator", attention=attention, as_of=fleet.as_of(connected),
                link="/monitoring", data={"clusters": rows[:LIST_MAX], "total": len(rows),
                                          "trend_hours": TREND_HOURS})



def nodes_tile(ctx: Context, fleet: Fleet) -> Tile:
    """Operator: nodes not ready, cordoned or reporting a pressure condition (one query, at most
    LIST_MAX rows plus the count)."""
    ids = [c.pk for c in fleet.clusters]
    pressure = Q()
    for kind in PRESSURE_TYPES:
        pressure |= Q(data__conditions__contains=[{"type": kind, "status": "True"}])
    flagged = Q(data__ready=False) | Q(data__unschedulable=True) | pressure
    qs = KubeObject.objects.filter(flagged, cluster_id__in=ids, kind="Node")
    rows = list(qs.order_by("cluster_id", "name").values("cluster_id", "name", "data")[:LIST_MAX + 1]) if ids else []
    names = {c.pk: c.name for c in fleet.clusters}
    nodes: list[dict[str, Any]] = []
    for row in rows[:LIST_MAX]:
        data = row["data"] or {}
        conditions = [c.get("type", "") for c in data.get("conditions") or []
                      if isinstance(c, dict) and c.get("type") in PRESSURE_TYPES and c.get("status") == "True"]
        nodes.append({"cluster": {"id": row["cluster_id"], "name": names.get(row["cluster_id"], "")},
                      "name": row["name"], "ready": bool(data.get("ready")),
                      "unschedulable": bool(data.get("unschedulable")), "conditions": conditions,
                      "link": f"/clusters/{row['cluster_id']}/nodes"})
    count = len(rows) if len(rows) <= LIST_MAX else qs.count()
    not_ready = any(not n["ready"] for n in nodes)
    attention = ATTENTION_CRITICAL if not_ready else ATTENTION_WARNING if count else ATTENTION_NONE
    clusters = {n["cluster"]["id"] for n in nodes}
    link = f"/clusters/{next(iter(clusters))}/nodes" if len(clusters) == 1 else "/clusters"
    return Tile(key="nodes", role="operator", attention=attention, as_of=fleet.as_of(), link=link,
                data={"count": count, "nodes": nodes})
