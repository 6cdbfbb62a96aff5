"""React to what the watcher sees in service map namespaces, within a second or two:

* our ``ResourceQuota`` edited or deleted in the cluster → re-apply it (a task), which records
  an audit record and a Kubernetes Event;
* its ``status.used`` changed → push the service map's row (with usage) to ``workspace.<id>``.

The watcher's listener (:func:`on_quota_changes`, in the watcher process through
:mod:`clusters.watcher.hooks`) only names the namespaces: it adds them to a Redis set and queues
one ``workspaces.quota_changed`` (coalesced, :data:`services.QUOTA_WINDOW` later), which reads
every namespace noted meanwhile, decides and publishes them together
(:func:`services.quota_changed`). A rollout moves a namespace's quota usage with every pod, and
building a service map's row takes queries and a serializer: that work belongs to a worker, at
most once per window for all namespaces, not to the process that keeps every cluster's read
model. The beat task's reconcile catches anything missed here (a watcher restart, a lost
message).
"""

from __future__ import annotations

from clusters.watcher import hooks
from clusters.watcher.writer import Changes
from workspaces import services


def on_quota_changes(changes: Changes) -> None:
    """The watcher's listener: note every service map namespace whose ``ResourceQuota`` this batch
    wrote or deleted, for :func:`services.quota_changed`. Reads nothing from the database."""
    touched: set[tuple[int, str]] = set()
    for (cluster_id, kind), rows in changes.upserts.items():
        if kind == "ResourceQuota":
            touched |= {(cluster_id, ns) for ns, name in rows if name == services.QUOTA_NAME}
    for (cluster_id, kind), keys in changes.deletes.items():
        if kind == "ResourceQuota":
            touched |= {(cluster_id, ns) for ns, name in keys if name == services.QUOTA_NAME}
    services.note_quota_changes(sorted(touched))


def install() -> None:
    hooks.register({"ResourceQuota"}, on_quota_changes)
