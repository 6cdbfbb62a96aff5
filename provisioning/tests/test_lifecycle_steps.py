"""The step machinery of lifecycle operations on rows made directly: a step is taken once (a
repeated or stale copy does nothing), lost steps are found for the reconcile, and a machine that
fails or is stuck past the deadline ends the operation with the machine's reason (nothing retried)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal import errors
from provisioning import lifecycle, lifecycle_actions
from provisioning.models import OperationKind, OperationStatus, Phase, ProvisioningOperation
from provisioning.tests.lifecycle_helpers import machine, make_provisioned

pytestmark = pytest.mark.django_db


def operation(kind: str = OperationKind.SCALE_POOL, **fields: object) -> ProvisioningOperation:
    pc = make_provisioned()
    return ProvisioningOperation.objects.create(provisioned=pc, kind=kind, spec={"pool": f"{pc.name}-md-0",
                                                                                 "replicas": 2}, **fields)


def test_a_step_is_taken_once_and_stale_copies_leave() -> None:
    op = operation()
    taken = lifecycle_actions.claim_step(op_id=op.pk, step=0, lease_seconds=30)
    assert taken is not None
    assert taken.status == OperationStatus.RUNNING
    assert taken.started is not None
    assert taken.progress["step"] == 1
    assert lifecycle_actions.claim_step(op_id=op.pk, step=0, lease_seconds=30) is None  # the same step again
    assert lifecycle_actions.claim_step(op_id=op.pk, step=5, lease_seconds=30) is None  # not its turn
    assert lifecycle.run_step(op.pk, 0).status == "stale"
    op.status = OperationStatus.SUCCEEDED
    op.save()
    assert lifecycle_actions.claim_step(op_id=op.pk, step=1, lease_seconds=30) is None  # finished


def test_lost_steps_are_found_for_the_reconcile() -> None:
    fresh = operation()
    lost_enqueue = operation(created=timezone.now() - timedelta(minutes=5))
    running = operation(status=OperationStatus.RUNNING,
                        progress={"step": 4, "next_at": (timezone.now() - timedelta(minutes=3)).isoformat()})
    on_time = operation(status=OperationStatus.RUNNING,
                        progress={"step": 2, "next_at": (timezone.now() + timedelta(seconds=2)).isoformat()})
    create = operation(kind=OperationKind.CREATE, created=timezone.now() - timedelta(minutes=5))  # PROVISION's
    found = lifecycle.overdue_steps()
    assert (lifecycle.TASK, lost_enqueue.pk, 0) in found
    assert (lifecycle.TASK, running.pk, 4) in found
    assert {pk for _, pk, _ in found}.isdisjoint({fresh.pk, on_time.pk, create.pk})


def test_a_failed_machine_ends_the_operation_at_once_with_its_reason() -> None:
    op = operation(deadline=timezone.now() + timedelta(hours=1))
    failed = {**machine("m-1", pool="p", phase="Failed"), "reason": "BootstrapFailed", "message": "kubeadm join"}
    outcome = lifecycle._watch(op, {}, [machine("m-0", pool="p"), failed], False, "waiting", "pool_rolling", {})
    assert outcome is not None
    assert outcome.done == OperationStatus.FAILED
    assert outcome.code == "machine_failed"
    assert outcome.params == {"machine": "m-1", "reason": "BootstrapFailed", "message": "kubeadm join"}


def test_a_machine_stuck_past_the_deadline_is_reported_with_the_conditions_reason() -> None:
    quota = {**machine("m-2", pool="p", phase="Provisioning"), "reason": "InsufficientQuota",
             "message": "provider quota exceeded"}
    op = operation(deadline=timezone.now() + timedelta(hours=1))
    waiting = lifecycle._watch(op, {}, [machine("m-0", pool="p"), quota], False, "2 of 3", "pool_rolling",
                               {"pool": "p"})
    assert waiting is not None
    assert waiting.done is None  # before the deadline: Cluster API is still at it
    assert waiting.code == "pool_rolling"
    op.deadline = timezone.now() - timedelta(seconds=1)
    stuck = lifecycle._watch(op, {}, [machine("m-0", pool="p"), quota], False, "2 of 3", "pool_rolling", {})
    assert stuck is not None
    assert stuck.done == OperationStatus.FAILED
    assert stuck.code == "machine_stuck"
    assert stuck.params["machine"] == "m-2"
    assert stuck.params["reason"] == "InsufficientQuota"
    assert stuck.params["message"] == "provider quota exceeded"


def test_the_drain_is_shown_while_it_waits() -> None:
    op = operation(deadline=timezone.now() + timedelta(hours=1))
    held = {**machine("m-3", pool="p", draining=True), "message": "Draining Node m-3: waiting for 1 pod(s) to go"}
    state: dict[str, object] = {}
    outcome = lifecycle._watch(op, state, [machine("m-0", pool="p"), held], False, "Pool p: 1 of 1.",
                               "pool_rolling", {"pool": "p"})
    assert outcome is not None
    assert outcome.done is None
    assert outcome.params["draining"] == ["m-3"]
    assert "Draining m-3" in outcome.message
    assert state["draining"] == [{"machine": "m-3", "node": "m-3",
                                  "message": "Draining Node m-3: waiting for 1 pod(s) to go"}]


def test_the_phase_writers_keep_a_deleted_row_deleted() -> None:
    pc = make_provisioned(phase=Phase.DELETED)
    assert lifecycle_actions.mark_phase(provisioned_id=pc.pk, phase=Phase.UPDATING) is None
    pc.refresh_from_db()
    assert pc.phase == Phase.DELETED


@pytest.mark.parametrize(("version", "code"), [("v1.31.1", "version_skip"), ("v2.0.0", "version_unknown"),
                                               ("v1.28.13", "version_downgrade")])
def test_upgrade_checks(version: str, code: str) -> None:
    pc = make_provisioned(version="v1.29.8")
    with pytest.raises(errors.PortalError) as caught:
        lifecycle.check_upgrade(pc, version)
    assert getattr(caught.value, "code", None) == code
