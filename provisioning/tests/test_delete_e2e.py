"""Deleting a provisioned cluster end to end, against the sandbox's Cluster API slice, a real
Celery worker and PostgreSQL: refused while a service map lives there, forced by an admin, the
Cluster object followed until it is gone (the simulated cluster leaves the fleet), the registered
cluster deleted with its audit history kept, the provisioned row kept as deleted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster
from clusters.tests.helpers import client_for
from portal.models import AuditRecord
from portal.testing import wait_for
from provisioning import capi
from provisioning.models import OperationKind, OperationStatus, Phase, ProvisionedCluster
from provisioning.tests.lifecycle_helpers import provision, settled
from provisioning.tests.provision_helpers import capi_sandbox, register_management
from workspaces.models import ServiceMap, Workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


@pytest.fixture(scope="module")
def capi_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from capi_sandbox(tmp_path_factory.mktemp("capi-delete"))


def test_delete_refuses_live_service_maps_then_deletes_everything_but_the_record(
        admin_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="delete")
    pc = provision(admin_api, mc, prefix="del")
    assert pc.cluster is not None
    cluster_id = pc.cluster.pk
    assert pc.name in capi_fleet.provisioned()
    workspace = Workspace.objects.create(name="del-team")
    ServiceMap.objects.create(workspace=workspace, cluster=pc.cluster, namespace="shop")
    url = f"/api/provisioning/clusters/{pc.pk}/"

    wrong = admin_api.delete(url, {"confirm": "nope"}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "confirm_mismatch"
    live = admin_api.delete(url, {"confirm": pc.name}, format="json")
    assert live.status_code == 409
    assert live.json()["code"] == "service_maps_live"
    assert live.json()["params"] == {"cluster": pc.name, "count": 1, "service_maps": ["shop"]}
    assert ProvisionedCluster.objects.get(pk=pc.pk).phase == Phase.PROVISIONED  # nothing applied

    response = admin_api.delete(url, {"confirm": pc.name, "force": True}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["provisioned"]["phase"] == Phase.DELETING
    op = settled(response.json()["operation"]["id"], timeout=120)
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    assert op.message_code == "cluster_deleted"

    row = ProvisionedCluster.objects.get(pk=pc.pk)  # the record stays, with its history
    assert row.phase == Phase.DELETED
    assert row.deleted is not None
    assert row.cluster_id is None
    assert [o.kind for o in row.operations.order_by("created")] == [OperationKind.CREATE, OperationKind.DELETE]
    assert not Cluster.objects.filter(pk=cluster_id).exists()
    assert not ServiceMap.objects.filter(namespace="shop", workspace=workspace).exists()
    assert AuditRecord.objects.filter(action="cluster.delete", target_id=str(cluster_id)).exists()
    assert AuditRecord.objects.filter(action="provisioning.cluster.delete", target_id=str(pc.pk)).exists()
    wait_for(lambda: pc.name not in capi_fleet.provisioned(), timeout=10, what="the simulated cluster gone")
    with client_for(capi_fleet, "cluster-1") as kube:  # nothing the portal applied is left behind
        left = []
        for kind, api in (("Cluster", capi.CLUSTER_API), ("MachineDeployment", capi.CLUSTER_API),
                          ("Machine", capi.CLUSTER_API), ("KubeadmConfigTemplate", capi.BOOTSTRAP_API),
                          ("SandboxMachineTemplate", capi.INFRASTRUCTURE_API)):
            left += [o["metadata"]["name"] for o in kube.list_objects(kind, mc.namespace, api_version=api)
                     if o["metadata"]["name"].startswith(pc.name)]
        assert left == []

    # the name is free again; the deleted row answers 409 to any further change
    gone = admin_api.delete(url, {"confirm": pc.name}, format="json")
    assert gone.status_code == 409
    assert gone.json()["code"] == "provisioned_deleted"
    pools = admin_api.patch(f"{url}pools/{pc.name}-workers/", {"replicas": 3}, format="json")
    assert pools.status_code == 409
    assert pools.json()["code"] == "provisioned_deleted"
