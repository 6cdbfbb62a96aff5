"""Celery tasks of the catalog sources: thin wrappers that take ids and call :mod:`catalog.sources`.
(Release and rollout tasks live in :mod:`catalog.tasks_deploy`.)"""

from __future__ import annotations

from celery import shared_task

from catalog import sources


@shared_task(name="catalog.refresh_source", ignore_result=True, acks_late=True)
def refresh_source(source_id: int) -> str:
    """Read the source's repository index into packages and versions (converges when run twice)."""
    return sources.refresh(source_id)


@shared_task(name="catalog.refresh_due", ignore_result=True)
def refresh_due() -> int:
    """Periodic (beat): queue the refresh of repositories whose ``refresh_minutes`` have passed."""
    return sources.enqueue_due(refresh_source.delay)
