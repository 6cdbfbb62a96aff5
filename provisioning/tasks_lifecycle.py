"""Celery task of node pools, upgrades and deletion: one short step of an operation per message
(:func:`provisioning.lifecycle.run_step`, reading the cluster's progress through the follow step,
:func:`provisioning.follow.follow_once`, which stores and publishes it), the next sent with a
countdown while Cluster API rolls machines, so no worker waits on a drain or a boot. A lost step
is sent again by the ``provisioning.reconcile`` beat (:func:`provisioning.lifecycle.overdue_steps`);
a repeated or stale copy finds its step taken and leaves."""

from __future__ import annotations

from celery import shared_task

from portal import enqueue
from provisioning import follow, lifecycle


@shared_task(name="provisioning.lifecycle_step", ignore_result=True, acks_late=True)
def lifecycle_step(op_id: int, step: int | None = None) -> str:
    """One step of the lifecycle operation ``op_id``; returns its status."""
    outcome = lifecycle.run_step(op_id, step, refresh=follow.follow_once)
    if outcome.again_in is not None:
        enqueue.send(lifecycle.TASK, op_id, outcome.step, countdown=outcome.again_in)
    return outcome.status
