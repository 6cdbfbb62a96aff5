"""The writers of node pools, upgrades and deletion (docs/provisioning.md, "Node pools", "Upgrades",
"Deleting a cluster"): the provisioned cluster's phase while a change rolls, each step of a
running operation (claimed under the operation's lock, so a repeated or stale copy of a step
does nothing), the objects the portal added on the management cluster, the version reached, and
the end of a deleted cluster (its registered cluster deleted through the clusters app, the
provisioned row kept as ``deleted`` with its history).

The operation intent itself is written by :func:`provisioning.actions.start_operation` (the
layer above, :mod:`provisioning.lifecycle`, calls both); this module is its sibling and does not
import it. Events go out after commit, like every writer's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters import actions as cluster_actions
from clusters.models import Cluster
from portal import audit
from portal.events import publish
from portal.models import AuditOutcome
from provisioning.models import OperationStatus, Phase, ProvisionedCluster, ProvisioningOperation
from provisioning.rows import operation_row, provisioned_row

ACTIVE = (OperationStatus.PENDING, OperationStatus.RUNNING)


def _publish_provisioned(pc: ProvisionedCluster) -> None:
    row = provisioned_row(pc)
    publish("provisioning", "provisioned.updated", row)
    publish(f"provisioning.{pc.pk}", "provisioned.updated", row)


def _publish_operation(op: ProvisioningOperation) -> None:
    publish(f"provisioning.{op.provisioned_id}", "operation.updated", operation_row(op))


def _locked(pc_id: int) -> ProvisionedCluster | None:
    return (ProvisionedCluster.objects.select_for_update(of=("self",))
            .select_related("management__cluster", "template").filter(pk=pc_id).first())


def mark_phase(*, provisioned_id: int, phase: str, message: str = "", code: str = "",
               params: dict[str, Any] | None = None) -> ProvisionedCluster | None:
    """Set the provisioned cluster's phase and message (``updating`` while a change rolls, back
    to ``provisioned`` when it settled, ``deleting``, ``failed``); a ``deleted`` row stays so."""
    with transaction.atomic():
        pc = _locked(provisioned_id)
        if pc is None or pc.phase == Phase.DELETED:
            return None
        pc.phase, pc.message, pc.message_code, pc.message_params = phase, message, code, params or {}
        pc.save(update_fields=["phase", "message", "message_code", "message_params", "updated"])
        _publish_provisioned(pc)
        return pc


def claim_step(*, op_id: int, step: int, lease_seconds: float) -> ProvisioningOperation | None:
    """Take step number ``step`` of a running operation: ``None`` if the operation is gone or
    finished, or if this step was taken already (a stale or repeated copy of the task). The
    operation becomes ``running``; ``progress["step"]`` moves to the next number and
    ``progress["next_at"]`` says when that step is due (the reconcile re-sends it when overdue)."""
    with transaction.atomic():
        op = (ProvisioningOperation.objects.select_for_update(of=("self",))
              .select_related("provisioned__management__cluster", "provisioned__template")
              .filter(pk=op_id).first())
        if op is None or op.status not in ACTIVE or int((op.progress or {}).get("step", 0)) != step:
            return None
        now = timezone.now()
        progress = dict(op.progress or {})
        progress["step"] = step + 1
        progress["next_at"] = (now + timedelta(seconds=lease_seconds)).isoformat()
        op.progress = progress
        if op.status == OperationStatus.PENDING:
            op.status, op.started = OperationStatus.RUNNING, op.started or now
        op.save(update_fields=["progress", "status", "started"])
        return op


def record_step(*, op_id: int, progress: dict[str, Any], message: str = "", code: str = "",
                params: dict[str, Any] | None = None, cluster_progress: dict[str, Any] | None = None
                ) -> ProvisioningOperation | None:
    """Store what a step saw and did (the operation's progress, and the provisioned cluster's
    progress when the step read the Cluster API objects), and publish both."""
    with transaction.atomic():
        op = ProvisioningOperation.objects.select_for_update(of=("self",)).filter(pk=op_id).first()
        if op is None or op.status not in ACTIVE:
            return None
        op.progress = {**progress, "step": (op.progress or {}).get("step", 0),
                       "next_at": (op.progress or {}).get("next_at")}
        op.message, op.message_code, op.message_params = message, code, params or {}
        op.save(update_fields=["progress", "message", "message_code", "message_params"])
        _publish_operation(op)
        if cluster_progress is not None:
            pc = _locked(op.provisioned_id)
            if pc is not None and pc.phase != Phase.DELETED:
                pc.progress, pc.followed = cluster_progress, timezone.now()
                pc.save(update_fields=["progress", "followed", "updated"])
                _publish_provisioned(pc)
        return op


def schedule_next(*, op_id: int, again_in: float) -> int | None:
    """When the next step is due (``progress["next_at"]``); its number, or ``None`` if finished."""
    with transaction.atomic():
        op = ProvisioningOperation.objects.select_for_update(of=("self",)).filter(pk=op_id).first()
        if op is None or op.status not in ACTIVE:
            return None
        progress = dict(op.progress or {})
        progress["next_at"] = (timezone.now() + timedelta(seconds=again_in)).isoformat()
        op.progress = progress
        op.save(update_fields=["progress"])
        return int(progress.get("step", 0))


def add_applied_objects(*, provisioned_id: int, objects: list[dict[str, str]]) -> None:
    """Remember objects the portal made on the management cluster after the create (a new pool's
    templates, a resized pool's machine template), so deleting the cluster deletes them too."""
    with transaction.atomic():
        pc = _locked(provisioned_id)
        if pc is None:
            return
        applied = list(pc.applied_objects or [])
        for obj in objects:
            if obj not in applied:
                applied.append(obj)
        pc.applied_objects = applied
        pc.save(update_fields=["applied_objects", "updated"])


def set_kubernetes_version(*, provisioned_id: int, version: str) -> None:
    with transaction.atomic():
        pc = _locked(provisioned_id)
        if pc is None:
            return
        pc.kubernetes_version = version
        pc.save(update_fields=["kubernetes_version", "updated"])
        _publish_provisioned(pc)


def mark_deleted(*, provisioned_id: int, actor: Any = None) -> ProvisionedCluster | None:
    """The Cluster API Cluster is gone: delete the registered cluster (its read model with it;
    the audit history stays) through the clusters app's writer, and keep the provisioned row as
    ``deleted`` with the time. Raises :class:`portal.errors.Conflict` (``cluster_in_use``) when
    rows of other apps still hold the registered cluster; nothing is written then."""
    with transaction.atomic():
        pc = _locked(provisioned_id)
        if pc is None or pc.phase == Phase.DELETED:
            return pc
        if pc.cluster_id is not None:
            cluster = Cluster.objects.filter(pk=pc.cluster_id).first()
            if cluster is not None:
                cluster_actions.delete_cluster(cluster=cluster, actor=actor)
        pc.cluster = None
        pc.phase, pc.deleted = Phase.DELETED, timezone.now()
        pc.message, pc.message_code, pc.message_params = "", "", {}
        pc.save(update_fields=["cluster", "phase", "deleted", "message", "message_code", "message_params",
                               "updated"])
        audit.record(action="provisioning.cluster.deleted", outcome=AuditOutcome.SUCCESS, actor=actor, target=pc,
                     detail={"name": pc.name})
        _publish_provisioned(pc)
        return pc
