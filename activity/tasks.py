"""Celery tasks of the activity app: the periodic pruning of recorded object changes
(:mod:`activity.retention`), scheduled in ``CELERY_BEAT_SCHEDULE`` and routed to the beat queue
by its name (``*.prune_*``, portal/enqueue.py)."""

from __future__ import annotations

from celery import shared_task

from activity import retention


@shared_task(name="activity.prune_changes", ignore_result=True)
def prune_changes() -> int:
    return retention.prune_changes()
