"""Carrying out an :class:`~clusters.models.ObjectAction` against its cluster through the client
layer: the operations behind ``clusters.run_object_action``.

Why a registry: each kind of change (apply and create here; scale, restart, pause, resume,
rollback and delete in :mod:`clusters.workload_ops`) is one function
``(action, client) -> None`` in :data:`OPERATIONS`, and :func:`run` owns what they share:
claiming the row (:func:`clusters.object_actions.begin`, so a late copy of the task leaves),
building the cluster's client, and turning what went wrong into the row's outcome with a stable
code (a 409 apply conflict → ``conflict`` with ``result.conflicts``; a 422 → ``failed``
``api_invalid`` with the causes on their YAML lines; a missing object, a kind the cluster does
not serve, an unreachable cluster). An operation records its own success through
:func:`clusters.object_actions.finish`; one that returns without doing so succeeded with the
default message.

Every operation converges when run twice (a worker that dies mid-way redelivers the task):
server-side apply of the same manifest under the same field manager changes nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils import timezone

from clusters import access, object_actions, objects
from clusters.kube import errors as kube
from clusters.kube.client import KubeClient, Resource
from clusters.models import ObjectAction, ObjectActionStatus
from portal import errors
from portal.crypto import DecryptionError

logger = logging.getLogger(__name__)

Operation = Callable[[ObjectAction, KubeClient], None]
OPERATIONS: dict[str, Operation] = {}
CALL_TIMEOUT = 15.0
# A pending action no worker started within this long lost its enqueue: the beat sends it again.
PENDING_GRACE = timedelta(minutes=2)


def register(action: str) -> Callable[[Operation], Operation]:
    """``@register("scale")`` adds an operation to :data:`OPERATIONS`."""
    def add(fn: Operation) -> Operation:
        OPERATIONS[action] = fn
        return fn
    return add


def resource_of(action: ObjectAction) -> Resource:
    """The object's resource as the action names it (no discovery needed)."""
    return Resource(api_version=objects.api_version_of(action.group, action.version), kind=action.kind,
                    plural=action.plural, namespaced=bool(action.namespace))


def manager_of(action: ObjectAction) -> str:
    return objects.field_manager(action.requested_username or "unknown")


def overdue_actions(limit: int = 100) -> list[int]:
    """Actions whose task must be sent again (by the beat's ``clusters.recheck_clusters``): pending
    past :data:`PENDING_GRACE` (the enqueue was lost), or running past the lease (the worker died
    and the broker did not redeliver). Oldest first."""
    now = timezone.now()
    rows = ObjectAction.objects.filter(
        Q(status=ObjectActionStatus.PENDING, created__lt=now - PENDING_GRACE)
        | Q(status=ObjectActionStatus.RUNNING, started__lt=now - object_actions.RUNNING_LEASE))
    return list(rows.order_by("created", "id").values_list("pk", flat=True)[:limit])


def run(action_id: int, *, client_factory: Callable[[ObjectAction], KubeClient] | None = None) -> str:
    """Run one action; returns its status (``gone`` when the row is gone). Safe to call twice:
    a finished action is left alone."""
    action = object_actions.begin(action_id)
    if action is None:
        current = ObjectAction.objects.filter(pk=action_id).values_list("status", flat=True).first()
        return str(current or "gone")
    operation = OPERATIONS.get(str(action.action))
    if operation is None:
        object_actions.finish(action, status=ObjectActionStatus.FAILED, code="object_action_unknown",
                              message=f"The portal cannot carry out {action.action!r} (no operation for it).",
                              params={"action": action.action})
        return action.status
    try:
        client = client_factory(action) if client_factory else KubeClient(action.cluster.connection_spec(),
                                                                           read_timeout=CALL_TIMEOUT)
        with client:
            operation(action, client)
    except DecryptionError as exc:
        _fail(action, f"The stored credentials cannot be decrypted: {exc}", "credentials_undecryptable",
              {"error": str(exc)})
    except errors.PortalError as exc:
        _fail(action, exc.message, exc.code, exc.params, result=_errors_result(exc))
    except kube.Conflict as exc:
        found = objects.conflicts(exc.body, str(exc))
        if any(c["manager"] for c in found):
            object_actions.finish(
                action, status=ObjectActionStatus.CONFLICT, code="apply_conflict",
                message="Other field managers own fields this change sets: " + "; ".join(
                    f"{c['field']} ({c['manager']})" for c in found) + ". Apply again with force to take them "
                    "over, or back out.",
                params={"count": len(found), "managers": sorted({c["manager"] for c in found})},
                result={**(action.result or {}), "conflicts": found})
        else:
            _fail(action, f"The cluster refused the change: {exc}", "object_conflict", {"error": str(exc)[:500]})
    except kube.Invalid as exc:
        failed = objects.api_invalid(exc.body, str(exc), text=_manifest_or_empty(action))
        _fail(action, failed.message, failed.code, {"error": failed.params["error"]},
              result={**(action.result or {}), "errors": failed.params["lines"]})
    except kube.UnknownKind as exc:
        _fail(action, str(exc), "kind_not_served", {"kind": action.kind})
    except kube.NotFound as exc:
        _fail(action, f"{action.kind} {action.name} is not in the cluster (any more): {exc}", "object_not_found",
              {"kind": action.kind, "name": action.name})
    except kube.Forbidden as exc:
        _fail(action, f"The portal's credentials may not do this: {exc}", "cluster_forbidden",
              {"error": str(exc)[:500]})
    except kube.KubeError as exc:
        _fail(action, f"The cluster did not complete the change: {exc}", "object_action_cluster_error",
              {"error": str(exc)[:500], "reason": exc.code})
    except Exception:
        # A fault of the portal's own: the row must not stay running for ever.
        logger.exception("object action failed", extra={"action_id": action.pk, "action": action.action})
        _fail(action, "The portal failed while carrying out this change; see its logs.", "object_action_internal_error",
              {"action": action.action})
        raise
    else:
        if not object_actions.is_finished(action):
            object_actions.finish(action, status=ObjectActionStatus.SUCCEEDED, code="object_action_succeeded",
                                  message=f"{action.action} of {action.kind} {action.name} done.",
                                  params={"action": action.action, "kind": action.kind, "name": action.name})
    return str(action.status)


def _errors_result(exc: errors.PortalError) -> dict[str, Any] | None:
    found = exc.params.get("lines") if exc.params else None
    return {"errors": found} if found else None


def _fail(action: ObjectAction, message: str, code: str, params: dict[str, Any],
          result: dict[str, Any] | None = None) -> None:
    object_actions.finish(action, status=ObjectActionStatus.FAILED, message=message, code=code, params=params,
                          result={**(action.result or {}), **(result or {})})


def _manifest_or_empty(action: ObjectAction) -> str:
    try:
        return action.get_manifest()
    except DecryptionError:
        return ""


# ---------------------------------------------------------------------------- apply (edit YAML)


@register("apply")
def apply_object(action: ObjectAction, client: KubeClient) -> None:
    """Server-side apply of the edited object under ``portal:<username>`` (forced only when the
    person chose to). Records the diff live → applied and the new resourceVersion."""
    resource = resource_of(action)
    text = action.get_manifest()
    doc = objects.parse_one(text)
    obj = objects.check_identity(doc, api_version=resource.api_version, kind=action.kind, name=action.name,
                                 namespace=action.namespace)
    try:
        live: dict[str, Any] | None = client.get_object(action.kind, action.name, action.namespace,
                                                        resource=resource, timeout=CALL_TIMEOUT)
    except kube.NotFound:
        live = None
    obj = objects.unmask_secret(obj, live)
    applied = client.apply(obj, field_manager=manager_of(action), force=bool((action.params or {}).get("force")),
                           resource=resource, timeout=CALL_TIMEOUT)
    changed = objects.diff(live, applied, name=action.name)
    if not changed and action.diff:
        changed = action.diff  # a second run after the first applied: keep what the change was
    version = str((applied.get("metadata") or {}).get("resourceVersion") or "")
    object_actions.finish(
        action, status=ObjectActionStatus.SUCCEEDED, code="object_applied" if changed else "object_unchanged",
        message=f"{action.kind} {action.name} applied." if changed else f"{action.kind} {action.name}: nothing "
                "to change.",
        params={"kind": action.kind, "name": action.name},
        result={"resource_version": version, "changed": bool(changed)}, diff=changed)


# ---------------------------------------------------------------------------- create from YAML


def _document_resource(client: KubeClient, doc: objects.Document) -> Resource:
    return client.resource(doc.api_version, doc.kind, timeout=CALL_TIMEOUT)


def _document_row(doc: objects.Document, namespace: str) -> dict[str, Any]:
    return {"index": doc.index, "api_version": doc.api_version, "kind": doc.kind, "namespace": namespace,
            "name": doc.name, "status": "pending", "conflicts": [], "errors": [], "message": ""}


def target_namespace(doc: objects.Document, resource_namespaced: bool, default: str) -> str:
    """Where a document of a create goes: its own namespace, else the one the request named."""
    return (doc.namespace or default) if resource_namespaced else ""


def checked_targets(action: ObjectAction) -> dict[int, str] | None:
    """``{document index: namespace}`` as the request checked them (``params.targets``), or None
    for a row written before the request stored them."""
    targets = (action.params or {}).get("targets")
    if not isinstance(targets, list):
        return None
    return {int(t["index"]): str(t.get("namespace") or "") for t in targets if isinstance(t, dict) and "index" in t}


def _refusal(action: ObjectAction, doc: objects.Document, namespace: str) -> errors.Forbidden | None:
    """Why the requester may (no longer) change this document where it goes, or None: the grants
    the request was checked against, asked again when the change is carried out."""
    user = action.requested_by if action.requested_by is not None else AnonymousUser()
    refusal = access.object_action_denied(user, action.cluster_id, namespace, access.OBJECTS_EDIT)
    if refusal is None and doc.is_secret:
        refusal = access.object_action_denied(user, action.cluster_id, namespace, access.SECRETS_REVEAL)
    return refusal


@register("create")
def create_objects(action: ObjectAction, client: KubeClient) -> None:
    """Every document of the YAML, dry-run first (nothing is applied unless all pass), then
    applied one after the other with server-side apply; ``result.documents`` says what became
    of each (created, configured, unchanged, conflict, failed). Each goes to the namespace the
    request checked for it (``params.targets``), and the requester must still hold
    ``objects.edit`` there (``secrets.reveal`` too for a Secret): else nothing is applied and the
    action fails with the refusal's code."""
    text = action.get_manifest()
    docs = objects.parse_documents(text, many=True)
    force = bool((action.params or {}).get("force"))
    manager = manager_of(action)
    rows: list[dict[str, Any]] = []
    plans: list[tuple[objects.Document, Resource, dict[str, Any], dict[str, Any] | None]] = []
    created_namespaces = {d.name for d in docs if d.kind == "Namespace" and d.api_version == "v1"}
    targets = checked_targets(action)
    default = str((action.params or {}).get("namespace") or action.namespace or "default")
    refused: errors.Forbidden | None = None
    for doc in docs:
        try:
            resource = _document_resource(client, doc)
        except kube.UnknownKind as exc:
            row = _document_row(doc, doc.namespace)
            row.update(status="failed", message=str(exc), errors=[{"field": "kind", "line": doc.line,
                                                                   "message": str(exc)}])
            rows.append(row)
            continue
        # Exactly the namespace the request checked (a namespaced kind the request took for
        # cluster-scoped has none: refused below unless the requester may change cluster-scoped objects).
        namespace = target_namespace(doc, resource.namespaced, default) if targets is None else (
            targets.get(doc.index, "") if resource.namespaced else "")
        obj = dict(doc.obj)
        obj["metadata"] = {**doc.obj["metadata"], **({"namespace": namespace} if namespace else {})}
        if not resource.namespaced:
            obj["metadata"].pop("namespace", None)
        row = _document_row(doc, namespace)
        rows.append(row)
        refusal = _refusal(action, doc, namespace)
        if refusal is not None:
            refused = refused or refusal
            row.update(status="failed", message=refusal.message, errors=[{"field": "metadata.namespace",
                                                                          "line": doc.line,
                                                                          "message": refusal.message}])
            continue
        if resource.namespaced and not namespace:
            message = f"{doc.kind} is namespaced but the request checked it as cluster-scoped; create it again."
            row.update(status="failed", message=message, errors=[{"field": "metadata.namespace", "line": doc.line,
                                                                  "message": message}])
            continue
        try:
            live: dict[str, Any] | None = client.get_object(doc.kind, doc.name, namespace, resource=resource,
                                                            timeout=CALL_TIMEOUT)
        except kube.NotFound:
            live = None
        try:
            obj = objects.unmask_secret(obj, live)
            client.apply(obj, field_manager=manager, force=force, dry_run=True, resource=resource,
                         timeout=CALL_TIMEOUT)
        except kube.Conflict as exc:
            row.update(status="conflict", conflicts=objects.conflicts(exc.body, str(exc)), message=str(exc)[:500])
            continue
        except kube.Invalid as exc:
            row.update(status="failed", message=str(exc)[:500],
                       errors=objects.invalid_causes(exc.body, str(exc), text=text, document=doc.index))
            continue
        except kube.NotFound as exc:
            if namespace not in created_namespaces:  # its namespace comes earlier in the same YAML
                row.update(status="failed", message=str(exc)[:500],
                           errors=[{"field": "metadata.namespace", "line": doc.line, "message": str(exc)[:500]}])
                continue
        except errors.PortalError as exc:
            row.update(status="failed", message=exc.message, errors=[{"field": "", "line": doc.line,
                                                                      "message": exc.message}])
            continue
        plans.append((doc, resource, obj, live))
    problems = [r for r in rows if r["status"] in ("failed", "conflict")]
    if refused is not None:
        for r in rows:
            if r["status"] == "pending":
                r["status"] = "not_applied"
        object_actions.finish(
            action, status=ObjectActionStatus.FAILED, code=refused.code, message=refused.message,
            params=refused.params,
            result={"documents": rows, "errors": [dict(e, document=r["index"]) for r in problems for e in r["errors"]]})
        return
    if problems:
        for r in rows:
            if r["status"] == "pending":
                r["status"] = "not_applied"
        conflicted = [r for r in problems if r["status"] == "conflict"]
        status = ObjectActionStatus.CONFLICT if conflicted and len(conflicted) == len(problems) \
            else ObjectActionStatus.FAILED
        object_actions.finish(
            action, status=status, code="create_conflict" if status == ObjectActionStatus.CONFLICT else
            "create_failed",
            message=f"{len(problems)} of {len(rows)} document(s) cannot be applied; nothing was applied.",
            params={"failed": len(problems), "total": len(rows)},
            result={"documents": rows, "conflicts": [c for r in conflicted for c in r["conflicts"]],
                    "errors": [dict(e, document=r["index"]) for r in problems for e in r["errors"]]})
        return
    diffs = []
    for doc, resource, obj, live in plans:
        row = next(r for r in rows if r["index"] == doc.index)
        applied = client.apply(obj, field_manager=manager, force=force, resource=resource, timeout=CALL_TIMEOUT)
        changed = objects.diff(live, applied, name=f"{doc.kind}/{doc.name}")
        row.update(status="created" if live is None else ("configured" if changed else "unchanged"),
                   resource_version=str((applied.get("metadata") or {}).get("resourceVersion") or ""))
        diffs.append(changed)
    done = {s: sum(1 for r in rows if r["status"] == s) for s in ("created", "configured", "unchanged")}
    object_actions.finish(
        action, status=ObjectActionStatus.SUCCEEDED, code="objects_created",
        message=f"{len(rows)} object(s) applied: {done['created']} created, {done['configured']} configured, "
                f"{done['unchanged']} unchanged.",
        params={"total": len(rows), **done}, result={"documents": rows}, diff="".join(diffs))
