"""Celery tasks of monitoring's housekeeping (issue 14): the retention of kept cluster events
(:func:`monitoring.event_records.prune`), scheduled hourly in ``CELERY_BEAT_SCHEDULE`` and routed
to the beat queue by its name (``*.prune_*``, portal/enqueue.py).
"""

from __future__ import annotations

from celery import shared_task

from monitoring import event_records


@shared_task(name="monitoring.prune_events", ignore_result=True)
def prune_events() -> int:
    return event_records.prune()
