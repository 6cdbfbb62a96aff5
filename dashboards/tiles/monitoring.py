"""Monitoring tiles: alerts by severity (admin ``alerts``), firing alerts (operator ``firing``),
warning events (operator ``events``) and cost this month by workspace (admin ``cost``).

Alerts through ``monitoring.access.visible_alerts``, events only for those who see
infrastructure (the tiles are the operator's), cost through ``monitoring.metering.report`` with
the workspaces ``monitoring.access.metering_workspace_ids`` allows. A bounded number of queries
each (grouped counts plus a short list).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max

from clusters.rows import iso
from dashboards.tiles import (
    ATTENTION_CRITICAL,
    ATTENTION_NONE,
    ATTENTION_NOTICE,
    ATTENTION_WARNING,
    Context,
    Tile,
)
from monitoring import access as monitoring_access
from monitoring import metering
from monitoring.models import OPEN_STATES, Alert, AlertState, EventRecord, Severity

LIST_MAX = 6
EVENTS_WINDOW_MINUTES = 60
SEVERITIES = [str(s) for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)]


def alert_row(alert: Alert) -> dict[str, Any]:
    return {"id": alert.pk, "severity": alert.severity, "state": alert.state,
            "rule": alert.rule.name if alert.rule is not None else "",
            "cluster": {"id": alert.cluster_id, "name": alert.cluster.name} if alert.cluster is not None else None,
            "namespace": alert.namespace, "subject_kind": alert.subject_kind, "subject_name": alert.subject_name,
            "message": alert.message, "message_code": alert.message_code, "message_params": alert.message_params or {},
            "fired_at": iso(alert.fired_at), "started_at": iso(alert.started_at), "link": f"/alerts/{alert.pk}"}


def _by_severity(qs: Any) -> dict[str, dict[str, int]]:
    out = {sev: {str(st): 0 for st in OPEN_STATES} for sev in SEVERITIES}
    for row in qs.order_by().values("severity", "state").annotate(n=Count("id")):
        out.setdefault(row["severity"], {})[row["state"]] = row["n"]
    return out


def _alert_attention(firing: dict[str, int]) -> int:
    if firing.get(str(Severity.CRITICAL)):
        return ATTENTION_CRITICAL
    if firing.get(str(Severity.WARNING)):
        return ATTENTION_WARNING
    if firing.get(str(Severity.INFO)):
        return ATTENTION_NOTICE
    return ATTENTION_NONE


def alerts_tile(ctx: Context) -> Tile:
    """Admin: open alerts by severity and state."""
    counts = _by_severity(monitoring_access.visible_alerts(ctx.user).filter(state__in=OPEN_STATES))
    firing = {sev: counts[sev].get(str(AlertState.FIRING), 0) for sev in counts}
    attention = _alert_attention(firing)
    worst = next((sev for sev in SEVERITIES if firing.get(sev)), "")
    link = f"/alerts?state=open&severity={worst}" if worst else "/alerts?state=open"
    return Tile(key="alerts", role="admin", attention=attention, as_of=ctx.now, link=link, data={
        "by_severity": counts, "open": sum(sum(v.values()) for v in counts.values()),
        "firing": sum(firing.values())})


def firing_tile(ctx: Context) -> Tile:
    """Operator: alerts firing now, most severe and newest first."""
    qs = monitoring_access.visible_alerts(ctx.user).filter(state=AlertState.FIRING)
    counts = {row["severity"]: row["n"] for row in qs.order_by().values("severity").annotate(n=Count("id"))}
    order = {sev: i for i, sev in enumerate(SEVERITIES)}
    rows = sorted(qs.select_related("rule", "cluster").order_by("-fired_at", "-id")[:50],
                  key=lambda a: (order.get(a.severity, 9), -(a.fired_at or a.started_at).timestamp()))[:LIST_MAX]
    return Tile(key="firing", role="operator", attention=_alert_attention(counts), as_of=ctx.now,
                link="/alerts?state=firing", data={"count": sum(counts.values()), "by_severity": counts,
                                                    "alerts": [alert_row(a) for a in rows]})


def events_tile(ctx: Context) -> Tile:
    """Operator: Warning events of the last hour: how many, the commonest reasons, the newest few."""
    since = ctx.now - timedelta(minutes=EVENTS_WINDOW_MINUTES)
    qs = EventRecord.objects.filter(type="Warning", last_seen__gte=since)
    reasons = list(qs.order_by().values("reason").annotate(n=Count("id"), last=Max("last_seen"))
                   .order_by("-n", "reason")[:LIST_MAX])
    latest = list(qs.select_related("cluster").order_by("-last_seen", "-id")[:LIST_MAX])
    total = sum(r["n"] for r in reasons) if len(reasons) < LIST_MAX else qs.count()
    rows = [{"id": e.pk, "cluster": {"id": e.cluster_id, "name": e.cluster.name}, "namespace": e.namespace,
             "reason": e.reason, "message": e.message[:300], "object_kind": e.object_kind, "object_name": e.object_name,
             "count": e.count, "last_seen": iso(e.last_seen)} for e in latest]
    attention = ATTENTION_WARNING if total >= 20 else ATTENTION_NOTICE if total else ATTENTION_NONE
    return Tile(key="events", role="operator", attention=attention, as_of=ctx.now,
                link="/monitoring/events?type=Warning", data={
                    "window_minutes": EVENTS_WINDOW_MINUTES, "count": total,
                    "reasons": [{"reason": r["reason"], "count": r["n"]} for r in reasons], "events": rows})


def _money(costs: dict[str, Decimal]) -> dict[str, str]:
    return {currency: str(amount) for currency, amount in costs.items()}


def cost_tile(ctx: Context) -> Tile:
    """Admin: this month's estimated cost by workspace (metering), highest first."""
    report = metering.report(month=None, group="workspace",
                             workspace_ids=monitoring_access.metering_workspace_ids(ctx.user), now=ctx.now)
    rows: list[dict[str, Any]] = []
    for row in report.rows:
        rows.append({"workspace": row.workspace, "costs": _money(row.costs), "unpriced": row.unpriced,
                     "cpu_core_hours": round(row.amounts.get("cpu_core_hours_billed", 0.0), 2),
                     "memory_gib_hours": round(row.amounts.get("memory_gib_hours_billed", 0.0), 2),
                     "link": f"/monitoring/metering?group=workspace&workspace={row.workspace['id']}"
                     if row.workspace else "/monitoring/metering?group=workspace"})
    # Amounts of different currencies are never compared: highest first in the main currency
    # (the report's first), then by billed core-hours.
    main = report.currencies[0] if report.currencies else ""
    rows.sort(key=lambda r: (-float(r["costs"].get(main, 0)), -r["cpu_core_hours"]))
    totals = report.totals or {}
    total_costs = totals.get("costs") or {}
    unpriced = any(r["unpriced"] for r in rows)
    return Tile(key="cost", role="admin", attention=ATTENTION_NOTICE if unpriced else ATTENTION_NONE,
                as_of=report.window.end,
                link="/monitoring/metering?group=workspace", data={
                    "month": report.month, "currencies": report.currencies,
                    "total": _money(total_costs) if isinstance(total_costs, dict) else {},
                    "workspaces": rows[:LIST_MAX], "count": len(rows), "unpriced": unpriced})
