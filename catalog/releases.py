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

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone

from catalog import enqueue, image_hooks, manifests, redaction, strategies
from catalog.errors import invalid
from catalog.models import (
    PackageVersion,
    Release,
    ReleaseStatus,
    Revision,
    RevisionStatus,
    RolloutStatus,
    RolloutTarget,
    TargetState,
)
from catalog.rows import release_row, release_rows
from portal import audit
from portal.errors import Conflict, Invalid
from portal.events import publish
from portal.models import AuditOutcome
from workspaces import access as ws_access
from workspaces.models import ApplyStatus, Grant, ServiceMap

logger = logging.getLogger("catalog")

IMAGE_REFERENCE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
    r"(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")
IN_FLIGHT = (RevisionStatus.APPLYING, RevisionStatus.PROGRESSING)


@dataclass(frozen=True)
class Message:
    """A status message as stored and published: the English ``text``, its stable ``code`` and the
    ``params`` the console's translation of the code is filled with (/work/coord/CODES.md)."""

    text: str
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {"message": self.text, "message_code": self.code if self.text else "",
                "message_params": self.params if self.text else {}}


NO_MESSAGE = Message("")


def _enqueue(name: str, *args: Any) -> None:
    """Queue task ``name`` (of :mod:`catalog.tasks_deploy`) after commit, by its name, robustly
    (:mod:`portal.enqueue`: a broker failure is logged and the beat task picks the intent up)."""
    enqueue.on_commit(name, *args)


def _publish_release(release: Release) -> None:
    try:
        row = release_row(release)
    except Release.DoesNotExist:  # deleted meanwhile (a fast delete task): release.deleted says so
        return
    publish(f"workspace.{release.workspace_id}", "release.updated", row)


# The rows of releases a deploy moved are published at most about this often (seconds), by one
# task for every release due (catalog.publish_release_rows): building a row takes a query, and a
# wide rollout's deploys start and finish together. The revision's own event goes at once.
ROWS_DELAY = 0.1


def _publish_release_soon(release: Release) -> None:
    """After commit, have ``catalog.publish_release_rows`` publish the release's row within
    :data:`ROWS_DELAY` seconds, with every other release due then (one query for them all). The
    row is built when the task runs, so it carries the last state. Without Redis, at once."""
    def due() -> None:
        if not enqueue.note(enqueue.RELEASE_ROWS_KEY, [release.pk]):
            _publish_release(release)

    transaction.on_commit(due, robust=True)  # noted before the task is sent, which takes them after it starts
    enqueue.on_commit(enqueue.PUBLISH_RELEASE_ROWS, countdown=ROWS_DELAY, coalesce=enqueue.RELEASE_ROWS_KEY)


def publish_due_rows() -> int:
    """What ``catalog.publish_release_rows`` runs: the rows of every release due, from one query;
    how many were published."""
    ids = [int(pk) for pk in enqueue.take(enqueue.RELEASE_ROWS_KEY) if pk.isdigit()]
    found = release_rows(ids) if ids else {}
    for pk in ids:
        row = found.get(pk)
        if row is not None:  # else deleted meanwhile: release.deleted says so
            publish(f"workspace.{row['workspace']['id']}", "release.updated", row)
    return len(found)


def _publish_revision(release: Release, revision: Revision) -> None:
    publish(f"workspace.{release.workspace_id}", "revision.updated", {
        "release": release.pk, "number": revision.number, "status": revision.status,
        "progress": revision.progress, "message": revision.message, "message_code": revision.message_code,
        "message_params": revision.message_params})


def _audit(request: HttpRequest | None, *, action: str, release: Release, detail: dict[str, Any]) -> None:
    if request is not None:
        audit.describe(request, action=action, target=release, detail=detail)
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, target=release, detail=detail)


# ---------------------------------------------------------------------------- preparing a revision


class QuotaExceeded(Invalid):
    """The manifests do not fit the service map's quota; ``preflight`` has the figures (the plan
    shows them; the API's error body is the usual one, ``errors.quota`` naming what does not fit)."""

    def __init__(self, problems: list[str], *, preflight: dict[str, Any]) -> None:
        error = invalid({"quota": problems})
        super().__init__(error.message, errors=error.errors)
        self.preflight = preflight


@dataclass
class Prepared:
    objects: list[dict[str, Any]]
    preflight: dict[str, Any]
    strategy_state: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)


LOOKUP_WARNING = "chart_uses_lookup"


_LOOKUPS: dict[str, list[str]] = {}  # sha256 of a chart archive -> its templates that call lookup


def _lookup_warnings(archive: bytes) -> list[dict[str, str]]:
    """A warning when the chart's templates call Helm's ``lookup`` (found in a render process)."""
    from catalog import helm

    key = hashlib.sha256(archive).hexdigest()
    paths = _LOOKUPS.get(key)
    if paths is None:  # an archive's templates do not change: one inspection per archive and process
        try:
            paths = helm.inspect(archive).lookup_templates
        except helm.ChartError:
            return []
        if len(_LOOKUPS) >= 256:
            _LOOKUPS.clear()
        _LOOKUPS[key] = paths
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


@dataclass(frozen=True)
class Decided:
    """What was decided about who asked when an intent was created (a rollout, a plan). A task
    acting later passes it instead of deciding a permission itself; the grants were checked then."""

    allow_cluster_scoped: bool


def decide(user: Any, sm: ServiceMap) -> Decided:
    """At intent creation: what ``user`` may do that a later task must not decide again."""
    return Decided(allow_cluster_scoped=_may_deploy_cluster_scoped(user, sm))


def prepare(*, sm: ServiceMap, name: str, version: PackageVersion, values: dict[str, Any], user: Any,
            number: int, upgrade: bool, replacing: Release | None = None,
            strategy: dict[str, Any] | None = None, decided: Decided | None = None) -> Prepared:
    """Render, shape for the strategy (:mod:`catalog.strategies`) and check a revision; 400 naming
    what is wrong (values by field, objects by name)."""
    from catalog import helm

    if not isinstance(values, dict):
        raise invalid({"values": ["Give the values as an object."]})
    try:
        if version.archive:
            archive = bytes(version.archive)
        else:  # a repository's chart not fetched yet
            from catalog import sources  # type: ignore[attr-defined,unused-ignore]

            archive = sources.ensure_archive(version)
        objects = helm.render(archive, values, release=name, namespace=sm.namespace, revision=number,
                              is_upgrade=upgrade)
    except helm.ChartError as exc:
        raise invalid(exc.errors or {"chart": [exc.message]}) from exc
    objects = [manifests.without_nulls(o) for o in objects]
    decided = decided or decide(user, sm)
    if strategy is None:
        prepared = check(sm=sm, objects=objects, user=user, replacing=replacing, decided=decided)
    else:
        prepared = _shaped(sm=sm, objects=objects, strategy=strategy, user=user, replacing=replacing,
                           decided=decided)
    prepared.warnings = _lookup_warnings(archive)
    return prepared


def _current_objects(release: Release | None) -> list[dict[str, Any]] | None:
    revision = Revision.objects.filter(release=release, number=release.revision).first() if release else None
    return manifests.load(revision.manifest) if revision is not None and revision.manifest else None


def _shaped(*, sm: ServiceMap, objects: list[dict[str, Any]], strategy: dict[str, Any], user: Any,
            replacing: Release | None, decided: Decided | None = None) -> Prepared:
    """Shape the chart's objects for the strategy, then check what will really be applied."""
    planned = strategies.plan(objects, strategy=strategy, state=replacing.strategy_state if replacing else {},
                              current=_current_objects(replacing),
                              from_revision=replacing.revision if replacing else 0)
    prepared = check(sm=sm, objects=planned.objects, user=user, replacing=replacing, decided=decided)
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


def check(*, sm: ServiceMap, objects: list[dict[str, Any]], user: Any, replacing: Release | None = None,
          decided: Decided | None = None) -> Prepared:
    allow_cluster_scoped = (decided or decide(user, sm)).allow_cluster_scoped
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
        if obj.get("kind") in manifests.CLUSTER_SCOPED_KINDS and not allow_cluster_scoped:
            problems.append(f"{key} is cluster-scoped; only system admins may deploy those.")
    problems += _image_errors(objects)
    if collisions:  # the stable code first: the console names the collision
        raise invalid({f"manifest.{PORTAL_OWNED_CODE}": collisions, **({"manifest": problems} if problems else {})},
                      code=PORTAL_OWNED_CODE)
    if problems:
        raise invalid({"manifest": problems})
    _gate_images(user, sm, objects, replacing)
    image_hooks.add_pull_secrets(sm, objects)  # imagePullSecrets for images from a private registry
    from workspaces.services import preflight

    fit = preflight(sm, objects)  # quota and the LimitRange defaults' limits (workspaces.services)
    if not fit["fits"]:
        raise QuotaExceeded(list(fit["problems"]), preflight=fit)
    return Prepared(objects=objects, preflight=fit)


def _gate_images(user: Any, sm: ServiceMap, objects: list[dict[str, Any]], replacing: Release | None) -> None:
    """400 ``image_blocked_by_scan`` when an image the revision brings in (one the release does not
    run already) is refused by the gate builds registers: the workspace's scan policy
    (:mod:`catalog.image_hooks`)."""
    if not image_hooks.has_gate():
        return
    running = image_hooks.images_of(_current_objects(replacing) or [])
    problems = image_hooks.gate(user, sm, objects, running=running)
    if problems:
        raise invalid({"images": problems}, code=image_hooks.BLOCKED_CODE,
                      params={"count": len(problems), "workspace": sm.workspace.name})


def _store_revision(release: Release, *, number: int, action: str, version: PackageVersion, values: dict[str, Any],
                    objects: list[dict[str, Any]], user: Any, rollback_of: int | None = None,
                    decided: Decided | None = None) -> Revision:
    revision = _revision_row(release, number=number, action=action, version=version, values=values, objects=objects,
                             user=user, rollback_of=rollback_of, decided=decided)
    revision.save(force_insert=True)
    return revision


def _revision_row(release: Release, *, number: int, action: str, version: PackageVersion, values: dict[str, Any],
                  objects: list[dict[str, Any]], user: Any, rollback_of: int | None = None,
                  decided: Decided | None = None) -> Revision:
    """The revision of ``objects`` as the release's revision ``number`` (not saved)."""
    stamped = manifests.stamp(objects, namespace=release.service_map.namespace, release=release, revision=number)
    manifest = manifests.dump(stamped)
    return Revision(
        release=release, number=number, action=action, rollback_of=rollback_of, package_version=version,
        values=values, manifest=manifest, digest=manifests.digest(manifest), resources=manifests.resources(stamped),
        status=RevisionStatus.PENDING, created_by=user if getattr(user, "is_authenticated", False) else None,
        # decided here, from who asked (the deploy task reads it and decides nothing itself)
        allow_cluster_scoped=(decided or decide(user, release.service_map)).allow_cluster_scoped)


def _may_deploy_cluster_scoped(user: Any, sm: ServiceMap) -> bool:
    return ws_access.service_map_access().can_deploy_cluster_scoped(user, sm)


# ---------------------------------------------------------------------------- user actions


@dataclass
class Planned:
    """An install or upgrade rendered and checked, not stored yet (:func:`plan_install`,
    :func:`plan_upgrade`); :func:`store` writes it. A rollout plans every target when it is asked
    for and stores its first wave's from those plans, rendering them once."""

    sm: ServiceMap
    name: str
    version: PackageVersion
    values: dict[str, Any]
    strategy: dict[str, Any]
    number: int
    prepared: Prepared
    decided: Decided
    release: Release | None = None  # the release upgraded; None for an install


def plan_install(*, sm: ServiceMap, name: str, version: PackageVersion, values: dict[str, Any],
                 strategy: dict[str, Any], user: Any, decided: Decided | None = None,
                 absent: bool = False) -> Planned:
    """Check and prepare an install; nothing is written. A user's request is checked here; a task
    starting a rollout's target passes what was ``decided`` when the rollout was created (its
    grants were checked then), and decides nothing. ``absent``: the caller has just read that no
    release of that name exists there (a rollout reads it for every target at once); a release
    created since is refused when it is stored (the unique constraint, 409)."""
    if decided is None:
        ws_access.require_grant(user, sm.workspace, Grant.WORKLOADS_DEPLOY)
        decided = decide(user, sm)
    if sm.status == ApplyStatus.DELETING:
        raise Conflict(f"Service map {sm.namespace} is being deleted.")
    if not absent and Release.objects.filter(service_map=sm, name=name).exists():
        raise Conflict(f"A release named {name} exists in {sm.namespace}; upgrade it instead.")
    values = restored_values(values, None)
    strategy = strategies.validate(strategy)
    prepared = prepare(sm=sm, name=name, version=version, values=values, user=user, number=1, upgrade=False,
                       strategy=strategy, decided=decided)
    return Planned(sm=sm, name=name, version=version, values=values, strategy=strategy, number=1,
                   prepared=prepared, decided=decided)


def plan_upgrade(*, release: Release, version: PackageVersion | None, values: dict[str, Any] | None,
                 strategy: dict[str, Any] | None, user: Any, decided: Decided | None = None) -> Planned:
    """Check and prepare an upgrade; nothing is written. ``decided`` as for :func:`plan_install`."""
    sm = release.service_map
    if decided is None:
        ws_access.require_grant(user, sm.workspace, Grant.WORKLOADS_DEPLOY)
        decided = decide(user, sm)
    version = version or release.package_version
    values = release.values if values is None else restored_values(values, release.values)
    strategy = strategies.validate(strategy if strategy is not None else strategies.normalised(release.strategy))
    _refuse_mid_strategy(release, "upgrade")
    number = _next_revision(release)
    prepared = prepare(sm=sm, name=release.name, version=version, values=values, user=user, number=number,
                       upgrade=True, replacing=release, strategy=strategy, decided=decided)
    return Planned(sm=sm, name=release.name, version=version, values=values, strategy=strategy, number=number,
                   prepared=prepared, decided=decided, release=release)


def store(planned: Planned, *, user: Any, request: HttpRequest | None, publish: bool = True) -> Release:
    """Write a planned install or upgrade: the release, its revision, the audit record, and (after
    commit) the deploy task and, unless ``publish`` is False, the release's row. 409 when the
    release changed since it was planned. Runs in the caller's transaction when there is one (a
    rollout stores its first wave with the rollout, and publishes the rows itself once every
    deploy is queued: building a row takes queries, and the deploys should not wait for them)."""
    if planned.release is None:
        return _store_install(planned, user=user, request=request, publish=publish)
    return _store_upgrade(planned, user=user, request=request, publish=publish)


def store_wave(plans: list[Planned], *, user: Any, request: HttpRequest | None) -> list[Release]:
    """:func:`store` for every plan of a rollout's wave, in the caller's transaction, without
    publishing (:func:`publish_releases`): the installs' releases and revisions in one INSERT
    each, the upgrades one by one (each locks its release). Returns the releases in plan order.
    409, and nothing written, when a release named so was created in one of the service maps
    since the wave was planned."""
    installs = [p for p in plans if p.release is None]
    created: list[Release] = []
    if installs:
        try:
            with transaction.atomic(savepoint=False):  # as in _store_install
                created = Release.objects.bulk_create([_install_row(p, user) for p in installs])
                Revision.objects.bulk_create([_revision_row(
                    release, number=1, action="install", version=p.version, values=p.values,
                    objects=p.prepared.objects, user=user, decided=p.decided) for p, release in zip(
                        installs, created, strict=True)])
                for planned, release in zip(installs, created, strict=True):
                    _installed(planned, release, request)
        except IntegrityError as exc:
            names = ", ".join(sorted({p.sm.namespace for p in installs}))
            raise Conflict(f"A release named {installs[0].name} was just created in one of {names}; "
                           "reload and retry.") from exc
    installed = iter(created)  # in plan order, as the installs were
    return [next(installed) if p.release is None else _store_upgrade(p, user=user, request=request, publish=False)
            for p in plans]


def publish_releases(stored: list[Release]) -> None:
    """The rows of releases :func:`store` wrote with ``publish=False``, after commit."""
    def send() -> None:
        found = release_rows([release.pk for release in stored])  # one query for the wave
        for release in stored:
            if release.pk in found:  # else deleted meanwhile: release.deleted says so
                publish(f"workspace.{release.workspace_id}", "release.updated", found[release.pk])

    transaction.on_commit(send)


def _store_install(planned: Planned, *, user: Any, request: HttpRequest | None, publish: bool) -> Release:
    sm, name, version, values = planned.sm, planned.name, planned.version, planned.values
    try:
        # No savepoint inside a caller's transaction (a rollout stores its wave in one): a refusal
        # here fails that transaction as a whole anyway, and a wave saves two statements a target.
        with transaction.atomic(savepoint=False):
            release = _install_row(planned, user)
            release.save(force_insert=True)
            _store_revision(release, number=1, action="install", version=version, values=values,
                            objects=planned.prepared.objects, user=user, decided=planned.decided)
            _installed(planned, release, request)
            if publish:
                transaction.on_commit(lambda: _publish_release(release))
    except IntegrityError as exc:
        raise Conflict(f"A release named {name} was just created in {sm.namespace}.") from exc
    return release


def _install_row(planned: Planned, user: Any) -> Release:
    """The release a planned install creates (not saved)."""
    return Release(workspace=planned.sm.workspace, service_map=planned.sm, name=planned.name,
                   package_version=planned.version, values=planned.values, strategy=planned.strategy,
                   strategy_state=planned.prepared.strategy_state, status=ReleaseStatus.PENDING, revision=1,
                   created_by=user if getattr(user, "is_authenticated", False) else None)


def _installed(planned: Planned, release: Release, request: HttpRequest | None) -> None:
    """What follows an install's rows in its transaction: the audit record, the deploy after commit."""
    _audit(request, action="release.install", release=release,
           detail={"service_map": planned.sm.pk, "package_version": planned.version.pk, "revision": 1})
    _enqueue(enqueue.DEPLOY_REVISION, release.pk, 1)


def _store_upgrade(planned: Planned, *, user: Any, request: HttpRequest | None, publish: bool) -> Release:
    assert planned.release is not None
    release, number, version, values = planned.release, planned.number, planned.version, planned.values
    with transaction.atomic(savepoint=False):  # as in _store_install
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if locked.revision + 1 != number or locked.status == ReleaseStatus.DELETING:
            raise Conflict(f"{release.name} changed meanwhile (now at revision {locked.revision}); reload and retry.")
        _next_revision(locked)
        _store_revision(locked, number=number, action="upgrade", version=version, values=values,
                        objects=planned.prepared.objects, user=user, decided=planned.decided)
        Release.objects.filter(pk=locked.pk).update(
            package_version=version, values=values, strategy=planned.strategy,
            strategy_state=planned.prepared.strategy_state, revision=number, status=ReleaseStatus.PENDING,
            message="", message_code="", message_params={}, updated=timezone.now())
        locked.refresh_from_db()
        _audit(request, action="release.upgrade", release=locked,
               detail={"package_version": version.pk, "revision": number})
        _enqueue(enqueue.DEPLOY_REVISION, locked.pk, number)
        if publish:
            transaction.on_commit(lambda: _publish_release(locked))
    return locked


def create_release(*, sm: ServiceMap, name: str, version: PackageVersion, values: dict[str, Any],
                   strategy: dict[str, Any], user: Any, request: HttpRequest | None,
                   decided: Decided | None = None) -> Release:
    """Install (:func:`plan_install`, then :func:`store`)."""
    return store(plan_install(sm=sm, name=name, version=version, values=values, strategy=strategy, user=user,
                              decided=decided), user=user, request=request)


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
        raise invalid({path: [f"{redaction.REDACTED} stands for a Secret value you were not shown, and "
                                      "there is no stored value here to keep; give the value."] for path in missing})
    return out


def upgrade_release(*, release: Release, version: PackageVersion | None, values: dict[str, Any] | None,
                    strategy: dict[str, Any] | None, user: Any, request: HttpRequest | None,
                    decided: Decided | None = None) -> Release:
    """Upgrade (:func:`plan_upgrade`, then :func:`store`); ``decided`` as for :func:`plan_install`."""
    return store(plan_upgrade(release=release, version=version, values=values, strategy=strategy, user=user,
                              decided=decided), user=user, request=request)


def rollback_release(*, release: Release, to: int, user: Any, request: HttpRequest | None) -> Release:
    sm = release.service_map
    ws_access.require_grant(user, sm.workspace, Grant.WORKLOADS_ROLLBACK)
    target = Revision.objects.filter(release=release, number=to).first()
    if target is None or not target.manifest:
        raise invalid({"revision": [f"{release.name} has no revision {to}."]})
    if to == release.revision:
        raise invalid({"revision": [f"Revision {to} is the current revision."]})
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
            message=f"Rolling back to revision {to}.", message_code="release_rolling_back", message_params={"to": to},
            updated=timezone.now())
        locked.refresh_from_db()
        _audit(request, action="release.rollback", release=locked, detail={"to": to, "revision": number})
        _enqueue(enqueue.DEPLOY_REVISION, locked.pk, number)
        transaction.on_commit(lambda: _publish_release(locked))
    return locked


def _strategy_step(*, release: Release, action: str, objects: list[dict[str, Any]], version: PackageVersion,
                   values: dict[str, Any], state: dict[str, Any], message: Message, user: Any,
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
            status=ReleaseStatus.PENDING, **message.fields(), updated=timezone.now())
        locked.refresh_from_db()
        _audit(request, action=f"release.{action}", release=locked,
               detail={"revision": number, "strategy": release.strategy_state.get("type"),
                       "from": release.strategy_state, "to": state})
        _enqueue(enqueue.DEPLOY_REVISION, locked.pk, number)
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
    ws_access.require_grant(user, release.service_map.workspace, Grant.WORKLOADS_ROLLBACK)
    state = release.strategy_state or {}
    if state.get("phase") != strategies.AWAITING_PROMOTION:
        raise Conflict(f"{release.name} has nothing to promote (no blue/green preview or canary is waiting).")
    current = _current_revision(release)
    if current.status != RevisionStatus.DEPLOYED:
        raise Conflict(f"Revision {current.number} is {current.status}; promote once it is deployed, or abort.")
    planned = strategies.promote(manifests.load(current.manifest), strategy=release.strategy, state=state)
    if state.get("type") == "bluegreen":
        message = Message(f"Promoting the {state.get('preview')} color.", "release_promoting_color",
                          {"color": state.get("preview")})
    else:
        message = Message("Promoting the canary.", "release_promoting_canary")
    return _strategy_step(release=release, action="promote", objects=planned.objects,
                          version=current.package_version, values=current.values, state=planned.state,
                          message=message, user=user, request=request)


def confirm_release(*, release: Release, user: Any, request: HttpRequest | None) -> Release:
    """Blue/green after promote: delete the old color (no instant rollback after this)."""
    ws_access.require_grant(user, release.service_map.workspace, Grant.WORKLOADS_ROLLBACK)
    state = release.strategy_state or {}
    if state.get("phase") != strategies.AWAITING_CONFIRMATION:
        raise Conflict(f"{release.name} has nothing to confirm (confirm follows a blue/green promote).")
    current = _current_revision(release)
    planned = strategies.confirm(manifests.load(current.manifest), state=state)
    return _strategy_step(release=release, action="confirm", objects=planned.objects,
                          version=current.package_version, values=current.values, state=planned.state,
                          message=Message(f"Confirmed {state.get('active')}; deleting {state.get('previous')}.",
                                          "release_confirmed",
                                          {"active": state.get("active"), "previous": state.get("previous")}),
                          user=user, request=request)


def abort_release(*, release: Release, user: Any, request: HttpRequest | None) -> Release:
    """Back to the revision the blue/green or canary upgrade started from: the old color serves
    again and the new one is deleted, or the canary is deleted. Does not wait for a rollout in
    flight (that is what an instant rollback is for): the newer revision supersedes it."""
    ws_access.require_grant(user, release.service_map.workspace, Grant.WORKLOADS_ROLLBACK)
    state = release.strategy_state or {}
    if state.get("phase") not in (strategies.AWAITING_PROMOTION, strategies.AWAITING_CONFIRMATION):
        raise Conflict(f"{release.name} has nothing to abort (no blue/green or canary upgrade is waiting).")
    origin = Revision.objects.select_related("package_version").filter(
        release=release, number=state.get("from_revision") or 0).first()
    if origin is None or not origin.manifest:
        raise Conflict(f"Revision {state.get('from_revision')} of {release.name} is gone; roll back instead.")
    return _strategy_step(release=release, action="abort", objects=manifests.load(origin.manifest),
                          version=origin.package_version, values=origin.values, state=strategies.aborted_state(state),
                          message=Message(f"Aborted; back to revision {origin.number}.", "release_aborted",
                                          {"number": origin.number}), user=user, request=request,
                          wait_for_flight=False, rollback_of=origin.number)


def delete_release(*, release: Release, user: Any, request: HttpRequest | None) -> Release:
    ws_access.require_grant(user, release.service_map.workspace, Grant.OBJECTS_DELETE)
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(status=ReleaseStatus.DELETING, message="Deleting its objects.",
                                                     message_code="release_deleting", message_params={},
                                                     updated=timezone.now())
        release.refresh_from_db()
        # Kept for the answer, which redacts the values by it after the task may have deleted it.
        release.current_manifest = Revision.objects.filter(  # type: ignore[attr-defined]
            release=release, number=release.revision).values_list("manifest", flat=True).first() or ""
        _audit(request, action="release.delete", release=release, detail={})
        # The row is read and published inside the transaction (publish sends on commit): the
        # delete task may remove the release as soon as it is enqueued, before the answer is built.
        _publish_release(release)
        _enqueue(enqueue.DELETE_RELEASE, release.pk)
    return release


# ---------------------------------------------------------------------------- what the tasks report
#
# Each report is one transaction under the release's row lock (the release first, then the
# revision: one order everywhere), so a release and its revisions never disagree, whatever
# moment a worker dies at. Events are sent and the rollouts' advance queued after commit
# (portal.events.publish, portal.enqueue); the audit row commits with the change it records.
# A report that arrives twice (two watches of one revision) changes nothing the second time.

FINISHED = (RevisionStatus.DEPLOYED, RevisionStatus.FAILED, RevisionStatus.SUPERSEDED)


# Lock a release's row and one of its revisions' in one statement. PostgreSQL locks a join's rows
# in the order of its FROM list, so the release before the revision, as everywhere else.
_LOCK_BOTH = ('SELECT r."revision", r."status", r."deployed_revision", r."strategy_state", v."status" '
              'FROM "catalog_release" r JOIN "catalog_revision" v ON v."release_id" = r."id" '
              'WHERE r."id" = %s AND v."id" = %s FOR UPDATE')


def _lock(release: Release, revision: Revision | None = None) -> bool:
    """Inside a transaction: lock the release's row (then the revision's) and refresh the fields
    the reports decide by on the given objects. False when either is gone."""
    if revision is None:
        row = next(iter(Release.objects.select_for_update().filter(pk=release.pk).order_by().values(
            "revision", "status", "deployed_revision", "strategy_state")[:1]), None)
        if row is None:
            return False
        for key, value in row.items():
            setattr(release, key, value)
        return True
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_BOTH, [release.pk, revision.pk])
        found = cursor.fetchone()
    if found is None:
        return False
    strategy_state = found[3]
    if isinstance(strategy_state, str):  # Django has psycopg hand jsonb over as text; its JSONField decodes it
        strategy_state = json.loads(strategy_state)
    release.revision, release.status, release.deployed_revision, release.strategy_state = (
        found[0], found[1], found[2], strategy_state)
    revision.status = found[4]
    return True


def _set_revision(revision: Revision, **fields: Any) -> None:
    Revision.objects.filter(pk=revision.pk).update(**fields)
    for key, value in fields.items():
        setattr(revision, key, value)


def _set_release(release: Release, **fields: Any) -> None:
    fields["updated"] = timezone.now()
    Release.objects.filter(pk=release.pk).update(**fields)
    for key, value in fields.items():
        setattr(release, key, value)


def _detail(text: str, code: str, params: dict[str, Any] | None, **more: Any) -> Message:
    """A message the caller worded (the cluster's answer, the deploy's progress): its own code and
    params when it gives them, else ``code`` with the English text as ``params.message``."""
    if params is not None:
        return Message(text, code, dict(params))
    return Message(text, code, {**more, "message": text})


def revision_started(release: Release, revision: Revision) -> None:
    with transaction.atomic():
        if not _lock(release, revision) or revision.status not in (RevisionStatus.PENDING, RevisionStatus.APPLYING):
            return
        _set_revision(revision, status=RevisionStatus.APPLYING, started=revision.started or timezone.now(),
                      **NO_MESSAGE.fields())
        if release.revision == revision.number:
            _set_release(release, status=ReleaseStatus.DEPLOYING, **Message(
                f"Applying revision {revision.number}.", "release_applying", {"number": revision.number}).fields())
        _publish_revision(release, revision)
        _publish_release_soon(release)


def _scrubbed(revision: Revision, message: str) -> str:
    """A message from the cluster about the revision without its Secrets' values (it is stored,
    published and audited; see :mod:`catalog.redaction`)."""
    return redaction.scrub(message, manifests.parsed(revision.manifest)) if message and revision.manifest else message


def revision_waiting(release: Release, revision: Revision, message: str, *, code: str = "revision_waiting",
                     params: dict[str, Any] | None = None) -> None:
    note = _detail(_scrubbed(revision, message), code, params, number=revision.number)
    with transaction.atomic():
        if not _lock(release, revision) or revision.status in FINISHED:
            return
        _set_revision(revision, status=RevisionStatus.PENDING, **note.fields())
        if release.revision == revision.number:
            _set_release(release, status=ReleaseStatus.PENDING, **note.fields())
        _publish_revision(release, revision)
        _publish_release(release)
        _notify_rollouts(release)


def revision_applied(release: Release, revision: Revision, progress: dict[str, Any], message: str, *,
                     code: str = "revision_applied", params: dict[str, Any] | None = None) -> None:
    note = _detail(message, code, params, number=revision.number)
    with transaction.atomic():
        if not _lock(release, revision) or revision.status in FINISHED:
            return
        _set_revision(revision, status=RevisionStatus.PROGRESSING, progress=progress, **note.fields())
        _publish_revision(release, revision)
        _notify_rollouts(release, soon=True)  # applying -> rolling out: the ledger's words only


def revision_progress(release: Release, revision: Revision, progress: dict[str, Any], message: str, *,
                      code: str = "revision_progress", params: dict[str, Any] | None = None) -> None:
    message = _scrubbed(revision, message)
    if progress != revision.progress or message != revision.message:
        note = _detail(message, code, params, number=revision.number)
        # one statement, and only while the revision is still being watched (never over a finish)
        if Revision.objects.filter(pk=revision.pk, status=RevisionStatus.PROGRESSING).update(
                progress=progress, **note.fields()):
            for key, value in {"progress": progress, **note.fields()}.items():
                setattr(revision, key, value)
            _publish_revision(release, revision)


def finish_revision(release: Release, revision: Revision, status: str, message: str,
                    progress: dict[str, Any] | None = None, *, code: str = "", params: dict[str, Any] | None = None
                    ) -> None:
    """Record that the revision finished (``deployed``, ``failed`` or ``superseded``) and what that
    makes of the release, in one transaction. A revision that is no longer the release's current
    one cannot become the deployed one: it is recorded superseded."""
    message = _scrubbed(revision, message)
    with transaction.atomic():
        if not _lock(release, revision) or revision.status in FINISHED:
            return
        if status == RevisionStatus.DEPLOYED and release.revision != revision.number:
            status, message, code, params = (RevisionStatus.SUPERSEDED,
                                             f"Superseded by revision {release.revision} before it finished.", "",
                                             None)
        note = _detail(message, code or "revision_finished", params, number=revision.number, status=status)
        fields: dict[str, Any] = {"status": status, **note.fields(), "finished": timezone.now()}
        if progress is not None:
            fields["progress"] = progress
        _set_revision(revision, **fields)
        _settle(release, revision)
        audit.record(action=f"release.revision_{status}", outcome=AuditOutcome.SUCCESS if status != "failed"
                     else AuditOutcome.FAILURE, target=release, detail={"revision": revision.number,
                                                                        "message": message})
        _publish_revision(release, revision)
        _publish_release_soon(release)
        _notify_rollouts(release, settled=status == RevisionStatus.DEPLOYED)


def _settle(release: Release, revision: Revision) -> bool:
    """Under the release's lock: make the release say what its finished current ``revision``
    says (deployed: the only deployed revision; failed: failed). True if anything changed."""
    if release.revision != revision.number:
        return False
    changed = False
    if revision.status == RevisionStatus.DEPLOYED:
        older = list(Revision.objects.filter(release=release, status=RevisionStatus.DEPLOYED).exclude(
            pk=revision.pk).order_by())
        if older:
            Revision.objects.filter(pk__in=[r.pk for r in older]).update(status=RevisionStatus.SUPERSEDED)
            for old in older:
                old.status = RevisionStatus.SUPERSEDED
                _publish_revision(release, old)
            changed = True
        if release.status != ReleaseStatus.DEPLOYED or release.deployed_revision != revision.number:
            _set_release(release, status=ReleaseStatus.DEPLOYED, deployed_revision=revision.number, **Message(
                f"Revision {revision.number} is deployed.", "revision_deployed", {"number": revision.number}).fields())
            changed = True
    elif revision.status == RevisionStatus.FAILED and release.status != ReleaseStatus.FAILED:
        _set_release(release, status=ReleaseStatus.FAILED, **Message(
            f"Revision {revision.number} failed: {revision.message}", "revision_failed",
            {"number": revision.number, "message": revision.message}).fields())
        changed = True
    return changed


def repair_stuck() -> int:
    """Releases that disagree with their finished current revision (a worker died between the two
    writes, as reports before issue 12 could leave them: the revision ``deployed`` or ``failed``,
    the release still ``pending``/``deploying``, or an older revision still ``deployed``): settle
    them as the finish would have. For the beat task (``catalog.reconcile_releases``) to call on
    each pass; converges when run twice. Returns how many releases it repaired."""
    current = Revision.objects.filter(release=OuterRef("pk"), number=OuterRef("revision"))
    finished = current.filter(status__in=[RevisionStatus.DEPLOYED, RevisionStatus.FAILED])
    stale_deployed = Revision.objects.filter(release=OuterRef("pk"), status=RevisionStatus.DEPLOYED).exclude(
        number=OuterRef("revision"))
    suspects = Release.objects.annotate(
        has_finished=Exists(finished), has_current_deployed=Exists(current.filter(status=RevisionStatus.DEPLOYED)),
        has_stale_deployed=Exists(stale_deployed),
    ).filter(Q(status__in=[ReleaseStatus.PENDING, ReleaseStatus.DEPLOYING], has_finished=True)
             | Q(has_current_deployed=True, has_stale_deployed=True)
             | (Q(has_current_deployed=True) & ~Q(deployed_revision=F("revision"))))
    repaired = 0
    for release_id in suspects.values_list("pk", flat=True):
        if _repair(release_id):
            repaired += 1
    return repaired


def _repair(release_id: int) -> bool:
    with transaction.atomic():
        release = Release.objects.filter(pk=release_id).first()
        if release is None or not _lock(release):
            return False
        if release.status == ReleaseStatus.DELETING:
            return False
        revision = Revision.objects.select_for_update().filter(release=release, number=release.revision).first()
        if revision is None or revision.status not in (RevisionStatus.DEPLOYED, RevisionStatus.FAILED):
            return False
        if not _settle(release, revision):
            return False
        logger.warning("release %s disagreed with its revision %s (%s); repaired", release.pk, revision.number,
                       revision.status)
        audit.record(action="release.repaired", outcome=AuditOutcome.SUCCESS, target=release,
                     detail={"revision": revision.number, "status": revision.status})
        _publish_revision(release, revision)
        _publish_release(release)
        _notify_rollouts(release)
        return True


def release_message(release: Release, message: str, *, code: str = "release_status",
                    params: dict[str, Any] | None = None) -> None:
    with transaction.atomic():
        if not _lock(release):
            return
        _set_release(release, **_detail(message, code, params).fields())
        _publish_release(release)


def release_deleted(release: Release) -> None:
    workspace_id = release.workspace_id
    with transaction.atomic():
        if not _lock(release):
            return
        audit.record(action="release.deleted", outcome=AuditOutcome.SUCCESS, target=release, detail={})
        Release.objects.filter(pk=release.pk).delete()
        publish(f"workspace.{workspace_id}", "release.deleted", {"id": release.pk})


# A target that only started rolling out advances its rollout this much later (seconds), with
# every other target of the wave that did meanwhile: that step changes nothing but the ledger's
# words, and a wide wave's targets reach it together. A target that finished advances at once.
ADVANCE_SOON_DELAY = 0.25


def _notify_rollouts(release: Release, *, soon: bool = False, settled: bool = False) -> None:
    """A target's release moved: advance the running rollouts it belongs to (after commit;
    :func:`catalog.rollouts.advance`, by the task's name); with ``soon``, in
    :data:`ADVANCE_SOON_DELAY` seconds, coalesced apart from the advances sent at once.

    ``settled``: its revision is deployed. The advance goes at once only where that may end the
    target's wave (no other target of the wave is still unfinished, read after this commit: of
    two targets finishing together, the later commit sees both); otherwise only the ledger's
    words change, and the advance waits :data:`ADVANCE_SOON_DELAY` with the wave's other steps
    (a wide wave's targets finish within a second of each other: one advance each cost the
    worker as much as their looks)."""
    if settled:
        release_id = release.pk
        transaction.on_commit(lambda: _advance_settled(release_id))
        return
    ids = set(RolloutTarget.objects.filter(release=release, rollout__status=RolloutStatus.RUNNING)
              .values_list("rollout_id", flat=True))
    for rollout_id in sorted(ids):
        _advance(rollout_id, soon=soon)


def _advance(rollout_id: int, *, soon: bool) -> None:
    """Queue the rollout's advance after commit: at once, or ``soon`` (coalesced apart)."""
    if soon:
        enqueue.on_commit(enqueue.ADVANCE_ROLLOUT, rollout_id, True, countdown=ADVANCE_SOON_DELAY,
                          coalesce=enqueue.advance_soon_key(rollout_id))
    else:
        enqueue.on_commit(enqueue.ADVANCE_ROLLOUT, rollout_id, coalesce=enqueue.advance_key(rollout_id))


# The running rollouts a release is a target of, each with whether another target of the same
# wave has not finished (not started, or its revision not deployed, failed or superseded).
_WAVE_UNFINISHED = (
    'SELECT t."rollout_id", EXISTS (SELECT 1 FROM "catalog_rollouttarget" p '
    'LEFT JOIN "catalog_revision" v ON v."release_id" = p."release_id" AND v."number" = p."revision" '
    'WHERE p."rollout_id" = t."rollout_id" AND p."wave" = t."wave" AND p."id" <> t."id" '
    'AND p."state" NOT IN (%s, %s, %s) AND (v."status" IS NULL OR v."status" NOT IN (%s, %s, %s))) '
    'FROM "catalog_rollouttarget" t JOIN "catalog_rollout" r ON r."id" = t."rollout_id" '
    'WHERE t."release_id" = %s AND r."status" = %s ORDER BY t."rollout_id"')


def _advance_settled(release_id: int) -> None:
    """After the commit of a deployed revision: :func:`_notify_rollouts` with ``settled``."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(_WAVE_UNFINISHED, [TargetState.HEALTHY, TargetState.FAILED, TargetState.SKIPPED,
                                              RevisionStatus.DEPLOYED, RevisionStatus.FAILED,
                                              RevisionStatus.SUPERSEDED, release_id, RolloutStatus.RUNNING])
            rows = cursor.fetchall()
    except DatabaseError:  # the finish is committed: the beat task's pass advances its rollouts
        logger.warning("could not read the rollouts of release %s after its revision deployed", release_id,
                       exc_info=True)
        return
    for rollout_id, others_unfinished in rows:
        _advance(rollout_id, soon=bool(others_unfinished))
