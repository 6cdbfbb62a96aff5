"""The audit log: who did what, to what, from where, and how it ended.

Writes go through :func:`record` (the one action function). :class:`AuditMiddleware` makes sure
every mutating API call leaves a record even if a view forgot: views enrich it with
:func:`describe` (action name and target) instead of writing their own. Request bodies are never
copied into the log, so secrets in them cannot leak there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

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
    }


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
    )
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
