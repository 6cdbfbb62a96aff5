"""Plans and drift checks: the answers a release asks of its cluster (a server-side dry-run, a
comparison with the live objects), computed by the task ``catalog.converge_intent`` and stored on
the :class:`~catalog.models.ClusterIntent`, never in the request.

The view checks what it can without the cluster (the service map, the package version, the
strategy, the ``secrets.reveal`` grant) and stores the intent with :func:`request_plan` or
:func:`request_drift`; :func:`run_plan` and :func:`run_drift` do the rest and record the result,
which is exactly what ``POST /releases/plan/`` and ``GET /releases/{id}/drift/`` answered before
they answered 202.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from catalog import deploy, intents, redaction, releases, strategies
from catalog.models import ClusterIntent, IntentKind, PackageVersion, Release
from clusters.kube.client import KubeClient
from clusters.kube.errors import KubeError, Unreachable
from clusters.kube.messages import explain
from portal import errors
from portal.crypto import DecryptionError
from portal.models import User
from workspaces.models import ServiceMap


def request_plan(*, sm: ServiceMap, name: str, version: PackageVersion, values: Any, strategy: dict[str, Any] | None,
                 user: Any, request: HttpRequest | None) -> ClusterIntent:
    """Store the intent to plan a deploy of ``version`` as release ``name`` (``strategy``: None
    keeps the existing release's)."""
    existing = Release.objects.filter(service_map=sm, name=name).first()
    chosen = strategies.validate(strategy if strategy is not None
                                 else strategies.normalised(existing.strategy if existing else {}))
    return intents.create(
        sm=sm, kind=IntentKind.PLAN, target=name, user=user, request=request, release=existing,
        spec={"name": name, "package_version": version.pk, "values": values, "strategy": chosen,
              # decided now, from who asked: the task decides nothing
              "allow_cluster_scoped": releases.decide(user, sm).allow_cluster_scoped},
        audit_detail={"name": name, "package_version": version.pk})


def request_drift(*, release: Release, reveal: bool, user: Any, request: HttpRequest | None) -> ClusterIntent:
    return intents.create(sm=release.service_map, kind=IntentKind.DRIFT, target=release.name, release=release,
                          user=user, request=request, spec={"reveal": reveal},
                          audit_detail={"release": release.pk, "reveal": reveal})


def _field_errors(exc: Exception) -> dict[str, list[str]]:
    """The field errors of a refusal, whichever kind the release code raised."""
    if isinstance(exc, errors.PortalError):
        return exc.errors or {"values": [exc.message]}
    detail = getattr(exc, "detail", None)
    if not isinstance(detail, dict):
        detail = {"values": detail if isinstance(detail, list) else [str(detail or exc)]}
    return {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}


def plan(*, sm: ServiceMap, name: str, version: PackageVersion, values: Any, strategy: dict[str, Any],
         user: Any, decided: releases.Decided | None = None) -> dict[str, Any]:
    """Validate, render, preflight, dry-run and diff a deploy without applying anything."""
    existing = Release.objects.filter(service_map=sm, name=name).first()
    out: dict[str, Any] = {"valid": True, "errors": {}, "warnings": [], "objects": [], "preflight": {},
                           "dry_run": {}, "diff": "", "changed": []}
    number = (existing.revision + 1) if existing else 1
    try:
        restored = releases.restored_values(values, existing.values if existing else None)
        prepared = releases.prepare(sm=sm, name=name, version=version, values=restored, user=user, number=number,
                                    upgrade=existing is not None, replacing=existing, strategy=strategy,
                                    decided=decided)
    except (ValidationError, errors.Invalid) as exc:
        out.update(valid=False, errors=_field_errors(exc))
        preflight = getattr(exc, "preflight", None)
        if preflight is not None:
            out["preflight"] = preflight  # the per-resource figures of what does not fit
        return out
    # exactly what the deploy would apply (the same function builds the stored manifest)
    objects = deploy.stamp(prepared.objects, namespace=sm.namespace, release=existing, revision=number)
    out["objects"] = [{"apiVersion": o.get("apiVersion"), "kind": o.get("kind"),
                       "name": o["metadata"].get("name"), "namespace": sm.namespace} for o in objects]
    out["preflight"] = prepared.preflight
    out["warnings"] = prepared.warnings
    try:
        with KubeClient(sm.cluster.connection_spec(), read_timeout=deploy.CALL_TIMEOUT) as client:
            text, changed = deploy.diff_against_live(client, objects)
        out.update(dry_run={"ok": True, "message": "The cluster accepts every object (server-side dry-run)."},
                   diff=text, changed=changed)
    except Unreachable as exc:
        out["dry_run"] = {"ok": False, "message": redaction.scrub(
            f"The dry-run runs at deploy: {explain(exc).message}", objects)}
    except (KubeError, DecryptionError) as exc:
        out.update(valid=False, dry_run={"ok": False, "message": redaction.scrub(
            f"The cluster refused the manifest: {explain(exc).message}", objects)})
    return out


def run_plan(intent: ClusterIntent) -> None:
    spec = intent.get_spec()
    version = PackageVersion.objects.select_related("package__source").filter(pk=spec["package_version"]).first()
    if version is None:
        raise errors.Invalid("The package version is gone.", errors={"package_version": ["The package version is gone."]},
                             code="package_version_gone")
    user = User.objects.filter(pk=intent.created_by_id).first() if intent.created_by_id else None
    decided = releases.Decided(allow_cluster_scoped=bool(spec.get("allow_cluster_scoped", False)))
    result = plan(sm=intent.service_map, name=spec["name"], version=version, values=spec["values"],
                  strategy=spec["strategy"], user=user, decided=decided)
    ok = bool(result["valid"])
    intents.finish(intent.pk, ok=True, result=result,
                   code="plan_ready" if ok else "plan_invalid", params={"name": spec["name"]},
                   message=f"The plan of {spec['name']} is ready." if ok else f"The plan of {spec['name']} found "
                   "problems.")


def run_drift(intent: ClusterIntent) -> None:
    release = (Release.objects.select_related("service_map__cluster").filter(pk=intent.release_id).first()
               if intent.release_id else None)
    if release is None:
        raise errors.NotFound("The release is gone.", code="release_gone")
    result = deploy.drift(release, reveal=bool(intent.get_spec().get("reveal")))
    intents.finish(intent.pk, ok=True, result=result, code="drift_checked" if result["checked"] else "drift_unchecked",
                   params={"name": release.name, "objects": len(result["objects"])},
                   message=result["message"] or f"{len(result['objects'])} object(s) of {release.name} differ from "
                   "the deployed revision.")
