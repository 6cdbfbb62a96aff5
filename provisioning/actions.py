"""The writers of provisioning: database + audit in one transaction, publish and enqueue after
commit. The operation writers every flow uses (:func:`start_operation`, :func:`update_operation`,
:func:`finish_operation`), those of cluster templates (versions, builtin sync), management
clusters (mark, check results, unmark) and the create flow (the intent, what following Cluster
API finds, the registered cluster); node pools, upgrades and deletion are in
:mod:`provisioning.lifecycle_actions`. Refusals are :mod:`portal.errors` with stable codes;
tasks are named, never imported."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from clusters.models import Cluster
from portal import audit, errors
from portal.enqueue import on_commit
from portal.events import publish
from portal.models import AuditOutcome
from provisioning import templates
from provisioning.models import (
    ClusterTemplate,
    InfraProvider,
    ManagementCluster,
    OperationKind,
    OperationStatus,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)
from provisioning.rows import operation_row, provisioned_row

ACTIVE = (OperationStatus.PENDING, OperationStatus.RUNNING)


def publish_provisioned(pc: ProvisionedCluster) -> None:
    row = provisioned_row(pc)
    publish("provisioning", "provisioned.updated", row)
    publish(f"provisioning.{pc.pk}", "provisioned.updated", row)


def publish_operation(op: ProvisioningOperation) -> None:
    publish(f"provisioning.{op.provisioned_id}", "operation.updated", operation_row(op))


class OperationRunning(errors.Conflict):
    """Another operation on the same provisioned cluster has not finished."""


def start_operation(
    *, provisioned: ProvisionedCluster, kind: str, spec: dict[str, Any], actor: Any = None,
    request: HttpRequest | None = None, task: str, audit_action: str, deadline_seconds: float | None = None,
) -> ProvisioningOperation:
    """Write an operation intent (one at a time per provisioned cluster, under the row's lock),
    audit it and enqueue ``task`` (called with the operation's id) after commit."""
    with transaction.atomic():
        pc = ProvisionedCluster.objects.select_for_update().get(pk=provisioned.pk)
        running = pc.operations.filter(status__in=ACTIVE).first()
        if running is not None:
            raise OperationRunning(
                f"{running.get_kind_display()} is still running on {pc.name}; wait for it to finish.",
                code="provisioning_operation_running", params={"cluster": pc.name, "operation": running.kind})
        now = timezone.now()
        op = ProvisioningOperation.objects.create(
            provisioned=pc, kind=kind, spec=spec, created_by=actor if getattr(actor, "pk", None) else None,
            deadline=now + timedelta(seconds=deadline_seconds) if deadline_seconds else None)
        audit.record(action=audit_action, outcome=AuditOutcome.SUCCESS, request=request, actor=actor, target=pc,
                     status_code=202 if request is not None else None, detail={"name": pc.name, **spec})
        publish_operation(op)
        on_commit(task, op.pk)
    return op


def update_operation(*, op_id: int, **changes: Any) -> ProvisioningOperation | None:
    """Record a step of a running operation (status, progress, message fields) under its row's lock;
    ``None`` if it is gone or already finished."""
    with transaction.atomic():
        op = ProvisioningOperation.objects.select_for_update().filter(pk=op_id).first()
        if op is None or op.status not in ACTIVE:
            return None
        if op.status == OperationStatus.PENDING and changes.get("status", OperationStatus.RUNNING) == OperationStatus.RUNNING:
            op.started = op.started or timezone.now()
        for field, value in changes.items():
            setattr(op, field, value)
        if op.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED):
            op.finished = timezone.now()
        op.save()
        publish_operation(op)
        return op


def finish_operation(*, op_id: int, status: str, message: str = "", code: str = "",
                     params: dict[str, Any] | None = None, progress: dict[str, Any] | None = None
                     ) -> ProvisioningOperation | None:
    changes: dict[str, Any] = {"status": status, "message": message, "message_code": code,
                               "message_params": params or {}}
    if progress is not None:
        changes["progress"] = progress
    return update_operation(op_id=op_id, **changes)


# ---------------------------------------------------------------------------- shared


def _audit(request: HttpRequest | None, *, action: str, target: models.Model, detail: dict[str, Any],
           actor: Any = None, outcome: str = AuditOutcome.SUCCESS) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail)
    else:
        audit.record(action=action, outcome=outcome, actor=actor, target=target, detail=detail)


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


# ---------------------------------------------------------------------------- cluster templates


def _check_template(name: str, version: int, files: dict[str, Any]) -> dict[str, str]:
    """The files checked and rendered once with their defaults (a sample cluster), so a template
    that cannot render is refused before it is stored."""
    try:
        checked = templates.check_files(files)
        templates.render(checked, template_name=name, template_version=version, name=templates.SAMPLE_NAME,
                         namespace=templates.SAMPLE_NAMESPACE, parameters={})
    except templates.TemplateError as exc:
        code = "template_render_failed" if exc.code != "template_invalid" else exc.code
        raise errors.Invalid(exc.message, code=code, errors=exc.errors) from exc
    return checked


def _next_version(name: str) -> int:
    latest = ClusterTemplate.objects.filter(name=name).aggregate(v=Max("version"))["v"]
    return int(latest or 0) + 1


def create_template(*, data: dict[str, Any], actor: Any = None, request: HttpRequest | None = None) -> ClusterTemplate:
    """A new template (version 1), or the next version of a template of that name."""
    name = str(data["name"])
    if data["provider"] not in InfraProvider.values:
        raise errors.Invalid(f"Unknown provider {data['provider']!r}.", code="template_provider_unknown",
                             errors={"provider": [f"One of: {', '.join(InfraProvider.values)}."]})
    for _attempt in range(3):
        version = _next_version(name)
        files = _check_template(name, version, data["files"])
        try:
            with transaction.atomic():
                template = ClusterTemplate.objects.create(
                    name=name, version=version, provider=data["provider"],
                    display_name=data.get("display_name") or name, description=data.get("description") or "",
                    files=files, created_by=_user(actor))
                _audit(request, action="provisioning.template_create", target=template, actor=actor,
                       detail={"name": name, "version": version, "provider": template.provider,
                               "files": sorted(files)})
            return template
        except IntegrityError:
            continue  # another version of the same name was stored meanwhile: take the next one
    raise errors.Conflict(f"Versions of {name} are being added concurrently; try again.",
                          code="template_version_conflict", params={"name": name})


def new_template_version(*, template: ClusterTemplate, data: dict[str, Any], actor: Any = None,
                         request: HttpRequest | None = None) -> ClusterTemplate:
    """A change of a template is a new version (old versions stay for the clusters made from them)."""
    return create_template(data={"name": template.name, "provider": template.provider,
                                 "display_name": template.display_name,
                                 "description": data.get("description", template.description),
                                 "files": data["files"]}, actor=actor, request=request)


def update_template(*, template: ClusterTemplate, changes: dict[str, Any], actor: Any = None,
                    request: HttpRequest | None = None) -> ClusterTemplate:
    with transaction.atomic():
        template = ClusterTemplate.objects.select_for_update().get(pk=template.pk)
        changed = sorted(k for k in ("display_name", "description", "archived")
                         if k in changes and getattr(template, k) != changes[k])
        for key in changed:
            setattr(template, key, changes[key])
        template.save()
        _audit(request, action="provisioning.template_update", target=template, actor=actor,
               detail={"name": template.name, "version": template.version, "fields": changed})
    return template


def delete_template(*, template: ClusterTemplate, actor: Any = None, request: HttpRequest | None = None) -> None:
    if template.builtin:
        raise errors.Conflict(f"{template.name} v{template.version} is shipped with the portal; archive it instead.",
                              code="template_builtin", params={"template": template.name, "version": template.version})
    with transaction.atomic():
        template = ClusterTemplate.objects.select_for_update().get(pk=template.pk)
        used = template.clusters.count()
        if used:
            raise errors.Conflict(
                f"{template.name} v{template.version} made {used} cluster(s); archive it instead of deleting it.",
                code="template_in_use", params={"template": template.name, "version": template.version,
                                                "count": used})
        _audit(request, action="provisioning.template_delete", target=template, actor=actor,
               detail={"name": template.name, "version": template.version})
        template.delete()


def sync_builtin_templates() -> list[ClusterTemplate]:
    """Store the templates of ``provisioning/builtin/`` (idempotent): a builtin whose files,
    provider or texts differ from its latest builtin version becomes a new version. Returns the
    versions created."""
    created = []
    for builtin in templates.builtin_templates():
        with transaction.atomic():
            latest = (ClusterTemplate.objects.select_for_update().filter(name=builtin.name, builtin=True)
                      .order_by("-version").first())
            if latest is not None and latest.files == builtin.files and latest.provider == builtin.provider \
                    and latest.description == builtin.description and latest.display_name == builtin.display_name:
                continue
            template = ClusterTemplate.objects.create(
                name=builtin.name, version=_next_version(builtin.name), provider=builtin.provider,
                display_name=builtin.display_name, description=builtin.description, files=builtin.files,
                builtin=True)
            created.append(template)  # shipped files, not a person's change: no audit record
    return created


# ---------------------------------------------------------------------------- management clusters


def create_management(*, cluster: Cluster, namespace: str, actor: Any = None,
                      request: HttpRequest | None = None) -> ManagementCluster:
    """Mark a registered cluster as a management cluster and check it in the background."""
    try:
        with transaction.atomic():
            mc = ManagementCluster.objects.create(cluster=cluster, namespace=namespace, created_by=_user(actor),
                                                  message="Checking for Cluster API.",
                                                  message_code="management_checking")
            _audit(request, action="provisioning.management_create", target=mc, actor=actor,
                   detail={"cluster": cluster.name, "namespace": namespace})
            on_commit("provisioning.check_management", mc.pk)
    except IntegrityError:
        raise errors.Conflict(f"{cluster.name} is already a management cluster.", code="management_cluster_exists",
                              params={"cluster": cluster.name}) from None
    return mc


def request_management_check(*, mc: ManagementCluster, actor: Any = None,
                             request: HttpRequest | None = None) -> ManagementCluster:
    with transaction.atomic():
        mc = ManagementCluster.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=mc.pk)
        _audit(request, action="provisioning.management_check", target=mc, actor=actor,
               detail={"cluster": mc.cluster.name})
        on_commit("provisioning.check_management", mc.pk)
    return mc


def record_management_check(*, mc_id: int, status: str, capi_versions: dict[str, Any],
                            control_plane_providers: list[str], infrastructure_providers: list[str],
                            message: str, code: str, params: dict[str, Any]) -> ManagementCluster | None:
    """What a check found (the task's writer)."""
    with transaction.atomic():
        mc = ManagementCluster.objects.select_for_update(of=("self",)).select_related("cluster").filter(pk=mc_id).first()
        if mc is None:
            return None
        before = mc.status
        mc.status, mc.capi_versions = status, capi_versions
        mc.control_plane_providers, mc.infrastructure_providers = control_plane_providers, infrastructure_providers
        mc.message, mc.message_code, mc.message_params = message, code, params
        mc.checked = timezone.now()
        mc.save()
        if before != status:
            audit.record(action="provisioning.management_checked", outcome=AuditOutcome.SUCCESS, target=mc,
                         detail={"cluster": mc.cluster.name, "status": status, "code": code})
    return mc


def delete_management(*, mc: ManagementCluster, actor: Any = None, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        mc = ManagementCluster.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=mc.pk)
        live = mc.provisioned.filter(deleted__isnull=True).count()
        if live:
            raise errors.Conflict(
                f"{mc.cluster.name} manages {live} provisioned cluster(s); delete them first.",
                code="management_cluster_in_use", params={"cluster": mc.cluster.name, "count": live})
        history = mc.provisioned.count()
        if history:
            raise errors.Conflict(
                f"{mc.cluster.name} keeps the history of {history} deleted provisioned cluster(s), so it stays a "
                "management cluster.", code="management_cluster_has_history",
                params={"cluster": mc.cluster.name, "count": history})
        _audit(request, action="provisioning.management_delete", target=mc, actor=actor,
               detail={"cluster": mc.cluster.name})
        mc.delete()


# ---------------------------------------------------------------------------- the create flow

# How long a create may take before a machine still not Running is reported as stuck.
CREATE_DEADLINE_SECONDS = 30 * 60


def create_provisioned(*, fields: dict[str, Any], rendered: list[dict[str, Any]], actor: Any = None,
                       request: HttpRequest | None = None) -> tuple[ProvisionedCluster, ProvisioningOperation]:
    """The intent of a new cluster: the row (phase ``pending``, the rendered objects) and its
    ``create`` operation, whose task applies them. A live cluster of the same name answers 409."""
    mc: ManagementCluster = fields["management"]
    try:
        with transaction.atomic():
            if Cluster.objects.filter(name=fields["name"]).exists():
                raise _name_taken(str(fields["name"]))
            pc = ProvisionedCluster.objects.create(
                name=fields["name"], display_name=fields.get("display_name") or "", management=mc,
                namespace=mc.namespace, template=fields["template"], parameters=fields.get("parameters") or {},
                stage=fields.get("stage") or "dev", labels=fields.get("labels") or {},
                kubernetes_version=str(fields.get("kubernetes_version") or ""),
                manifest=templates.manifest(rendered), applied_objects=templates.summary(rendered),
                phase=Phase.PENDING, created_by=_user(actor),
                message="Waiting for the objects to be applied.", message_code="provisioning_pending")
            op = start_operation(provisioned=pc, kind=OperationKind.CREATE,
                                 spec={"template": pc.template.name, "template_version": pc.template.version,
                                       "management": mc.cluster.name},
                                 actor=actor, request=request, task="provisioning.apply_create",
                                 audit_action="provisioning.create", deadline_seconds=CREATE_DEADLINE_SECONDS)
            publish_provisioned(pc)
    except IntegrityError:
        raise _name_taken(str(fields["name"])) from None
    return pc, op


def _name_taken(name: str) -> errors.Conflict:
    return errors.Conflict(f"A cluster named {name} already exists in the portal; choose another name.",
                           code="cluster_name_taken", params={"name": name})


def record_provisioned(*, pc_id: int, phase_from: tuple[str, ...] | None = None,
                       **changes: Any) -> ProvisionedCluster | None:
    """Store what applying or following found (phase, progress, conditions, message fields,
    ``followed``) under the row's lock and publish it; ``None`` when the row is gone. With
    ``phase_from``, the phase changes only from one of those (another flow may own it now)."""
    with transaction.atomic():
        pc = (ProvisionedCluster.objects.select_for_update(of=("self",))
              .select_related("management__cluster", "template", "cluster").filter(pk=pc_id).first())
        if pc is None:
            return None
        if phase_from is not None and pc.phase not in phase_from:
            changes.pop("phase", None)
        for key, value in changes.items():
            setattr(pc, key, value)
        pc.save()
        publish_provisioned(pc)
    return pc


def link_cluster(*, pc_id: int, cluster: Cluster) -> ProvisionedCluster | None:
    """The cluster Cluster API made is registered: link it (once) and say so."""
    with transaction.atomic():
        pc = (ProvisionedCluster.objects.select_for_update(of=("self",))
              .select_related("management__cluster", "template").filter(pk=pc_id).first())
        if pc is None:
            return None
        pc.cluster = cluster
        if pc.phase in (Phase.PENDING, Phase.APPLYING, Phase.PROVISIONING):
            pc.phase = Phase.PROVISIONED
        pc.message, pc.message_code, pc.message_params = (
            f"Registered as {cluster.name}; the portal checks it and starts watching it.", "provisioned_registered",
            {"cluster": cluster.name})
        pc.save()
        audit.record(action="provisioning.registered", outcome=AuditOutcome.SUCCESS, target=pc,
                     detail={"name": pc.name, "cluster": cluster.pk})
        publish_provisioned(pc)
    return pc


def active_operation(pc: ProvisionedCluster, kind: str | None = None) -> ProvisioningOperation | None:
    qs = pc.operations.filter(status__in=ACTIVE)
    return (qs.filter(kind=kind) if kind else qs).order_by("-created").first()

