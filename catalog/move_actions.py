"""Every write of service map moves (:class:`catalog.models.Move`): starting one, the ledger lines
its task records step by step, its releases' lines, its end, and retiring the source.

A move is started only after :mod:`catalog.moving` checked it (allocation, quota room, namespace
free, every release renders and fits on the target): :func:`create_move` then creates the target
service map through the workspaces writer (:func:`workspaces.actions.create_service_map`, which
re-checks the quota share under the allocation's lock) and the move with its ledger in one
transaction, so nothing is half-written, and enqueues ``catalog.advance_move`` after commit.

Each write locks the move's row, audits what a person would look for, and publishes
``move.updated`` on ``workspace.<id>`` after commit (:func:`move_row`: no Secret value is ever
in it; they go from cluster to cluster and into the target's encrypted config versions).

Who may: :func:`catalog.access.require_move` and :func:`catalog.access.require_retire`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from catalog import access
from catalog.models import (
    ConfigKind,
    ConfigVersion,
    Move,
    MoveRelease,
    MoveStatus,
    MoveStepState,
    Release,
    ReleaseStatus,
)
from clusters.models import Cluster
from portal import audit, enqueue
from portal.errors import Conflict, Invalid
from portal.events import publish
from portal.models import AuditOutcome
from workspaces import actions as ws_actions
from workspaces.models import ApplyStatus, ServiceMap

ADVANCE_TASK = "catalog.advance_move"
STEP_KEYS = ("plan", "service_map", "configs", "releases", "healthy", "autoscalers", "retire")
RUNNING = (MoveStatus.RUNNING, MoveStatus.RETIRING)


# ---------------------------------------------------------------------------- rows and events


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def release_line(line: MoveRelease) -> dict[str, Any]:
    return {"name": line.name, "version": line.version_label, "source_release": line.source_release_id,
            "source_revision": line.source_revision, "target_release": line.target_release_id,
            "revision": line.revision, "state": line.state, "message": line.message,
            "message_code": line.message_code, "message_params": line.message_params}


def move_row(move: Move, lines: Iterable[MoveRelease] | None = None) -> dict[str, Any]:
    """The move as the API answers and ``move.updated`` carries it (never a Secret value)."""
    if lines is None:
        lines = MoveRelease.objects.filter(move_id=move.pk).order_by("name")
    return {
        "id": move.pk, "workspace": move.workspace_id, "source": move.source_id, "target": move.target_id,
        "source_cluster": move.source_cluster_id, "target_cluster": move.target_cluster_id,
        "source_cluster_name": move.source_cluster_name, "target_cluster_name": move.target_cluster_name,
        "source_namespace": move.source_namespace, "target_namespace": move.target_namespace,
        "quota": move.quota, "status": move.status, "message": move.message, "message_code": move.message_code,
        "message_params": move.message_params, "steps": list(move.steps or []),
        "releases": [release_line(line) for line in lines],
        "created": move.created.isoformat(), "updated": _iso(move.updated), "finished": _iso(move.finished),
        "retired": _iso(move.retired),
        "created_by": move.created_by.get_username() if move.created_by_id and move.created_by else None,
    }


def publish_move(move_id: int) -> None:
    move = Move.objects.select_related("created_by").filter(pk=move_id).first()
    if move is not None:
        publish(f"workspace.{move.workspace_id}", "move.updated", move_row(move))


def _publish_after_commit(move_id: int) -> None:
    transaction.on_commit(lambda: publish_move(move_id))


def _step(key: str, state: str = MoveStepState.PENDING, message: str = "", code: str = "",
          params: dict[str, Any] | None = None) -> dict[str, Any]:
    now = timezone.now().isoformat()
    return {"key": key, "state": state, "message": message, "message_code": code if message else "",
            "message_params": dict(params or {}) if message else {},
            "started": now if state != MoveStepState.PENDING else None,
            "finished": now if state in (MoveStepState.DONE, MoveStepState.FAILED, MoveStepState.SKIPPED) else None}


def _audit(request: HttpRequest | None, *, action: str, move: Move, detail: dict[str, Any],
           outcome: str = AuditOutcome.SUCCESS) -> None:
    detail = {"move": move.pk, "source": move.source_namespace, "source_cluster": move.source_cluster_name,
              "target": move.target_namespace, "target_cluster": move.target_cluster_name, **detail}
    if request is not None:
        audit.describe(request, action=action, target=move.workspace, detail=detail)
    else:
        audit.record(action=action, outcome=outcome, target=move.workspace, detail=detail)


# ---------------------------------------------------------------------------- starting


def in_progress(source: ServiceMap) -> Move | None:
    """The running move of ``source`` (or one that is retiring it), if any."""
    return Move.objects.filter(source=source, status__in=RUNNING).first()


def _in_progress_error(move: Move) -> Conflict:
    return Conflict(f"Service map {move.source_namespace} is already being moved (move {move.pk}, {move.status}); "
                    "wait for it to finish.", code="move_in_progress",
                    params={"move": move.pk, "namespace": move.source_namespace, "status": move.status})


def create_move(*, source: ServiceMap, target_cluster: Cluster, target_namespace: str, quota: dict[str, str],
                releases: list[dict[str, Any]], plan_summary: dict[str, Any], allow_cluster_scoped: bool,
                user: Any, request: HttpRequest | None) -> Move:
    """Create the target service map (workspaces writer) and the move with its ledger, in one
    transaction; ``releases``: ``[{name, source_release, source_revision, version_label}]``."""
    try:
        with transaction.atomic():
            locked = ServiceMap.objects.select_for_update().select_related("workspace", "cluster").get(pk=source.pk)
            running = in_progress(locked)
            if running is not None:
                raise _in_progress_error(running)
            target = ws_actions.create_service_map(
                workspace=locked.workspace, actor=user, request=request,
                data={"namespace": target_namespace, "cluster": target_cluster.pk, "quota": quota,
                      "limits": locked.limits or {}, "display_name": locked.display_name,
                      "description": locked.description})
            steps = [_step("plan", MoveStepState.DONE, "Planned: quota room, releases and config checked.",
                           "move_planned", plan_summary),
                     _step("service_map", MoveStepState.RUNNING,
                           f"Creating namespace {target_namespace} on {target_cluster.name}.", "move_creating_target",
                           {"namespace": target_namespace, "cluster": target_cluster.name})]
            steps += [_step(key) for key in STEP_KEYS[2:]]
            move = Move.objects.create(
                workspace=locked.workspace, source=locked, target=target, source_cluster=locked.cluster,
                target_cluster=target_cluster, source_cluster_name=locked.cluster.name,
                target_cluster_name=target_cluster.name, source_namespace=locked.namespace,
                target_namespace=target_namespace, quota=target.quota, steps=steps, status=MoveStatus.RUNNING,
                message=f"Moving {locked.namespace} to {target_cluster.name}.", message_code="move_running",
                message_params={"namespace": locked.namespace, "cluster": target_cluster.name},
                allow_cluster_scoped=allow_cluster_scoped,
                created_by=user if getattr(user, "is_authenticated", False) else None)
            for line in releases:
                MoveRelease.objects.create(move=move, name=line["name"], source_release_id=line["source_release"],
                                           source_revision=line["source_revision"],
                                           version_label=str(line.get("version_label", ""))[:300])
            _audit(request, action="move.create", move=move,
                   detail={"releases": [line["name"] for line in releases], "quota": target.quota})
            _publish_after_commit(move.pk)
            enqueue.on_commit(ADVANCE_TASK, move.pk)
    except IntegrityError as exc:  # a concurrent start of a move of the same source: name it (the
        running = in_progress(source)  # translation of move_in_progress needs its id)
        if running is not None:
            raise _in_progress_error(running) from exc
        raise Conflict(f"Service map {source.namespace} was being moved a moment ago; look at its moves and try "
                       "again.", code="move_in_progress",
                       params={"move": "", "namespace": source.namespace, "status": ""}) from exc
    return move


# ---------------------------------------------------------------------------- the task's records


def _locked(move_id: int) -> Move | None:
    return Move.objects.select_for_update().filter(pk=move_id).first()


def set_step(move_id: int, key: str, state: str, message: str = "", *, code: str = "",
             params: dict[str, Any] | None = None) -> None:
    """Record a ledger line (published when it changed)."""
    with transaction.atomic():
        move = _locked(move_id)
        if move is None:
            return
        steps = [dict(s) for s in move.steps or []]
        for index, line in enumerate(steps):
            if line.get("key") != key:
                continue
            new = {**line, "state": state, "message": message, "message_code": code if message else "",
                   "message_params": dict(params or {}) if message else {}}
            now = timezone.now().isoformat()
            if state != MoveStepState.PENDING and not new.get("started"):
                new["started"] = now
            if state in (MoveStepState.DONE, MoveStepState.FAILED, MoveStepState.SKIPPED):
                new["finished"] = line.get("finished") or now
            if new == line:
                return
            steps[index] = new
            break
        else:
            return
        Move.objects.filter(pk=move_id).update(steps=steps, updated=timezone.now())
        _publish_after_commit(move_id)


def record_config_copy(move: Move, target: ServiceMap, *, kind: str, name: str, data: dict[str, str]) -> None:
    """The copied ConfigMap or Secret as a config version of the target (a Secret's data encrypted,
    bound to the new row), once per move: a repeated pass finds it."""
    with transaction.atomic():
        versions = ConfigVersion.objects.select_for_update().filter(service_map=target, kind=kind, name=name)
        if versions.filter(message_code="config_moved", message_params__move=move.pk).exists():
            return
        last = versions.order_by("-version").first()
        version = ConfigVersion.objects.create(
            service_map=target, kind=kind, name=name, version=(last.version + 1) if last else 1, keys=sorted(data),
            data=data if kind == ConfigKind.CONFIG_MAP else {},
            message=f"Copied from {move.source_namespace} on {move.source_cluster_name} (move {move.pk}).",
            message_code="config_moved", message_params={"move": move.pk, "namespace": move.source_namespace,
                                                         "cluster": move.source_cluster_name},
            created_by_id=move.created_by_id)
        if kind == ConfigKind.SECRET:
            version.set_secret_data(data)
            version.save(update_fields=["data_encrypted"])


def touch(move_id: int) -> None:
    """One more pass of the task (the beat picks up a move whose passes stopped)."""
    Move.objects.filter(pk=move_id).update(updated=timezone.now())


def set_release(line_id: int, **fields: Any) -> bool:
    """Update a release line of the move; True (and published) when it changed."""
    with transaction.atomic():
        line = MoveRelease.objects.select_for_update().filter(pk=line_id).first()
        if line is None:
            return False
        if all(getattr(line, key if key != "target_release" else "target_release_id") == (
                value.pk if key == "target_release" and value is not None else value) for key, value in fields.items()):
            return False
        for key, value in fields.items():
            setattr(line, key, value)
        line.save()
        _publish_after_commit(line.move_id)
    return True


def finish(move_id: int, *, ok: bool, message: str, code: str, params: dict[str, Any] | None = None) -> None:
    """The move is healthy on the target (the source still runs) or failed (the source untouched)."""
    with transaction.atomic():
        move = _locked(move_id)
        if move is None or move.status != MoveStatus.RUNNING:
            return
        move.status = MoveStatus.HEALTHY if ok else MoveStatus.FAILED
        move.message, move.message_code, move.message_params = message, code, dict(params or {})
        move.finished = timezone.now()
        move.save(update_fields=["status", "message", "message_code", "message_params", "finished", "updated"])
        _audit(None, action="move.healthy" if ok else "move.failed", move=move,
               detail={"message": message[:500]}, outcome=AuditOutcome.SUCCESS if ok else AuditOutcome.FAILURE)
        _publish_after_commit(move_id)


# ---------------------------------------------------------------------------- retiring the source


def retire_source(*, move: Move, confirm: Any, user: Any, request: HttpRequest | None) -> Move:
    """The confirmed, separate last step: delete the source service map (its namespace, and so its
    releases' objects, go with it) once the move is healthy. 400 ``confirm_mismatch`` unless
    ``confirm`` is the source namespace; 409 ``move_not_finished`` before the move is healthy, 409
    ``move_target_gone`` / ``move_target_incomplete`` when the target service map or one of the moved
    releases is gone or going from the target (the source would be the only copy left)."""
    with transaction.atomic():
        locked = Move.objects.select_for_update(of=("self",)).select_related(
            "source__workspace", "source__cluster", "workspace").get(pk=move.pk)
        if locked.status != MoveStatus.HEALTHY:
            raise Conflict(f"Move {locked.pk} is {locked.status}; the source can be retired only once every release "
                           "is healthy on the target.", code="move_not_finished",
                           params={"move": locked.pk, "status": locked.status})
        target = ServiceMap.objects.filter(pk=locked.target_id).first() if locked.target_id else None
        if target is None or target.status == ApplyStatus.DELETING:  # never retire the only copy left
            raise Conflict(f"The target service map {locked.target_namespace} on {locked.target_cluster_name} is "
                           "gone or being deleted; the source stays.", code="move_target_gone",
                           params={"target_namespace": locked.target_namespace,
                                   "target_cluster": locked.target_cluster_name})
        lost = _target_releases_lost(locked, target)
        if lost:  # a release deleted on the target after the move: the source holds its only copy
            raise Conflict(f"Release(s) {', '.join(lost)} of the move are no longer on {locked.target_namespace} on "
                           f"{locked.target_cluster_name} (deleted there after the move); the source stays. Deploy "
                           "them on the target again, or keep the source.", code="move_target_incomplete",
                           params={"releases": ", ".join(lost), "target_namespace": locked.target_namespace,
                                   "target_cluster": locked.target_cluster_name})
        if confirm != locked.source_namespace:
            message = f"Type the source namespace {locked.source_namespace} to confirm."
            raise Invalid(message, errors={"confirm": [message]}, code="confirm_mismatch",
                          params={"name": locked.source_namespace, "expected": locked.source_namespace})
        source = locked.source
        if source is None:  # deleted some other way meanwhile: nothing left to retire
            locked.status, locked.retired = MoveStatus.RETIRED, timezone.now()
            locked.save(update_fields=["status", "retired", "updated"])
        else:
            access.require_retire(user, locked.workspace)
            ws_actions.delete_service_map(sm=source, request=request)
            locked.status = MoveStatus.RETIRING
            locked.message = f"Retiring {locked.source_namespace} on {locked.source_cluster_name}."
            locked.message_code = "move_retiring"
            locked.message_params = {"namespace": locked.source_namespace, "cluster": locked.source_cluster_name}
            locked.save(update_fields=["status", "message", "message_code", "message_params", "updated"])
            enqueue.on_commit(ADVANCE_TASK, locked.pk)
        _audit(request, action="move.retire_source", move=locked, detail={})
        _publish_after_commit(locked.pk)
    if source is not None:
        set_step(locked.pk, "retire", MoveStepState.RUNNING,
                 f"Deleting namespace {locked.source_namespace} on {locked.source_cluster_name}.",
                 code="move_retiring", params={"namespace": locked.source_namespace,
                                               "cluster": locked.source_cluster_name})
    else:
        set_step(locked.pk, "retire", MoveStepState.DONE, f"{locked.source_namespace} was already deleted.",
                 code="move_source_gone", params={"namespace": locked.source_namespace})
    locked.refresh_from_db()
    return locked


def _target_releases_lost(move: Move, target: ServiceMap) -> list[str]:
    """Names of the move's releases that no longer live on the target (gone or being deleted)."""
    lines = list(MoveRelease.objects.filter(move_id=move.pk).values_list("name", "target_release_id"))
    live = set(Release.objects.filter(pk__in=[pk for _, pk in lines if pk], service_map_id=target.pk)
               .exclude(status=ReleaseStatus.DELETING).values_list("pk", flat=True))
    return sorted(name for name, pk in lines if pk not in live)


def retired(move_id: int) -> None:
    """The source service map is gone: the move is complete."""
    with transaction.atomic():
        move = _locked(move_id)
        if move is None or move.status != MoveStatus.RETIRING:
            return
        move.status, move.retired = MoveStatus.RETIRED, timezone.now()
        move.message = f"Moved to {move.target_cluster_name}; {move.source_namespace} on {move.source_cluster_name} " \
                       "is retired."
        move.message_code = "move_retired"
        move.message_params = {"namespace": move.source_namespace, "source_cluster": move.source_cluster_name,
                               "target_cluster": move.target_cluster_name}
        move.save(update_fields=["status", "retired", "message", "message_code", "message_params", "updated"])
        _audit(None, action="move.retired", move=move, detail={})
        _publish_after_commit(move_id)
    set_step(move_id, "retire", MoveStepState.DONE, f"Namespace {move.source_namespace} on "
             f"{move.source_cluster_name} is deleted.", code="move_source_retired",
             params={"namespace": move.source_namespace, "cluster": move.source_cluster_name})


def retire_message(move_id: int, message: str, *, code: str, params: dict[str, Any]) -> None:
    """Why the source's namespace is still there (it is retried; the workspaces app says more)."""
    set_step(move_id, "retire", MoveStepState.RUNNING, message, code=code, params=params)


def running_moves() -> list[int]:
    return list(Move.objects.filter(status__in=RUNNING).values_list("pk", flat=True))


__all__ = ["ADVANCE_TASK", "create_move", "finish", "move_row", "publish_move", "retire_source", "retired",
           "set_release", "set_step"]
