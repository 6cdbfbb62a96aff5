"""The admin's portal tiles: recent audit entries (``audit``) and the portal's own health
(``portal_health``): Celery workers alive (their heartbeats, :mod:`dashboards.heartbeat`), the
watchers' lag per cluster (now - ``Cluster.last_sync``, and whether a live watcher holds the
cluster's lease, from the fleet already read) and the notification outbox's depth (monitoring's
``Notification`` rows pending or sending, and the oldest one's age).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Count, Min

from clusters.rows import iso
from dashboards import heartbeat
from dashboards.tiles import (
    ATTENTION_CRITICAL,
    ATTENTION_NONE,
    ATTENTION_NOTICE,
    ATTENTION_WARNING,
    Context,
    Tile,
)
from dashboards.tiles.fleet import Fleet
from monitoring.models import Notification, NotificationState
from portal import access as portal_access
from portal.models import AuditOutcome, AuditRecord

LIST_MAX = 8
LAG_WARN_SECONDS = 300.0
OUTBOX_WARN_SECONDS = 600.0
AUDIT_WINDOW_HOURS = 24


def audit_tile(ctx: Context) -> Tile | None:
    """Admin: the newest audit entries, and how many were denied or failed in the last day."""
    if not portal_access.is_admin(ctx.user):
        return None
    since = ctx.now - datetime.timedelta(hours=AUDIT_WINDOW_HOURS)
    outcomes = {row["outcome"]: row["n"] for row in AuditRecord.objects.filter(timestamp__gte=since).order_by()
                .values("outcome").annotate(n=Count("id"))}
    recent = list(AuditRecord.objects.order_by("-timestamp", "-id")[:LIST_MAX])
    rows = [{"id": r.pk, "timestamp": iso(r.timestamp), "actor": r.actor_username, "action": r.action,
             "target": r.target_repr, "outcome": r.outcome} for r in recent]
    denied = outcomes.get(str(AuditOutcome.DENIED), 0) + outcomes.get(str(AuditOutcome.FAILURE), 0)
    return Tile(key="audit", role="admin", attention=ATTENTION_NOTICE if denied else ATTENTION_NONE, as_of=ctx.now,
                link="/admin/audit?outcome=denied" if outcomes.get(str(AuditOutcome.DENIED)) else "/admin/audit",
                data={"window_hours": AUDIT_WINDOW_HOURS, "by_outcome": outcomes, "entries": rows})


def health_tile(ctx: Context, fleet: Fleet) -> Tile:
    """Admin: workers alive, watcher lag per cluster (worst first), outbox depth."""
    try:
        workers: list[dict[str, Any]] | None = heartbeat.workers(ctx.now.timestamp())
    except Exception:  # Redis down: say so rather than fail the whole dashboard
        workers = None
    lags: list[dict[str, Any]] = []
    for c in fleet.clusters:
        if not c.enabled:
            continue
        watched = bool(fleet.fresh.get(c.pk, {}).get("rule", {}).get("watched"))
        lag = (ctx.now - c.last_sync).total_seconds() if c.last_sync else None
        lags.append({"id": c.pk, "name": c.name, "lag_seconds": round(lag, 1) if lag is not None else None,
                     "watched": watched, "freshness": fleet.freshness(c), "link": f"/clusters/{c.pk}"})
    lags.sort(key=lambda r: (r["watched"], -(r["lag_seconds"] if r["lag_seconds"] is not None else 1e12)))
    outbox = Notification.objects.filter(state__in=[NotificationState.PENDING, NotificationState.SENDING])
    depth = {row["state"]: row["n"] for row in outbox.order_by().values("state").annotate(n=Count("id"))}
    oldest = outbox.aggregate(m=Min("created"))["m"]
    oldest_age = round((ctx.now - oldest).total_seconds(), 1) if oldest else None
    alive = sum(1 for w in workers or [] if w["alive"])
    unwatched = sum(1 for r in lags if not r["watched"])
    lagging = sum(1 for r in lags if r["lag_seconds"] is None or r["lag_seconds"] > LAG_WARN_SECONDS)
    if workers is None or not alive:
        attention = ATTENTION_CRITICAL
    elif unwatched or (oldest_age or 0) > OUTBOX_WARN_SECONDS or any(not w["alive"] for w in workers):
        attention = ATTENTION_WARNING
    elif lagging:
        attention = ATTENTION_NOTICE
    else:
        attention = ATTENTION_NONE
    return Tile(key="portal_health", role="admin", attention=attention, as_of=ctx.now, link="/admin", data={
        "workers": {"alive": alive, "total": len(workers or []), "known": workers is not None,
                    "list": [{**w, "last_beat": iso(datetime.datetime.fromtimestamp(w["last_beat"], tz=datetime.UTC))}
                             for w in (workers or [])][:LIST_MAX]},
        "watchers": {"clusters": len(lags), "unwatched": unwatched, "lagging": lagging,
                     "lag_warn_seconds": LAG_WARN_SECONDS, "worst": lags[:LIST_MAX]},
        "outbox": {"pending": depth.get(str(NotificationState.PENDING), 0),
                   "sending": depth.get(str(NotificationState.SENDING), 0), "oldest_age_seconds": oldest_age},
    })
