"""Celery tasks of the clusters app: thin wrappers that take ids and call :mod:`clusters.services`.

Their status rows (a pending cluster, a pending NodeOperation) are written before they are
enqueued, on commit, so a task always finds its row; running one twice converges. The work has
its own timeouts (every cluster call has one), so no task holds a worker for long.
"""

from __future__ import annotations

from celery import shared_task

from clusters import services


@shared_task(name="clusters.check_cluster", ignore_result=True, acks_late=True)
def check_cluster(cluster_id: int) -> str:
    """Connectivity, version, node count and permissions of one cluster; returns its status."""
    return services.check_cluster(cluster_id)


@shared_task(name="clusters.run_node_operation", ignore_result=True, acks_late=True)
def run_node_operation(op_id: int) -> str:
    """Cordon, uncordon or drain as the NodeOperation row says; returns its final status."""
    return services.run_node_operation(op_id)


@shared_task(name="clusters.recheck_clusters", ignore_result=True)
def recheck_clusters() -> int:
    """Periodic (beat): enqueue a check for enabled clusters whose last check is older than
    ``PORTAL_CLUSTER_RECHECK_SECONDS``, so a lost enqueue never leaves one ``pending`` for good
    and versions and permissions stay current. Returns how many were enqueued."""
    return services.enqueue_due_checks(enqueue=check_cluster.delay)
