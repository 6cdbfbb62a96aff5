"""Failures while Cluster API provisions, as the sandbox reports them (Cluster API's condition
names): a failed bootstrap and the provider's quota fail the create operation with the failing
condition's reason at once; a machine stuck ``Provisioning`` fails it at the operation's deadline.
The portal retries none of them (nothing is applied again)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from portal.testing import unique, wait_for
from provisioning.models import (
    ManagementCluster,
    OperationStatus,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)
from provisioning.tests.provision_helpers import body, capi_sandbox, finished, register_management

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


@pytest.fixture(scope="module")
def capi_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from capi_sandbox(tmp_path_factory.mktemp("capi-follow"))


def create(admin_api: APIClient, mc: ManagementCluster, **parameters: Any) -> tuple[int, int]:
    response = admin_api.post("/api/provisioning/clusters/", body(unique("fail"), mc, **parameters), format="json")
    assert response.status_code == 202, response.content
    return response.json()["provisioned"]["id"], response.json()["operation"]["id"]


def test_a_failed_bootstrap_fails_the_create_with_its_reason(admin_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="capi-bootstrap")
    pc_id, op_id = create(admin_api, mc, nodePools=[{"name": "bad", "machineSize": "small", "replicas": 1,
                                                     "fault": "BootstrapFailure"}])
    op = finished(op_id)
    assert op.status == OperationStatus.FAILED
    assert op.message_code == "provisioning_failed"
    assert op.message_params["reason"] == "BootstrapFailed"
    assert op.message_params["object"].startswith("Machine/")
    pc = ProvisionedCluster.objects.get(pk=pc_id)  # written with the operation, in one transaction
    assert pc.message_code == "provisioning_failed"
    assert pc.progress["failure"]["reason"] == "BootstrapFailed"
    failed = [m for m in pc.progress["machines"] if m["phase"] == "Failed"]
    assert [m["reason"] for m in failed] == ["BootstrapFailed"]
    # failed with the registered control plane or before it: never half-way
    assert (pc.phase == Phase.PROVISIONED) == (pc.cluster_id is not None)


def test_the_providers_quota_fails_the_create_with_insufficient_quota(admin_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="capi-quota")
    pc_id, op_id = create(admin_api, mc, machineLimit=2,
                          nodePools=[{"name": "workers", "machineSize": "small", "replicas": 2}])
    op = finished(op_id)
    assert op.status == OperationStatus.FAILED
    assert op.message_params["reason"] == "InsufficientQuota"
    assert "quota" in op.message.lower()
    pc = ProvisionedCluster.objects.get(pk=pc_id)
    waiting = [m for m in pc.progress["machines"] if m["reason"] == "InsufficientQuota"]
    assert len(waiting) == 1
    assert waiting[0]["phase"] != "Running"


def test_a_machine_stuck_provisioning_fails_the_create_at_its_deadline(admin_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="capi-stuck")
    pc_id, op_id = create(admin_api, mc, nodePools=[{"name": "slow", "machineSize": "small", "replicas": 1,
                                                     "fault": "NeverReady"}])
    # the control plane comes up and the cluster is registered; the worker never joins
    wait_for(lambda: ProvisionedCluster.objects.get(pk=pc_id).cluster_id is not None, timeout=30, what="registered")
    op = wait_for(lambda: ProvisioningOperation.objects.filter(pk=op_id, progress__machines_running=1).first(),
                  what="the control plane running")
    assert op.status == OperationStatus.RUNNING
    assert op.progress["machines_total"] == 2
    ProvisioningOperation.objects.filter(pk=op_id).update(deadline=timezone.now() - timedelta(seconds=1))
    op = finished(op_id)
    assert op.status == OperationStatus.FAILED
    assert op.message_code == "provisioning_machine_stuck"
    assert op.message_params["phase"] == "Provisioning"
    assert op.message_params["machine"].startswith(ProvisionedCluster.objects.get(pk=pc_id).name + "-slow")
    assert ProvisionedCluster.objects.get(pk=pc_id).phase == Phase.PROVISIONED  # the cluster itself is usable
