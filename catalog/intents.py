"""The writes of cluster intents (:class:`catalog.models.ClusterIntent`): the one way a view asks
something of a service map's cluster outside a deploy.

A view checks the grant, validates what it can without the cluster, and calls :func:`create`:
the row (with its encrypted spec) and the audit line are written in one transaction, the task
``catalog.converge_intent`` is enqueued by name after commit, and the view answers 202 with
:func:`row`. The task calls :func:`start`, does the cluster work (:mod:`catalog.config`,
:mod:`catalog.planning`) and records the outcome with :func:`finish`, under the row's lock, at
most once; every change of status is published as ``intent.updated`` on the workspace's group
(the row without its result: the result can hold secret values, so only :func:`row` with
``result=True`` for who asked shows it). A task that never arrived or died is picked up again by
:func:`due` from the beat.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from catalog.models import ClusterIntent, IntentStatus, Release
from portal import audit, enqueue
from portal.events import publish
from portal.models import AuditOutcome
from workspaces.models import ServiceMap

TASK = "catalog.converge_intent"
MAX_ATTEMPTS = 3
KEEP_FINISHED = timedelta(days=1)  # long enough to read an outcome; results can hold secret values
FINISHED = (IntentStatus.SUCCEEDED, IntentStatus.FAILED)


def row(intent: ClusterIntent, *, result: bool = False) -> dict[str, Any]:
    """The intent as the API and the events show it; ``result`` only for who asked (it may hold secrets)."""
    out: dict[str, Any] = {
        "id": intent.pk, "kind": intent.kind, "status": intent.status, "workspace": intent.workspace_id,
        "service_map": intent.service_map_id, "release": intent.release_id, "target": intent.target,
        "message": intent.message, "message_code": intent.message_code, "message_params": intent.message_params,
        "errors": intent.errors, "created": intent.created.isoformat(),
        "finished": intent.finished.isoformat() if intent.finished else None}
    if result:
        out["result"] = intent.get_result()
    return out


def _publish(intent: ClusterIntent) -> None:
    publish(f"workspace.{intent.workspace_id}", "intent.updated", row(intent))


def create(*, sm: ServiceMap, kind: str, target: str, spec: dict[str, Any], user: Any,
           request: HttpRequest | None, audit_detail: dict[str, Any], release: Release | None = None) -> ClusterIntent:
    """Store the intent and its audit line, publish it and enqueue its task after commit.
    The caller has checked the grant: the task never decides a permission."""
    with transaction.atomic():
        intent = ClusterIntent.objects.create(
            workspace_id=sm.workspace_id, service_map=sm, release=release, kind=kind, target=target[:300],
            created_by=user if getattr(user, "is_authenticated", False) else None)
        intent.set_spec(spec)
        intent.save(update_fields=["spec_encrypted"])
        detail = {"intent": intent.pk, "service_map": sm.pk, **audit_detail}
        if request is not None:
            audit.describe(request, action=kind, target=sm, detail=detail)
        else:
            audit.record(action=kind, outcome=AuditOutcome.SUCCESS, target=sm, detail=detail)
        _publish(intent)
        enqueue.on_commit(TASK, intent.pk)
    return intent


def start(intent_id: int) -> ClusterIntent | None:
    """Mark the intent running (one more attempt); None when it is gone or already finished."""
    with transaction.atomic():
        intent = (ClusterIntent.objects.select_for_update().select_related("service_map__cluster", "workspace")
                  .filter(pk=intent_id).first())
        if intent is None or intent.status in FINISHED:
            return None
        intent.status = IntentStatus.RUNNING
        intent.attempts += 1
        intent.save(update_fields=["status", "attempts", "updated"])
        _publish(intent)
    return intent


def finish(intent_id: int, *, ok: bool, message: str, code: str, params: dict[str, Any] | None = None,
           result: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
           record: Callable[[], tuple[dict[str, Any], str, dict[str, Any]]] | None = None) -> ClusterIntent | None:
    """Record the outcome once, under the row's lock. ``record`` runs in the same transaction
    (say, the saved config version) and returns the result, message and params to store; nothing
    is recorded twice when a retried task gets here after an earlier attempt did."""
    with transaction.atomic():
        intent = ClusterIntent.objects.select_for_update().filter(pk=intent_id).first()
        if intent is None or intent.status in FINISHED:
            return intent
        if record is not None:
            result, message, params = record()
        intent.status = IntentStatus.SUCCEEDED if ok else IntentStatus.FAILED
        intent.message, intent.message_code, intent.message_params = message, code, dict(params or {})
        intent.errors = dict(errors or {})
        intent.finished = timezone.now()
        if result is not None:
            intent.set_result(result)
        intent.save()
        _publish(intent)
    return intent


def due(stale_after: float = 60.0) -> list[int]:
    """Intents whose task never arrived or died (pending or running, unchanged for ``stale_after``
    seconds); those tried :data:`MAX_ATTEMPTS` times are failed instead of tried again."""
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    out = []
    for pk, attempts in ClusterIntent.objects.filter(
            status__in=[IntentStatus.PENDING, IntentStatus.RUNNING], updated__lt=cutoff).values_list("pk", "attempts"):
        if attempts >= MAX_ATTEMPTS:
            finish(pk, ok=False, code="intent_abandoned", params={"attempts": attempts},
                   message=f"Gave up after {attempts} attempts that did not finish; try again.")
        else:
            out.append(pk)
    ClusterIntent.objects.filter(pk__in=out).update(updated=timezone.now())  # once per stale_after, not per beat
    return out


def prune(keep: timedelta = KEEP_FINISHED) -> int:
    """Delete finished intents older than ``keep`` (the audit log keeps who asked for what)."""
    deleted, _ = ClusterIntent.objects.filter(status__in=FINISHED, finished__lt=timezone.now() - keep).delete()
    return deleted
