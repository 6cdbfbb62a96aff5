"""Every write of the clusters app: register, change, replace credentials, check, disable/enable,
delete, node operations and their progress.

Each action changes the database, audits (through :mod:`portal.audit`: ``describe`` for API
requests, whose record the middleware writes, ``record`` for work done by tasks) and publishes
``cluster.updated`` / ``node_operation.updated`` after commit, inside one transaction. Tasks are
enqueued by name (``clusters.check_cluster``, ``clusters.run_node_operation``,
``clusters.drain_node``) through :func:`portal.enqueue.on_commit` after their status row is
written, and take ids: actions sit below the operations and tasks that call them, so they never
import :mod:`clusters.tasks` or :mod:`clusters.services`. Refusals are :mod:`portal.errors`;
``request`` is passed only for the audit record. Every stored message has its ``message_code``
and ``message_params`` beside it.
Credentials never reach the audit log or an event: details list field names, not values.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models.deletion import ProtectedError
from django.http import HttpRequest
from django.utils import timezone

from clusters import rows
from clusters.kube.connection import ConnectionSpec
from clusters.models import Cluster, ClusterStatus, NodeOperation, NodeOperationKind, NodeOperationStatus
from clusters.outcomes import CheckResult
from clusters.readmodel import cluster_freshness
from clusters.rows import node_operation_row
from portal import audit, deletion, enqueue, errors
from portal.events import publish
from portal.models import AuditOutcome

PENDING_GRACE = timedelta(minutes=10)
EDITABLE_FIELDS = ("display_name", "description", "provider", "region", "stage", "labels", "enabled", "namespaces",
                   "prometheus_url", "prometheus_ca_pem")


class OperationInProgress(errors.Conflict):
    """Refused (409): another operation on the same node has not finished."""


def cluster_row(cluster: Cluster) -> dict[str, Any]:
    """The cluster as the list shows it (the ``cluster.updated`` payload), with its freshness."""
    return rows.cluster_row(cluster, cluster_freshness([cluster]).get(cluster.pk))


def _publish_cluster(cluster: Cluster) -> None:
    row = cluster_row(cluster)
    publish("fleet", "cluster.updated", row)
    publish(f"cluster.{cluster.pk}", "cluster.updated", row)


def _audit(
    request: HttpRequest | None, *, action: str, cluster: Cluster, detail: dict[str, Any], actor: Any = None,
    outcome: str = AuditOutcome.SUCCESS,
) -> None:
    if request is not None:
        audit.describe(request, action=action, target=cluster, detail=detail)
    else:
        audit.record(action=action, outcome=outcome, actor=actor, target=cluster, detail=detail)


def _enqueue_check(cluster_id: int) -> None:
    # Robust (portal.enqueue): a broker hiccup after commit never turns a stored write into a 500;
    # the row stays ``pending`` if this is lost, and POST .../check/ or the beat re-check enqueues again.
    enqueue.on_commit("clusters.check_cluster", cluster_id)


def _apply_connection(cluster: Cluster, spec: ConnectionSpec) -> None:
    cluster.server = spec.server
    cluster.ca_pem = spec.ca_pem
    cluster.tls_server_name = spec.tls_server_name
    cluster.insecure_skip_tls_verify = spec.insecure_skip_tls_verify
    cluster.set_credentials(spec.credentials)


def _connection_detail(spec: ConnectionSpec, source: str) -> dict[str, Any]:
    return {"server": spec.server, "auth_method": spec.credentials.method, "source": source,
            "insecure_skip_tls_verify": spec.insecure_skip_tls_verify}


@transaction.atomic
def register_cluster(
    *, fields: dict[str, Any], spec: ConnectionSpec, source: str, actor: Any = None,
    request: HttpRequest | None = None, kubernetes_version: str = "",
) -> Cluster:
    """Store a new cluster (status ``pending``) with its credentials encrypted and bound to its
    row, then check it in the background."""
    cluster = Cluster(**{k: v for k, v in fields.items() if k in ("name", *EDITABLE_FIELDS) and k != "enabled"})
    cluster.server = spec.server
    cluster.created_by = actor if getattr(actor, "pk", None) else None
    cluster.kubernetes_version = kubernetes_version
    cluster.status = ClusterStatus.PENDING
    cluster.save()  # the credentials are bound to the row id, so the row comes first
    _apply_connection(cluster, spec)
    cluster.save()
    _audit(request, action="cluster.register", cluster=cluster, actor=actor,
           detail={"name": cluster.name, "provider": cluster.provider, **_connection_detail(spec, source)})
    _publish_cluster(cluster)
    _enqueue_check(cluster.pk)
    return cluster


@transaction.atomic
def update_cluster(
    *, cluster: Cluster, changes: dict[str, Any], actor: Any = None, request: HttpRequest | None = None
) -> Cluster:
    """Change descriptive fields; ``enabled`` false stops watching (status ``disabled``), true
    re-checks the cluster."""
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    changed = sorted(k for k, v in changes.items() if k in EDITABLE_FIELDS and getattr(cluster, k) != v)
    for name in changed:
        setattr(cluster, name, changes[name])
    action = "cluster.update"
    if "namespaces" in changed and cluster.enabled and "enabled" not in changed:
        _enqueue_check(cluster.pk)  # the watched namespaces follow the check
    if "enabled" in changed:
        if cluster.enabled:
            action, cluster.status, cluster.status_message = "cluster.enable", ClusterStatus.PENDING, ""
            cluster.message_code, cluster.message_params = "", {}
            _enqueue_check(cluster.pk)
        else:
            action = "cluster.disable"
            cluster.status, cluster.status_message = ClusterStatus.DISABLED, "Disabled: the portal does not watch it."
            cluster.message_code, cluster.message_params = "cluster_disabled", {}
    cluster.save()
    _audit(request, action=action, cluster=cluster, actor=actor, detail={"fields": changed})
    _publish_cluster(cluster)
    return cluster


@transaction.atomic
def replace_credentials(
    *, cluster: Cluster, spec: ConnectionSpec, source: str, actor: Any = None, request: HttpRequest | None = None
) -> Cluster:
    """Replace the whole connection (endpoint, CA, credentials) and re-check."""
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    _apply_connection(cluster, spec)
    if cluster.enabled:
        cluster.status, cluster.status_message = ClusterStatus.PENDING, "Credentials replaced; checking."
        cluster.message_code, cluster.message_params = "credentials_replaced", {}
        _enqueue_check(cluster.pk)
    cluster.save()
    _audit(request, action="cluster.credentials", cluster=cluster, actor=actor, detail=_connection_detail(spec, source))
    _publish_cluster(cluster)
    return cluster


@transaction.atomic
def request_check(*, cluster: Cluster, actor: Any = None, request: HttpRequest | None = None) -> Cluster:
    _audit(request, action="cluster.check_requested", cluster=cluster, actor=actor, detail={})
    _enqueue_check(cluster.pk)
    return cluster


def _check_params(cluster: Cluster, result: CheckResult) -> dict[str, Any]:
    """What the console's translation of a check's message fills in (``message_code`` is
    ``cluster_`` + the check's code: ``cluster_connected``, ``cluster_connection_refused``, ...)."""
    if result.status == ClusterStatus.CONNECTED:
        permissions = result.permissions or {}
        return {"version": result.kubernetes_version, "nodes": result.node_count,
                "missing": list(result.missing_permissions), "namespaces": list(permissions.get("namespaces") or [])
                if permissions.get("scope") == "namespaces" else []}
    return {"server": cluster.server, "error": result.message}


@transaction.atomic
def record_check_result(*, cluster_id: int, result: CheckResult) -> Cluster | None:
    """What the connectivity check found. A cluster disabled meanwhile keeps ``disabled``."""
    cluster = Cluster.objects.select_for_update().filter(pk=cluster_id).first()
    if cluster is None:
        return None
    previous = cluster.status
    cluster.last_checked = timezone.now()
    if cluster.enabled:
        cluster.status, cluster.status_message = result.status, result.message
        cluster.status_code = result.code
        cluster.message_code, cluster.message_params = f"cluster_{result.code}" if result.code else "", \
            _check_params(cluster, result)
    if result.permissions is not None:
        cluster.permissions = result.permissions
        cluster.missing_permissions = result.missing_permissions
    if result.kubernetes_version:
        cluster.kubernetes_version = result.kubernetes_version
    if result.api_cert_not_after is not None:
        cluster.api_cert_not_after = result.api_cert_not_after
    if result.status == ClusterStatus.CONNECTED:
        cluster.missing_permissions = result.missing_permissions
        if result.node_count is not None and "nodes_total" not in (cluster.summary or {}):
            # Until the watcher's first summary, the list can at least show the node count.
            cluster.summary = {**(cluster.summary or {}), "nodes_total": result.node_count}
    cluster.save()
    audit.record(
        action="cluster.check", outcome=AuditOutcome.SUCCESS if result.status == ClusterStatus.CONNECTED else
        AuditOutcome.FAILURE, target=cluster,
        detail={"status": result.status, "previous_status": previous, "kubernetes_version": result.kubernetes_version,
                "node_count": result.node_count, "missing_permissions": result.missing_permissions,
                "message": result.message[:500]},
    )
    _publish_cluster(cluster)
    return cluster


def delete_cluster(*, cluster: Cluster, actor: Any = None, request: HttpRequest | None = None) -> None:
    """Delete a cluster and its read model (KindSync, KubeObject, lease and node operations go
    with it; the watcher drops a cluster whose row is gone). Audit history stays."""
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        cluster_id, name = cluster.pk, cluster.name
        audit.record(action="cluster.delete", outcome=AuditOutcome.SUCCESS, request=request, actor=actor,
                     target=cluster, status_code=204 if request is not None else None,
                     detail={"name": name, "server": cluster.server})
        if request is not None:
            audit.describe(request, handled=True)
        try:
            cluster.delete()
        except ProtectedError as exc:  # rows of an app above still use it (a build definition builds there)
            used_by = deletion.describe(exc.protected_objects)
            raise errors.Conflict(f"Cluster {name} is still used by {used_by}; delete or move them first.",
                                  code="cluster_in_use", params={"cluster": name, "objects": used_by}) from exc
        gone = {"id": cluster_id, "name": name, "deleted": True}
        publish("fleet", "cluster.deleted", gone)
        publish(f"cluster.{cluster_id}", "cluster.deleted", gone)


# ---------------------------------------------------------------------------- node operations


def _stale_pending_message() -> tuple[str, str]:
    return "No worker started this operation; it was superseded by a newer request.", "node_operation_superseded"


@transaction.atomic
def start_node_operation(
    *, cluster: Cluster, node: str, kind: str, actor: Any = None, request: HttpRequest | None = None,
    options: dict[str, bool] | None = None,
) -> NodeOperation:
    """Write the operation (``pending``), audit, and enqueue its first step after commit (a drain
    on the ``long`` queue as ``clusters.drain_node``, cordon and uncordon as
    ``clusters.run_node_operation``). ``options`` (drain: ``force``, ``delete_emptydir_data``)
    are kept in ``progress["options"]``. ``request`` is only for the audit record."""
    Cluster.objects.select_for_update().get(pk=cluster.pk)  # serialise operations per cluster
    # An operation no worker picked up within the grace period (its enqueue was lost) must not
    # block the node for ever: it is closed as failed, and the new one goes ahead.
    lost = NodeOperation.objects.filter(cluster=cluster, node=node, status=NodeOperationStatus.PENDING,
                                        created__lt=timezone.now() - PENDING_GRACE)
    for stale in lost:
        message, code = _stale_pending_message()
        finish_node_operation(op=stale, status=NodeOperationStatus.FAILED, progress=stale.progress,
                              message=message, code=code, params={})
    busy = NodeOperation.objects.filter(cluster=cluster, node=node, status__in=NodeOperation.ACTIVE).first()
    if busy is not None:
        raise OperationInProgress(f"A {busy.kind} of node {node} is still {busy.status} (operation {busy.pk}); "
                                  "wait for it to finish.", code="node_operation_in_progress",
                                  params={"node": node, "kind": busy.kind, "status": busy.status,
                                          "operation": busy.pk})
    op = NodeOperation.objects.create(cluster=cluster, node=node, kind=kind,
                                      requested_by=actor if getattr(actor, "pk", None) else None,
                                      progress={"evicted": [], "failed": [], "remaining": 0,
                                                **({"options": dict(options)} if options is not None else {})})
    if request is not None:
        audit.describe(request, action=f"node.{kind}", target=cluster,
                       detail={"node": node, "operation": op.pk, **({"options": options} if options else {})})
    else:
        audit.record(action=f"node.{kind}", outcome=AuditOutcome.SUCCESS, actor=actor, target=cluster,
                     detail={"node": node, "operation": op.pk})
    publish(f"cluster.{cluster.pk}", "node_operation.updated", node_operation_row(op))
    enqueue.on_commit("clusters.drain_node" if kind == NodeOperationKind.DRAIN else "clusters.run_node_operation",
                      op.pk)
    return op


@transaction.atomic
def begin_node_operation_step(*, op_id: int, step: int | None, timeout: float, busy_for: float
                              ) -> NodeOperation | None:
    """Claim one step of an operation, under its row lock: None when the operation is gone,
    finished (or cancelled), or carried on by another chain (``step`` is not the row's; None
    takes any). The first step marks it ``running`` with its deadline (``timeout`` seconds from
    now). ``next_step_at`` is set ``busy_for`` seconds ahead: the beat rescues a step that died."""
    op = NodeOperation.objects.select_for_update().select_related("cluster").filter(pk=op_id).first()
    if op is None or op.status not in NodeOperation.ACTIVE or (step is not None and step != op.step):
        return None
    now = timezone.now()
    changes: list[str] = ["next_step_at"]
    op.next_step_at = now + timedelta(seconds=busy_for)
    if op.deadline is None:
        op.deadline = now + timedelta(seconds=timeout)
        changes.append("deadline")
    if op.status == NodeOperationStatus.PENDING:
        op.status, op.started = NodeOperationStatus.RUNNING, op.started or now
        op.message, op.message_code, op.message_params = "", "", {}
        changes += ["status", "started", "message", "message_code", "message_params"]
    op.save(update_fields=changes)
    publish(f"cluster.{op.cluster_id}", "node_operation.updated", node_operation_row(op))
    return op


@transaction.atomic
def update_node_operation(*, op: NodeOperation, **changes: Any) -> NodeOperation:
    """Record progress (status, progress, message, started) and push it to the cluster's group."""
    for name, value in changes.items():
        setattr(op, name, value)
    op.save(update_fields=list(changes))
    publish(f"cluster.{op.cluster_id}", "node_operation.updated", node_operation_row(op))
    return op


@transaction.atomic
def schedule_node_operation_step(*, op: NodeOperation, again_in: float, progress: dict[str, Any], message: str,
                                 code: str, params: dict[str, Any]) -> int | None:
    """Record a step's progress and number the next one (due in ``again_in`` s); returns that
    number, or None when another copy of this step got there first (then it schedules)."""
    locked = NodeOperation.objects.select_for_update().filter(pk=op.pk).first()
    if locked is None or locked.status not in NodeOperation.ACTIVE or locked.step != op.step:
        return None
    op.step += 1
    op.next_step_at = timezone.now() + timedelta(seconds=again_in)
    op.progress, op.message, op.message_code, op.message_params = progress, message, code, params
    op.save(update_fields=["step", "next_step_at", "progress", "message", "message_code", "message_params"])
    publish(f"cluster.{op.cluster_id}", "node_operation.updated", node_operation_row(op))
    return op.step


@transaction.atomic
def finish_node_operation(*, op: NodeOperation, status: str, message: str, progress: dict[str, Any],
                          code: str = "", params: dict[str, Any] | None = None) -> NodeOperation:
    op.status, op.message, op.progress, op.finished = status, message, progress, timezone.now()
    op.message_code, op.message_params, op.next_step_at = code, dict(params or {}), None
    op.save(update_fields=["status", "message", "message_code", "message_params", "progress", "finished",
                           "next_step_at"])
    audit.record(
        action=f"node.{op.kind}.finished",
        outcome=AuditOutcome.SUCCESS if status == NodeOperationStatus.SUCCEEDED else AuditOutcome.FAILURE,
        actor=op.requested_by, target_type="clusters.cluster", target_id=str(op.cluster_id),
        target_repr=f"{op.kind} {op.node}",
        detail={"node": op.node, "operation": op.pk, "status": status, "message": message[:500], "code": code,
                "evicted": len(progress.get("evicted") or []), "failed": progress.get("failed") or []},
    )
    publish(f"cluster.{op.cluster_id}", "node_operation.updated", node_operation_row(op))
    return op
