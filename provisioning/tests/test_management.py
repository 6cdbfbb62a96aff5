"""The management-cluster check: Cluster API's kinds and a control-plane provider must be served;
infrastructure providers come from clusterctl's CRD labels or the kinds the portal knows. Against
the sandbox (one cluster with the Cluster API slice, one without) and on hand-made CRD lists."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster
from portal.testing import register_cluster, unique
from provisioning import capi, management
from provisioning.management import Served, evaluate
from provisioning.models import CheckStatus, ManagementCluster

CORE = [Served(capi.CLUSTER_GROUP, kind, ("v1beta1",), "cluster-api") for kind in capi.REQUIRED_KINDS]
KCP = Served(capi.CONTROL_PLANE_GROUP, "KubeadmControlPlane", ("v1beta1",), "control-plane-kubeadm")


def test_a_complete_cluster_api_is_ready_with_its_providers() -> None:
    result = evaluate([*CORE, KCP, Served(capi.INFRASTRUCTURE_GROUP, "DockerCluster", ("v1beta1",), "infrastructure-docker"),
                       Served(capi.INFRASTRUCTURE_GROUP, "AWSCluster", ("v1beta2",))])  # unlabelled: known kind
    assert result.status == CheckStatus.READY
    assert result.code == "management_ready"
    assert result.infrastructure_providers == ["aws", "docker"]
    assert result.control_plane_providers == ["kubeadm"]
    assert result.capi_versions[capi.INFRASTRUCTURE_GROUP] == ["v1beta1", "v1beta2"]


def test_missing_parts_are_named() -> None:
    no_machines = evaluate([s for s in CORE if s.kind != "Machine"] + [KCP])
    assert (no_machines.status, no_machines.code, no_machines.params) == (
        CheckStatus.ERROR, "management_capi_missing", {"missing": "Machine"})
    old = evaluate([Served(capi.CLUSTER_GROUP, s.kind, ("v1alpha4",)) for s in CORE])  # v1beta1 not served
    assert old.code == "management_capi_missing"
    assert evaluate(CORE).code == "management_control_plane_missing"
    assert evaluate([*CORE, KCP]).code == "management_infrastructure_missing"
    crds = [{"metadata": {"labels": {capi.PROVIDER_LABEL: "infrastructure-vsphere"}},
             "spec": {"group": capi.INFRASTRUCTURE_GROUP, "names": {"kind": "VSphereCluster"},
                      "versions": [{"name": "v1beta1", "served": True}, {"name": "v1alpha3", "served": False}]}}]
    assert management.served_from_crds(crds) == [
        Served(capi.INFRASTRUCTURE_GROUP, "VSphereCluster", ("v1beta1",), "infrastructure-vsphere")]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sandbox.controllers.config import fast
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=2, nodes=1, cluster_api=["cluster-1"], controller_config=fast(),
                         state_dir=tmp_path_factory.mktemp("capi-mgmt")) as f:
        yield f


def mark(admin_api: APIClient, fleet: Any, name: str) -> ManagementCluster:
    cluster_id = register_cluster(admin_api, fleet.cluster(name).kubeconfig.read_text(), unique(name))
    response = admin_api.post("/api/provisioning/management-clusters/", {"cluster": cluster_id}, format="json")
    assert response.status_code == 201, response.content
    return ManagementCluster.objects.get(pk=response.json()["id"])


@pytest.mark.django_db
def test_the_sandbox_cluster_api_slice_is_a_ready_management_cluster(admin_api: APIClient, fleet: Any) -> None:
    mc = mark(admin_api, fleet, "cluster-1")
    assert management.check(mc.pk) == CheckStatus.READY
    row = admin_api.get(f"/api/provisioning/management-clusters/{mc.pk}/").json()
    assert row["status"] == "ready"
    assert row["infrastructure_providers"] == ["sandbox"]
    assert row["control_plane_providers"] == ["kubeadm"]
    assert row["capi_versions"][capi.CLUSTER_GROUP] == ["v1beta1"]
    assert row["message_code"] == "management_ready"
    assert row["checked"]


@pytest.mark.django_db
def test_a_cluster_without_cluster_api_or_unreachable_is_refused_with_a_reason(admin_api: APIClient,
                                                                              fleet: Any) -> None:
    mc = mark(admin_api, fleet, "cluster-2")
    assert management.check(mc.pk) == CheckStatus.ERROR
    mc.refresh_from_db()
    assert mc.message_code == "management_capi_missing"
    assert mc.message_params == {"missing": "Cluster, MachineDeployment, MachineSet, Machine"}
    assert "clusterctl init" in mc.message
    Cluster.objects.filter(pk=mc.cluster_id).update(server="https://127.0.0.1:9")  # nothing listens there
    assert management.check(mc.pk) == CheckStatus.ERROR
    mc.refresh_from_db()
    assert mc.message_code == "management_unreachable"
    assert mc.message_params["reason"]


@pytest.mark.django_db
def test_the_demo_seed_makes_the_fleets_cluster_api_cluster_a_management_cluster(admin_api: APIClient,
                                                                                 fleet: Any) -> None:
    from django.core.management import call_command

    register_cluster(admin_api, fleet.cluster("cluster-1").kubeconfig.read_text(), "cluster-1")
    for _run in range(2):  # idempotent: the second run checks the same management cluster again
        call_command("seed_demo_provisioning", fleet=fleet.state_dir / "fleet.json", stdout=StringIO())
    mc = ManagementCluster.objects.get(cluster__name="cluster-1")
    assert mc.status == CheckStatus.READY
    assert mc.infrastructure_providers == ["sandbox"]
