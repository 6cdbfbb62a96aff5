"""Multi-cluster rollouts: one package version and values (with per-target overrides) deployed to
service maps on many clusters, in waves, with a ledger line per target.

Wave 0 is the canary (if one is named), then the other targets in batches of ``batch_size``. A
wave's targets are installed or upgraded at once (their deploys run in parallel on the workers);
the next wave starts when every target of this one is ``healthy``. A target whose cluster does
not answer stays ``pending`` with the reason and is retried (its revision waits for the cluster),
without failing the rollout; more than ``max_failures`` failed targets stop it (``failed``), and
the targets not started are ``skipped``.

:func:`advance` is the only thing that moves a rollout; it runs after every change of a target's
release (:mod:`catalog.releases` queues it), and from the beat task, and converges when run twice.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from catalog import enqueue, helm, image_hooks, releases
from catalog.errors import invalid
from catalog.models import (
    PackageVersion,
    Release,
    ReleaseStatus,
    Revision,
    RevisionStatus,
    Rollout,
    RolloutStatus,
    RolloutTarget,
    TargetState,
)
from catalog.remote import SourceError
from catalog.rows import rollout_row
from portal import audit
from portal.errors import Conflict, Invalid, PortalError
from portal.events import publish
from workspaces import access as ws_access
from workspaces import services as ws_services
from workspaces.models import ServiceMap, Workspace

logger = logging.getLogger("catalog")

MAX_TARGETS = 200


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def publish_rollout(rollout: Rollout) -> None:
    publish(f"workspace.{rollout.workspace_id}", "rollout.updated", rollout_row(rollout))


# A running rollout's row is published at most about this often (seconds): the row holds every
# target, and a wave of N targets moves N times, so publishing each step cost O(N^2).
PUBLISH_DELAY = 0.2


def publish_rollout_soon(rollout: Rollout) -> None:
    """After commit, have ``catalog.publish_rollout`` publish the rollout's row in
    :data:`PUBLISH_DELAY` seconds, unless one is already queued (it will read this step too:
    the row is built when the task runs, so the last state is never lost)."""
    enqueue.on_commit(enqueue.PUBLISH_ROLLOUT, rollout.pk, countdown=PUBLISH_DELAY,
                      coalesce=enqueue.publish_key(rollout.pk))


def publish_queued_rollout(rollout_id: int) -> str:
    """What ``catalog.publish_rollout`` runs: the row as it is now."""
    enqueue.started(enqueue.publish_key(rollout_id))
    rollout = Rollout.objects.filter(pk=rollout_id).first()
    if rollout is None:
        return "gone"  # deleted meanwhile: rollout.deleted said so
    publish_rollout(rollout)
    return "published"


def create_rollout(*, workspace: Workspace, release_name: str, version: PackageVersion, values: dict[str, Any],
                   targets: list[dict[str, Any]], canary: int | None, batch_size: int, max_failures: int,
                   user: Any, request: HttpRequest | None) -> Rollout:
    """Check every target (visible, same workspace, deploy grant, its release free to change, values
    render and fit) and start the rollout; 400 naming the target that is wrong, nothing started.

    Every target is rendered and checked here, as its install or upgrade would be; the first wave's
    are stored from those renders in the rollout's own transaction, so their deploys are queued when
    this returns (rendering each twice cost more than half of a wide wave's start). Later waves are
    rendered again when :func:`advance` starts them: the release may have moved meanwhile."""
    if not targets:
        raise invalid({"targets": ["Give at least one target service map."]})
    if len(targets) > MAX_TARGETS:
        raise invalid({"targets": [f"At most {MAX_TARGETS} targets."]})
    ids = [t.get("service_map") for t in targets]
    if len(set(ids)) != len(ids):
        raise invalid({"targets": ["Each service map may appear once."]})
    maps = {sm.pk: sm for sm in ws_access.visible_service_maps(user).filter(pk__in=ids, workspace=workspace)
            .select_related("workspace", "cluster")}
    existing = {r.service_map_id: r for r in Release.objects.filter(service_map__in=list(maps), name=release_name)}
    errors: dict[str, list[str]] = {}
    # (index, service map, overrides) of each target that names a map the user may deploy to
    chosen: list[tuple[int, ServiceMap, dict[str, Any]]] = []
    for index, target in enumerate(targets):
        sm = maps.get(target.get("service_map"))  # type: ignore[arg-type]
        if sm is None:
            errors[f"targets.{index}.service_map"] = [f"No service map {target.get('service_map')!r} in workspace "
                                                      f"{workspace.name}."]
            continue
        if not ws_access.service_map_access().can_deploy(user, sm):
            errors[f"targets.{index}.service_map"] = [f"Your role does not grant workloads.deploy in {sm.namespace}."]
            continue
        overrides = target.get("overrides") or {}
        if not isinstance(overrides, dict):
            errors[f"targets.{index}.overrides"] = ["Give overrides as an object of values."]
            continue
        chosen.append((index, sm, overrides))
    plan: list[tuple[ServiceMap, dict[str, Any], releases.Planned]] = []
    decided: releases.Decided | None = None  # decided once, from who asked: the tasks decide nothing
    # every target rendered side by side by the render processes, every target's quota preflight
    # from one read, the image gate and pull secrets asked once
    jobs = _render_jobs(chosen, existing, release_name, values)
    with helm.rendering_ahead(bytes(version.archive or b""), jobs), ws_services.read_ahead(maps.values()), \
            image_hooks.same_answers():
        for index, sm, overrides in chosen:
            decided = decided or releases.decide(user, sm)
            release = existing.get(sm.pk)
            if release is not None:
                release.service_map = sm
            try:
                if release is None:
                    planned = releases.plan_install(sm=sm, name=release_name, version=version,
                                                    values=_merge(values, overrides), strategy={}, user=user,
                                                    decided=decided, absent=True)
                else:
                    planned = releases.plan_upgrade(release=release, version=version, values=_merge(values, overrides),
                                                    strategy=None, user=user, decided=decided)
            except Invalid as exc:
                for field, messages in (exc.errors or {"values": [exc.message]}).items():
                    errors[f"targets.{index}.{field}"] = list(messages)
                continue
            except Conflict as exc:  # its release is deploying, mid-strategy, or the service map is being deleted
                errors[f"targets.{index}.service_map"] = [str(exc)]
                continue
            plan.append((sm, overrides, planned))
    errors = dict(sorted(errors.items(), key=lambda item: int(item[0].split(".")[1])))  # by target, as given
    if canary is not None and canary not in maps:
        errors["canary"] = ["The canary must be one of the targets."]
    if errors:
        raise invalid(errors)
    assert decided is not None  # at least one target, every one planned
    waves = _waves([sm.pk for sm, _, _ in plan], canary=canary, batch_size=max(1, batch_size))
    first = min(waves)
    with transaction.atomic(), audit.batched():  # every target's audit record in one INSERT
        rollout = Rollout.objects.create(
            workspace=workspace, release_name=release_name, package_version=version,
            version_label=f"{version.package.name} {version.version}"[:300], values=values,
            policy={"canary": canary, "batch_size": max(1, batch_size), "max_failures": max(0, max_failures)},
            allow_cluster_scoped=decided.allow_cluster_scoped,
            created_by=user if getattr(user, "is_authenticated", False) else None)
        # 409 (and nothing written) when a release changed since it was checked
        stored = releases.store_wave([planned for (_, _, planned), wave in zip(plan, waves, strict=True)
                                      if wave == first], user=user, request=request)
        started_by_map = {release.service_map_id: release for release in stored}
        ledger: list[RolloutTarget] = []
        for (sm, overrides, _), wave in zip(plan, waves, strict=True):
            started: dict[str, Any] = {}
            if wave == first:
                release = started_by_map[sm.pk]
                started = {"release": release, "revision": release.revision, "state": TargetState.APPLYING,
                           "attempts": 1}
            ledger.append(RolloutTarget(rollout=rollout, service_map=sm, wave=wave, overrides=overrides, **started))
        RolloutTarget.objects.bulk_create(ledger)  # one statement for the ledger
        releases.publish_releases(stored)  # after every deploy is queued
        if request is not None:
            audit.describe(request, action="rollout.create", target=rollout,
                           detail={"targets": len(plan), "package_version": version.pk})
        enqueue.on_commit(enqueue.ADVANCE_ROLLOUT, rollout.pk, coalesce=enqueue.advance_key(rollout.pk))
    return rollout


def _render_jobs(chosen: list[tuple[int, ServiceMap, dict[str, Any]]], existing: dict[int, Release],
                 release_name: str, values: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The renders the targets' installs and upgrades will ask for (:func:`helm.rendering_ahead`):
    their values as :func:`releases.plan_install` / :func:`releases.plan_upgrade` restore them, and
    the revision each would get. A job that differs from what the plan asks is only a wasted render."""
    jobs = []
    for _, sm, overrides in chosen:
        release = existing.get(sm.pk)
        try:
            merged = releases.restored_values(_merge(values, overrides), release.values if release else None)
        except PortalError:
            continue  # the plan says what is wrong
        jobs.append((merged, {"release": release_name, "namespace": sm.namespace,
                              "revision": release.revision + 1 if release else 1, "is_upgrade": release is not None}))
    return jobs


def _waves(service_maps: list[int], *, canary: int | None, batch_size: int) -> list[int]:
    """Each target's wave, in order: 0 for the canary, then batches of ``batch_size`` from 1."""
    out: list[int] = []
    wave, in_wave = 1, 0
    for pk in service_maps:
        if pk == canary:
            out.append(0)
            continue
        if in_wave == batch_size:
            wave, in_wave = wave + 1, 0
        out.append(wave)
        in_wave += 1
    return out


def cancel(*, rollout: Rollout, request: HttpRequest | None) -> Rollout:
    """Stop a running rollout: no new target starts; targets already started finish their deploy
    (their releases are not rolled back). 409 for a finished rollout."""
    with transaction.atomic():
        locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
        if locked.status != RolloutStatus.RUNNING:
            raise Conflict(f"Rollout {locked.pk} already {locked.status}; only a running rollout can be cancelled.")
        Rollout.objects.filter(pk=rollout.pk).update(
            status=RolloutStatus.CANCELLED, message="Cancelled: no new targets are started.",
            message_code="rollout_cancelled", message_params={}, finished=timezone.now())
        RolloutTarget.objects.filter(rollout=rollout, state=TargetState.PENDING, release__isnull=True).update(
            state=TargetState.SKIPPED, reason="The rollout was cancelled.")
        if request is not None:
            audit.describe(request, action="rollout.cancel", target=rollout, detail={})
        rollout.refresh_from_db()
        transaction.on_commit(lambda: publish_rollout(rollout))
    return rollout


def delete_rollout(*, rollout: Rollout, request: HttpRequest | None) -> None:
    """Delete a finished rollout's record (its releases stay). 409 while it runs: cancel it first."""
    with transaction.atomic():
        locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
        if locked.status == RolloutStatus.RUNNING:
            raise Conflict(f"Rollout {locked.pk} is still running; cancel it first.")
        workspace_id, rollout_id = locked.workspace_id, locked.pk
        if request is not None:
            # no target object: it is gone when the record is written; the URL names the rollout
            audit.describe(request, action="rollout.delete",
                           detail={"rollout": rollout_id, "release_name": locked.release_name,
                                   "version": locked.version_label})
        locked.delete()
        transaction.on_commit(lambda: publish(f"workspace.{workspace_id}", "rollout.deleted", {"id": rollout_id}))


# ---------------------------------------------------------------------------- moving a rollout


_Revisions = dict[tuple[int, int], tuple[str, str]]  # (release id, number) -> (status, message)


def _revisions(targets: list[RolloutTarget]) -> _Revisions:
    """The status and message of every started target's revision, in one query (not one per target)."""
    wanted = {(t.release_id, t.revision) for t in targets if t.release_id is not None and t.revision is not None}
    if not wanted:
        return {}
    rows = Revision.objects.filter(release_id__in={release for release, _ in wanted},
                                   number__in={number for _, number in wanted})
    return {(release, number): (status, message) for release, number, status, message
            in rows.values_list("release_id", "number", "status", "message") if (release, number) in wanted}


def _target_state(target: RolloutTarget, revisions: _Revisions) -> tuple[str, str]:
    """The ledger state of a started target, from its release's revision."""
    if target.release_id is None or target.revision is None:
        return TargetState.PENDING, target.reason
    found = revisions.get((target.release_id, target.revision))
    if found is None:
        return TargetState.PENDING, target.reason
    status, message = found
    if status == RevisionStatus.DEPLOYED:
        return TargetState.HEALTHY, ""
    if status == RevisionStatus.FAILED:
        return TargetState.FAILED, message
    if status == RevisionStatus.SUPERSEDED:
        return TargetState.SKIPPED, "A newer revision of the release replaced this one."
    if status == RevisionStatus.PROGRESSING:
        return TargetState.PROGRESSING, ""
    if status == RevisionStatus.APPLYING:
        return TargetState.APPLYING, ""
    return TargetState.PENDING, message


def _start(target: RolloutTarget, rollout: Rollout) -> None:
    """Install or upgrade the target's release for the rollout's creator, with what was decided
    when the rollout was created (grants and cluster-scoped objects): the task decides nothing."""
    sm = target.service_map
    if rollout.package_version is None:  # its source was deleted (only possible for a finished rollout)
        RolloutTarget.objects.filter(pk=target.pk).update(
            state=TargetState.FAILED, reason=f"The package version {rollout.version_label} no longer exists.")
        return
    values = _merge(rollout.values, target.overrides or {})
    user = rollout.created_by
    decided = releases.Decided(allow_cluster_scoped=rollout.allow_cluster_scoped)
    existing = Release.objects.filter(service_map=sm, name=rollout.release_name).first()
    try:
        if existing is None:
            release = releases.create_release(sm=sm, name=rollout.release_name, version=rollout.package_version,
                                              values=values, strategy={}, user=user, request=None,
                                              decided=decided)
        else:
            release = releases.upgrade_release(release=existing, version=rollout.package_version, values=values,
                                               strategy=None, user=user, request=None, decided=decided)
    except (PortalError, SourceError) as exc:  # refused (grant, values, quota, state) or the chart unreadable
        RolloutTarget.objects.filter(pk=target.pk).update(state=TargetState.FAILED, reason=str(exc)[:2000],
                                                          attempts=target.attempts + 1)
        return
    RolloutTarget.objects.filter(pk=target.pk).update(release=release, revision=release.revision,
                                                      state=TargetState.APPLYING, reason="",
                                                      attempts=target.attempts + 1)


CLAIM_TIMEOUT_SECONDS = 120


def advance(rollout_id: int) -> str:
    """Update the ledger from the targets' releases and start the next wave when due.

    Under the rollout's row lock a wave's targets are only *claimed* (``applying`` without a
    release); they are started after the lock is released, each committing (and queueing its
    deploy) on its own, so the first deploys run while the last are still being prepared. A
    claim that was never started (the process died) is released again after a while. Returns
    ``"busy"`` when another advance holds the rollout (the task then comes back shortly)."""
    claimed: list[RolloutTarget] = []
    result = _advance_locked(rollout_id, claimed)
    if claimed:
        rollout = Rollout.objects.select_related("package_version", "created_by").get(pk=rollout_id)
        if len(claimed) == 1:
            _start(claimed[0], rollout)
        else:  # render, check and store the targets side by side: each waits on the render pool and the database
            with ThreadPoolExecutor(max_workers=min(START_THREADS, len(claimed))) as pool:
                list(pool.map(lambda t: _start_in_thread(t, rollout), claimed))
        publish_rollout(rollout)
    return result


START_THREADS = 4


def _start_in_thread(target: RolloutTarget, rollout: Rollout) -> None:
    try:
        _start(target, rollout)
    finally:
        connection.close()  # this thread's own connection


def _advance_locked(rollout_id: int, claimed: list[RolloutTarget]) -> str:
    with transaction.atomic():
        rollout = next(iter(Rollout.objects.select_for_update(skip_locked=True).filter(pk=rollout_id).order_by()[:1]),
                       None)
        if rollout is None:
            return "busy" if Rollout.objects.filter(pk=rollout_id).exists() else "gone"
        # The ledger alone: an advance runs at every step of every target, and building each
        # target's service map, workspace and cluster cost more than the rest of it. The maps are
        # read below for the targets that need them (starting, or named in a failure).
        targets = list(RolloutTarget.objects.filter(rollout=rollout))
        stale = timezone.now() - timedelta(seconds=CLAIM_TIMEOUT_SECONDS)
        if any(t.release_id is None and t.state == TargetState.APPLYING and t.updated < stale for t in targets):
            RolloutTarget.objects.filter(rollout=rollout, release__isnull=True, state=TargetState.APPLYING,
                                         updated__lt=stale).update(state=TargetState.PENDING, reason="")
            targets = list(RolloutTarget.objects.filter(rollout=rollout))
        revisions = _revisions(targets)
        for target in targets:
            if target.release_id is not None and target.state not in (TargetState.SKIPPED,):
                state, reason = _target_state(target, revisions)
                if (state, reason) != (target.state, target.reason):
                    RolloutTarget.objects.filter(pk=target.pk).update(state=state, reason=reason)
                    target.state, target.reason = state, reason
        if rollout.status != RolloutStatus.RUNNING:
            transaction.on_commit(lambda: publish_rollout(rollout))
            return str(rollout.status)
        failed = [t for t in targets if t.state == TargetState.FAILED]
        if len(failed) > int((rollout.policy or {}).get("max_failures", 0)):
            named = dict(ServiceMap.objects.filter(pk__in=[t.service_map_id for t in failed]).values_list(
                "pk", "namespace"))
            namespaces = ", ".join(named.get(t.service_map_id, "?") for t in failed)
            Rollout.objects.filter(pk=rollout.pk).update(
                status=RolloutStatus.FAILED, finished=timezone.now(),
                message=f"Stopped: {len(failed)} target(s) failed ({namespaces}).", message_code="rollout_stopped",
                message_params={"count": len(failed), "namespaces": namespaces})
            RolloutTarget.objects.filter(rollout=rollout, release__isnull=True, state=TargetState.PENDING).update(
                state=TargetState.SKIPPED, reason="The rollout stopped after failures.")
            rollout.refresh_from_db()
            transaction.on_commit(lambda: publish_rollout(rollout))
            return "failed"
        waves = sorted({t.wave for t in targets})
        for wave in waves:
            members = [t for t in targets if t.wave == wave]
            unstarted = [t for t in members if t.release_id is None and t.state == TargetState.PENDING]
            if unstarted:
                maps = ServiceMap.objects.select_related("workspace", "cluster").in_bulk(
                    [t.service_map_id for t in unstarted])
                for target in unstarted:
                    target.service_map = maps[target.service_map_id]
                RolloutTarget.objects.filter(pk__in=[t.pk for t in unstarted]).update(
                    state=TargetState.APPLYING, reason="Starting.", updated=timezone.now())
                claimed.extend(unstarted)
                return f"wave {wave} started"
            if any(t.release_id is None and t.state == TargetState.APPLYING for t in members):
                return f"wave {wave} starting"
            # A target waiting for its cluster holds back only the canary wave: the others go on
            # and it catches up when the cluster answers.
            waiting_ok = wave > 0
            if any(t.state not in (TargetState.HEALTHY, TargetState.FAILED, TargetState.SKIPPED)
                   and not (waiting_ok and t.state == TargetState.PENDING and t.release_id is not None)
                   for t in members):
                publish_rollout_soon(rollout)
                return f"wave {wave} in progress"
        if any(t.state not in (TargetState.HEALTHY, TargetState.FAILED, TargetState.SKIPPED) for t in targets):
            publish_rollout_soon(rollout)
            return "waiting for clusters"
        status = RolloutStatus.SUCCEEDED if not failed else RolloutStatus.FAILED
        if failed:
            note = {"message": f"{len(failed)} target(s) failed.", "message_code": "rollout_failed",
                    "message_params": {"count": len(failed)}}
        else:
            note = {"message": "Every target is healthy.", "message_code": "rollout_succeeded", "message_params": {}}
        Rollout.objects.filter(pk=rollout.pk).update(status=status, finished=timezone.now(), **note)
        rollout.refresh_from_db()
        transaction.on_commit(lambda: publish_rollout(rollout))
        return str(status)


def running_rollouts() -> list[int]:
    return list(Rollout.objects.filter(status=RolloutStatus.RUNNING).values_list("pk", flat=True))


__all__ = ["ReleaseStatus", "advance", "cancel", "create_rollout", "running_rollouts"]
