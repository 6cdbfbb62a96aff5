"""The follow step's judgement of a create, on hand-made Cluster API objects (pure): success only
with every machine asked for running and the cluster registered, a Machine's own failure reason
preferred over the one Cluster API aggregates on the Cluster, a stuck machine only past the deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clusters.kube.connection import Credentials
from clusters.models import Cluster
from provisioning import capi, follow
from provisioning.models import (
    ClusterTemplate,
    ManagementCluster,
    OperationStatus,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)


def machine(name: str, phase: str, *, pool: str = "", cp: bool = False,
            failing: tuple[str, str] | None = None) -> dict[str, Any]:
    labels = {capi.CLUSTER_NAME_LABEL: "c1"}
    labels.update({capi.CONTROL_PLANE_LABEL: ""} if cp else {capi.DEPLOYMENT_NAME_LABEL: pool})
    conditions = [{"type": "InfrastructureReady", "status": "False", "severity": "Error", "reason": failing[0],
                   "message": failing[1]}] if failing else []
    return {"metadata": {"name": name, "labels": labels}, "spec": {"version": "v1.30.4"},
            "status": {"phase": phase, "conditions": conditions, **({"nodeRef": {"name": name}} if phase == "Running"
                                                                    else {})}}


def progress(*machines: dict[str, Any], cluster_failing: bool = False) -> dict[str, Any]:
    cluster = {"metadata": {"name": "c1"}, "status": {"phase": "Provisioned", "conditions": [
        {"type": "ControlPlaneInitialized", "status": "True"},
        *([{"type": "Ready", "status": "False", "severity": "Error", "reason": "MachinesNotReady"}]
          if cluster_failing else [])]}}
    kcp = {"metadata": {"name": "c1-control-plane"}, "spec": {"replicas": 1, "version": "v1.30.4"}, "status": {}}
    md = {"metadata": {"name": "c1-w"}, "spec": {"replicas": 2, "template": {"spec": {"version": "v1.30.4"}}}}
    return capi.summarize(capi.Objects(cluster=cluster, control_plane=kcp, machine_deployments=(md,),
                                       machines=tuple(machines), kubeconfig_present=True))


def op(deadline_in: float = 600) -> ProvisioningOperation:
    return ProvisioningOperation(kind="create", deadline=timezone.now() + timedelta(seconds=deadline_in))


def test_success_needs_every_machine_running_and_the_cluster_registered() -> None:
    all_running = progress(machine("cp", "Running", cp=True), machine("w1", "Running", pool="c1-w"),
                           machine("w2", "Running", pool="c1-w"))
    assert follow._judge_create(op(), all_running, registered=True, failure=None)[0] == OperationStatus.SUCCEEDED
    assert follow._judge_create(op(), all_running, registered=False, failure=None)[0] == OperationStatus.RUNNING
    one_missing = progress(machine("cp", "Running", cp=True), machine("w1", "Running", pool="c1-w"))
    assert follow._judge_create(op(), one_missing, registered=True, failure=None)[0] == OperationStatus.RUNNING


def test_a_machines_own_reason_wins_over_the_aggregated_one() -> None:
    p = progress(machine("cp", "Running", cp=True), machine("w1", "Provisioning", pool="c1-w",
                                                            failing=("InsufficientQuota", "provider quota exceeded")),
                 cluster_failing=True)
    status, (message, code, params) = follow._judge_create(op(), p, registered=True, failure=None)
    assert (status, code) == (OperationStatus.FAILED, "provisioning_failed")
    assert params == {"reason": "InsufficientQuota", "object": "Machine/w1", "message": "provider quota exceeded"}
    assert "InsufficientQuota" in message


def test_a_stuck_machine_fails_only_past_the_deadline() -> None:
    p = progress(machine("cp", "Running", cp=True), machine("w1", "Provisioning", pool="c1-w"),
                 machine("w2", "Running", pool="c1-w"))
    assert follow._judge_create(op(600), p, registered=True, failure=None)[0] == OperationStatus.RUNNING
    status, (_message, code, params) = follow._judge_create(op(-1), p, registered=True, failure=None)
    assert (status, code) == (OperationStatus.FAILED, "provisioning_machine_stuck")
    assert params == {"machine": "w1", "phase": "Provisioning", "running": 2, "total": 3}


def test_a_registration_failure_fails_the_create_with_its_code() -> None:
    p = progress(machine("cp", "Running", cp=True))
    failure = ("The kubeconfig cannot be used.", "provisioned_kubeconfig_invalid", {"cluster": "c1", "error": "x"})
    assert follow._judge_create(op(), p, registered=False, failure=failure) == (OperationStatus.FAILED, failure)


@pytest.mark.django_db
def test_an_unreachable_management_cluster_keeps_the_chain_alive_and_fails_the_create_at_its_deadline() -> None:
    hub = Cluster.objects.create(name="hub-dark", server="https://127.0.0.1:9")  # nothing listens there
    hub.set_credentials(Credentials(token="t"))
    hub.save()
    mc = ManagementCluster.objects.create(cluster=hub, namespace="capi", status="ready")
    template = ClusterTemplate.objects.filter(name="sandbox").first()
    assert template is not None
    pc = ProvisionedCluster.objects.create(name="dark-1", management=mc, namespace="capi", template=template,
                                           phase=Phase.PROVISIONING, progress={"exists": True})
    create = ProvisioningOperation.objects.create(provisioned=pc, kind="create", status="running",
                                                  deadline=timezone.now() + timedelta(minutes=5))
    result = follow.follow_once(pc.pk)
    assert result["error"]["code"]
    assert result["exists"] is True  # the stored progress, unchanged
    pc.refresh_from_db()
    assert pc.followed is not None  # the reconcile sees a live chain, not a lost one
    assert pc.message_code == "provisioning_management_unreachable"
    create.refresh_from_db()
    assert create.status == OperationStatus.RUNNING  # within the deadline: nothing fails yet
    ProvisioningOperation.objects.filter(pk=create.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    follow.follow_once(pc.pk)
    create.refresh_from_db()
    assert (create.status, create.message_code) == (OperationStatus.FAILED, "provisioning_management_unreachable")
    assert create.message_params["management"] == "hub-dark"
