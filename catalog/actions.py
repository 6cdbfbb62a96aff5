"""Every write to catalog sources and packages, and the rules that guard it.

Each action validates (400 naming the field, 409 when the state forbids it), writes, audits
(``describe`` inside API requests) and enqueues repository work on commit. Who may call them is
checked by the views through :mod:`catalog.access`. Releases and rollouts have their own modules.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from cryptography import x509
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from catalog import helm, oci, sources
from catalog.errors import invalid
from catalog.models import CatalogSource, Package, PackageVersion, SourceKind, SourceStatus
from portal import audit, enqueue
from portal.errors import Conflict, NotFound
from workspaces.models import Workspace

REPOSITORY_FIELDS = ("url", "username", "password", "ca_pem")


def _audit(request: HttpRequest | None, *, action: str, target: Any, detail: dict[str, Any] | None = None) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail or {})


def _enqueue_refresh(source_id: int) -> None:
    """Queue :func:`catalog.tasks.refresh_source` by name after commit, robustly (a broker failure
    is logged: the source stays ``refreshing`` until its next periodic refresh or a manual one)."""
    transaction.on_commit(lambda: enqueue.send("catalog.refresh_source", source_id))


def _check_ca(pem: str) -> str:
    pem = pem.strip()
    if not pem:
        return ""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise invalid({"ca_pem": ["Give the CA certificate(s) in PEM form (-----BEGIN CERTIFICATE-----)."]}) \
            from exc
    if not certificates:
        raise invalid({"ca_pem": ["Give at least one certificate."]})
    return pem + "\n"


def _repository(data: dict[str, Any], *, kind: str, actor: Any) -> dict[str, Any]:
    """Validated repository fields of ``data`` (only those given)."""
    out: dict[str, Any] = {}
    if kind not in sources.REMOTE_KINDS:
        given = [f for f in REPOSITORY_FIELDS if data.get(f)]
        if given:
            raise invalid({f: ["Only Helm repository and OCI registry sources have this."] for f in given})
        return out
    if "url" in data:
        check = oci.check_url if kind == SourceKind.OCI else sources.check_url
        try:
            out["url"] = check(data["url"] or "", actor=actor)
        except ValueError as exc:
            raise invalid({"url": [str(exc)]}) from exc
    if "ca_pem" in data:
        out["ca_pem"] = _check_ca(data["ca_pem"] or "")
    for name in ("username", "password"):
        if name in data:
            out[name] = data[name] or ""
    return out


def create_source(*, data: dict[str, Any], workspace: Workspace | None, actor: Any,
                  request: HttpRequest | None) -> CatalogSource:
    kind = data["kind"]
    if kind not in (SourceKind.HELM, SourceKind.OCI, SourceKind.UPLOAD):
        raise invalid({"kind": ["Choose helm (a chart repository), oci (an OCI registry holding charts) or "
                                        "upload (charts you upload)."]})
    if kind == SourceKind.HELM and not data.get("url"):
        raise invalid({"url": ["A Helm repository source needs the repository's address."]})
    if kind == SourceKind.OCI and not data.get("url"):
        raise invalid({"url": ["An OCI registry source needs the registry's address, like "
                                       "oci://registry.example.com/charts."]})
    repo = _repository(data, kind=kind, actor=actor)
    name = data["name"]
    if CatalogSource.objects.filter(workspace=workspace, name=name).exists():
        where = "shared sources" if workspace is None else f"workspace {workspace.name}"
        raise invalid({"name": [f"A source named {name!r} exists already in {where}."]})
    try:
        with transaction.atomic():
            source = CatalogSource.objects.create(
                name=name, kind=kind, workspace=workspace, url=repo.get("url", ""), username=repo.get("username", ""),
                ca_pem=repo.get("ca_pem", ""), refresh_minutes=data.get("refresh_minutes", 0), created_by=actor,
                status=SourceStatus.REFRESHING if kind in sources.REMOTE_KINDS else SourceStatus.READY)
            if repo.get("password"):
                source.set_password(repo["password"])
                source.save(update_fields=["password_encrypted"])
    except IntegrityError as exc:  # a concurrent create of the same name
        raise invalid({"name": [f"A source named {name!r} exists already."]}) from exc
    if kind in sources.REMOTE_KINDS:
        _enqueue_refresh(source.pk)
    _audit(request, action="catalog.source_create", target=source,
           detail={"kind": kind, "workspace": workspace.pk if workspace else None, "url": source.url})
    return source


def update_source(*, source: CatalogSource, data: dict[str, Any], actor: Any,
                  request: HttpRequest | None) -> CatalogSource:
    repo = _repository(data, kind=source.kind, actor=actor)
    fields: list[str] = []
    for name in ("url", "username", "ca_pem"):
        if name in repo and getattr(source, name) != repo[name]:
            setattr(source, name, repo[name])
            fields.append(name)
    if "password" in repo:
        source.set_password(repo["password"])
        fields.append("password_encrypted")
    if "refresh_minutes" in data and data["refresh_minutes"] != source.refresh_minutes:
        source.refresh_minutes = data["refresh_minutes"]
        fields.append("refresh_minutes")
    repository_changed = bool({"url", "username", "password_encrypted", "ca_pem"} & set(fields))
    if repository_changed and source.kind in sources.REMOTE_KINDS:
        source.status, source.message = SourceStatus.REFRESHING, ""
        fields += ["status", "message"]
    if fields:
        source.save(update_fields=fields)
    if repository_changed and source.kind in sources.REMOTE_KINDS:
        _enqueue_refresh(source.pk)
    _audit(request, action="catalog.source_update", target=source,
           detail={"fields": sorted(f.replace("_encrypted", "") for f in fields if f not in ("status", "message"))})
    return source


def delete_source(*, source: CatalogSource, request: HttpRequest | None) -> None:
    used = sources.used_version_ids(PackageVersion.objects.filter(package__source=source).values("pk"))
    if used:
        raise Conflict(f"Releases or rollouts use {len(used)} version(s) of packages from {source.name}; delete or "
                       "upgrade those releases first.")
    _audit(request, action="catalog.source_delete", target=source)
    source.delete()


def refresh_source(*, source: CatalogSource, request: HttpRequest | None) -> CatalogSource:
    if source.kind not in sources.REMOTE_KINDS:
        raise Conflict(f"{source.name} holds uploaded charts; there is no repository to refresh.")
    CatalogSource.objects.filter(pk=source.pk).update(status=SourceStatus.REFRESHING, message="")
    source.status, source.message = SourceStatus.REFRESHING, ""
    _enqueue_refresh(source.pk)
    _audit(request, action="catalog.source_refresh", target=source)
    return source


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_webhook_token(*, source: CatalogSource, request: HttpRequest | None) -> str:
    """A fresh token (the previous one stops working); only its sha256 is stored."""
    if source.kind not in sources.REMOTE_KINDS:
        raise Conflict(f"{source.name} holds uploaded charts; a webhook has nothing to refresh.")
    token = secrets.token_urlsafe(32)
    source.webhook_token_hash = _token_hash(token)
    source.save(update_fields=["webhook_token_hash"])
    _audit(request, action="catalog.source_webhook_token", target=source)
    return token


def webhook(*, token: str, request: HttpRequest | None) -> CatalogSource:
    """The repository says it changed: queue a refresh (unless one is queued already)."""
    source = (CatalogSource.objects.filter(webhook_token_hash=_token_hash(token),
                                          kind__in=sources.REMOTE_KINDS).first()
              if token else None)
    if source is None:
        raise NotFound("No such webhook.")
    if source.status != SourceStatus.REFRESHING:
        CatalogSource.objects.filter(pk=source.pk).update(status=SourceStatus.REFRESHING, message="")
        _enqueue_refresh(source.pk)
    _audit(request, action="catalog.source_webhook", target=source)
    return source


def upload_chart(*, source: CatalogSource, data: bytes, request: HttpRequest | None) -> PackageVersion:
    """Store an uploaded chart archive as a version of its package (created on first upload)."""
    if source.kind != SourceKind.UPLOAD:
        raise Conflict(f"{source.name} is a {source.get_kind_display()}; charts are uploaded to upload sources.")
    try:
        info = helm.inspect(data)
    except helm.ChartError as exc:
        raise invalid({"chart": [exc.message]}) from exc
    if len(info.name) > 200 or len(info.version) > 100:
        raise invalid({"chart": ["The chart's name or version is too long."]})
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        with transaction.atomic():
            CatalogSource.objects.select_for_update().filter(pk=source.pk).first()
            package, _ = Package.objects.get_or_create(source=source, name=info.name)
            if package.versions.filter(version=info.version).exists():
                raise Conflict(f"{info.name} {info.version} was uploaded already; give the chart a new version.")
            version = PackageVersion.objects.create(
                package=package, version=info.version, app_version=info.app_version,
                description=info.description[:2000], archive=data, digest=digest, values_yaml=info.values_yaml,
                values_schema=info.schema, readme=info.readme[:1_000_000], lookup_templates=info.lookup_templates)
            versions = list(package.versions.values_list("version", flat=True))
            newest = sources.latest(versions)
            package.latest_version = newest
            if newest == info.version:
                package.description, package.icon, package.home = info.description[:2000], info.icon[:500], \
                    info.home[:500]
                package.keywords = info.keywords
            package.save()
    except IntegrityError as exc:
        raise Conflict(f"{info.name} {info.version} was uploaded already; give the chart a new version.") from exc
    count = Package.objects.filter(source=source).count()
    CatalogSource.objects.filter(pk=source.pk).update(
        status=SourceStatus.READY, last_refreshed=timezone.now(),
        message=f"{count} package(s); {info.name} {info.version} uploaded last.")
    _audit(request, action="catalog.chart_upload", target=version,
           detail={"source": source.pk, "package": info.name, "version": info.version, "digest": digest})
    return version
