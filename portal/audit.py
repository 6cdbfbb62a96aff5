"""The audit log: who did what, to what, from where, and how it ended.

Writes go through :func:`record` (the one action function). :class:`AuditMiddleware` makes sure
every mutating API call leaves a record even if a view forgot: views enrich it with
:func:`describe` (action name and target) instead of writing their own. Request bodies are never
copied into the log, so secrets in them cannot leak there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.http import HttpRequest, HttpResponse

from portal.context import request_id_var
from portal.events import publish
from portal.middleware import client_ip
from portal.models import AuditOutcome, AuditRecord, User

logger = logging.getLogger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_AUDIT_ATTR = "_portal_audit"


def outcome_for_status(status_code: int) -> str:
    if status_code < 400:
        return AuditOutcome.SUCCESS
    if status_code in (401, 403, 429):
        return AuditOutcome.DENIED
    return AuditOutcome.FAILURE


def serialize(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.pk,
        "timestamp": record.timestamp.isoformat(),
        "actor": record.actor_username or None,
        "source_ip": record.source_ip,
        "action": record.action,
        "target_type": record.target_type,
        "target_id": record.target_id,
        "target_repr": record.target_repr,
        "outcome": record.outcome,
        "status_code": record.status_code,
        "request_id": record.request_id,
        "detail": record.detail,
        "workspace": _scope_json(record.workspace_id, record.workspace_name),
        "cluster": _scope_json(record.cluster_id, record.cluster_name),
    }


def _scope_json(pk: int | None, name: str) -> dict[str, Any] | None:
    return {"id": pk, "name": name} if pk is not None or name else None


# ---------------------------------------------------------------------------- scope
# The workspace and cluster a record belongs to, read from its target without importing the apps
# (the core sits below them): a Workspace or Cluster itself, or a target with a ``workspace`` /
# ``cluster`` foreign key, or one reached through its service map, release or build definition.

_WORKSPACE_MODEL = "workspaces.workspace"
_CLUSTER_MODEL = "clusters.cluster"
_HOPS = ("service_map", "release", "definition")
Ref = tuple[int | None, str]


def _fk(obj: models.Model, name: str) -> models.ForeignKey[Any, Any] | None:
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.ForeignKey) else None


def _ref(obj: models.Model, name: str) -> Ref | None:
    """(id, name) of ``obj.<name>`` (a workspace or cluster), reading the name from the cached
    related object or with one small query."""
    field = _fk(obj, name)
    if field is None:
        return None
    pk = getattr(obj, field.attname)
    if pk is None:
        return None
    if field.is_cached(obj):
        related = getattr(obj, name)
        return pk, str(getattr(related, "name", ""))[:100]
    related_model = field.related_model
    if not isinstance(related_model, type):
        return pk, ""
    found = related_model._base_manager.filter(pk=pk).values_list("name", flat=True).first()
    return pk, str(found or "")[:100]


def _hop(obj: models.Model, name: str) -> models.Model | None:
    field = _fk(obj, name)
    if field is None or getattr(obj, field.attname) is None:
        return None
    try:
        related = getattr(obj, name)
    except ObjectDoesNotExist:
        return None
    return related if isinstance(related, models.Model) else None


def _from_detail(detail: dict[str, Any], key: str) -> Ref | None:
    """Writers without a target name the cluster in ``detail`` (an id with ``cluster_name``, or a name)."""
    value = detail.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value, str(detail.get(f"{key}_name") or "")[:100]
    if isinstance(value, str) and value:
        return None, value[:100]
    return None


def scope_of(target: models.Model | None, detail: dict[str, Any]) -> tuple[Ref | None, Ref | None]:
    """The (workspace, cluster) of a record, each ``(id, name)`` or None."""
    workspace: Ref | None = None
    cluster: Ref | None = None
    if target is not None:
        label = target._meta.label_lower
        if label == _WORKSPACE_MODEL:
            workspace = target.pk, str(getattr(target, "name", ""))[:100]
        elif label == _CLUSTER_MODEL:
            cluster = target.pk, str(getattr(target, "name", ""))[:100]
        objects: list[models.Model] = [target]
        for obj in objects:
            workspace = workspace or _ref(obj, "workspace")
            cluster = cluster or _ref(obj, "cluster")
            if (workspace and cluster) or obj is not target:
                continue
            objects.extend(hop for name in _HOPS if (hop := _hop(obj, name)) is not None)
    return workspace or _from_detail(detail, "workspace"), cluster or _from_detail(detail, "cluster")


_batch: ContextVar[list[AuditRecord] | None] = ContextVar("portal_audit_batch", default=None)


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Inside the block (which must run in a transaction), :func:`record` collects its records
    and they are written in one INSERT when the block ends, then announced after commit: a
    rollout records one install or upgrade per target. Nothing is written if the block raises
    (its transaction is rolled back anyway)."""
    entries: list[AuditRecord] = []
    token = _batch.set(entries)
    try:
        yield
    finally:
        _batch.reset(token)
    if entries:
        AuditRecord.objects.bulk_create(entries)
        for entry in entries:
            publish("audit", "audit.created", serialize(entry))


def record(
    *,
    action: str,
    outcome: str,
    request: HttpRequest | None = None,
    actor: Any = None,
    actor_username: str = "",
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    status_code: int | None = None,
    detail: dict[str, Any] | None = None,
    source_ip: str | None = None,
) -> AuditRecord:
    """Write one audit record and announce it to the ``audit`` group after commit. Without a
    ``request`` (a WebSocket session), ``source_ip`` says where the client was."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)[:300]
    try:
        workspace, cluster = scope_of(target, detail or {})
    except Exception:  # the scope is a convenience for filtering: never lose the record over it
        logger.exception("could not read the workspace and cluster of an audit record's target")
        workspace = cluster = None
    entry = AuditRecord(
        actor=actor if isinstance(actor, User) else None,
        actor_username=(actor.get_username() if isinstance(actor, User) else actor_username)[:150],
        source_ip=client_ip(request) if request is not None else source_ip,
        user_agent=(request.headers.get("User-Agent", "") if request is not None else "")[:300],
        action=action[:100],
        target_type=target_type[:100],
        target_id=target_id[:100],
        target_repr=target_repr[:300],
        outcome=outcome,
        status_code=status_code,
        request_id=request_id_var.get(),
        detail=detail or {},
        workspace_id=workspace[0] if workspace else None,
        workspace_name=workspace[1] if workspace else "",
        cluster_id=cluster[0] if cluster else None,
        cluster_name=cluster[1] if cluster else "",
    )
    batch = _batch.get()
    if batch is not None:  # written when the batch ends (its pk is set then)
        batch.append(entry)
        return entry
    entry.save()
    publish("audit", "audit.created", serialize(entry))
    return entry


def describe(
    request: Any,
    *,
    action: str | None = None,
    target: models.Model | None = None,
    actor: Any = None,
    detail: dict[str, Any] | None = None,
    handled: bool = False,
) -> None:
    """Tell the middleware how to name this request's audit record.

    ``handled=True`` means the view wrote its own record (login) and the middleware must not.
    Accepts a DRF Request or a Django HttpRequest.
    """
    django_request = getattr(request, "_request", request)
    info: dict[str, Any] = getattr(django_request, _AUDIT_ATTR, {})
    if action is not None:
        info["action"] = action
    if target is not None:
        info["target"] = target
    if actor is not None:
        info["actor"] = actor
    if detail:
        info.setdefault("detail", {}).update(detail)
    if handled:
        info["handled"] = True
    setattr(django_request, _AUDIT_ATTR, info)


def _default_action(request: HttpRequest) -> str:
    match = request.resolver_match
    name = match.view_name if match is not None and match.view_name else request.path
    return f"{request.method.lower() if request.method else 'request'}:{name}"


class AuditMiddleware:
    """Write an audit record for every mutating ``/api/`` request, whatever its outcome."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method in MUTATING_METHODS and request.path.startswith("/api/"):
            info: dict[str, Any] = getattr(request, _AUDIT_ATTR, {})
            if not info.get("handled"):
                try:
                    self._write(request, response, info)
                except Exception:
                    logger.exception("could not write audit record")
        return response

    def _write(self, request: HttpRequest, response: HttpResponse, info: dict[str, Any]) -> None:
        detail: dict[str, Any] = {"method": request.method, "path": request.path[:300]}
        detail.update(info.get("detail", {}))
        if response.status_code >= 400:
            reason = getattr(response, "data", None)
            if isinstance(reason, dict):
                if isinstance(reason.get("detail"), str):
                    detail["reason"] = reason["detail"][:300]
                if isinstance(reason.get("errors"), dict):
                    detail["fields"] = sorted(str(k) for k in reason["errors"])[:20]
        match = request.resolver_match
        target = info.get("target")
        target_id = ""
        if target is None and match is not None:
            target_id = str(match.kwargs.get("pk") or match.kwargs.get("id") or "")
        record(
            action=info.get("action") or _default_action(request),
            outcome=outcome_for_status(response.status_code),
            request=request,
            actor=info.get("actor"),
            target=target,
            target_type="" if target is not None or match is None else (match.view_name or ""),
            target_id=target_id,
            status_code=response.status_code,
            detail=detail,
        )
