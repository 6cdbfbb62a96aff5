"""Helpers of PROVISION's tests: a sandbox fleet whose cluster-1 serves the sandbox's Cluster API
slice, registering it as a management cluster through the API, and creating clusters from the
builtin sandbox template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rest_framework.test import APIClient

from clusters.models import Cluster
from portal.testing import register_cluster, unique, wait_for
from provisioning.models import ClusterTemplate, ManagementCluster, OperationStatus, ProvisioningOperation


def capi_sandbox(state_dir: Path) -> Iterator[Any]:
    """A fleet of one management cluster (``cluster-1``, one node) with fast machines."""
    from sandbox.controllers.config import fast
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=1, nodes=1, cluster_api=["cluster-1"], controller_config=fast(),
                         state_dir=state_dir) as fleet:
        yield fleet


def sandbox_template() -> ClusterTemplate:
    template = ClusterTemplate.objects.filter(name="sandbox", builtin=True).order_by("-version").first()
    assert template is not None, "migrate stores the builtin templates"
    return template


def register_management(admin_api: APIClient, fleet: Any, cluster: str = "cluster-1",
                        namespace: str = "capi-e2e") -> ManagementCluster:
    """Register ``cluster`` of ``fleet``, mark it as a management cluster and wait for its check."""
    cluster_id = register_cluster(admin_api, fleet.cluster(cluster).kubeconfig.read_text(), unique("mgmt"))
    wait_for(lambda: Cluster.objects.get(pk=cluster_id).status == "connected", timeout=30, what="mgmt connected")
    response = admin_api.post("/api/provisioning/management-clusters/", {"cluster": cluster_id,
                                                                          "namespace": namespace}, format="json")
    assert response.status_code == 201, response.content
    mc_id = response.json()["id"]
    wait_for(lambda: ManagementCluster.objects.get(pk=mc_id).status == "ready", timeout=30,
             what="management cluster ready")
    return ManagementCluster.objects.select_related("cluster").get(pk=mc_id)


def body(name: str, mc: ManagementCluster, **parameters: Any) -> dict[str, Any]:
    params = {"nodePools": [{"name": "workers", "machineSize": "small", "replicas": 2}], **parameters}
    return {"name": name, "management": mc.pk, "template": sandbox_template().pk, "parameters": params,
            "stage": "stage", "labels": {"team": "infra"}, "display_name": f"{name} (e2e)"}


def finished(op_id: int, timeout: float = 60) -> ProvisioningOperation:
    return wait_for(lambda: (ProvisioningOperation.objects.filter(
        pk=op_id, status__in=(OperationStatus.SUCCEEDED, OperationStatus.FAILED)).first()), timeout=timeout,
        what=f"operation {op_id} finished")
