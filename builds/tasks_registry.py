"""Celery task of registries: check one registry (its ``/v2/`` with its credentials) and record the
outcome on its row. Enqueued by name (``builds.check_registry``) after a registry is created,
changed or asked to be checked (:mod:`builds.registry_actions`)."""

from __future__ import annotations

from celery import shared_task

from builds import registry_ops


@shared_task(name="builds.check_registry", ignore_result=True, acks_late=True)
def check_registry(registry_id: int) -> None:
    registry_ops.check(registry_id)
