"""React to what the watcher sees in service map namespaces, within a second or two:

* our ``ResourceQuota`` edited or deleted in the cluster → re-apply it (a task), which records
  an audit record and a Kubernetes Event;
* its ``status.used`` changed → push the service map's row (with usage) to ``workspace.<id>``.

Runs in the watcher process (:mod:`clusters.watcher.hooks`); the beat task's reconcile catches
anything missed here (a watcher restart, a lost message).
"""

from __future__ import annotations

import logging

from clusters.watcher import hooks
from clusters.watcher.writer import Changes
from portal import enqueue
from workspaces import services
from workspaces.models import ClusterAllocation, ServiceMap

logger = logging.getLogger("workspaces")


def on_quota_changes(changes: Changes) -> None:
    touched: set[tuple[int, str]] = set()
    for (cluster_id, kind), rows in changes.upserts.items():
        if kind == "ResourceQuota":
            touched |= {(cluster_id, ns) for ns, name in rows if name == services.QUOTA_NAME}
    for (cluster_id, kind), keys in changes.deletes.items():
        if kind == "ResourceQuota":
            touched |= {(cluster_id, ns) for ns, name in keys if name == services.QUOTA_NAME}
    if not touched:
        return
    from django.db.models import Q

    from workspaces import actions

    condition = Q(pk__in=[])
    for cluster_id, namespace in touched:
        condition |= Q(cluster_id=cluster_id, namespace=namespace)
    maps = list(ServiceMap.objects.filter(condition).select_related("cluster", "workspace"))
    if not maps:
        return
    quotas = services.quota_rows((sm.cluster_id, sm.namespace) for sm in maps)
    allocations = {(a.workspace_id, a.cluster_id): a for a in ClusterAllocation.objects.filter(
        workspace_id__in={sm.workspace_id for sm in maps}, cluster_id__in={sm.cluster_id for sm in maps})}
    for sm in maps:
        reason = services.drift_reason(sm, quotas.get((sm.cluster_id, sm.namespace)),
                                       allocations.get((sm.workspace_id, sm.cluster_id)))
        if reason:
            logger.info("service map quota drifted; restoring", extra={"service_map": sm.pk, "reason": reason})
            enqueue.on_commit("workspaces.apply_service_map", sm.pk, reason)
        else:
            actions.publish_service_map(sm)


def install() -> None:
    hooks.register({"ResourceQuota"}, on_quota_changes)
