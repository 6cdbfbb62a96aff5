"""Celery tasks of provisioning (docs/provisioning.md): check a management cluster, apply a new
cluster's objects, follow it in short re-enqueued steps (about every second while something
changes, on the control queue; no worker waits for Cluster API), and the ``provisioning.reconcile``
beat (30 s) that sends again whatever a lost message left behind. Node pools, upgrades and
deletion run in :mod:`provisioning.tasks_lifecycle`."""

from __future__ import annotations

from celery import shared_task

from portal import enqueue
from provisioning import apply, follow, lifecycle, management


@shared_task(name="provisioning.check_management", ignore_result=True, acks_late=True)
def check_management(mc_id: int) -> str:
    """Does the cluster serve Cluster API, and which providers; returns the stored status."""
    return management.check(mc_id)


@shared_task(name="provisioning.apply_create", ignore_result=True, acks_late=True)
def apply_create(op_id: int) -> str:
    """Apply a new cluster's objects to the management cluster, then start following it."""
    outcome = apply.apply_create(op_id)
    if outcome == "retry":
        enqueue.send("provisioning.apply_create", op_id, countdown=apply.RETRY_SECONDS)
    elif outcome == "applied":
        from provisioning.models import ProvisioningOperation

        pc_id = ProvisioningOperation.objects.filter(pk=op_id).values_list("provisioned_id", flat=True).first()
        if pc_id is not None:
            enqueue.send("provisioning.follow_step", pc_id, countdown=follow.FAST_SECONDS)
    return outcome


@shared_task(name="provisioning.follow_step", ignore_result=True, acks_late=True)
def follow_step(provisioned_id: int) -> str:
    """Read and record one provisioned cluster; go on while its create operation runs."""
    result = follow.step(provisioned_id)
    if result.again_in is not None:
        enqueue.send("provisioning.follow_step", provisioned_id, countdown=result.again_in)
        return "following"
    return "done"


@shared_task(name="provisioning.reconcile", ignore_result=True)
def reconcile() -> int:
    """Periodic (beat): apply creates whose task was lost, follow clusters whose follow chain was
    lost (and refresh idle ones now and then), send lost lifecycle steps again, re-check
    management clusters. Returns how many messages were sent."""
    sent = 0
    for op_id in follow.lost_applies():
        sent += enqueue.send("provisioning.apply_create", op_id)
    for pc_id in follow.due_follows():
        sent += enqueue.send("provisioning.follow_step", pc_id)
    for name, op_id, step in lifecycle.overdue_steps():
        sent += enqueue.send(name, op_id, step)
    for mc_id in follow.due_management_checks():
        sent += enqueue.send("provisioning.check_management", mc_id)
    return sent
