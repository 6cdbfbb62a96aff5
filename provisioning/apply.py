"""Creating a cluster: validate the request, render the template, dry-run it on the management
cluster (the plan), store the intent, and (the task) apply the objects (docs/provisioning.md).

Everything that can be refused is refused before anything is applied, with a stable code:
``cluster_name_taken`` (409: a registered cluster or a live provisioned one has the name),
``management_not_ready`` (409), ``management_provider_missing`` (400, params provider and
management), ``template_archived`` (400), ``template_parameters_invalid`` (400, ``errors`` per
parameter), ``template_render_failed`` (400).

The plan's dry-run goes through the client the view got from :mod:`clusters.gateway` (one time
budget); the apply runs in the ``provisioning.apply_create`` task: the namespace is created if
missing, then every object is applied with server-side apply (field manager
:data:`FIELD_MANAGER`), and following starts (``provisioning.follow_step``). Nothing Cluster API
does is retried here: a refused object fails the operation with the API server's message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from django.http import HttpRequest
from django.utils import timezone

from clusters.kube.client import KubeClient
from clusters.kube.errors import KubeError, NotFound, UnknownKind, Unreachable
from clusters.kube.messages import explain
from clusters.models import Cluster
from portal import enqueue, errors
from portal.crypto import DecryptionError
from provisioning import actions, templates
from provisioning.models import (
    CheckStatus,
    ClusterTemplate,
    ManagementCluster,
    OperationKind,
    OperationStatus,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)

FIELD_MANAGER = "kubeportal"
CALL_TIMEOUT = 15.0
RETRY_SECONDS = 5.0  # the management cluster did not answer: apply again after this (until the deadline)


@dataclass(frozen=True)
class CreateRequest:
    name: str
    management: ManagementCluster
    template: ClusterTemplate
    parameters: dict[str, Any] = field(default_factory=dict)
    stage: str = "dev"
    labels: dict[str, str] = field(default_factory=dict)
    display_name: str = ""


def validate(req: CreateRequest) -> list[dict[str, Any]]:
    """Refuse what cannot be created (see the module's docstring); the rendered objects otherwise."""
    mc, template = req.management, req.template
    if template.archived:
        raise errors.Invalid(f"The template {template.name} v{template.version} is archived; choose a current one.",
                             code="template_archived", params={"template": template.name, "version": template.version},
                             errors={"template": ["This template version is archived."]})
    if Cluster.objects.filter(name=req.name).exists() or \
            ProvisionedCluster.objects.filter(name=req.name, deleted__isnull=True).exists():
        raise errors.Conflict(f"A cluster named {req.name} already exists in the portal; choose another name.",
                              code="cluster_name_taken", params={"name": req.name})
    if mc.status != CheckStatus.READY:
        raise errors.Conflict(
            f"The management cluster {mc.cluster.name} is not ready ({mc.get_status_display()}): "
            f"{mc.message or 'check it first.'}", code="management_not_ready",
            params={"management": mc.cluster.name, "status": mc.status})
    if template.provider not in (mc.infrastructure_providers or []):
        raise errors.Invalid(
            f"The management cluster {mc.cluster.name} has no {template.provider} infrastructure provider "
            f"(it has: {', '.join(mc.infrastructure_providers or []) or 'none'}).",
            code="management_provider_missing", params={"provider": template.provider, "management": mc.cluster.name},
            errors={"template": [f"{mc.cluster.name} cannot create {template.provider} clusters."]})
    try:
        return templates.render(template.files, template_name=template.name, template_version=template.version,
                                name=req.name, namespace=mc.namespace, parameters=req.parameters)
    except templates.TemplateError as exc:
        raise errors.Invalid(exc.message, code=exc.code, errors=exc.errors) from exc


def _object_label(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def dry_run(client: KubeClient, namespace: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Server-side dry-run of every object (admission and schemas run, nothing is stored).
    Objects of a namespace that does not exist yet cannot be dry-run: the plan says so, and
    the apply creates it."""
    try:
        client.get_object("Namespace", namespace, timeout=CALL_TIMEOUT, attempts=1)
    except NotFound:
        return {"ok": True, "namespace_exists": False, "errors": []}
    problems = []
    for obj in objects:
        try:
            client.apply(obj, field_manager=FIELD_MANAGER, dry_run=True, timeout=CALL_TIMEOUT, attempts=1)
        except UnknownKind as exc:
            problems.append({"object": _object_label(obj), "message": str(exc)})
        except (KubeError, ValueError) as exc:
            if isinstance(exc, Unreachable):
                raise
            problems.append({"object": _object_label(obj), "message": explain(exc).message})
    return {"ok": not problems, "namespace_exists": True, "errors": problems}


def plan(req: CreateRequest, client: KubeClient) -> dict[str, Any]:
    objects = validate(req)
    return {"objects": templates.summary(objects), "manifest": templates.manifest(objects),
            "dry_run": dry_run(client, req.management.namespace, objects)}


def create(req: CreateRequest, *, actor: Any = None, request: HttpRequest | None = None
           ) -> tuple[ProvisionedCluster, ProvisioningOperation]:
    objects = validate(req)
    version = str(req.parameters.get("kubernetesVersion") or templates.defaults_of(req.template.files).get(
        "kubernetesVersion") or "")
    fields = {"name": req.name, "display_name": req.display_name, "management": req.management,
              "template": req.template, "parameters": req.parameters, "stage": req.stage, "labels": req.labels,
              "kubernetes_version": version}
    return actions.create_provisioned(fields=fields, rendered=objects, actor=actor, request=request)


# ---------------------------------------------------------------------------- the task


def _client(pc: ProvisionedCluster) -> KubeClient:
    return KubeClient(pc.management.cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0)


def _ensure_namespace(client: KubeClient, namespace: str) -> None:
    try:
        client.get_object("Namespace", namespace, timeout=CALL_TIMEOUT)
    except NotFound:
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                     field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)


def _fail(op: ProvisioningOperation, pc: ProvisionedCluster, message: str, code: str, params: dict[str, Any]) -> str:
    actions.finish_operation(op_id=op.pk, status=OperationStatus.FAILED, message=message, code=code, params=params)
    actions.record_provisioned(pc_id=pc.pk, phase=Phase.FAILED, message=message, message_code=code,
                               message_params=params)
    return "failed"


def apply_create(op_id: int) -> str:
    """Apply the objects of a ``create`` operation: ``applied`` (follow next), ``retry`` (the
    management cluster did not answer; send again later), ``failed`` or ``done`` (nothing to do)."""
    op = ProvisioningOperation.objects.select_related("provisioned__management__cluster").filter(pk=op_id).first()
    if op is None or op.kind != OperationKind.CREATE or op.status not in actions.ACTIVE:
        return "done"
    pc = op.provisioned
    if pc.phase not in (Phase.PENDING, Phase.APPLYING):
        return "done"  # applied already (a second copy of the message)
    actions.update_operation(op_id=op.pk, status=OperationStatus.RUNNING, progress={"step": "applying"})
    actions.record_provisioned(pc_id=pc.pk, phase=Phase.APPLYING, message="Applying the Cluster API objects.",
                               message_code="provisioning_applying", message_params={})
    objects = [o for o in yaml.safe_load_all(pc.manifest) if isinstance(o, dict)]
    current = ""
    try:
        with _client(pc) as client:
            _ensure_namespace(client, pc.namespace)
            for obj in objects:
                current = _object_label(obj)
                client.apply(obj, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
    except Unreachable as exc:
        if op.deadline and timezone.now() > op.deadline:
            return _fail(op, pc, f"The management cluster {pc.management.cluster.name} did not answer until the "
                         f"deadline: {explain(exc).message}", "provisioning_apply_failed",
                         {"object": current, "error": explain(exc).message})
        actions.record_provisioned(pc_id=pc.pk, message=f"The management cluster does not answer "
                                   f"({explain(exc).message}); trying again.",
                                   message_code="provisioning_management_unreachable",
                                   message_params={"management": pc.management.cluster.name,
                                                   "error": explain(exc).message})
        return "retry"
    except (KubeError, ValueError) as exc:
        text = explain(exc).message if isinstance(exc, KubeError) else str(exc)
        return _fail(op, pc, f"The management cluster refused {current}: {text}", "provisioning_apply_failed",
                     {"object": current, "error": text})
    except DecryptionError:
        return _fail(op, pc, "The portal cannot decrypt the management cluster's credentials.",
                     "provisioning_apply_failed", {"object": "", "error": "credentials_unreadable"})
    actions.update_operation(op_id=op.pk, progress={"step": "provisioning", "applied": len(objects)})
    actions.record_provisioned(pc_id=pc.pk, phase=Phase.PROVISIONING,
                               message=f"Applied {len(objects)} objects; Cluster API is creating the cluster.",
                               message_code="provisioning_applied", message_params={"count": len(objects)})
    return "applied"


def send_follow(pc_id: int, countdown: float = 1.0) -> None:
    enqueue.send("provisioning.follow_step", pc_id, countdown=countdown)
