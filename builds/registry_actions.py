"""Every write to registry records: create, change (a password rotation renews the pull secrets),
delete, allocate to workspaces, record a check's outcome, and keep the built-in registry's row.

Each action validates (400 naming the field, 409 when the state forbids it), writes in one
transaction, audits (``describe`` inside API requests, a record of its own otherwise) and
enqueues by name after commit: ``builds.check_registry`` when what the portal connects to
changed, ``builds.rotate_pull_secrets`` when the credentials changed. Who may call them is
decided by the views through :mod:`builds.access`; the host goes through the address policy
(:mod:`portal.addresses`) as cluster endpoints and catalog sources do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from builds import access, registries
from builds.models import BuildDefinition, Registry, RegistryKind, RegistryStatus
from clusters.models import DNS1123_LABEL
from portal import audit, enqueue, oci, outbound
from portal.addresses import AddressError
from portal.errors import Conflict, Invalid, NotFound, Unavailable
from portal.models import AuditOutcome
from workspaces import actions as ws_actions
from workspaces.models import RegistryAllocation, Workspace

BUILTIN_NAME = "builtin"
CHECK_TASK = "builds.check_registry"
ROTATE_TASK = "builds.rotate_pull_secrets"
CONNECTION_FIELDS = ("host", "plain_http", "ca_pem", "username", "password_encrypted")
CREDENTIAL_FIELDS = ("host", "username", "password_encrypted")
BUILTIN_FIXED = ("name", "kind", "host", "plain_http", "ca_pem", "username", "password")


def _audit(request: HttpRequest | None, *, action: str, target: Any, detail: dict[str, Any] | None = None,
           actor: Any = None) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail or {})
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, actor=actor, target=target, detail=detail or {})


def _summary(errors: dict[str, list[str]]) -> str:
    field, messages = next(iter(errors.items()))
    return f"Invalid input: {field}: {messages[0]}"


def _invalid(errors: dict[str, list[str]], *, code: str | None = None,
             params: dict[str, Any] | None = None) -> Invalid:
    return Invalid(_summary(errors), code=code, params=params, errors=errors)


def _check_ca(pem: str) -> str:
    pem = (pem or "").strip()
    if not pem:
        return ""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise _invalid({"ca_pem": ["Give the CA certificate(s) in PEM form (-----BEGIN CERTIFICATE-----)."]}) \
            from exc
    if not certificates:
        raise _invalid({"ca_pem": ["Give at least one certificate."]})
    return pem + "\n"


def check_address(host: str, *, plain_http: bool) -> None:
    """400 for a registry host the portal would never connect to (the address policy, as for
    clusters); a name that does not resolve yet is accepted (every connection checks again)."""
    location = oci.Location(host=registries.api_host(host), plain_http=plain_http, prefix="")
    try:
        outbound.validate_url(location.base + "/v2/", schemes=("http", "https"))
    except AddressError as exc:
        raise Invalid(f"Invalid input: host: {exc}", code=exc.code, errors={"host": [str(exc)]}) from exc


def _clean(data: dict[str, Any], *, actor: Any, current: Registry | None) -> dict[str, Any]:
    """The validated values of the fields given in ``data``."""
    out: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if "name" in data:
        name = str(data["name"] or "").strip()
        try:
            DNS1123_LABEL(name)
            if not name or len(name) > 63:
                raise ValidationError("Use 1 to 63 characters.")
        except ValidationError as exc:
            errors["name"] = [str(m) for m in exc.messages]
        out["name"] = name
    if "kind" in data:
        kind = str(data["kind"] or "")
        if kind == RegistryKind.BUILTIN and not (current and current.builtin):
            errors["kind"] = ["The built-in registry is registered by the portal itself (manage.py builtin_registry)."]
        elif kind not in RegistryKind.values:
            errors["kind"] = [f"Choose one of {', '.join(k for k in RegistryKind.values if k != 'builtin')}."]
        out["kind"] = kind
    if "host" in data:
        try:
            out["host"] = registries.normalize_host(str(data["host"] or ""))
        except ValueError as exc:
            errors["host"] = [str(exc)]
    if "plain_http" in data:
        out["plain_http"] = bool(data["plain_http"])
        if out["plain_http"] and not access.may_use_plain_http(actor):
            errors["plain_http"] = ["Only system admins may add a registry over plain HTTP; use HTTPS."]
    if "ca_pem" in data:
        try:
            out["ca_pem"] = _check_ca(str(data["ca_pem"] or ""))
        except Invalid as exc:
            errors.update(exc.errors or {})
    for name in ("username", "password", "description"):
        if name in data:
            out[name] = str(data[name] or "")
    if "allow_delete" in data:
        out["allow_delete"] = bool(data["allow_delete"])
    if errors:
        raise _invalid(errors)
    host = out.get("host", current.host if current else "")
    plain_http = out.get("plain_http", current.plain_http if current else False)
    if "host" in out or "plain_http" in out:
        check_address(host, plain_http=plain_http)
    return out


def _taken(name: str, host: str, *, exclude: int | None) -> None:
    others = Registry.objects.exclude(pk=exclude) if exclude else Registry.objects.all()
    errors = {}
    if name and others.filter(name=name).exists():
        errors["name"] = [f"A registry named {name!r} exists already."]
    if host and others.filter(host=host).exists():
        errors["host"] = [f"The registry at {host} is registered already."]
    if errors:
        raise _invalid(errors, code="registry_exists")


def create_registry(*, data: dict[str, Any], actor: Any, request: HttpRequest | None = None) -> Registry:
    if not data.get("name"):
        raise _invalid({"name": ["Give the registry a name (lowercase letters, digits and '-')."]})
    if not data.get("host"):
        raise _invalid({"host": ["Give the registry's host, like registry.example.com."]})
    values = _clean({"kind": RegistryKind.GENERIC, **data}, actor=actor, current=None)
    _taken(values["name"], values["host"], exclude=None)
    password = values.pop("password", "")
    try:
        with transaction.atomic():
            registry = Registry.objects.create(created_by=actor if getattr(actor, "pk", None) else None, **values)
            if password:
                registry.set_password(password)
                registry.password_changed = timezone.now()
                registry.save(update_fields=["password_encrypted", "password_changed"])
    except IntegrityError as exc:  # a concurrent create of the same name or host
        raise _invalid({"name": ["A registry with this name or host exists already."]}, code="registry_exists") \
            from exc
    enqueue.on_commit(CHECK_TASK, registry.pk)
    _audit(request, action="builds.registry_create", target=registry, actor=actor,
           detail={"kind": registry.kind, "host": registry.host, "plain_http": registry.plain_http})
    return registry


def update_registry(*, registry: Registry, data: dict[str, Any], actor: Any,
                    request: HttpRequest | None = None) -> Registry:
    if registry.builtin:
        fixed = sorted(f for f in BUILTIN_FIXED if f in data and (
            f == "password" or str(data[f] or "") != str(getattr(registry, f) or "")))
        if fixed:
            raise Conflict(f"The built-in registry's {', '.join(fixed)} come from the portal's settings; only its "
                           "description and allow_delete can change here.", code="registry_builtin",
                           params={"fields": ", ".join(fixed)})
    values = _clean(data, actor=actor, current=registry)
    _taken(values.get("name", ""), values.get("host", ""), exclude=registry.pk)
    fields: list[str] = []
    with transaction.atomic():
        registry = Registry.objects.select_for_update().get(pk=registry.pk)
        for name in ("name", "kind", "host", "plain_http", "ca_pem", "username", "allow_delete", "description"):
            if name in values and getattr(registry, name) != values[name]:
                setattr(registry, name, values[name])
                fields.append(name)
        if "password" in values and values["password"] != registry.get_password():
            registry.set_password(values["password"])
            fields.append("password_encrypted")
        rotated = bool(set(CREDENTIAL_FIELDS) & set(fields)) and registry.needs_credentials
        if rotated or ("password_encrypted" in fields):
            registry.password_changed = timezone.now()
            fields.append("password_changed")
        recheck = bool(set(CONNECTION_FIELDS) & set(fields))
        if recheck:
            registry.status, registry.message, registry.message_code, registry.message_params = \
                RegistryStatus.UNKNOWN, "", "", {}
            fields += ["status", "message", "message_code", "message_params"]
        if fields:
            try:
                registry.save(update_fields=[*fields, "updated"])
            except IntegrityError as exc:
                raise _invalid({"name": ["A registry with this name or host exists already."]},
                               code="registry_exists") from exc
    if recheck:
        enqueue.on_commit(CHECK_TASK, registry.pk)
    if "password_changed" in fields:
        enqueue.on_commit(ROTATE_TASK, registry.pk)
    _audit(request, action="builds.registry_update", target=registry, actor=actor,
           detail={"fields": sorted(f.replace("_encrypted", "") for f in fields
                                    if f not in ("status", "message", "message_code", "message_params",
                                                 "password_changed"))})
    return registry


def registry_allocations(registry: Registry) -> list[tuple[RegistryAllocation, str]]:
    """The workspace allocations inside ``registry`` with the repository prefix each gives."""
    out = []
    for allocation in RegistryAllocation.objects.select_related("workspace").filter(
            registry__startswith=registry.host):
        prefix = access.allocation_prefix(allocation.registry, registry.host)
        if prefix is not None:
            out.append((allocation, prefix))
    return out


def delete_registry(*, registry: Registry, actor: Any, request: HttpRequest | None = None) -> None:
    if registry.builtin:
        raise Conflict("The built-in registry cannot be deleted; it is part of the portal.", code="registry_builtin",
                       params={"registry": registry.name})
    used = BuildDefinition.objects.filter(registry=registry).count()
    if used:
        raise Conflict(f"{used} build definition(s) push to {registry.name}; change or delete them first.",
                       code="registry_in_use", params={"registry": registry.name, "count": used})
    with transaction.atomic():
        for allocation, _prefix in registry_allocations(registry):
            ws_actions.remove_registry(allocation=allocation, request=None)
        _audit(request, action="builds.registry_delete", target=registry, actor=actor,
               detail={"host": registry.host})
        registry.delete()


def allocate(*, registry: Registry, data: dict[str, Any], actor: Any,
             request: HttpRequest | None = None) -> tuple[RegistryAllocation, str]:
    """Give a workspace a repository prefix in ``registry`` (``""``: the whole registry)."""
    errors: dict[str, list[str]] = {}
    workspace = None
    raw_workspace = data.get("workspace")
    if not isinstance(raw_workspace, int) or isinstance(raw_workspace, bool):
        errors["workspace"] = ["Give the workspace's id."]
    else:
        workspace = Workspace.objects.filter(pk=raw_workspace).first()
        if workspace is None:
            errors["workspace"] = [f"No workspace has id {raw_workspace}."]
    prefix = str(data.get("prefix") or "").strip().strip("/")
    if prefix and (len(prefix) > 200 or not oci.NAME.match(prefix)):
        errors["prefix"] = ["A repository prefix is lowercase letters, digits, '.', '_', '-' and '/' (like team-a); "
                            "leave it empty for the whole registry."]
    if errors:
        raise _invalid(errors)
    assert workspace is not None
    address = registry.host + (f"/{prefix}" if prefix else "")
    allocation = ws_actions.add_registry(workspace=workspace, data={"registry": address}, request=None)
    _audit(request, action="builds.registry_allocate", target=registry, actor=actor,
           detail={"workspace": workspace.pk, "prefix": prefix})
    return allocation, prefix


def unallocate(*, registry: Registry, allocation_id: int, actor: Any, request: HttpRequest | None = None) -> None:
    for allocation, prefix in registry_allocations(registry):
        if allocation.pk == allocation_id:
            ws_actions.remove_registry(allocation=allocation, request=None)
            _audit(request, action="builds.registry_unallocate", target=registry, actor=actor,
                   detail={"workspace": allocation.workspace_id, "prefix": prefix})
            return
    raise NotFound("No such allocation of this registry.", code="allocation_not_found")


def set_status(registry_id: int, *, ok: bool, message: str = "", code: str = "",
               params: dict[str, Any] | None = None, password_changed: Any = None) -> None:
    """Record a check's outcome (the row may be gone: nothing to do). With ``password_changed`` (when
    the password the check used was set), a check that ran with a password rotated since records
    nothing: the rotation queued its own check, and a late old answer must not overwrite it."""
    rows = Registry.objects.filter(pk=registry_id)
    if password_changed is not None:
        rows = rows.filter(password_changed=password_changed)
    rows.update(
        status=RegistryStatus.OK if ok else RegistryStatus.ERROR, message=message[:2000], message_code=code,
        message_params=params or {}, checked=timezone.now())


def mark_checking(registry: Registry, *, request: HttpRequest | None = None) -> Registry:
    """Queue a check now (``POST …/check/``)."""
    enqueue.on_commit(CHECK_TASK, registry.pk)
    _audit(request, action="builds.registry_check", target=registry)
    return registry


# ---------------------------------------------------------------------------- the built-in registry


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise Unavailable(f"Cannot read the built-in registry's {what} ({path}): start it with scripts/registry.sh "
                          "start, or set PORTAL_BUILTIN_REGISTRY_* (docs/registries.md).",
                          code="builtin_registry_unconfigured", params={"what": what}) from exc


def ensure_builtin() -> Registry | None:
    """Create or refresh the built-in registry's row from the settings (idempotent); ``None`` when
    no built-in registry is configured (production without PORTAL_BUILTIN_REGISTRY_HOST). A changed
    password renews the pull secrets made from it."""
    raw_host = settings.PORTAL_BUILTIN_REGISTRY_HOST
    if not raw_host:
        return None
    host = registries.normalize_host(raw_host)
    username = settings.PORTAL_BUILTIN_REGISTRY_USERNAME
    password_file = settings.PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE
    password = _read(password_file, "password file") if password_file else ""
    ca_file = settings.PORTAL_BUILTIN_REGISTRY_CA_FILE
    ca_pem = _check_ca(_read(ca_file, "CA file")) if ca_file else ""
    plain_http = bool(getattr(settings, "PORTAL_BUILTIN_REGISTRY_PLAIN_HTTP", False))
    with transaction.atomic():
        registry = (Registry.objects.select_for_update().filter(builtin=True).first()
                    or Registry.objects.select_for_update().filter(name=BUILTIN_NAME).first())
        others = Registry.objects.filter(host=host)
        other = (others.exclude(pk=registry.pk) if registry else others).first()
        if other is not None:
            raise Conflict(f"Registry {other.name} is registered at {host}, the built-in registry's host; rename or "
                           "delete it, or move the built-in registry (PORTAL_BUILTIN_REGISTRY_HOST).",
                           code="registry_exists", params={"registry": other.name})
        created = registry is None
        if registry is None:
            registry = Registry(name=BUILTIN_NAME)
        before = (registry.host, registry.username, registry.ca_pem, registry.plain_http)
        registry.builtin, registry.kind = True, RegistryKind.BUILTIN
        registry.host, registry.username, registry.ca_pem, registry.plain_http = host, username, ca_pem, plain_http
        registry.save()
        rotated = registry.get_password() != password
        changed = created or rotated or before != (host, username, ca_pem, plain_http)
        if rotated:
            registry.set_password(password)
            registry.password_changed = timezone.now()
            registry.save(update_fields=["password_encrypted", "password_changed"])
            if not created:
                enqueue.on_commit(ROTATE_TASK, registry.pk)
    if changed:
        enqueue.on_commit(CHECK_TASK, registry.pk)
    return registry
