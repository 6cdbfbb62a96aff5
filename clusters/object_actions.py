"""The only writer of :class:`~clusters.models.ObjectAction` rows: every change the portal makes
to an object of a cluster (apply, create, scale, restart, pause, resume, rollback, delete).

Why it exists: a change to a cluster is an intent row first (so it is never lost, the console
has a row to follow and the timeline a record), then a task (``clusters.run_object_action``)
that carries it out. :func:`request_action` writes the row, the audit record and the
``objects.action`` event in one transaction and enqueues the task by name after commit; the
operations (:mod:`clusters.object_ops`) record their progress and outcome through
:func:`begin` and :func:`finish`. Each publishes the row after commit to the object's namespace
group (``cluster.<id>.ns.<namespace>``), or the cluster's group for cluster-scoped objects; a
create spanning namespaces goes whole to the cluster's group and trimmed to each namespace's
(:func:`namespace_row`).

Authorization is the caller's (the views ask :mod:`clusters.access` first); ``request`` is only
for the audit record. A manifest holding a Secret is stored encrypted (bound to its row).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clusters.models import Cluster, ObjectAction, ObjectActionKind, ObjectActionStatus
from clusters.objects import action_group, action_row
from portal import audit, enqueue
from portal.events import publish
from portal.models import AuditOutcome

TASK = "clusters.run_object_action"
# A run holds its action this long (every cluster call has its own timeout, well below); past it,
# a ``running`` action is taken to have lost its worker and is claimed again.
RUNNING_LEASE = timedelta(minutes=5)

# The audit action of each kind of change (docs/clusters-api.md, "Editing and creating objects").
AUDIT_ACTIONS: dict[str, str] = {
    ObjectActionKind.APPLY: "object.apply",
    ObjectActionKind.CREATE: "object.create",
    ObjectActionKind.SCALE: "workload.scale",
    ObjectActionKind.RESTART: "workload.restart",
    ObjectActionKind.PAUSE: "workload.pause",
    ObjectActionKind.RESUME: "workload.resume",
    ObjectActionKind.ROLLBACK: "workload.rollback",
    ObjectActionKind.DELETE: "object.delete",
}
FINISHED = (ObjectActionStatus.SUCCEEDED, ObjectActionStatus.FAILED, ObjectActionStatus.CONFLICT)


# The outcomes of a create whose message and params say only how many documents (safe to show in
# every namespace a create spans); any other outcome's words may name another namespace's objects.
_COUNT_ONLY_CODES = frozenset({"objects_created", "create_failed", "create_conflict"})


def _publish(action: ObjectAction) -> None:
    row = action_row(action)
    publish(action_group(action), "objects.action", row)
    # A create spanning namespaces goes whole to the cluster's group (those who read every namespace,
    # clusters.access) and, trimmed to that namespace's documents, to each namespace's, so members
    # following their namespaces see it too and learn nothing of the other namespaces' objects.
    spanned = [] if action.namespace else list((action.params or {}).get("namespaces") or [])
    for namespace in spanned:
        publish(f"cluster.{action.cluster_id}.ns.{namespace}", "objects.action", namespace_row(row, namespace))


def namespace_row(row: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The row of a create spanning namespaces as one namespace's group may see it: only that
    namespace's documents (their conflicts and errors), no diff (it spans every document), no
    per-document targets, and the outcome's own words only when they are counts."""
    params = row.get("params") or {}
    result = row.get("result") or {}
    documents = [d for d in result.get("documents") or [] if d.get("namespace") == namespace]
    indexes = {d.get("index") for d in documents}
    trimmed: dict[str, Any] = {"documents": documents} if "documents" in result else {}
    if "conflicts" in result:
        trimmed["conflicts"] = [c for d in documents for c in d.get("conflicts") or []]
    if "errors" in result:
        trimmed["errors"] = [e for e in result.get("errors") or [] if e.get("document") in indexes]
    safe = not row.get("message_code") or row.get("message_code") in _COUNT_ONLY_CODES
    return {
        **row, "diff": "", "result": trimmed,
        "params": {"force": bool(params.get("force")), "namespace": namespace, "namespaces": [namespace],
                   "documents": len(documents) if "documents" in result else
                   sum(1 for t in params.get("targets") or [] if t.get("namespace") == namespace)},
        "message": row.get("message", "") if safe else "The change did not complete; its details are shown to "
                   "those who may see every namespace it spans.",
        "message_params": (row.get("message_params") or {}) if safe else {},
    }


@transaction.atomic
def request_action(
    user: Any, cluster: Cluster, *, group: str, version: str, plural: str, kind: str, namespace: str, name: str,
    action: str, params: dict[str, Any] | None = None, manifest: str = "", secret: bool = False,
    request: HttpRequest | None = None, detail: dict[str, Any] | None = None,
) -> ObjectAction:
    """Write the intent (``pending``), audit it and enqueue ``clusters.run_object_action`` after
    commit. ``secret`` (the manifest holds a Secret; a manifest of kind Secret always counts)
    stores the manifest encrypted. ``detail`` adds to the audit record's detail (never values)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown object action {action!r}")
    actor = user if getattr(user, "pk", None) else None
    row = ObjectAction.objects.create(
        cluster=cluster, group=group, version=version, plural=plural, kind=kind, namespace=namespace, name=name,
        action=action, params=dict(params or {}), requested_by=actor,
        requested_username=(user.get_username() if actor is not None else "")[:150],
    )
    if manifest:
        row.set_manifest(manifest, encrypt=secret or kind == "Secret")
        row.save(update_fields=["manifest", "manifest_encrypted"])
    audit.record(
        action=AUDIT_ACTIONS[action], outcome=AuditOutcome.SUCCESS, request=request, actor=actor, target=cluster,
        status_code=202 if request is not None else None,
        detail={"cluster": cluster.pk, "namespace": namespace, "kind": kind, "name": name, "action_id": row.pk,
                **({"params": {k: v for k, v in (params or {}).items() if k != "manifest"}} if params else {}),
                **(detail or {})},
    )
    if request is not None:
        audit.describe(request, handled=True)  # the record above is this request's
    _publish(row)
    enqueue.on_commit(TASK, row.pk)
    return row


@transaction.atomic
def begin(action_id: int) -> ObjectAction | None:
    """Claim an action for a run, under its row lock: None when it is gone or finished, or when
    another run claimed it less than :data:`RUNNING_LEASE` ago (a copy of the task that arrives
    late leaves). A ``running`` one past the lease is taken again (its worker died; the
    operations converge when run twice). Marks it ``running`` and counts the attempt; ``started``
    is when the current run claimed it."""
    row = ObjectAction.objects.select_for_update().select_related("cluster").filter(pk=action_id).first()
    if row is None or row.status not in ObjectAction.ACTIVE:
        return None
    now = timezone.now()
    if row.status == ObjectActionStatus.RUNNING and row.started is not None and row.started > now - RUNNING_LEASE:
        return None
    row.status, row.attempts, row.started = ObjectActionStatus.RUNNING, row.attempts + 1, now
    row.save(update_fields=["status", "attempts", "started"])
    _publish(row)
    return row


@transaction.atomic
def finish(action: ObjectAction, *, status: str, message: str, code: str, params: dict[str, Any] | None = None,
           result: dict[str, Any] | None = None, diff: str | None = None) -> ObjectAction:
    """Record the outcome (``succeeded``, ``failed`` or ``conflict``) with its message, code and
    params, what it produced (``result``) and the diff live → applied."""
    if status not in FINISHED:
        raise ValueError(f"not a final status: {status!r}")
    action.status, action.message, action.message_code = status, message[:4000], code
    action.message_params = dict(params or {})
    if result is not None:
        action.result = result
    if diff is not None:
        action.diff = diff
    action.finished = timezone.now()
    action.save(update_fields=["status", "message", "message_code", "message_params", "result", "diff", "finished"])
    _publish(action)
    return action


def is_finished(action: ObjectAction) -> bool:
    return action.status in FINISHED
