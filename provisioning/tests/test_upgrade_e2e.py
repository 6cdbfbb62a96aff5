"""Upgrading Kubernetes end to end, against the sandbox's Cluster API slice, a real Celery worker
and PostgreSQL: the control plane first, then each pool once the control plane has rolled, with
progress per machine; the new cluster's API server reports the new version; a minor version
skipped is refused before anything is applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.tests.helpers import client_for
from portal.testing import Subscriber
from provisioning.models import OperationStatus, Phase, ProvisionedCluster, ProvisioningOperation
from provisioning.tests.lifecycle_helpers import provision, settled
from provisioning.tests.provision_helpers import capi_sandbox, register_management

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


@pytest.fixture(scope="module")
def capi_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from capi_sandbox(tmp_path_factory.mktemp("capi-upgrade"))


def test_upgrade_rolls_the_control_plane_then_each_pool(admin_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="upgrade")
    pc = provision(admin_api, mc, prefix="upg", version="v1.29.8", pools=[
        {"name": "workers", "machineSize": "small", "replicas": 2},
        {"name": "batch", "machineSize": "small", "replicas": 1}])
    url = f"/api/provisioning/clusters/{pc.pk}/upgrade/"

    skip = admin_api.post(url, {"version": "v1.31.1"}, format="json")
    assert skip.status_code == 400
    assert skip.json()["code"] == "version_skip"
    assert skip.json()["params"] == {"from": "v1.29.8", "to": "v1.31.1"}
    assert not ProvisioningOperation.objects.filter(provisioned=pc, kind="upgrade").exists()

    sub = Subscriber(f"provisioning.{pc.pk}")
    response = admin_api.post(url, {"version": "v1.30.4"}, format="json")
    assert response.status_code == 202, response.content
    op_id = response.json()["operation"]["id"]
    sub.wait(lambda e: e["type"] == "operation.updated" and e["data"]["id"] == op_id
             and e["data"]["status"] in ("succeeded", "failed"), timeout=120)  # every step's event on the way
    op = settled(op_id)
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    assert op.message_code == "cluster_upgraded"
    assert op.progress["stage"] == "pools"
    assert op.progress["pools_done"] == [f"{pc.name}-batch", f"{pc.name}-workers"]

    # the order, from what was published step by step: the control plane rolled before any pool
    updates = [e["data"] for e in sub.history if e["type"] == "operation.updated" and e["data"]["id"] == op_id]
    codes = [u["message_code"] for u in updates if u["message_code"]]
    assert "control_plane_rolling" in codes
    assert "pool_upgrading" in codes
    assert codes.index("control_plane_rolling") < codes.index("pool_upgrading")
    assert max(i for i, c in enumerate(codes) if c == "control_plane_rolling") < codes.index("pool_upgrading")
    # progress per machine along the way
    assert any(u["progress"].get("machines") for u in updates)

    row = ProvisionedCluster.objects.get(pk=pc.pk)
    assert row.phase == Phase.PROVISIONED
    assert row.kubernetes_version == "v1.30.4"
    assert {m["version"] for m in row.progress["machines"]} == {"v1.30.4"}
    assert row.progress["control_plane"]["version"] == "v1.30.4"
    assert {p["version"] for p in row.progress["pools"]} == {"v1.30.4"}
    with client_for(capi_fleet, pc.name) as kube:
        assert kube.version()["gitVersion"].startswith("v1.30.4")
        kubelets = {n["status"]["nodeInfo"]["kubeletVersion"] for n in kube.list_objects("Node", api_version="v1")}
        assert kubelets == {"v1.30.4"}

    again = admin_api.post(url, {"version": "v1.29.8"}, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "version_downgrade"
