"""Celery tasks of notification delivery (NOTIFY, issue 14): thin, by id; the work is in
:mod:`monitoring.deliver`. Running either twice is harmless: a notification is claimed before it
is sent, so a duplicate task finds nothing to do."""

from __future__ import annotations

from celery import shared_task

from monitoring import deliver


@shared_task(name="monitoring.deliver_notification", ignore_result=True, acks_late=True)
def deliver_notification(notification_id: int) -> str:
    """Send one notification if it is due and unclaimed; record the attempt."""
    return deliver.deliver(int(notification_id))


@shared_task(name="monitoring.sweep_notifications", ignore_result=True)
def sweep_notifications() -> int:
    """Periodic (beat, 30 s): enqueue due retries and notifications whose worker's lease ran out."""
    return deliver.sweep()
