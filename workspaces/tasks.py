"""Celery tasks of the workspaces app: thin wrappers that take ids and call
:mod:`workspaces.services`. Each converges when run twice (the row is the intent). They send
further work by name through :mod:`portal.enqueue` (a broker blip is logged; the beat's
reconcile picks the row up)."""

from __future__ import annotations

from celery import shared_task

from portal import enqueue
from workspaces import services


@shared_task(name="workspaces.apply_service_map", ignore_result=True, acks_late=True)
def apply_service_map(sm_id: int, restore_reason: str = "") -> str:
    """Make the service map's namespace, ResourceQuota and LimitRange match its row."""
    return services.apply_service_map(sm_id, restore_reason=restore_reason)


@shared_task(name="workspaces.quota_changed", ignore_result=True)
def quota_changed() -> dict[str, int]:
    """The watcher saw the quotas of service map namespaces change: restore those that drifted,
    publish the others' rows with the new usage (coalesced, :mod:`workspaces.drift`)."""
    return services.quota_changed()


@shared_task(name="workspaces.delete_service_map", ignore_result=True, acks_late=True)
def delete_service_map(sm_id: int) -> str:
    """Delete the service map's namespace, then its row once the namespace is gone. While it is
    Terminating the task enqueues itself again with a countdown (no worker waits for it)."""
    outcome = services.delete_service_map(sm_id)
    delay = services.recheck_delay(sm_id, outcome)
    if delay is not None:
        enqueue.send("workspaces.delete_service_map", sm_id, countdown=delay)  # lost: the beat takes over
    return outcome


@shared_task(name="workspaces.check_allocation", ignore_result=True, acks_late=True)
def check_allocation(allocation_id: int) -> str:
    """Reach the allocated cluster and apply the workspace's service maps there."""
    return services.check_allocation(allocation_id)


@shared_task(name="workspaces.reconcile", ignore_result=True)
def reconcile() -> int:
    """Periodic (beat): re-apply pending, unapplied, deleting and drifted service maps and
    re-check pending allocations. Returns how many tasks were enqueued."""
    return services.enqueue_due(apply=lambda sm_id, reason: enqueue.send("workspaces.apply_service_map", sm_id, reason),
                                delete=lambda sm_id: enqueue.send("workspaces.delete_service_map", sm_id),
                                check=lambda allocation_id: enqueue.send("workspaces.check_allocation", allocation_id))
