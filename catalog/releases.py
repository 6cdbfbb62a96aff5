"""Every write of releases and the rules that guard them: install, upgrade, roll back, delete,
and the state changes the deploy tasks report.

A revision is prepared completely before it is stored: values checked against the chart's schema
and rendered by the Helm engine (:mod:`catalog.helm`), every object checked to be namespaced and
in the service map's namespace with valid image references, and the quota preflight of the
workspaces app passed. So nothing reaches a cluster unless it could fit, and the stored manifest
is exactly what every retry applies. Writes audit and publish ``release.updated`` /
``revision.updated`` to ``workspace.<id>`` after commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from catalog import deploy
from catalog.models import PackageVersion, Release, ReleaseStatus, Revision, RevisionStatus
from portal import audit
from portal.api.exceptions import Conflict
from portal.events import publish
from portal.models import AuditOutcome
from workspaces import access as ws_access
from workspaces.models import ApplyStatus, Grant, ServiceMap

IMAGE_REFERENCE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
    r"(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")
IN_FLIGHT = (RevisionStatus.APPLYING, RevisionStatus.PROGRESSING)


def _enqueue(name: str, *args: Any) -> None:
    from catalog import tasks_deploy

    task = getattr(tasks_deploy, name)
    transaction.on_commit(lambda: task.delay(*args))


def _publish_release(release: Release) -> None:
    from catalog.api.release_serializers import release_row

    publish(f"workspace.{release.workspace_id}", "release.updated", release_row(release))


def _publish_revision(release: Release, revision: Revision) -> None:
    publish(f"workspace.{release.workspace_id}", "revision.updated", {
        "release": release.pk, "number": revision.number, "status": revision.status,
        "progress": revision.progress, "message": revision.message})


def _audit(request: HttpRequest | None, *, action: str, release: Release, detail: dict[str, Any]) -> None:
    if request is not None:
        audit.describe(request, action=action, target=release, detail=detail)
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, target=release, detail=detail)


def require(user: Any, sm: ServiceMap, grant: str) -> None:
    if not ws_access.allowed(user, sm.workspace, grant):
        raise PermissionDenied(f"Your role in workspace {sm.workspace.name} does not grant {grant}; ask a manager "
                               "of the workspace.")


# ---------------------------------------------------------------------------- preparing a revision


@dataclass
class Prepared:
    objects: list[dict[str, Any]]
    preflight: dict[str, Any]


def _image_errors(objects: list[dict[str, Any]]) -> list[str]:
    problems = []
    for obj in objects:
        spec = obj.get("spec") or {}
        pod = spec.get("template", {}).get("spec") if isinstance(spec.get("template"), dict) else None
        if obj.get("kind") == "Pod":
            pod = spec
        if obj.get("kind") == "CronJob":
            pod = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
        for container in ((pod or {}).get("containers") or []) + ((pod or {}).get("initContainers") or []):
            image = container.get("image") if isinstance(container, dict) else None
            if not isinstance(image, str) or not IMAGE_REFERENCE.match(image) or len(image) > 512:
                problems.append(f"{deploy.key_of(obj)}: container {container.get('name', '?')!r} has an invalid "
                                f"image reference {image!r}.")
    return problems


def prepare(*, sm: ServiceMap, name: str, version: PackageVersion, values: dict[str, Any], user: Any,
            number: int, upgrade: bool, replacing: Release | None = None) -> Prepared:
    """Render and check a revision; 400 naming what is wrong (values by field, objects by name)."""
    from catalog import helm

    if not isinstance(values, dict):
        raise ValidationError({"values": ["Give the values as an object."]})
    try:
        if version.archive:
            archive = bytes(version.archive)
        else:  # a repository's chart not fetched yet
            from catalog import sources  # type: ignore[attr-defined,unused-ignore]

            archive = sources.ensure_archive(version)
        objects = helm.render(archive, values, release=name, namespace=sm.namespace, revision=number,
                              is_upgrade=upgrade)
    except helm.ChartError as exc:
        raise ValidationError(exc.errors or {"chart": [exc.message]}) from exc
    return check(sm=sm, objects=objects, user=user, replacing=replacing)


def check(*, sm: ServiceMap, objects: list[dict[str, Any]], user: Any, replacing: Release | None = None) -> Prepared:
    problems: list[str] = []
    if not objects:
        problems.append("The chart rendered no objects.")
    seen: set[str] = set()
    for obj in objects:
        meta = obj.get("metadata") or {}
        key = deploy.key_of(obj)
        if key in seen:
            problems.append(f"{key} appears twice in the rendered manifest.")
        seen.add(key)
        namespace = meta.get("namespace")
        if namespace and namespace != sm.namespace:
            problems.append(f"{key} targets namespace {namespace}; a release may only create objects in its service "
                            f"map's namespace {sm.namespace}.")
        if obj.get("kind") in deploy.CLUSTER_SCOPED_KINDS and not ws_access.is_admin(user):
            problems.append(f"{key} is cluster-scoped; only system admins may deploy those.")
    problems += _image_errors(objects)
    if problems:
        raise ValidationError({"manifest": problems})
    from workspaces.services import preflight

    fit = preflight(sm, objects)
    if not fit["fits"]:
        raise ValidationError({"quota": fit["problems"]})
    return Prepared(objects=objects, preflight=fit)


def _store_revision(release: Release, *, number: int, action: str, version: PackageVersion, values: dict[str, Any],
                    objects: list[dict[str, Any]], user: Any, rollback_of: int | None = None) -> Revision:
    stamped = deploy.stamp(objects, release=release, revision=number)
    manifest = deploy.dump(stamped)
    return Revision.objects.create(
        release=release, number=number, action=action, rollback_of=rollback_of, package_version=version,
        values=values, manifest=manifest, digest=deploy.digest(manifest), resources=deploy.resources(stamped),
        status=RevisionStatus.PENDING, created_by=user if getattr(user, "is_authenticated", False) else None)


# ---------------------------------------------------------------------------- user actions


def create_release(*, sm: ServiceMap, name: str, version: PackageVersion, values: dict[str, Any],
                   strategy: dict[str, Any], user: Any, request: HttpRequest | None) -> Release:
    require(user, sm, Grant.WORKLOADS_DEPLOY)
    if sm.status == ApplyStatus.DELETING:
        raise Conflict(f"Service map {sm.namespace} is being deleted.")
    if Release.objects.filter(service_map=sm, name=name).exists():
        raise Conflict(f"A release named {name} exists in {sm.namespace}; upgrade it instead.")
    prepared = prepare(sm=sm, name=name, version=version, values=values, user=user, number=1, upgrade=False)
    try:
        with transaction.atomic():
            release = Release.objects.create(
                workspace=sm.workspace, service_map=sm, name=name, package_version=version, values=values,
                strategy=strategy, status=ReleaseStatus.PENDING, revision=1,
                created_by=user if getattr(user, "is_authenticated", False) else None)
            _store_revision(release, number=1, action="install", version=version, values=values,
                            objects=prepared.objects, user=user)
            _audit(request, action="release.install", release=release,
                   detail={"service_map": sm.pk, "package_version": version.pk, "revision": 1})
            _enqueue("deploy_revision", release.pk, 1)
            transaction.on_commit(lambda: _publish_release(release))
    except IntegrityError as exc:
        raise Conflict(f"A release named {name} was just created in {sm.namespace}.") from exc
    return release


def _next_revision(release: Release) -> int:
    current = Revision.objects.filter(release=release, number=release.revision).first()
    if current is not None and current.status in IN_FLIGHT:
        raise Conflict(f"Revision {current.number} of {release.name} is still deploying ({current.status}); wait "
                       "for it to finish, then try again.")
    return release.revision + 1


def upgrade_release(*, release: Release, version: PackageVersion | None, values: dict[str, Any] | None,
                    strategy: dict[str, Any] | None, user: Any, request: HttpRequest | None) -> Release:
    sm = release.service_map
    require(user, sm, Grant.WORKLOADS_DEPLOY)
    version = version or release.package_version
    values = release.values if values is None else values
    number = _next_revision(release)
    prepared = prepare(sm=sm, name=release.name, version=version, values=values, user=user, number=number,
                       upgrade=True, replacing=release)
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if locked.revision + 1 != number or locked.status == ReleaseStatus.DELETING:
            raise Conflict(f"{release.name} changed meanwhile (now at revision {locked.revision}); reload and retry.")
        _next_revision(locked)
        _store_revision(locked, number=number, action="upgrade", version=version, values=values,
                        objects=prepared.objects, user=user)
        Release.objects.filter(pk=locked.pk).update(
            package_version=version, values=values, strategy=strategy if strategy is not None else locked.strategy,
            revision=number, status=ReleaseStatus.PENDING, message="", updated=timezone.now())
        locked.refresh_from_db()
        _audit(request, action="release.upgrade", release=locked,
               detail={"package_version": version.pk, "revision": number})
        _enqueue("deploy_revision", locked.pk, number)
        transaction.on_commit(lambda: _publish_release(locked))
    return locked


def rollback_release(*, release: Release, to: int, user: Any, request: HttpRequest | None) -> Release:
    sm = release.service_map
    require(user, sm, Grant.WORKLOADS_ROLLBACK)
    target = Revision.objects.filter(release=release, number=to).first()
    if target is None or not target.manifest:
        raise ValidationError({"revision": [f"{release.name} has no revision {to}."]})
    if to == release.revision:
        raise ValidationError({"revision": [f"Revision {to} is the current revision."]})
    number = _next_revision(release)
    objects = [o for o in deploy.load(target.manifest)]
    prepared = check(sm=sm, objects=objects, user=user, replacing=release)
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if locked.revision + 1 != number:
            raise Conflict(f"{release.name} changed meanwhile (now at revision {locked.revision}); reload and retry.")
        _store_revision(locked, number=number, action="rollback", version=target.package_version,
                        values=target.values, objects=prepared.objects, user=user, rollback_of=to)
        Release.objects.filter(pk=locked.pk).update(
            package_version=target.package_version, values=target.values, revision=number,
            status=ReleaseStatus.PENDING, message=f"Rolling back to revision {to}.", updated=timezone.now())
        locked.refresh_from_db()
        _audit(request, action="release.rollback", release=locked, detail={"to": to, "revision": number})
        _enqueue("deploy_revision", locked.pk, number)
        transaction.on_commit(lambda: _publish_release(locked))
    return locked


def delete_release(*, release: Release, user: Any, request: HttpRequest | None) -> Release:
    require(user, release.service_map, Grant.WORKLOADS_DELETE)
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(status=ReleaseStatus.DELETING,
                                                     message="Deleting its objects.", updated=timezone.now())
        release.refresh_from_db()
        _audit(request, action="release.delete", release=release, detail={})
        _enqueue("delete_release", release.pk)
        transaction.on_commit(lambda: _publish_release(release))
    return release


# ---------------------------------------------------------------------------- what the tasks report


def _set_revision(revision: Revision, **fields: Any) -> None:
    Revision.objects.filter(pk=revision.pk).update(**fields)
    for key, value in fields.items():
        setattr(revision, key, value)


def _set_release(release: Release, **fields: Any) -> None:
    fields["updated"] = timezone.now()
    Release.objects.filter(pk=release.pk).update(**fields)
    for key, value in fields.items():
        setattr(release, key, value)


def revision_started(release: Release, revision: Revision) -> None:
    _set_revision(revision, status=RevisionStatus.APPLYING, started=revision.started or timezone.now(), message="")
    _set_release(release, status=ReleaseStatus.DEPLOYING, message=f"Applying revision {revision.number}.")
    _publish_revision(release, revision)
    _publish_release(release)


def revision_waiting(release: Release, revision: Revision, message: str) -> None:
    _set_revision(revision, status=RevisionStatus.PENDING, message=message)
    _set_release(release, status=ReleaseStatus.PENDING, message=message)
    _publish_revision(release, revision)
    _publish_release(release)
    _notify_rollouts(release)


def revision_applied(release: Release, revision: Revision, progress: dict[str, Any], message: str) -> None:
    _set_revision(revision, status=RevisionStatus.PROGRESSING, progress=progress, message=message)
    _publish_revision(release, revision)
    _notify_rollouts(release)


def revision_progress(release: Release, revision: Revision, progress: dict[str, Any], message: str) -> None:
    if progress != revision.progress or message != revision.message:
        _set_revision(revision, progress=progress, message=message)
        _publish_revision(release, revision)


def finish_revision(release: Release, revision: Revision, status: str, message: str,
                    progress: dict[str, Any] | None = None) -> None:
    fields: dict[str, Any] = {"status": status, "message": message, "finished": timezone.now()}
    if progress is not None:
        fields["progress"] = progress
    _set_revision(revision, **fields)
    if status == RevisionStatus.DEPLOYED:
        Revision.objects.filter(release=release, status=RevisionStatus.DEPLOYED).exclude(pk=revision.pk).update(
            status=RevisionStatus.SUPERSEDED)
        _set_release(release, status=ReleaseStatus.DEPLOYED, deployed_revision=revision.number,
                     message=f"Revision {revision.number} is deployed.")
    elif status == RevisionStatus.FAILED and release.revision == revision.number:
        _set_release(release, status=ReleaseStatus.FAILED, message=f"Revision {revision.number} failed: {message}")
    audit.record(action=f"release.revision_{status}", outcome=AuditOutcome.SUCCESS if status != "failed"
                 else AuditOutcome.FAILURE, target=release, detail={"revision": revision.number, "message": message})
    _publish_revision(release, revision)
    _publish_release(release)
    _notify_rollouts(release)


def release_message(release: Release, message: str) -> None:
    _set_release(release, message=message)
    _publish_release(release)


def release_deleted(release: Release) -> None:
    workspace_id = release.workspace_id
    audit.record(action="release.deleted", outcome=AuditOutcome.SUCCESS, target=release, detail={})
    Release.objects.filter(pk=release.pk).delete()
    publish(f"workspace.{workspace_id}", "release.deleted", {"id": release.pk})


def _notify_rollouts(release: Release) -> None:
    from catalog import rollouts

    rollouts.release_changed(release)
