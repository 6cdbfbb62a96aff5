"""What the API answers and the socket carries for provisioning rows (pure: model in, dict out)."""

from __future__ import annotations

from typing import Any

from provisioning.models import ProvisionedCluster, ProvisioningOperation


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def operation_row(op: ProvisioningOperation) -> dict[str, Any]:
    return {
        "id": op.pk, "provisioned": op.provisioned_id, "kind": op.kind, "spec": op.spec, "status": op.status,
        "progress": op.progress, "message": op.message, "message_code": op.message_code,
        "message_params": op.message_params, "created": _iso(op.created), "started": _iso(op.started),
        "finished": _iso(op.finished), "created_by": op.created_by.username if op.created_by_id and op.created_by else "",
    }


def provisioned_row(pc: ProvisionedCluster) -> dict[str, Any]:
    return {
        "id": pc.pk, "name": pc.name, "display_name": pc.display_name,
        "management": pc.management_id, "management_cluster": pc.management.cluster.name,
        "namespace": pc.namespace,
        "template": pc.template_id, "template_name": pc.template.name, "template_version": pc.template.version,
        "provider": pc.template.provider,
        "parameters": pc.parameters, "stage": pc.stage, "labels": pc.labels,
        "kubernetes_version": pc.kubernetes_version, "phase": pc.phase, "progress": pc.progress,
        "conditions": pc.conditions, "message": pc.message, "message_code": pc.message_code,
        "message_params": pc.message_params, "cluster": pc.cluster_id,
        "followed": _iso(pc.followed), "created": _iso(pc.created), "updated": _iso(pc.updated),
        "deleted": _iso(pc.deleted),
    }
