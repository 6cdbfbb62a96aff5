"""Celery tasks of the clusters app: thin wrappers that take ids and call :mod:`clusters.services`,
and own the chaining between the steps of a node operation.

Their status rows (a pending cluster, a pending NodeOperation) are written before they are
enqueued, on commit, so a task always finds its row; running one twice converges. The work has
its own timeouts (every cluster call has one), so no task holds a worker for long: a drain is a
chain of short steps on the ``long`` queue (``clusters.drain_node``, then ``clusters.drain_step``
with a countdown while PodDisruptionBudgets refuse), never a worker waiting for a budget.
"""

from __future__ import annotations

from celery import shared_task

from clusters import object_ops, services, workload_ops  # noqa: F401  (workload_ops registers its operations)
from portal import enqueue


def _step(op_id: int, step: int | None) -> str:
    outcome = services.node_operation_step(op_id, step=step)
    if outcome.again_in is not None:
        # Lost (a broker blip): the beat (recheck_clusters) sees the step overdue and sends it again.
        enqueue.send("clusters.drain_step", op_id, outcome.step, countdown=outcome.again_in)
    return outcome.status


@shared_task(name="clusters.check_cluster", ignore_result=True, acks_late=True)
def check_cluster(cluster_id: int) -> str:
    """Connectivity, version, node count and permissions of one cluster; returns its status."""
    return services.check_cluster(cluster_id)


@shared_task(name="clusters.run_node_operation", ignore_result=True, acks_late=True)
def run_node_operation(op_id: int, step: int | None = None) -> str:
    """Cordon or uncordon as the NodeOperation row says (a drain's first step, for messages sent
    before drains had their own task); returns its status."""
    return _step(op_id, step)


@shared_task(name="clusters.drain_node", ignore_result=True, acks_late=True)
def drain_node(op_id: int) -> str:
    """The first step of a drain: cordon, then one pass of evictions."""
    return _step(op_id, None)


@shared_task(name="clusters.drain_step", ignore_result=True, acks_late=True)
def drain_step(op_id: int, step: int | None = None) -> str:
    """A further pass of a drain (a copy whose ``step`` is stale leaves at once)."""
    return _step(op_id, step)


@shared_task(name="clusters.run_object_action", ignore_result=True, acks_late=True)
def run_object_action(action_id: int) -> str:
    """Carry out one ObjectAction (apply, create, scale, restart, rollback, delete ...) by the
    operation :data:`clusters.object_ops.OPERATIONS` has for it; returns its status. A finished
    action is left alone, a ``running`` one (its worker died) runs again and converges."""
    return object_ops.run(action_id)


@shared_task(name="clusters.recheck_clusters", ignore_result=True)
def recheck_clusters() -> int:
    """Periodic (beat): enqueue a check for enabled clusters whose last check is older than
    ``PORTAL_CLUSTER_RECHECK_SECONDS``, so a lost enqueue never leaves one ``pending`` for good
    and versions and permissions stay current; send again the step of a node operation whose
    chain was lost, and the task of an object action no worker started (or whose worker died).
    Returns how many were enqueued."""
    checks = services.enqueue_due_checks(enqueue=lambda cluster_id: enqueue.send("clusters.check_cluster", cluster_id))
    overdue = services.overdue_node_operations()
    for task_name, op_id, step in overdue:
        enqueue.send(task_name, op_id, step)
    lost_actions = object_ops.overdue_actions()
    for action_id in lost_actions:
        enqueue.send("clusters.run_object_action", action_id)
    return checks + len(overdue) + len(lost_actions)
