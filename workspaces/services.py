"""Workspaces against the clusters: make each service map's namespace, ResourceQuota and
LimitRange match its row, delete them, restore them when someone changed them, and plan a
deploy against a service map's quota (preflight).

These are the app's operations: they do the cluster I/O and record each outcome through
:mod:`workspaces.actions` (which never imports this module); rows and usage read from the read
model live in :mod:`workspaces.rows`.

Every function takes ids and converges when run again: the row is the intent, applies are
server-side apply under one field manager, and the row records which ``generation`` reached the
cluster. An unreachable cluster leaves the row ``pending`` (the beat task retries); a refusal by
the cluster makes it ``error`` with the cluster's message.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from clusters.kube.client import KubeClient
from clusters.kube.errors import Conflict, KubeError, NotFound, Unreachable
from clusters.models import Cluster, KindSync, KubeObject, SyncState
from clusters.watcher.projection import quantity
from portal import enqueue, errors
from portal.crypto import DecryptionError
from workspaces import actions
from workspaces import quota as q
from workspaces.models import ApplyStatus, ClusterAllocation, ServiceMap
from workspaces.rows import QUOTA_NAME, effective_limits, quota_rows

logger = logging.getLogger("workspaces")

FIELD_MANAGER = "cluster-portal"
LABEL_PREFIX = "portal.cluster-portal.io/"
LABEL_WORKSPACE = f"{LABEL_PREFIX}workspace"
LABEL_SERVICEMAP = f"{LABEL_PREFIX}servicemap"
LIMITS_NAME = "portal-limits"
APPLY_TIMEOUT = 10.0


class NamespaceTaken(Exception):
    """The namespace exists in the cluster and does not belong to this service map."""


# ---------------------------------------------------------------------------- desired state


def storage_class_names(cluster_id: int) -> list[str]:
    return sorted(KubeObject.objects.filter(cluster_id=cluster_id, kind="StorageClass").values_list("name", flat=True))


def desired_hard(sm: ServiceMap, allocation: ClusterAllocation | None) -> dict[str, str]:
    hard = dict(q.dump(q.load(sm.quota)))
    allowed = set(allocation.storage_classes or []) if allocation is not None else set()
    if allowed:
        for name in storage_class_names(sm.cluster_id):
            if name not in allowed:
                hard[f"{name}{q.STORAGE_CLASS_SUFFIX}requests.storage"] = "0"
                hard[f"{name}{q.STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = "0"
    return hard


def _labels(sm: ServiceMap) -> dict[str, str]:
    return {LABEL_WORKSPACE: sm.workspace.name, LABEL_SERVICEMAP: str(sm.pk),
            "app.kubernetes.io/managed-by": FIELD_MANAGER}


def desired_objects(sm: ServiceMap, allocation: ClusterAllocation | None) -> list[dict[str, Any]]:
    labels = _labels(sm)
    objects: list[dict[str, Any]] = [{
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": sm.namespace, "labels": labels,
                     "annotations": {f"{LABEL_PREFIX}display-name": sm.display_name or sm.namespace}},
    }]
    hard = desired_hard(sm, allocation)
    objects.append({"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": QUOTA_NAME, "namespace": sm.namespace, "labels": labels},
                    "spec": {"hard": hard}})
    limits = effective_limits(sm)
    item: dict[str, Any] = {"type": "Container"}
    if limits.get("default"):
        item["default"] = limits["default"]
    if limits.get("default_request"):
        item["defaultRequest"] = limits["default_request"]
    objects.append({"apiVersion": "v1", "kind": "LimitRange",
                    "metadata": {"name": LIMITS_NAME, "namespace": sm.namespace, "labels": labels},
                    "spec": {"limits": [item] if len(item) > 1 else []}})
    return objects


def same_hard(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal as quantities ("1" == "1000m", "1Gi" == "1024Mi")."""
    return set(a) == set(b) and all(q.load({k: a[k]}) == q.load({k: b[k]}) for k in a)


# ---------------------------------------------------------------------------- apply / delete


def _client(cluster: Cluster) -> KubeClient:
    return KubeClient(cluster.connection_spec(), read_timeout=APPLY_TIMEOUT)


def _owner_check(client: KubeClient, sm: ServiceMap) -> None:
    try:
        # One attempt: a cluster that does not answer this fails fast (the beat task retries),
        # rather than holding a worker through the retry policy.
        live = client.get_object("Namespace", sm.namespace, timeout=APPLY_TIMEOUT, attempts=1)
    except NotFound:
        return
    labels = (live.get("metadata") or {}).get("labels") or {}
    if labels.get(LABEL_SERVICEMAP) != str(sm.pk):
        raise NamespaceTaken(
            f"Namespace {sm.namespace} already exists in cluster {sm.cluster.name} and is not managed by this "
            "service map; choose another namespace.")


def apply_service_map(sm_id: int, *, restore_reason: str = "") -> str:
    """Create or update the service map's namespace, ResourceQuota and LimitRange; return the
    resulting status. ``restore_reason`` says this run restores drift (recorded as such)."""
    sm = ServiceMap.objects.select_related("cluster", "workspace").filter(pk=sm_id).first()
    if sm is None:
        return "gone"
    if sm.status == ApplyStatus.DELETING:
        return delete_service_map(sm_id)
    generation = sm.generation
    allocation = ClusterAllocation.objects.filter(workspace_id=sm.workspace_id, cluster_id=sm.cluster_id).first()
    try:
        with _client(sm.cluster) as client:
            _owner_check(client, sm)
            objects = desired_objects(sm, allocation)
            if restore_reason and not _quota_drifted(client, sm, objects[1]):
                restore_reason = ""  # restored already (a duplicate notice): apply, record nothing
            for obj in objects:
                client.apply(obj, field_manager=FIELD_MANAGER, timeout=APPLY_TIMEOUT)
            if restore_reason:
                _record_event(client, sm, restore_reason)
    except Unreachable as exc:
        return actions.service_map_applied(sm, generation=generation, status=ApplyStatus.PENDING,
                                           message=f"Waiting for the cluster: {exc} It is retried every minute.",
                                           code="cluster_waiting", params={"error": str(exc)})
    except NamespaceTaken as exc:
        return actions.service_map_applied(sm, generation=generation, status=ApplyStatus.ERROR, message=str(exc),
                                           code="namespace_taken",
                                           params={"namespace": sm.namespace, "cluster": sm.cluster.name})
    except DecryptionError as exc:
        return actions.service_map_applied(sm, generation=generation, status=ApplyStatus.ERROR,
                                           message=f"The cluster's stored credentials cannot be decrypted: {exc}",
                                           code="credentials_undecryptable", params={"error": str(exc)})
    except KubeError as exc:
        return actions.service_map_applied(sm, generation=generation, status=ApplyStatus.ERROR,
                                           message=f"The cluster refused the namespace or its quota: {exc}",
                                           code="servicemap_apply_refused", params={"error": str(exc)})
    status = actions.service_map_applied(sm, generation=generation, status=ApplyStatus.READY, message="")
    if restore_reason:
        actions.quota_restored(sm, restore_reason)
    return status


def _quota_drifted(client: KubeClient, sm: ServiceMap, wanted: dict[str, Any]) -> bool:
    try:
        live = client.get_object("ResourceQuota", QUOTA_NAME, sm.namespace, timeout=APPLY_TIMEOUT)
    except NotFound:
        return True
    return not same_hard(dict((live.get("spec") or {}).get("hard") or {}), wanted["spec"]["hard"])


def _record_event(client: KubeClient, sm: ServiceMap, reason: str) -> None:
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{QUOTA_NAME}.", "namespace": sm.namespace},
        "involvedObject": {"apiVersion": "v1", "kind": "ResourceQuota", "name": QUOTA_NAME, "namespace": sm.namespace},
        "reason": "QuotaRestored", "type": "Warning",
        "message": f"The portal restored ResourceQuota {QUOTA_NAME}: {reason}",
        "source": {"component": FIELD_MANAGER}, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    }
    try:
        client.create_event(sm.namespace, event, timeout=APPLY_TIMEOUT)
    except KubeError:
        logger.warning("could not record the QuotaRestored event", extra={"service_map": sm.pk})


def _owned_namespace(client: KubeClient, sm: ServiceMap) -> dict[str, Any] | None:
    """The live namespace if it is this service map's; None if it is gone or someone else's."""
    try:
        live = client.get_object("Namespace", sm.namespace, timeout=APPLY_TIMEOUT, attempts=1)
    except NotFound:
        return None
    labels = (live.get("metadata") or {}).get("labels") or {}
    return live if labels.get(LABEL_SERVICEMAP) == str(sm.pk) else None


def terminating_reason(namespace: dict[str, Any]) -> str:
    """Why a Terminating namespace is still there, from what the namespace controller reports
    (its status conditions) and the finalizers left on the namespace itself."""
    reasons = [str(c.get("message") or c.get("reason") or c.get("type"))
               for c in (namespace.get("status") or {}).get("conditions") or ()
               if c.get("status") == "True"]
    meta_finalizers = (namespace.get("metadata") or {}).get("finalizers") or []
    spec_finalizers = (namespace.get("spec") or {}).get("finalizers") or []
    if meta_finalizers:
        reasons.append(f"finalizers on the namespace: {', '.join(meta_finalizers)}")
    if not reasons and spec_finalizers:
        reasons.append(f"waiting for the namespace finalizer(s) {', '.join(spec_finalizers)}")
    return "; ".join(reasons) or "its content is being deleted"


def deletion_deadline() -> float:
    """Seconds a namespace may stay Terminating before its service map is shown as stuck (the
    Django setting, else the environment variable of the same name, else 300)."""
    value = getattr(settings, "PORTAL_SERVICEMAP_DELETE_STUCK_SECONDS", None)
    return float(value if value is not None else os.environ.get("PORTAL_SERVICEMAP_DELETE_STUCK_SECONDS", "300"))


def recheck_delay(sm_id: int, outcome: str) -> float | None:
    """When the delete task should look again (None: not at all, or leave it to the beat).

    Within the deadline the task re-enqueues itself: soon at first (most namespaces go within
    seconds), then less often; a cluster that did not answer is tried again after 30 s. Past the
    deadline the beat's minute is enough, so a stuck namespace does not keep a chain of tasks."""
    if outcome not in ("terminating", "deleting"):
        return None
    since = ServiceMap.objects.filter(pk=sm_id).values_list("deleting_since", flat=True).first()
    if since is None:
        return None
    elapsed = (timezone.now() - since).total_seconds()
    if elapsed >= deletion_deadline():
        return None
    if outcome == "deleting":
        return 30.0
    return min(max(elapsed / 4, 1.0), 15.0)


def delete_service_map(sm_id: int) -> str:
    """Delete the namespace (only if it is this service map's) and remove the row once the
    namespace is really gone. Returns ``deleted``, ``terminating`` (look again later: the task
    re-enqueues itself), ``deleting`` (the cluster could not be reached or refused) or the status
    of a row that is not being deleted."""
    sm = ServiceMap.objects.select_related("cluster", "workspace").filter(pk=sm_id).first()
    if sm is None:
        return "gone"
    if sm.status != ApplyStatus.DELETING:
        return str(sm.status)
    try:
        with _client(sm.cluster) as client:
            live = _owned_namespace(client, sm)
            if live is not None and not (live.get("metadata") or {}).get("deletionTimestamp"):
                try:
                    client.delete_object("Namespace", sm.namespace, timeout=APPLY_TIMEOUT, attempts=1)
                except NotFound:
                    live = None
                except Conflict:
                    pass  # Terminating already (a real server answers 409 to a second delete)
                if live is not None:
                    live = _owned_namespace(client, sm)
    except Unreachable as exc:
        actions.service_map_message(sm, f"Waiting for the cluster to delete namespace {sm.namespace}: {exc}",
                                    code="servicemap_delete_waiting", params={"namespace": sm.namespace,
                                                                              "error": str(exc)})
        return "deleting"
    except (KubeError, DecryptionError) as exc:
        actions.service_map_message(sm, f"The cluster refused to delete namespace {sm.namespace}: {exc}",
                                    code="servicemap_delete_refused", params={"namespace": sm.namespace,
                                                                              "error": str(exc)})
        return "deleting"
    if live is None:  # gone (or someone else's now: not ours to wait for)
        actions.service_map_deleted(sm)
        return "deleted"
    since = sm.deleting_since or timezone.now()
    elapsed = (timezone.now() - since).total_seconds()
    reason = terminating_reason(live)
    if elapsed >= deletion_deadline():
        minutes = max(int(elapsed // 60), 1)
        actions.service_map_deletion_progress(
            sm, stuck=True, message=f"Namespace {sm.namespace} has been Terminating for {minutes} min "
                                    f"and is stuck: {reason}. It is checked again every "
                                    "minute; remove what holds it (for example the finalizers) in the cluster.",
            code="namespace_stuck", params={"namespace": sm.namespace, "minutes": minutes, "reason": reason})
    else:
        actions.service_map_deletion_progress(
            sm, stuck=False, message=f"Namespace {sm.namespace} is Terminating: {reason}.",
            code="namespace_terminating", params={"namespace": sm.namespace, "reason": reason})
    return "terminating"


def check_allocation(allocation_id: int) -> str:
    """Reach the cluster and (re)apply the workspace's service maps on it."""
    allocation = ClusterAllocation.objects.select_related("cluster").filter(pk=allocation_id).first()
    if allocation is None:
        return "gone"
    try:
        with KubeClient(allocation.cluster.connection_spec(), read_timeout=APPLY_TIMEOUT) as client:
            client.version()
    except Unreachable as exc:
        return actions.allocation_status(allocation, ApplyStatus.PENDING,
                                         f"Waiting for the cluster: {exc} It is retried every minute.",
                                         code="cluster_waiting", params={"error": str(exc)})
    except (KubeError, DecryptionError) as exc:
        return actions.allocation_status(allocation, ApplyStatus.PENDING, f"The cluster cannot be used yet: {exc}",
                                         code="allocation_cluster_unusable", params={"error": str(exc)})
    for sm_id in ServiceMap.objects.filter(workspace_id=allocation.workspace_id, cluster_id=allocation.cluster_id) \
            .values_list("pk", flat=True):
        apply_service_map(sm_id)
    return actions.allocation_status(allocation, ApplyStatus.READY, "")


# ---------------------------------------------------------------------------- reconcile


def drift_reason(sm: ServiceMap, row: KubeObject | None, allocation: ClusterAllocation | None) -> str:
    """Why the cluster's quota differs from the row ("" if it does not, or if it cannot be told)."""
    if sm.status != ApplyStatus.READY or sm.applied_generation != sm.generation:
        return ""
    if row is None:
        return f"ResourceQuota {QUOTA_NAME} was deleted in the cluster"
    live = dict((row.data or {}).get("hard") or {})
    wanted = desired_hard(sm, allocation)
    if not same_hard(live, wanted):
        return f"ResourceQuota {QUOTA_NAME} was changed in the cluster (hard {live} instead of {wanted})"
    return ""


QUOTA_CHANGED_TASK = "workspaces.quota_changed"
QUOTA_WINDOW = 0.25  # seconds: the quota changes within it are looked at together
QUOTA_CHANGED = "workspaces:quota-changed"  # the Redis set of "<cluster id>:<namespace>" to look at, and
                                            # the task's coalescing key (portal.enqueue)


def note_quota_changes(touched: Iterable[tuple[int, str]]) -> None:
    """For the watcher's listener: remember the (cluster, namespace) pairs whose quota changed and
    queue one ``workspaces.quota_changed`` for all of them (coalesced: while one waits in the
    queue, it will read these too). Redis away: logged; drift is still caught by the beat's
    reconcile, and the usage is published at the namespace's next change."""
    members = [f"{int(cluster_id)}:{namespace}" for cluster_id, namespace in touched]
    if members and enqueue.note(QUOTA_CHANGED, members):  # else logged: the reconcile picks drift up
        enqueue.on_commit(QUOTA_CHANGED_TASK, countdown=QUOTA_WINDOW, coalesce=QUOTA_CHANGED)


def _take_quota_changes() -> list[tuple[int, str]]:
    pairs = []
    for member in enqueue.take(QUOTA_CHANGED):  # a change from now on queues another run
        cluster_id, _, namespace = member.partition(":")
        if cluster_id.isdigit() and namespace:
            pairs.append((int(cluster_id), namespace))
    return pairs


def quota_changed() -> dict[str, int]:
    """What ``workspaces.quota_changed`` runs: for the service maps in every namespace noted since
    the last run (:func:`note_quota_changes`), re-apply the quota of those that drifted, and
    publish the others' rows with the usage the read model now holds, built together. Returns
    how many were ``restoring`` and ``published``."""
    pairs = _take_quota_changes()
    if not pairs:
        return {"restoring": 0, "published": 0}
    condition = Q(pk__in=[])
    for cluster_id, namespace in pairs:
        condition |= Q(cluster_id=cluster_id, namespace=namespace)
    maps = list(ServiceMap.objects.filter(condition).select_related("cluster", "workspace").order_by("pk"))
    quotas = quota_rows((sm.cluster_id, sm.namespace) for sm in maps)
    allocations = {(a.workspace_id, a.cluster_id): a for a in ClusterAllocation.objects.filter(
        workspace_id__in={sm.workspace_id for sm in maps}, cluster_id__in={sm.cluster_id for sm in maps})}
    unchanged: list[ServiceMap] = []
    restoring = 0
    for sm in maps:
        reason = drift_reason(sm, quotas.get((sm.cluster_id, sm.namespace)),
                              allocations.get((sm.workspace_id, sm.cluster_id)))
        if reason:
            logger.info("service map quota drifted; restoring", extra={"service_map": sm.pk, "reason": reason})
            enqueue.on_commit("workspaces.apply_service_map", sm.pk, reason)
            restoring += 1
        else:
            unchanged.append(sm)
    actions.publish_service_maps(unchanged, quotas=quotas)
    return {"restoring": restoring, "published": len(unchanged)}


def due_service_maps() -> list[tuple[int, str]]:
    """(id, drift reason) of every service map the beat task should apply: pending, failed or
    not yet applied, being deleted, or drifted from the read model of a synced cluster."""
    due: list[tuple[int, str]] = []
    maps = list(ServiceMap.objects.select_related("cluster", "workspace"))
    allocations = {(a.workspace_id, a.cluster_id): a for a in ClusterAllocation.objects.all()}
    rows = quota_rows((sm.cluster_id, sm.namespace) for sm in maps)
    synced = set(KindSync.objects.filter(kind="ResourceQuota", state=SyncState.SYNCED)
                 .values_list("cluster_id", flat=True))
    for sm in maps:
        if sm.status in (ApplyStatus.PENDING, ApplyStatus.DELETING, ApplyStatus.ERROR) \
                or sm.applied_generation != sm.generation:
            due.append((sm.pk, ""))
            continue
        if sm.cluster_id in synced:
            reason = drift_reason(sm, rows.get((sm.cluster_id, sm.namespace)),
                                  allocations.get((sm.workspace_id, sm.cluster_id)))
            if reason:
                due.append((sm.pk, reason))
    return due


def enqueue_due(*, apply: Any, delete: Any, check: Any) -> int:
    count = 0
    # A deletion within its deadline is followed by its own task (see recheck_delay); the beat
    # takes over the ones past it (stuck, or whose chain was lost) and rows without a start time.
    deadline = timezone.now() - timedelta(seconds=deletion_deadline())
    deleting = dict(ServiceMap.objects.filter(status=ApplyStatus.DELETING).values_list("pk", "deleting_since"))
    for sm_id, reason in due_service_maps():
        if sm_id in deleting:
            since = deleting[sm_id]
            if since is not None and since > deadline:
                continue
            delete(sm_id)
        else:
            apply(sm_id, reason)
        count += 1
    for allocation_id in ClusterAllocation.objects.exclude(status=ApplyStatus.READY).values_list("pk", flat=True):
        check(allocation_id)
        count += 1
    return count


# ---------------------------------------------------------------------------- preflight

POD_OWNER_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController", "CronJob")


_NAMESPACED_KINDS = ("Pod", "ReplicaSet", "Job", "Service", "PersistentVolumeClaim")
_GONE_PHASES = ("Succeeded", "Failed")

Rows = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class _ReadAhead:
    """What the preflights of many service maps read of the read model, read once for all of them
    (:func:`read_ahead`)."""

    ready_nodes: dict[int, int]
    default_class: dict[int, str]
    namespaced: dict[tuple[int, str], dict[str, Rows]]  # (cluster, namespace) -> kind -> (name, data)
    quota: dict[tuple[int, str], KubeObject]


_read_ahead: ContextVar[_ReadAhead | None] = ContextVar("workspaces_preflight_read_ahead", default=None)


@contextlib.contextmanager
def read_ahead(maps: Iterable[ServiceMap]) -> Iterator[None]:
    """Inside the block, :func:`preflight` of any of ``maps`` reads what it needs from one read of
    the read model for all of them (four queries), not from six or seven queries of its own: a
    rollout checks every target, and its request would otherwise read the same tables once per
    target. What is read is what a preflight at the block's start would have read."""
    maps = list(maps)
    clusters = sorted({sm.cluster_id for sm in maps})
    pairs = sorted({(sm.cluster_id, sm.namespace) for sm in maps})
    if not pairs:
        yield
        return
    ready = dict(KubeObject.objects.filter(cluster_id__in=clusters, kind="Node", phase="Ready").order_by()
                 .values("cluster_id").annotate(n=Count("id")).values_list("cluster_id", "n"))
    default_class: dict[int, str] = {}
    for cluster_id, name, data in KubeObject.objects.filter(cluster_id__in=clusters, kind="StorageClass").values_list(
            "cluster_id", "name", "data"):
        if (data or {}).get("is_default"):
            default_class.setdefault(cluster_id, name)
    condition = Q(pk__in=[])
    for cluster_id in clusters:
        condition |= Q(cluster_id=cluster_id, namespace__in=[ns for c, ns in pairs if c == cluster_id])
    namespaced: dict[tuple[int, str], dict[str, Rows]] = {pair: {kind: [] for kind in _NAMESPACED_KINDS}
                                                          for pair in pairs}
    rows = KubeObject.objects.filter(condition, kind__in=_NAMESPACED_KINDS).values_list(
        "cluster_id", "namespace", "kind", "name", "phase", "data")
    for cluster_id, namespace, kind, name, phase, data in rows:
        if kind == "Pod" and phase in _GONE_PHASES:
            continue
        kinds = namespaced.get((cluster_id, namespace))
        if kinds is not None:
            kinds[kind].append((name, data or {}))
    token = _read_ahead.set(_ReadAhead(ready, default_class, namespaced, quota_rows(pairs)))
    try:
        yield
    finally:
        _read_ahead.reset(token)


class _LiveUse:
    """What the namespace's existing objects take now, from the read model, for objects a deploy
    replaces. The namespace's pods, ReplicaSets and Jobs are read once per preflight (and only the
    columns used), not once per workload of the manifest; inside :func:`read_ahead` they were read
    for every service map at once (``rows``)."""

    def __init__(self, sm: ServiceMap, rows: dict[str, Rows] | None = None) -> None:
        self.base = KubeObject.objects.filter(cluster_id=sm.cluster_id, namespace=sm.namespace)
        self._read = rows
        self._pods: Rows | None = rows["Pod"] if rows is not None else None
        self._children: dict[str, Rows] = {}

    def _rows(self, queryset: Any) -> Rows:
        return [(name, data or {}) for name, data in queryset.values_list("name", "data")]

    def pods(self) -> Rows:
        if self._pods is None:
            self._pods = self._rows(self.base.filter(kind="Pod").exclude(phase__in=_GONE_PHASES))
        return self._pods

    def children(self, kind: str) -> Rows:
        if self._read is not None:
            return self._read[kind]
        if kind not in self._children:
            self._children[kind] = self._rows(self.base.filter(kind=kind))
        return self._children[kind]

    def _named(self, kind: str, name: str) -> dict[str, Any] | None:
        """The data of the namespace's ``kind`` ``name`` (None: there is none)."""
        if self._read is not None:
            return next((data for found, data in self._read[kind] if found == name), None)
        live = self.base.filter(kind=kind, name=name).values_list("data", flat=True).first()
        return None if live is None else (live or {})

    def of(self, kind: str, name: str) -> q.Quota:
        """What the existing object ``kind``/``name`` takes now ({} if there is none)."""
        if kind == "Service":
            live = self._named(kind, name)
            if live is None:
                return {}
            service_use = {"services": Decimal(1)}
            if live.get("type") == "LoadBalancer":
                service_use["services.loadbalancers"] = Decimal(1)
            return service_use
        if kind == "PersistentVolumeClaim":
            data = self._named(kind, name)
            if data is None:
                return {}
            claim_use = {"persistentvolumeclaims": Decimal(1)}
            storage_class = str(data.get("storage_class") or "")
            if storage_class:
                claim_use[f"{storage_class}{q.STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = Decimal(1)
            requested = quantity(data.get("requested"))
            if requested is not None:
                claim_use["requests.storage"] = requested
                if storage_class:
                    claim_use[f"{storage_class}{q.STORAGE_CLASS_SUFFIX}requests.storage"] = requested
            return claim_use
        if kind not in (*POD_OWNER_KINDS, "Pod"):
            return {}
        owners = {(kind, name)}
        if kind == "Deployment":
            owners |= {("ReplicaSet", rs) for rs, data in self.children("ReplicaSet")
                       if (data.get("owner") or {}) == {"kind": "Deployment", "name": name}}
        if kind == "CronJob":
            owners |= {("Job", job) for job, data in self.children("Job")
                       if (data.get("owner") or {}) == {"kind": "CronJob", "name": name}}
        use: q.Quota = {}
        for pod, data in self.pods():
            ref = data.get("owner") or {}
            if (kind == "Pod" and pod == name) or (ref.get("kind"), ref.get("name")) in owners:
                use = q.add(use, {"pods": Decimal(1)})
                for part in ("requests", "limits"):
                    for resource in ("cpu", "memory"):
                        value = (data.get(part) or {}).get(resource)
                        if value:
                            use = q.add(use, {f"{part}.{resource}": Decimal(str(value))})
        return use


def preflight(sm: ServiceMap, manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """Would ``manifests`` fit in the service map's remaining quota? (see docs/workspaces-api.md)."""
    if sm.status == ApplyStatus.DELETING:  # every deploy, upgrade and rollback is planned through here
        raise errors.Conflict(f"Service map {sm.namespace} is being deleted; nothing new can be deployed to it.",
                              code="servicemap_deleting", params={"namespace": sm.namespace})
    problems: list[str] = []
    defaults = effective_limits(sm)
    ahead = _read_ahead.get()
    pair = (sm.cluster_id, sm.namespace)
    if ahead is not None and pair in ahead.namespaced:
        ready_nodes = ahead.ready_nodes.get(sm.cluster_id, 0)
        default_class = ahead.default_class.get(sm.cluster_id, "")
        live = _LiveUse(sm, ahead.namespaced[pair])
        row = ahead.quota.get(pair)
    else:
        ready_nodes = KubeObject.objects.filter(cluster_id=sm.cluster_id, kind="Node", phase="Ready").count()
        default_class = next((o.name for o in KubeObject.objects.filter(cluster_id=sm.cluster_id, kind="StorageClass")
                              if (o.data or {}).get("is_default")), "")
        live = _LiveUse(sm)
        row = quota_rows([pair]).get(pair)
    requested: q.Quota = {}
    freed: q.Quota = {}
    for index, obj in enumerate(manifests):
        meta = obj.get("metadata") or {}
        kind, name = str(obj.get("kind") or ""), str(meta.get("name") or "")
        namespace = meta.get("namespace")
        if namespace and namespace != sm.namespace:
            problems.append(f"manifests[{index}] ({kind} {name}) targets namespace {namespace}, not {sm.namespace}.")
        # pods the API server would refuse once the LimitRange defaults are filled in
        problems.extend(q.limit_range_problems(obj, defaults))
        requested = q.add(requested, object_use_for(obj, defaults, ready_nodes, default_class))
        if name:
            freed = q.add(freed, live.of(kind, name))
    used = q.load(((row.data or {}).get("used") or {}) if row is not None else {})
    hard = q.load(sm.quota)
    resources = []
    for key, limit in sorted(hard.items()):
        want = requested.get(key, Decimal(0))
        now = max(used.get(key, Decimal(0)) - freed.get(key, Decimal(0)), Decimal(0))
        left = limit - now
        fits = want <= left
        if not fits:
            problems.append(f"{key}: the manifests ask for {q.fmt(key, want)} but only "
                            f"{q.human(key, max(left, Decimal(0)))} is left in {sm.namespace}.")
        resources.append({"resource": key, "requested": q.fmt(key, want), "used": q.fmt(key, used.get(key, Decimal(0))),
                          "hard": q.fmt(key, limit), "remaining": q.human(key, left), "fits": fits})
    return {"fits": not problems, "resources": resources, "problems": problems}


def object_use_for(obj: dict[str, Any], defaults: dict[str, dict[str, str]], ready_nodes: int,
                   default_class: str) -> q.Quota:
    return q.object_use(obj, defaults=defaults, ready_nodes=ready_nodes, default_storage_class=default_class)
