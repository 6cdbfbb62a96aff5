"""Workspace tiles: quota allocated vs used per workspace and cluster (admin ``quota``), the
quota use of my workspaces (developer ``my_quota``) and my service maps with their health
(developer ``service_maps``: workloads ready, pod restarts, open alerts).

Allocations and service maps through ``workspaces.access`` (and ``portal.access`` for the
allocation model), figures from ``workspaces.rows`` (the rows the workspaces API answers with,
built in bulk) plus one grouped query for restarts and one for alerts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, FloatField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from clusters.models import KubeObject
from dashboards.tiles import (
    ATTENTION_CRITICAL,
    ATTENTION_NONE,
    ATTENTION_NOTICE,
    ATTENTION_WARNING,
    Context,
    Tile,
    oldest,
)
from monitoring import access as monitoring_access
from monitoring.models import OPEN_STATES, AlertState
from portal import access as portal_access
from workspaces import access as ws_access
from workspaces import quota as q
from workspaces.models import ClusterAllocation
from workspaces.rows import allocation_rows, service_map_rows

LIST_MAX = 8
SERVICE_MAPS_MAX = 200  # figures for at most this many of my service maps (the tile lists 8)


def _use_ratio(quota: dict[str, str], used: dict[str, str]) -> float:
    """The highest used/allocated share over the quota's keys (0 when nothing is allocated)."""
    allocated, use = q.load(quota), q.load(used)
    ratios = [float(use.get(k, Decimal(0)) / v) for k, v in allocated.items() if v > 0]
    return round(max(ratios, default=0.0), 4)


def _quota_attention(top: float) -> int:
    return ATTENTION_WARNING if top >= 0.9 else ATTENTION_NOTICE if top >= 0.75 else ATTENTION_NONE


def _allocation_rows(allocations: list[ClusterAllocation]) -> list[dict[str, Any]]:
    rows = []
    for a, row in zip(allocations, allocation_rows(allocations), strict=True):
        rows.append({"workspace": {"id": a.workspace_id, "name": a.workspace.name,
                                   "display_name": a.workspace.display_name},
                     "cluster": {"id": a.cluster_id, "name": a.cluster.name},
                     "quota": row["quota"], "used": row["used"], "ratio": _use_ratio(row["quota"], row["used"]),
                     "link": f"/workspaces/{a.workspace_id}"})
    rows.sort(key=lambda r: (-r["ratio"], r["workspace"]["name"], r["cluster"]["name"]))
    return rows


def quota_tile(ctx: Context) -> Tile:
    """Admin: every allocation, fullest first."""
    allocations = list(portal_access.visible(ctx.user, ClusterAllocation).select_related("workspace", "cluster")
                       .order_by("workspace__name", "cluster__name"))
    rows = _allocation_rows(allocations)
    top = rows[0]["ratio"] if rows else 0.0
    return Tile(key="quota", role="admin", attention=_quota_attention(top), as_of=ctx.now, link="/admin/quotas",
                data={"allocations": rows[:LIST_MAX], "count": len(rows),
                      "workspaces": len({r["workspace"]["id"] for r in rows})})


def my_quota_tile(ctx: Context) -> Tile:
    """Developer: the allocations of the workspaces I am a member of."""
    allocations = list(portal_access.visible(ctx.user, ClusterAllocation)
                       .filter(workspace_id__in=ctx.member_workspace_ids).select_related("workspace", "cluster")
                       .order_by("workspace__name", "cluster__name"))
    rows = _allocation_rows(allocations)
    top = rows[0]["ratio"] if rows else 0.0
    ids = ctx.member_workspace_ids
    link = f"/workspaces/{ids[0]}" if len(ids) == 1 else "/workspaces"
    return Tile(key="my_quota", role="developer", attention=_quota_attention(top), as_of=ctx.now, link=link,
                data={"allocations": rows[:LIST_MAX], "count": len(rows)})


def service_maps_tile(ctx: Context) -> Tile:
    """Developer: my service maps, the ones needing a look first."""
    qs = (ws_access.visible_service_maps(ctx.user).filter(workspace_id__in=ctx.member_workspace_ids)
          .select_related("workspace", "cluster").order_by("workspace__name", "namespace"))
    maps = list(qs[:SERVICE_MAPS_MAX])
    rows = service_map_rows(maps) if maps else []
    pairs = [(sm.cluster_id, sm.namespace) for sm in maps]
    restarts: dict[tuple[int, str], int] = {}
    if pairs:
        condition = Q(pk__in=[])
        for cluster_id, namespace in pairs:
            condition |= Q(cluster_id=cluster_id, namespace=namespace)
        for r in (KubeObject.objects.filter(condition, kind="Pod").order_by().values("cluster_id", "namespace")
                  .annotate(n=Sum(Cast(KT("data__restarts"), FloatField())))):
            restarts[(r["cluster_id"], r["namespace"])] = int(r["n"] or 0)
    alerts: dict[int, dict[str, int]] = {}
    if maps:
        for r in (monitoring_access.visible_alerts(ctx.user).filter(service_map_id__in=[sm.pk for sm in maps],
                                                                    state__in=OPEN_STATES)
                  .order_by().values("service_map_id", "state").annotate(n=Count("id"))):
            alerts.setdefault(r["service_map_id"], {})[r["state"]] = r["n"]
    out = []
    for sm, row in zip(maps, rows, strict=True):
        open_alerts = alerts.get(sm.pk, {})
        firing = open_alerts.get(str(AlertState.FIRING), 0)
        wl, pods = row["workloads"], row["pods"]
        if firing or pods["failed"]:
            attention = ATTENTION_CRITICAL if firing else ATTENTION_WARNING
        elif wl["ready"] < wl["total"] or not row["in_sync"]:
            attention = ATTENTION_WARNING
        elif restarts.get((sm.cluster_id, sm.namespace), 0):
            attention = ATTENTION_NOTICE
        else:
            attention = ATTENTION_NONE
        out.append({"id": sm.pk, "namespace": sm.namespace, "display_name": sm.display_name,
                    "workspace": {"id": sm.workspace_id, "name": sm.workspace.name},
                    "cluster": {"id": sm.cluster_id, "name": sm.cluster.name}, "status": sm.status,
                    "in_sync": row["in_sync"], "workloads": wl, "pods": pods,
                    "restarts": restarts.get((sm.cluster_id, sm.namespace), 0),
                    "alerts": {"open": sum(open_alerts.values()), "firing": firing},
                    "attention": attention, "link": f"/workspaces/{sm.workspace_id}/servicemaps/{sm.pk}"})
    out.sort(key=lambda r: (-r["attention"], r["workspace"]["name"], r["namespace"]))
    ids = ctx.member_workspace_ids
    link = f"/servicemaps?workspace={ids[0]}" if len(ids) == 1 else "/servicemaps"
    return Tile(key="service_maps", role="developer", attention=max((r["attention"] for r in out), default=0),
                as_of=oldest(list({sm.cluster_id: sm.cluster.last_sync for sm in maps}.values()), ctx.now), link=link, data={
                    "count": qs.count() if len(maps) == SERVICE_MAPS_MAX else len(maps),
                    "service_maps": out[:LIST_MAX],
                    "unhealthy": sum(1 for r in out if r["attention"] >= ATTENTION_WARNING)})
