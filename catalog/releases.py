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
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from catalog import enqueue, manifests, redaction, strategies
from catalog.models import (
    PackageVersion,
    Release,
    ReleaseStatus,
    Revision,
    RevisionStatus,
    RolloutStatus,
    RolloutTarget,
)
from catalog.rows import release_row
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
    """Queue task ``catalog.<name>`` (of :mod:`catalog.tasks_deploy`) after commit, by its name."""
    enqueue.on_commit(f"catalog.{name}", *args)


def _publish_release(release: Release) -> None:
    try:
        row = release_row(release)
    except Release.DoesNotExist:  # deleted meanwhile (a fast delete task): release.deleted says so
        return
    publish(f"workspace.{release.workspace_id}", "release.updated", row)


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


class QuotaExceeded(ValidationError):
    """The manifests do not fit the service map's quota; ``preflight`` has the figures."""

    def __init__(self, detail: Any, *, preflight: dict[str, Any]) -> None:
        super().__init__(detail)
        self.preflight = preflight


@dataclass
class Prepared:
    objects: list[dict[str, Any]]
    preflight: dict[str, Any]
    strategy_state: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)


LOOKUP_WARNING = "chart_uses_lookup"


def _lookup_warnings(archive: bytes) -> list[dict[str, str]]:
    """A warning when the chart's templates call Helm's ``lookup`` (found in a render process)."""
    from catalog import helm

    try:
        paths = helm.inspect(archive).lookup_templates
    except helm.ChartError:
        return []
    if not paths:
        return []
    return [{"code": LOOKUP_WARNING, "message": (
        f"The chart calls Helm's lookup ({', '.join(paths[:5])}{'…' if len(paths) > 5 else ''}). The portal renders "
        "charts without reading the cluster, so lookup finds nothing: values a chart keeps with lookup (a generated "
        "password, say) are generated anew on every upgrade. Set such values explicitly.")}]


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
                problems.append(f"{manifests.key_of(obj)}: container {container.get('name', '?')!r} has an invalid "
                                f"image reference {image!r}.")
    return problems


def prepare(*, sm: ServiceMap, name: str, version: PackageVersion, values: dict[str, Any], user: Any,
            number: int, upgrade: bool, replacing: Release | None = None,
            strategy: dict[str, Any] | None = None) -> Prepared:
    """Render, shape for the strategy (:mod:`catalog.strategies`) and check a revision; 400 naming
    what is wrong (values by field, objects by name)."""
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
    objects = [manifests.without_nulls(o) for o in objects]
    if strategy is None:
        prepared = check(sm=sm, objects=objects, user=user, replacing=replacing)
    else:
        prepared = _shaped(sm=sm, objects=objects, strategy=strategy, user=user, replacing=replacing)
    prepared.warnings = _lookup_warnings(archive)
    return prepared


def _current_objects(release: Release | None) -> list[dict[str, Any]] | None:
    revision = Revision.objects.filter(release=release, number=release.revision).first() if release else None
    return manifests.load(revision.manifest) if revision is not None and revision.manifest else None


def _shaped(*, sm: ServiceMap, objects: list[dict[str, Any]], strategy: dict[str, Any], user: Any,
            replacing: Release | None) -> Prepared:
    """Shape the chart's objects for the strategy, then check what will really be applied."""
    planned = strategies.plan(objects, strategy=strategy, state=replacing.strategy_state if replacing else {},
                              current=_current_objects(replacing),
                              from_revision=replacing.revision if replacing else 0)
    prepared = check(sm=sm, objects=planned.objects, user=user, replacing=replacing)
    prepared.strategy_state = planned.state
    return prepared


def _refuse_mid_strategy(release: Release, doing: str) -> None:
    state = release.strategy_state or {}
    if strategies.in_progress(state):
        raise Conflict(f"{release.name} is {state.get('phase', '').replace('_', ' ')} ({state.get('type')}); "
                       f"promote, confirm or abort before you {doing}.")


PORTAL_OWNED_CODE = "portal_owned"
PULL_SECRET_PREFIX = "portal-pull-"  # reserved for the pull secrets the portal puts in service maps


def portal_owned(sm: ServiceMap) -> dict[str, str]:
    """``{"Kind/name": why}`` of the objects the portal itself keeps in the service map's
    namespace (its Namespace, ResourceQuota and LimitRange, as :mod:`workspaces.services` builds
    them). A release must not render these: applying one would overwrite the quota or the
    limits until drift repair puts them back."""
    from workspaces.services import desired_objects

    return {manifests.key_of(o): f"the service map's own {o['kind']}" for o in desired_objects(sm, None)}


def _owned_problem(obj: dict[str, Any], owned: dict[str, str]) -> str | None:
    key, kind = manifests.key_of(obj), str(obj.get("kind"))
    name = str((obj.get("metadata") or {}).get("name") or "")
    why = owned.get(key)
    if why is None and kind in ("ResourceQuota", "LimitRange") and name.startswith("portal-"):
        why = f"a {kind} name reserved for the portal (portal-…)"
    if why is None and kind == "Secret" and name.startswith(PULL_SECRET_PREFIX):
        why = f"a name reserved for the portal's pull secrets ({PULL_SECRET_PREFIX}…)"
    if why is None:
        return None
    return (f"{key} collides with {why}; the portal manages it and would put it back. Rename the object in the "
            "chart, or change the service map's quota and limits in the portal instead.")


def _metadata_problems(obj: dict[str, Any]) -> list[str]:
    meta = obj.get("metadata") or {}
    return [f"{manifests.key_of(obj)}: metadata.{field} must be a mapping of strings."
            for field in ("labels", "annotations")
            if field in meta and not isinstance(meta[field], dict)]


def check(*, sm: ServiceMap, objects: list[dict[str, Any]], user: Any, replacing: Release | None = None) -> Prepared:
    problems: list[str] = []
    if not objects:
        problems.append("The chart rendered no objects.")
    owned = portal_owned(sm)
    collisions = [p for p in (_owned_problem(o, owned) for o in objects) if p]
    seen: set[str] = set()
    for obj in objects:
        meta = obj.get("metadata") or {}
        key = manifests.key_of(obj)
        if key in seen:
            problems.append(f"{key} appears twice in the rendered manifest.")
        seen.add(key)
        problems += _metadata_problems(obj)
        namespace = meta.get("namespace")
        if namespace and namespace != sm.namespace:
            problems.append(f"{key} targets namespace {namespace}; a release may only create objects in its service "
                            f"map's namespace {sm.namespace}.")
        if obj.get("kind") in manifests.CLUSTER_SCOPED_KINDS and not ws_access.is_admin(user):
            problems.append(f"{key} is cluster-scoped; only system admins may deploy those.")
    problems += _image_errors(objects)
    if collisions:  # the stable code first: the console names the collision
        raise ValidationError({f"manifest.{PORTAL_OWNED_CODE}": collisions, **({"manifest": problems} if problems
                                                                               else {})}, code=PORTAL_OWNED_CODE)
    if problems:
        raise ValidationError({"manifest": problems})
    from workspaces.services import preflight

    fit = preflight(sm, objects)  # quota and the LimitRange defaults' limits (workspaces.services)
    if not fit["fits"]:
        raise QuotaExceeded({"quota": fit["problems"]}, preflight=fit)
    return Prepared(objects=objects, preflight=fit)


def _store_revision(release: Release, *, number: int, action: str, version: PackageVersion, values: dict[str, Any],
                    objects: list[dict[str, Any]], user: Any, rollback_of: int | None = None) -> Revision:
    stamped = manifests.stamp(objects, namespace=release.service_map.namespace, release=release, revision=number)
    manifest = manifests.dump(stamped)
    return Revision.objects.create(
        release=release, number=number, action=action, rollback_of=rollback_of, package_version=version,
        values=values, manifest=manifest, digest=manifests.digest(manifest), resources=manifests.resources(stamped),
        status=RevisionStatus.PENDING, created_by=user if getattr(user, "is_authenticated", False) else None)


# ---------------------------------------------------------------------------- user actions


def create_release(*, sm: ServiceMap, name: str, version: PackageVersion, values: dict[str, Any],
                   strategy: dict[str, Any], user: Any, request: HttpRequest | None) -> Release:
    require(user, sm, Grant.WORKLOADS_DEPLOY)
    if sm.status == ApplyStatus.DELETING:
        raise Conflict(f"Service map {sm.namespace} is being deleted.")
    if Release.objects.filter(service_map=sm, name=name).exists():
        raise Conflict(f"A release named {name} exists in {sm.namespace}; upgrade it instead.")
    values = restored_values(values, None)
    strategy = strategies.validate(strategy)
    prepared = prepare(sm=sm, name=name, version=version, values=values, user=user, number=1, upgrade=False,
                       strategy=strategy)
    try:
        with transaction.atomic():
            release = Release.objects.create(
                workspace=sm.workspace, service_map=sm, name=name, package_version=version, values=values,
                strategy=strategy, strategy_state=prepared.strategy_state, status=ReleaseStatus.PENDING, revision=1,
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


def restored_values(values: Any, stored: Any) -> Any:
    """``values`` with each ``<redacted>`` the API showed in place of a Secret value put back from
    the stored values (:func:`catalog.redaction.restore_values`); 400 where there is none."""
    out, missing = redaction.restore_values(values, stored)
    if missing:
        raise ValidationError({path: [f"{redaction.REDACTED} stands for a Secret value you were not shown, and "
                                      "there is no stored value here to keep; give the value."] for path in missing})
    return out


def upgrade_release(*, release: Release, version: PackageVersion | None, values: dict[str, Any] | None,
                    strategy: dict[str, Any] | None, user: Any, request: HttpRequest | None) -> Release:
    sm = release.service_map
    require(user, sm, Grant.WORKLOADS_DEPLOY)
    version = version or release.package_version
    values = release.values if values is None else restored_values(values, release.values)
    strategy = strategies.validate(strategy if strategy is not None else strategies.normalised(release.strategy))
    _refuse_mid_strategy(release, "upgrade")
    number = _next_revision(release)
    prepared = prepare(sm=sm, name=release.name, version=version, values=values, user=user, number=number,
                       upgrade=True, replacing=release, strategy=strategy)
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if locked.revision + 1 != number or locked.status == ReleaseStatus.DELETING:
            raise Conflict(f"{release.name} changed meanwhile (now at revision {locked.revision}); reload and retry.")
        _next_revision(locked)
        _store_revision(locked, number=number, action="upgrade", version=version, values=values,
                        objects=prepared.objects, user=user)
        Release.objects.filter(pk=locked.pk).update(
            package_version=version, values=values, strategy=strategy, strategy_state=prepared.strategy_state,
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
    _refuse_mid_strategy(release, "roll back")
    number = _next_revision(release)
    # The target's objects as the chart rendered them, shaped for the release's strategy now.
    prepared = _shaped(sm=sm, objects=strategies.plain(manifests.load(target.manifest)),
                       strategy=strategies.normalised(release.strategy), user=user, replacing=release)
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if locked.revision + 1 != number:
            raise Conflict(f"{release.name} changed meanwhile (now at revision {locked.revision}); reload and retry.")
        _store_revision(locked, number=number, action="rollback", version=target.package_version,
                        values=target.values, objects=prepared.objects, user=user, rollback_of=to)
        Release.objects.filter(pk=locked.pk).update(
            package_version=target.package_version, values=target.values, revision=number,
            strategy_state=prepared.strategy_state, status=ReleaseStatus.PENDING,
            message=f"Rolling back to revision {to}.", updated=timezone.now())
        locked.refresh_from_db()
        _audit(request, action="release.rollback", release=locked, detail={"to": to, "revision": number})
        _enqueue("deploy_revision", locked.pk, number)
        transaction.on_commit(lambda: _publish_release(locked))
    return locked


def _strategy_step(*, release: Release, action: str, objects: list[dict[str, Any]], version: PackageVersion,
                   values: dict[str, Any], state: dict[str, Any], message: str, user: Any,
                   request: HttpRequest | None, wait_for_flight: bool = True,
                   rollback_of: int | None = None) -> Release:
    """Promote, confirm and abort are revisions too (the cluster's every state is in the history):
    store one with ``objects`` and the new strategy state, and let the deploy task apply and prune."""
    sm = release.service_map
    if wait_for_flight:
        _next_revision(release)
    number = release.revision + 1
    prepared = check(sm=sm, objects=objects, user=user, replacing=release)
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if (locked.revision + 1 != number or locked.status == ReleaseStatus.DELETING
                or locked.strategy_state != release.strategy_state):
            raise Conflict(f"{release.name} changed meanwhile (now at revision {locked.revision}); reload and retry.")
        _store_revision(locked, number=number, action=action, version=version, values=values,
                        objects=prepared.objects, user=user, rollback_of=rollback_of)
        Release.objects.filter(pk=locked.pk).update(
            package_version=version, values=values, revision=number, strategy_state=state,
            status=ReleaseStatus.PENDING, message=message, updated=timezone.now())
        locked.refresh_from_db()
        _audit(request, action=f"release.{action}", release=locked,
               detail={"revision": number, "strategy": release.strategy_state.get("type"),
                       "from": release.strategy_state, "to": state})
        _enqueue("deploy_revision", locked.pk, number)
        transaction.on_commit(lambda: _publish_release(locked))
    return locked


def _current_revision(release: Release) -> Revision:
    current = Revision.objects.select_related("package_version").filter(release=release,
                                                                        number=release.revision).first()
    if current is None or not current.manifest:
        raise Conflict(f"{release.name} has no revision to act on.")
    return current


def promote_release(*, release: Release, user: Any, request: HttpRequest | None) -> Release:
    """Blue/green: point the Services at the new color (the old one stays until confirmed).
    Canary: give the main Deployments the new template and drop the canaries."""
    require(user, release.service_map, Grant.WORKLOADS_ROLLBACK)
    state = release.strategy_state or {}
    if state.get("phase") != strategies.AWAITING_PROMOTION:
        raise Conflict(f"{release.name} has nothing to promote (no blue/green preview or canary is waiting).")
    current = _current_revision(release)
    if current.status != RevisionStatus.DEPLOYED:
        raise Conflict(f"Revision {current.number} is {current.status}; promote once it is deployed, or abort.")
    planned = strategies.promote(manifests.load(current.manifest), strategy=release.strategy, state=state)
    what = f"the {state.get('preview')} color" if state.get("type") == "bluegreen" else "the canary"
    return _strategy_step(release=release, action="promote", objects=planned.objects,
                          version=current.package_version, values=current.values, state=planned.state,
                          message=f"Promoting {what}.", user=user, request=request)


def confirm_release(*, release: Release, user: Any, request: HttpRequest | None) -> Release:
    """Blue/green after promote: delete the old color (no instant rollback after this)."""
    require(user, release.service_map, Grant.WORKLOADS_ROLLBACK)
    state = release.strategy_state or {}
    if state.get("phase") != strategies.AWAITING_CONFIRMATION:
        raise Conflict(f"{release.name} has nothing to confirm (confirm follows a blue/green promote).")
    current = _current_revision(release)
    planned = strategies.confirm(manifests.load(current.manifest), state=state)
    return _strategy_step(release=release, action="confirm", objects=planned.objects,
                          version=current.package_version, values=current.values, state=planned.state,
                          message=f"Confirmed {state.get('active')}; deleting {state.get('previous')}.", user=user,
                          request=request)


def abort_release(*, release: Release, user: Any, request: HttpRequest | None) -> Release:
    """Back to the revision the blue/green or canary upgrade started from: the old color serves
    again and the new one is deleted, or the canary is deleted. Does not wait for a rollout in
    flight (that is what an instant rollback is for): the newer revision supersedes it."""
    require(user, release.service_map, Grant.WORKLOADS_ROLLBACK)
    state = release.strategy_state or {}
    if state.get("phase") not in (strategies.AWAITING_PROMOTION, strategies.AWAITING_CONFIRMATION):
        raise Conflict(f"{release.name} has nothing to abort (no blue/green or canary upgrade is waiting).")
    origin = Revision.objects.select_related("package_version").filter(
        release=release, number=state.get("from_revision") or 0).first()
    if origin is None or not origin.manifest:
        raise Conflict(f"Revision {state.get('from_revision')} of {release.name} is gone; roll back instead.")
    return _strategy_step(release=release, action="abort", objects=manifests.load(origin.manifest),
                          version=origin.package_version, values=origin.values, state=strategies.aborted_state(state),
                          message=f"Aborted; back to revision {origin.number}.", user=user, request=request,
                          wait_for_flight=False, rollback_of=origin.number)


def delete_release(*, release: Release, user: Any, request: HttpRequest | None) -> Release:
    require(user, release.service_map, Grant.WORKLOADS_DELETE)
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(status=ReleaseStatus.DELETING,
                                                     message="Deleting its objects.", updated=timezone.now())
        release.refresh_from_db()
        # Kept for the answer, which redacts the values by it after the task may have deleted it.
        release.current_manifest = Revision.objects.filter(  # type: ignore[attr-defined]
            release=release, number=release.revision).values_list("manifest", flat=True).first() or ""
        _audit(request, action="release.delete", release=release, detail={})
        # The row is read and published inside the transaction (publish sends on commit): the
        # delete task may remove the release as soon as it is enqueued, before the answer is built.
        _publish_release(release)
        _enqueue("delete_release", release.pk)
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


def _scrubbed(revision: Revision, message: str) -> str:
    """A message from the cluster about the revision without its Secrets' values (it is stored,
    published and audited; see :mod:`catalog.redaction`)."""
    return redaction.scrub(message, manifests.load(revision.manifest)) if message and revision.manifest else message


def revision_waiting(release: Release, revision: Revision, message: str) -> None:
    message = _scrubbed(revision, message)
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
    message = _scrubbed(revision, message)
    if progress != revision.progress or message != revision.message:
        _set_revision(revision, progress=progress, message=message)
        _publish_revision(release, revision)


def finish_revision(release: Release, revision: Revision, status: str, message: str,
                    progress: dict[str, Any] | None = None) -> None:
    message = _scrubbed(revision, message)
    fields: dict[str, Any] = {"status": status, "message": message, "finished": timezone.now()}
    if progress is not None:
        fields["progress"] = progress
    _set_revision(revision, **fields)
    if status == RevisionStatus.DEPLOYED:
        older = list(Revision.objects.filter(release=release, status=RevisionStatus.DEPLOYED).exclude(pk=revision.pk))
        Revision.objects.filter(pk__in=[r.pk for r in older]).update(status=RevisionStatus.SUPERSEDED)
        for old in older:
            old.status = RevisionStatus.SUPERSEDED
            _publish_revision(release, old)
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
    """A target's release moved: advance the running rollouts it belongs to (after commit;
    :func:`catalog.rollouts.advance`, by the task's name)."""
    ids = set(RolloutTarget.objects.filter(release=release, rollout__status=RolloutStatus.RUNNING)
              .values_list("rollout_id", flat=True))
    for rollout_id in ids:
        enqueue.on_commit(enqueue.ADVANCE_ROLLOUT, rollout_id)
