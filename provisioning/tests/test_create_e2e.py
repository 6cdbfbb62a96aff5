"""The issue's provisioning story end to end, against the sandbox's Cluster API slice, a real
Celery worker and PostgreSQL: an admin marks a cluster as a management cluster, plans a cluster
from the builtin sandbox template (render + server-side dry-run), creates it; the task applies the
objects, follows the Cluster and its Machines live, registers the new cluster automatically when
Cluster API writes its kubeconfig, the cluster goes Connected and the watcher syncs its Nodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import FAST, client_for, synced
from clusters.watcher.config import WatcherConfig
from clusters.watcher.engine import Engine, EngineThread
from portal.testing import Subscriber, unique, wait_for
from provisioning import capi
from provisioning.models import OperationStatus, Phase, ProvisionedCluster
from provisioning.tests.provision_helpers import (
    body,
    capi_sandbox,
    finished,
    register_management,
    sandbox_template,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


@pytest.fixture(scope="module")
def capi_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from capi_sandbox(tmp_path_factory.mktemp("capi-create"))


def test_provision_a_cluster_see_it_registered_connected_and_watched(admin_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet)
    assert mc.infrastructure_providers == ["sandbox"]
    assert mc.control_plane_providers == ["kubeadm"]
    assert mc.capi_versions[capi.CLUSTER_GROUP] == ["v1beta1"]
    name = unique("prov")
    request = body(name, mc)

    plan = admin_api.post("/api/provisioning/clusters/plan/", request, format="json")
    assert plan.status_code == 200, plan.content
    kinds = sorted(o["kind"] for o in plan.json()["objects"])
    assert kinds == ["Cluster", "KubeadmConfigTemplate", "KubeadmControlPlane", "MachineDeployment", "SandboxCluster",
                     "SandboxMachineTemplate", "SandboxMachineTemplate"]
    assert plan.json()["dry_run"]["ok"] is True
    assert not ProvisionedCluster.objects.exists()  # a plan writes nothing

    sub = Subscriber("provisioning")
    created = admin_api.post("/api/provisioning/clusters/", request, format="json")
    assert created.status_code == 202, created.content
    pc_id, op_id = created.json()["provisioned"]["id"], created.json()["operation"]["id"]
    assert created.json()["provisioned"]["phase"] == Phase.PENDING
    assert created.json()["operation"]["kind"] == "create"

    # live progress: the row moves through provisioning with machines counted
    sub.wait(lambda e: e["type"] == "provisioned.updated" and e["data"]["id"] == pc_id
             and e["data"]["phase"] == Phase.PROVISIONING, timeout=30)
    sub.wait(lambda e: e["type"] == "provisioned.updated" and e["data"]["id"] == pc_id
             and e["data"]["progress"].get("machines_running", 0) >= 1, timeout=30)

    op = finished(op_id)
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    assert op.message_code == "provisioning_succeeded"
    assert op.message_params == {"running": 3, "total": 3}
    pc = ProvisionedCluster.objects.select_related("cluster").get(pk=pc_id)
    assert pc.phase == Phase.PROVISIONED
    assert pc.progress["machines_running"] == 3
    assert pc.progress["control_plane"]["initialized"] is True
    assert [p["machine_size"] for p in pc.progress["pools"]] == ["small"]
    assert pc.progress["kubeconfig"] is True
    assert {c["type"] for c in pc.conditions} >= {"ControlPlaneInitialized"}

    # registered automatically, with the request's stage and labels, and checked the normal way
    cluster = pc.cluster
    assert cluster is not None
    assert cluster.name == name
    assert cluster.stage == "stage"
    assert cluster.labels == {"team": "infra", "provisioned": "true"}
    assert cluster.auth_method != "token"  # Cluster API's kubeconfig: a client certificate
    assert "BEGIN" not in cluster.credentials_encrypted  # stored encrypted
    wait_for(lambda: Cluster.objects.get(pk=cluster.pk).status == "connected", timeout=30, what="connected")

    # every object the portal applied carries its labels (listed by selector on the management cluster)
    with client_for(capi_fleet, "cluster-1") as kube:
        applied = kube.list_objects("MachineDeployment", mc.namespace, api_version=capi.CLUSTER_API,
                                    label_selector=f"{capi.MANAGED_BY_LABEL}={name}")
        assert [o["metadata"]["name"] for o in applied] == [f"{name}-workers"]

    # the detail shows the operation, the sizes and the versions it may upgrade to
    detail = admin_api.get(f"/api/provisioning/clusters/{pc_id}/").json()
    assert detail["cluster"] == cluster.pk
    assert [o["status"] for o in detail["operations"]] == ["succeeded"]
    assert detail["machine_sizes"] == ["small", "medium", "large", "xlarge"]
    assert detail["upgrade_versions"] == ["v1.31.1"]
    rows = admin_api.get(f"/api/provisioning/clusters/?cluster={cluster.pk}").json()["results"]
    assert [r["id"] for r in rows] == [pc_id]

    # the watcher starts on it: its three Nodes (one control plane, two workers) arrive
    with EngineThread(Engine(config=WatcherConfig(**FAST.as_dict()), holder="prov-e2e")):
        wait_for(lambda: synced(Cluster.objects.get(pk=cluster.pk)), timeout=30, what="the new cluster synced")
        wait_for(lambda: KubeObject.objects.filter(cluster_id=cluster.pk, kind="Node").count() == 3, timeout=30,
                 what="three nodes watched")
    nodes = KubeObject.objects.filter(cluster_id=cluster.pk, kind="Node")
    assert sum(1 for n in nodes if "node-role.kubernetes.io/control-plane" in n.labels) == 1

    # the name is now taken, for a registered and a live provisioned cluster alike
    again = admin_api.post("/api/provisioning/clusters/", request, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "cluster_name_taken"
    # and the management cluster cannot be unmarked while it manages a live cluster
    gone = admin_api.delete(f"/api/provisioning/management-clusters/{mc.pk}/")
    assert gone.status_code == 409
    assert gone.json()["code"] == "management_cluster_in_use"


def test_the_plan_reports_what_the_management_cluster_refuses(admin_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="capi-plan")
    with client_for(capi_fleet, "cluster-1") as kube:  # an existing namespace: every object is dry-run
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "capi-plan"}}, field_manager="test")
    files = dict(sandbox_template().files)
    files["templates/control-plane.yaml"] = files["templates/control-plane.yaml"].split("  kubeadmConfigSpec:")[0]
    custom = admin_api.post("/api/provisioning/templates/", {"name": unique("nokubeadm"), "provider": "sandbox",
                                                             "files": files}, format="json")
    assert custom.status_code == 201, custom.content  # renders fine; only the API server knows better

    good = admin_api.post("/api/provisioning/clusters/plan/", body(unique("plan"), mc), format="json").json()
    assert good["dry_run"] == {"ok": True, "namespace_exists": True, "errors": []}
    name = unique("plan")
    bad = admin_api.post("/api/provisioning/clusters/plan/", {**body(name, mc), "template": custom.json()["id"]},
                         format="json")
    assert bad.status_code == 200, bad.content
    dry_run = bad.json()["dry_run"]
    assert dry_run["ok"] is False
    assert [e["object"] for e in dry_run["errors"]] == [f"KubeadmControlPlane/{name}-control-plane"]
    assert "kubeadmConfigSpec" in dry_run["errors"][0]["message"]
    assert not ProvisionedCluster.objects.exists()
    with client_for(capi_fleet, "cluster-1") as kube:  # a dry-run stores nothing
        assert kube.list_objects("Cluster", "capi-plan", api_version=capi.CLUSTER_API) == []
