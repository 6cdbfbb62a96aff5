"""Celery tasks of pull secrets (:mod:`builds.pull_secrets`): the periodic repair and the rotation.

Both converge when run twice: they compare the Secrets in the clusters with what the releases'
current revisions name and apply only what is missing or stale.
"""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from builds import pull_secrets


@shared_task(name="builds.reconcile_pull_secrets", ignore_result=True)
def reconcile_pull_secrets() -> dict[str, int]:
    """Periodic (beat, every 30 s): put back deleted or edited pull secrets, refresh stale ones."""
    return asdict(pull_secrets.reconcile())


@shared_task(name="builds.rotate_pull_secrets", ignore_result=True, acks_late=True)
def rotate_pull_secrets(registry_id: int) -> dict[str, int]:
    """A registry's password changed (REGISTRY's actions send this after commit): update every pull
    secret made from it now, rather than at the next periodic run."""
    return asdict(pull_secrets.reconcile(registry_id))
