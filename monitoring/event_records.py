"""Cluster events kept past the cluster's own TTL (issue 14): a watcher listener and its writer.

The read model holds a cluster's ``Event`` objects only while the cluster does (an hour by
default in Kubernetes); operators want last night's warnings in the morning. :func:`install`
(called from ``MonitoringConfig.ready``) registers :func:`record_events` with
:mod:`clusters.watcher.hooks` for the ``Event`` kind: after each committed batch, the upserted
Event rows (projected by ``clusters.watcher.projection._event``: type, reason, message, involved
object, count, first and last seen, source) go into :class:`~monitoring.models.EventRecord` in
one ``INSERT ... ON CONFLICT (cluster_id, uid) DO UPDATE`` per 500 rows. A repeated event
(``count`` rising) updates its row; a row never goes backwards (``greatest`` of count and last
seen), so a relist or a second watcher replica changes nothing. Deletes from the cluster are not
followed: that is the point. :func:`prune` (beat task ``monitoring.prune_events``) deletes records
last seen more than ``PORTAL_EVENT_RETENTION_DAYS`` ago, in batches.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from clusters.watcher import hooks
from clusters.watcher.projection import Row
from clusters.watcher.writer import Changes
from monitoring.models import EventRecord

logger = logging.getLogger("monitoring")

CHUNK = 500
PRUNE_BATCH = 5000
KIND = "Event"

_UPSERT = """
INSERT INTO monitoring_eventrecord
  (cluster_id, uid, namespace, type, reason, message, object_kind, object_name, count, first_seen, last_seen, source)
VALUES {values}
ON CONFLICT (cluster_id, uid) DO UPDATE SET
  namespace = EXCLUDED.namespace, type = EXCLUDED.type, reason = EXCLUDED.reason,
  message = CASE WHEN EXCLUDED.last_seen >= monitoring_eventrecord.last_seen
                 THEN EXCLUDED.message ELSE monitoring_eventrecord.message END,
  object_kind = EXCLUDED.object_kind, object_name = EXCLUDED.object_name,
  count = greatest(monitoring_eventrecord.count, EXCLUDED.count),
  first_seen = least(coalesce(monitoring_eventrecord.first_seen, EXCLUDED.first_seen), EXCLUDED.first_seen),
  last_seen = greatest(monitoring_eventrecord.last_seen, EXCLUDED.last_seen),
  source = EXCLUDED.source
"""


def _time(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


def record_values(cluster_id: int, row: Row, now: datetime.datetime) -> list[Any]:
    """The 12 column values of one Event read-model row."""
    data = row["data"] or {}
    involved = data.get("involved") or {}
    first = _time(data.get("first_seen")) or row["created"]
    last = _time(data.get("last_seen")) or first or now
    uid = row["uid"] or f"{row['namespace']}/{row['name']}"
    try:
        count = max(1, min(int(data.get("count") or 1), 2_147_483_647))
    except (TypeError, ValueError):
        count = 1
    return [cluster_id, uid[:64], (row["namespace"] or str(involved.get("namespace") or ""))[:63],
            str(data.get("type") or "Normal")[:16], str(data.get("reason") or "")[:128],
            str(data.get("message") or "")[:8000], str(involved.get("kind") or "")[:40],
            str(involved.get("name") or "")[:253], count, first, last, str(data.get("source") or "")[:253]]


def record_events(changes: Changes, now: datetime.datetime | None = None) -> int:
    """Upsert the batch's Event rows; returns how many rows were written."""
    now = now or timezone.now()
    values: list[list[Any]] = []
    for (cluster_id, kind), rows in changes.upserts.items():
        if kind == KIND:
            values += [record_values(cluster_id, row, now) for row in rows.values()]
    written = 0
    for start in range(0, len(values), CHUNK):
        chunk = values[start:start + CHUNK]
        sql = _UPSERT.replace("{values}", ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk)))
        with connection.cursor() as cursor:  # placeholders only; every value is a parameter
            cursor.execute(sql, [v for row in chunk for v in row])
            written += cursor.rowcount
    return written


def _listener(changes: Changes) -> None:
    record_events(changes)


def install() -> None:
    hooks.register({KIND}, _listener)


def retention_days() -> int:
    return int(getattr(settings, "PORTAL_EVENT_RETENTION_DAYS", 7))


def prune(*, now: datetime.datetime | None = None, days: int | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete records last seen more than ``days`` (the setting) ago, ``batch`` per statement;
    returns how many went. ``days`` 0 or less keeps everything."""
    days = retention_days() if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    deleted = 0
    while True:
        ids = list(EventRecord.objects.filter(last_seen__lt=cutoff).order_by("last_seen", "id")
                   .values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += EventRecord.objects.filter(id__in=ids).delete()[0]
        if len(ids) < batch:
            return deleted
