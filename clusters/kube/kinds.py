"""The kinds the portal keeps in its read model, and how to list/watch each across a cluster.

One table says, per kind, which API object lists it for all namespaces; the watcher, the
connectivity check (which permissions we need) and the inventory API all read it.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clusters.kube.client import KubeClient

# The version each client API object of :data:`BUILTIN_KINDS` speaks (``AutoscalingV2Api``...).
_API_VERSIONS = {"core": "v1", "apps": "v1", "batch": "v1", "networking": "v1", "storage": "v1", "autoscaling": "v2",
                 "policy": "v1"}


@dataclass(frozen=True)
class Kind:
    kind: str  # e.g. "Pod"
    api: str  # attribute of KubeClient: core, apps, ...
    list_method: str  # method listing across all namespaces
    group: str  # API group ("" for core)
    resource: str  # plural, for access checks
    namespaced: bool

    def path(self, namespace: str = "") -> str:
        """The REST path that lists (and, with ``watch=true``, watches) the kind across all
        namespaces, or within ``namespace``: what :meth:`lister` calls, for the asyncio watch."""
        version = _API_VERSIONS[self.api]
        base = f"/apis/{self.group}/{version}" if self.group else f"/api/{version}"
        if namespace and self.namespaced:
            base += f"/namespaces/{namespace}"
        return f"{base}/{self.resource}"

    def lister(self, client: KubeClient, namespace: str = "") -> Callable[..., Any]:
        """The list/watch method across all namespaces, or within ``namespace`` (for an identity
        that may read only some namespaces)."""
        api = getattr(client, self.api)
        if not namespace:
            return getattr(api, self.list_method)
        method = getattr(api, "list_namespaced_" + self.list_method.removeprefix("list_").removesuffix(
            "_for_all_namespaces"))
        return functools.partial(method, namespace)


@dataclass(frozen=True)
class PromotedKind(Kind):
    """A kind an admin added to the read model by configuration (``PORTAL_WATCH_EXTRA_RESOURCES``),
    typically a popular CRD: listed and watched through its REST path, since the client package
    has no typed method for it, and projected generically (labels, a status word, no data)."""

    version: str = "v1"

    def path(self, namespace: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            base += f"/namespaces/{namespace}"
        return f"{base}/{self.resource}"

    def lister(self, client: KubeClient, namespace: str = "") -> Callable[..., Any]:
        path = self.path(namespace)
        names = {"limit": "limit", "_continue": "continue", "watch": "watch", "resource_version": "resourceVersion",
                 "allow_watch_bookmarks": "allowWatchBookmarks", "timeout_seconds": "timeoutSeconds",
                 "label_selector": "labelSelector", "field_selector": "fieldSelector"}

        def list_or_watch(**kwargs: Any) -> Any:
            """Takes the typed methods' keyword arguments (as the watcher passes them)."""
            query = []
            for key, value in list(kwargs.items()):
                if key in names:
                    kwargs.pop(key)
                    if value is not None:
                        query.append((names[key], str(value).lower() if isinstance(value, bool) else str(value)))
            return client.api_client.call_api(
                path, "GET", path_params={}, query_params=query, header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"], response_type="object", _return_http_data_only=True, **kwargs)

        return list_or_watch


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def promoted_kinds(entries: Any) -> tuple[PromotedKind, ...]:
    """Parse ``PORTAL_WATCH_EXTRA_RESOURCES``: a list (or its JSON text) of
    ``{"group", "version", "plural", "kind", "namespaced"}``. Raises ``ValueError`` naming the
    entry that is wrong."""
    if isinstance(entries, str):
        entries = json.loads(entries) if entries.strip() else []
    if not isinstance(entries, list):
        raise ValueError("PORTAL_WATCH_EXTRA_RESOURCES must be a list of {group, version, plural, kind, namespaced}.")
    out: list[PromotedKind] = []
    for i, e in enumerate(entries):
        where = f"PORTAL_WATCH_EXTRA_RESOURCES[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("kind"), str) or not e["kind"]:
            raise ValueError(f"{where}: give group, version, plural, kind and namespaced.")
        group, version, plural = str(e.get("group", "")), str(e.get("version", "")), str(e.get("plural", ""))
        if (group and not _NAME.match(group)) or not _NAME.match(version) or not _NAME.match(plural):
            raise ValueError(f"{where}: group, version and plural must be lowercase DNS names ({e!r}).")
        if len(e["kind"]) > 40 or any(k.kind == e["kind"] for k in (*BUILTIN_KINDS, *out)):
            raise ValueError(f"{where}: kind {e['kind']!r} is longer than 40 characters or already watched.")
        out.append(PromotedKind(e["kind"], "", "", group, plural, bool(e.get("namespaced", True)), version=version))
    return tuple(out)


def _configured() -> tuple[PromotedKind, ...]:
    from django.conf import settings

    if not settings.configured:
        return ()
    value = getattr(settings, "PORTAL_WATCH_EXTRA_RESOURCES", None)
    if value is None:
        value = os.environ.get("PORTAL_WATCH_EXTRA_RESOURCES", "")
    try:
        return promoted_kinds(value)
    except ValueError as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(str(exc)) from exc


BUILTIN_KINDS: tuple[Kind, ...] = (
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
# What the watcher keeps in the read model: the built-in kinds above plus any an admin promoted.
WATCHED_KINDS: tuple[Kind, ...] = (*BUILTIN_KINDS, *_configured())
KINDS_BY_NAME = {k.kind: k for k in WATCHED_KINDS}

# Beyond list/watch of every kind above: what node operations need.
EXTRA_PERMISSIONS: tuple[tuple[str, str, str, str], ...] = (
    # verb, group, resource, subresource
    ("patch", "", "nodes", ""),
    ("create", "", "pods", "eviction"),
)
