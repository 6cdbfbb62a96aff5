"""The deploy step of a build, "deploy this image", and the scan-policy gate every deploy passes.

* :func:`deploy` puts the run's image into its release's values **pinned by digest** (the tag beside
  it, :mod:`builds.images`) and upgrades the release through the catalog's ordinary path
  (:func:`catalog.releases.upgrade_release`: render, checks, quota preflight, then the deploy
  task's dry-run, apply and rollout), so a build's deploy is an ordinary revision that can be
  rolled back. It acts as the person who asked for the run, or for a webhook's run the
  definition's creator, whose ``workloads.deploy`` grant is checked again now
  (:func:`builds.access.require_deploy`). :func:`follow` tells when that revision is done.
* :func:`deploy_image` is the same for an image picked in the registry view.
* :func:`gate` is the catalog's image gate (:mod:`catalog.image_hooks`): for every image a revision
  brings in, the workspace's scan policy (:mod:`builds.policy`) decides on the image's scan. It
  applies to every deploy and upgrade of the image, by a build or by hand. Images from registries
  the portal has no record of have no scan: they pass unless the policy requires a scan.

:func:`install` registers the gate and the pull-secret hooks (:mod:`builds.pull_secrets`); the
app's ``ready()`` calls it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from builds import access, images, policy, pull_secrets, registries, registry_ops
from builds.models import BuildDefinition, BuildRun, ImageFormat, ImageScan, Registry, ScanPolicy
from catalog import image_hooks, releases
from catalog.models import Release, Revision, RevisionStatus
from portal.errors import Invalid, NotFound, PortalError, Upstream
from workspaces.models import ServiceMap

logger = logging.getLogger("builds")


# ---------------------------------------------------------------------------- the gate


def _resolve(registry: Registry, ref: registries.ImageRef) -> str:
    """The digest a tag names: the portal's own build that pushed it, else the registry's answer
    (empty when neither knows; the image then counts as not scanned)."""
    if ref.digest:
        return ref.digest
    digest = (BuildRun.objects.filter(image_repository=ref.name, image_tag=ref.tag).exclude(image_digest="")
              .order_by("-created").values_list("image_digest", flat=True).first())
    if digest:
        return str(digest)
    try:
        return str(registry_ops.image_info(registry, ref.repository, ref.tag).digest)
    except PortalError as exc:
        logger.info("image gate: %s not resolved (%s)", ref, type(exc).__name__)
        return ""


def gate(user: Any, sm: ServiceMap, image_refs: list[str]) -> list[str]:
    """The problems (one sentence each) of the images under ``sm``'s workspace's scan policy."""
    row = ScanPolicy.objects.filter(workspace_id=sm.workspace_id).prefetch_related("exceptions").first()
    rule = policy.rule(row, row.exceptions.all()) if row is not None else policy.OFF
    if not rule.active:
        return []
    parsed: dict[str, registries.ImageRef | None] = {}
    for image in image_refs:
        try:
            parsed[image] = registries.parse_image(image)
        except ValueError:
            parsed[image] = None
    hosts = {p.host for p in parsed.values() if p is not None}
    by_host = {r.host: r for r in Registry.objects.filter(host__in=hosts)} if hosts else {}
    now, problems = timezone.now(), []
    workspace = sm.workspace.name
    for image, ref in parsed.items():
        findings: list[dict[str, Any]] | None = None
        registry = by_host.get(ref.host) if ref is not None else None
        if registry is not None and ref is not None:
            digest = _resolve(registry, ref)
            scan = (ImageScan.objects.filter(registry=registry, repository=ref.repository, digest=digest)
                    .values_list("findings", flat=True).first() if digest else None)
            findings = list(scan) if scan is not None else None
        verdict = policy.evaluate(findings, rule, now)
        if not verdict.allowed:
            problems.append(policy.describe(image, verdict, workspace))
    return problems


def install() -> None:
    """Register the image gate and the pull secrets with the catalog (:mod:`catalog.image_hooks`)."""
    image_hooks.set_image_gate(gate)
    pull_secrets.install()


# ---------------------------------------------------------------------------- deploying an image


@dataclass
class Outcome:
    """What the deploy step did: ``state`` is ``started`` (a revision is deploying), ``deployed``,
    ``failed`` or ``skipped``; ``message`` (English) with its ``code`` and ``params`` for the step;
    ``release_id`` and ``revision`` once a revision exists."""

    state: str
    message: str
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    release_id: int | None = None
    revision: int | None = None

    @property
    def ok(self) -> bool:
        return self.state in ("started", "deployed", "skipped")


def _failed(message: str, code: str, params: dict[str, Any] | None = None, **more: Any) -> Outcome:
    return Outcome("failed", message, code, dict(params or {}), **more)


def upgrade_with_image(*, release: Release, registry_host: str, repository: str, tag: str, digest: str,
                       image_path: str, image_format: str, user: Any, request: Any = None) -> Release:
    """Upgrade ``release`` with the image at ``image_path`` pinned by digest; the catalog's errors
    (400 with the scan gate's ``image_blocked_by_scan``, 403, 409) as they are."""
    try:
        values = images.set_image(release.values or {}, image_path, repository=f"{registry_host}/{repository}",
                                  tag=tag, digest=digest, image_format=image_format)
    except images.ImagePathError as exc:
        raise Invalid(str(exc), code=images.PATH_CODE, errors={"image_path": [str(exc)]},
                      params={"path": image_path}) from exc
    return releases.upgrade_release(release=release, version=None, values=values, strategy=None, user=user,
                                    request=request)


def _deployer(run: BuildRun) -> Any:
    """Who the step acts as, read afresh (grants are decided now, not when the run was loaded)."""
    from django.contrib.auth import get_user_model

    user_id = run.requested_by_id or BuildDefinition.objects.filter(pk=run.definition_id).values_list(
        "created_by_id", flat=True).first()
    return get_user_model().objects.filter(pk=user_id, is_active=True).first() if user_id else None


def _refused(message: str, code: str, params: dict[str, Any] | None = None) -> PortalError:
    return PortalError(message, code=code, params=params)


def deploy(run: BuildRun) -> Outcome:
    """Start the deploy step of ``run``: upgrade its release with the pushed image (the runner calls
    this; :class:`~portal.errors.PortalError` = the step failed, with its message and code).
    Converges when repeated: a run that recorded its revision is only followed (:func:`follow`)."""
    spec = run.spec or {}
    release_id = spec.get("deploy_release_id")
    if not release_id:
        return Outcome("skipped", "No release to deploy to.", "deploy_skipped")
    if run.deployed_revision is not None and run.deployed_release_id:
        followed = follow(run)
        if not followed.ok:
            raise _refused(followed.message, followed.code, followed.params)
        return followed
    release = (Release.objects.select_related("service_map__workspace", "service_map__cluster", "workspace")
               .filter(pk=release_id).first())
    if release is None:
        raise _refused("The release this definition deploys to is gone.", "deploy_release_gone",
                       {"release": release_id})
    if not run.image_digest or not run.image_repository:
        raise _refused("The build pushed no image (no digest): nothing is deployed.", "deploy_no_image")
    user = _deployer(run)
    if user is None:
        raise _refused("Nobody to deploy as: the run's requester and the definition's creator are gone or "
                       "deactivated. Save the definition again to deploy as yourself.", "deploy_no_user")
    host, _, repository = run.image_repository.partition("/")
    try:
        access.require_deploy(user, release.workspace)
        with transaction.atomic():  # the revision and its record on the run, or neither
            upgraded = upgrade_with_image(
                release=release, registry_host=host, repository=repository, tag=run.image_tag,
                digest=run.image_digest, image_path=spec.get("deploy_image_path") or "image",
                image_format=spec.get("deploy_image_format") or ImageFormat.SPLIT, user=user)
            BuildRun.objects.filter(pk=run.pk).update(deployed_release=upgraded, deployed_revision=upgraded.revision)
    except PortalError as exc:
        raise PortalError(f"Deploying to {release.name} was refused: {exc.message}", code=exc.code,
                          params={**exc.params, "release": release.name}, errors=exc.errors) from exc
    reference = images.reference(run.image_repository, run.image_tag, run.image_digest)
    return Outcome("started", f"Release {release.name} is deploying revision {upgraded.revision} with {reference}.",
                   "deploy_started", {"release": release.name, "revision": upgraded.revision, "image": reference},
                   release_id=upgraded.pk, revision=upgraded.revision)


def follow(run: BuildRun) -> Outcome:
    """Where the run's revision is: ``started`` (still deploying), ``deployed`` or ``failed``."""
    run.refresh_from_db(fields=["deployed_release", "deployed_revision"])
    if not run.deployed_release_id or run.deployed_revision is None:
        return _failed("The deploy step made no revision.", "deploy_no_revision")
    revision = (Revision.objects.select_related("release")
                .filter(release_id=run.deployed_release_id, number=run.deployed_revision).first())
    more = {"release_id": run.deployed_release_id, "revision": run.deployed_revision}
    if revision is None:
        return _failed("The deployed revision is gone (the release was deleted).", "deploy_release_gone", {}, **more)
    params = {"release": revision.release.name, "revision": revision.number}
    if revision.status == RevisionStatus.DEPLOYED:
        return Outcome("deployed", f"Revision {revision.number} of {revision.release.name} is deployed.",
                       "deploy_done", params, **more)
    if revision.status in (RevisionStatus.FAILED, RevisionStatus.SUPERSEDED):
        return _failed(f"Revision {revision.number} of {revision.release.name} {revision.status}: "
                       f"{revision.message}", "deploy_revision_failed", {**params, "status": revision.status}, **more)
    return Outcome("started", f"Revision {revision.number} of {revision.release.name} is {revision.status}.",
                   "deploy_started", params, **more)


def deploy_image(*, user: Any, registry: Registry, repository: str, digest: str, tag: str, release: Release,
                 image_path: str, image_format: str, request: Any = None) -> Release:
    """"Deploy this image" from the registry view: the caller must see the repository, and the
    image must be in the registry (a digest it does not hold is refused before any revision)."""
    access.require_repository(user, registry, repository)
    access.require_deploy(user, release.workspace)  # before the registry is asked anything
    try:
        registry_ops.image_info(registry, repository, digest)
    except (Upstream, NotFound) as exc:
        if exc.code == "registry_not_found":
            raise Invalid(f"{registry.host}/{repository}@{digest} is not in the registry.",
                          code="image_not_found", errors={"digest": [exc.message]},
                          params={"image": f"{registry.host}/{repository}@{digest}"}) from exc
        raise
    return upgrade_with_image(release=release, registry_host=registry.host, repository=repository, tag=tag,
                              digest=digest, image_path=image_path, image_format=image_format, user=user,
                              request=request)
