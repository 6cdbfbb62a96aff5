"""The writers of provisioning: database + audit in one transaction, publish and enqueue after
commit. (The foundation holds the operation writers every flow uses; the create flow, the
management-cluster check and templates add theirs here, node pools, upgrades and deletion in
:mod:`provisioning.lifecycle_actions`.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal import audit, errors
from portal.enqueue import on_commit
from portal.events import publish
from portal.models import AuditOutcome
from provisioning.models import OperationStatus, ProvisionedCluster, ProvisioningOperation
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
