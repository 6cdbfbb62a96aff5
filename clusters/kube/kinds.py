"""The kinds the portal keeps in its read model, and how to list/watch each across a cluster.

One table says, per kind, which API object lists it for all namespaces; the watcher, the
connectivity check (which permissions we need) and the inventory API all read it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clusters.kube.client import KubeClient


@dataclass(frozen=True)
class Kind:
    kind: str  # e.g. "Pod"
    api: str  # attribute of KubeClient: core, apps, ...
    list_method: str  # method listing across all namespaces
    group: str  # API group ("" for core)
    resource: str  # plural, for access checks
    namespaced: bool

    def lister(self, client: KubeClient, namespace: str = "") -> Callable[..., Any]:
        """The list/watch method across all namespaces, or within ``namespace`` (for an identity
        that may read only some namespaces)."""
        api = getattr(client, self.api)
        if not namespace:
            return getattr(api, self.list_method)
        method = getattr(api, "list_namespaced_" + self.list_method.removeprefix("list_").removesuffix(
            "_for_all_namespaces"))
        return functools.partial(method, namespace)


WATCHED_KINDS: tuple[Kind, ...] = (
    Kind("Node", "core", "list_node", "", "nodes", False),
    Kind("Namespace", "core", "list_namespace", "", "namespaces", False),
    Kind("Pod", "core", "list_pod_for_all_namespaces", "", "pods", True),
    Kind("Deployment", "apps", "list_deployment_for_all_namespaces", "apps", "deployments", True),
    Kind("StatefulSet", "apps", "list_stateful_set_for_all_namespaces", "apps", "statefulsets", True),
    Kind("DaemonSet", "apps", "list_daemon_set_for_all_namespaces", "apps", "daemonsets", True),
    Kind("ReplicaSet", "apps", "list_replica_set_for_all_namespaces", "apps", "replicasets", True),
    Kind("Job", "batch", "list_job_for_all_namespaces", "batch", "jobs", True),
    Kind("CronJob", "batch", "list_cron_job_for_all_namespaces", "batch", "cronjobs", True),
    Kind("Service", "core", "list_service_for_all_namespaces", "", "services", True),
    Kind("Ingress", "networking", "list_ingress_for_all_namespaces", "networking.k8s.io", "ingresses", True),
    Kind("PersistentVolume", "core", "list_persistent_volume", "", "persistentvolumes", False),
    Kind("PersistentVolumeClaim", "core", "list_persistent_volume_claim_for_all_namespaces", "",
         "persistentvolumeclaims", True),
    Kind("StorageClass", "storage", "list_storage_class", "storage.k8s.io", "storageclasses", False),
    Kind("ResourceQuota", "core", "list_resource_quota_for_all_namespaces", "", "resourcequotas", True),
    Kind("HorizontalPodAutoscaler", "autoscaling", "list_horizontal_pod_autoscaler_for_all_namespaces",
         "autoscaling", "horizontalpodautoscalers", True),
    Kind("Event", "core", "list_event_for_all_namespaces", "", "events", True),
)
KINDS_BY_NAME = {k.kind: k for k in WATCHED_KINDS}

# Beyond list/watch of every kind above: what node operations need.
EXTRA_PERMISSIONS: tuple[tuple[str, str, str, str], ...] = (
    # verb, group, resource, subresource
    ("patch", "", "nodes", ""),
    ("create", "", "pods", "eviction"),
)
