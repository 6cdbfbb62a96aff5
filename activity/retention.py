"""Retention of :class:`~activity.models.ObjectChange` rows: the watcher records one for every new
writer of an edited object, forever unless pruned. :func:`prune_changes` (the beat task
``activity.prune_changes``) deletes the rows older than ``PORTAL_ACTIVITY_RETENTION_DAYS``, in
batches, but never the newest row of an object older than the cutoff: that snapshot is the base
the diff of the object's next change compares against (docs/activity.md), and it is the object's
newest snapshot when nothing changed it since. So every change inside the retention window keeps
its full diff, and an object edited once long ago keeps that one row.

Idempotent: a second run finds nothing more to delete. Rows are ordered as the timeline orders
them, by ``(time, id)``; a row is deletable when it is older than the cutoff and a newer row of the
same object is older than the cutoff too.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from activity.models import ObjectChange

logger = logging.getLogger(__name__)

BATCH = 1000


def retention_days() -> int:
    return int(getattr(settings, "PORTAL_ACTIVITY_RETENTION_DAYS", 90))


def prunable(cutoff: datetime.datetime) -> QuerySet[ObjectChange]:
    """The rows older than ``cutoff`` that a newer row of the same object, also older, succeeds."""
    newer_old = ObjectChange.objects.filter(
        cluster_id=OuterRef("cluster_id"), kind=OuterRef("kind"), namespace=OuterRef("namespace"),
        name=OuterRef("name"), time__lt=cutoff,
    ).filter(Q(time__gt=OuterRef("time")) | Q(time=OuterRef("time"), id__gt=OuterRef("id")))
    return ObjectChange.objects.filter(Exists(newer_old), time__lt=cutoff)


def prune_changes(*, now: datetime.datetime | None = None, days: int | None = None, batch: int = BATCH) -> int:
    """Delete the prunable rows older than ``days`` (the setting by default), ``batch`` rows per
    statement (short transactions, no long lock on a big table); returns how many went. ``days``
    0 or less turns pruning off."""
    days = retention_days() if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    deleted, after = 0, 0
    while True:
        # Seek past the last batch: the rows kept below it are not read again (linear in the table).
        ids = list(prunable(cutoff).filter(id__gt=after).order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            break
        after = ids[-1]
        # A row deleted meanwhile (a second run) is simply not counted.
        deleted += ObjectChange.objects.filter(id__in=ids).delete()[0]
        if len(ids) < batch:
            break
    if deleted:
        logger.info("pruned %d object changes older than %d days", deleted, days)
    return deleted
