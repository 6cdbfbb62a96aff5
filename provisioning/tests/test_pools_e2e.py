"""Node pools end to end, against the sandbox's Cluster API slice, a real Celery worker and
PostgreSQL: scale a pool up, then down with Cluster API's drain held by a PodDisruptionBudget and
shown live until the budget goes; add a pool, roll it onto bigger machines, delete it; a machine
that never becomes ready, or fails its bootstrap, ends the operation with the machine's reason; a step
whose task message was lost is sent again by the reconcile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.kube.client import KubeClient
from clusters.tests.helpers import client_for
from portal.testing import Subscriber, make_user, wait_for
from provisioning import capi
from provisioning.models import OperationStatus, Phase, ProvisionedCluster, ProvisioningOperation
from provisioning.tasks import reconcile
from provisioning.tests.lifecycle_helpers import provision, settled
from provisioning.tests.provision_helpers import capi_sandbox, register_management

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


@pytest.fixture(scope="module")
def capi_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from capi_sandbox(tmp_path_factory.mktemp("capi-pools"))


@pytest.fixture
def operator_api(db: None) -> APIClient:
    api = APIClient()
    api.force_authenticate(make_user("pool-operator", role="operator"))
    return api


def pools_of(api: APIClient, pc: ProvisionedCluster) -> dict[str, dict[str, Any]]:
    response = api.get(f"/api/provisioning/clusters/{pc.pk}/pools/")
    assert response.status_code == 200, response.content
    return {p["name"]: p for p in response.json()}


def change(api: APIClient, method: str, path: str, data: dict[str, Any] | None = None) -> int:
    response = getattr(api, method)(path, data, format="json")
    assert response.status_code == 202, response.content
    return int(response.json()["operation"]["id"])


def worker_nodes(kube: KubeClient) -> list[str]:
    nodes = kube.list_objects("Node", api_version="v1")
    return sorted(n["metadata"]["name"] for n in nodes
                  if "node-role.kubernetes.io/control-plane" not in (n["metadata"].get("labels") or {}))


def test_scale_up_then_down_with_the_drain_shown_until_the_budget_allows_it(
        admin_api: APIClient, operator_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="pools-scale")
    pc = provision(admin_api, mc, prefix="scale")
    pool = f"{pc.name}-workers"
    assert pools_of(operator_api, pc)[pool]["replicas"] == 2
    assert pools_of(operator_api, pc)[pool]["machine_size"] == "small"

    sub = Subscriber(f"provisioning.{pc.pk}")
    op_id = change(operator_api, "patch", f"/api/provisioning/clusters/{pc.pk}/pools/{pool}/", {"replicas": 3})
    op = settled(op_id)
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    assert op.message_code == "pool_scaled"
    row = pools_of(operator_api, pc)[pool]
    assert (row["replicas"], row["ready"], len(row["machines"])) == (3, 3, 3)
    assert all(m["phase"] == "Running" for m in row["machines"])
    sub.wait(lambda e: e["type"] == "operation.updated" and e["data"]["id"] == op_id
             and e["data"]["status"] == "running", timeout=5)
    assert ProvisionedCluster.objects.get(pk=pc.pk).phase == Phase.PROVISIONED

    # a pod on every worker, each held by a budget that allows no disruption: the drain has to wait
    with client_for(capi_fleet, pc.name) as kube:
        workers = worker_nodes(kube)
        assert len(workers) == 3
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}, field_manager="test")
        for node in workers:
            kube.apply({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"held-{node}"[:63], "namespace": "shop", "labels": {"app": "held"}},
                        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx:1.27"}]}},
                       field_manager="test")
        kube.apply({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                    "metadata": {"name": "held", "namespace": "shop"},
                    "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "held"}}}}, field_manager="test")
        wait_for(lambda: all((p.get("status") or {}).get("phase") == "Running"
                             for p in kube.list_objects("Pod", "shop", api_version="v1")), timeout=20,
                 what="the held pods running")

        op_id = change(operator_api, "patch", f"/api/provisioning/clusters/{pc.pk}/pools/{pool}/", {"replicas": 2})
        draining = wait_for(lambda: ProvisioningOperation.objects.filter(
            pk=op_id, progress__draining__0__machine__isnull=False).first(), timeout=30, what="the drain shown")
        assert draining.status == OperationStatus.RUNNING
        assert draining.message_code == "pool_rolling"
        assert draining.message_params["draining"] == [draining.progress["draining"][0]["machine"]]
        assert "disruption budget" in draining.progress["draining"][0]["message"]
        assert "Draining" in draining.message
        # the provisioned cluster's progress (the follow step's) shows it too, and the socket carried it
        follow = ProvisionedCluster.objects.get(pk=pc.pk).progress
        assert any(m["draining"] for m in follow["machines"])
        sub.wait(lambda e: e["type"] == "operation.updated" and e["data"]["id"] == op_id
                 and bool(e["data"]["progress"].get("draining")), timeout=5)
        assert ProvisionedCluster.objects.get(pk=pc.pk).phase == Phase.UPDATING

        kube.delete_object("PodDisruptionBudget", "held", "shop", api_version="policy/v1")
        op = settled(op_id)
        assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
        assert len(worker_nodes(kube)) == 2
    row = pools_of(operator_api, pc)[pool]
    assert (row["replicas"], len(row["machines"])) == (2, 2)
    assert ProvisionedCluster.objects.get(pk=pc.pk).phase == Phase.PROVISIONED


def test_add_a_pool_resize_it_and_delete_it(admin_api: APIClient, operator_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="pools-add")
    pc = provision(admin_api, mc, prefix="addp", pools=[{"name": "workers", "machineSize": "small", "replicas": 1}])
    base = f"/api/provisioning/clusters/{pc.pk}/pools/"

    op = settled(change(operator_api, "post", base, {"name": "extra", "replicas": 1, "machine_size": "medium"}))
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    extra = f"{pc.name}-extra"
    pools = pools_of(operator_api, pc)
    assert sorted(pools) == sorted([f"{pc.name}-workers", extra])
    assert pools[extra]["machine_size"] == "medium"
    assert pools[extra]["version"] == "v1.30.4"
    first = pools[extra]["machines"][0]["name"]
    with client_for(capi_fleet, "cluster-1") as kube:  # rendered like the template's pools, labelled for the portal
        md = kube.get_object("MachineDeployment", extra, mc.namespace, api_version=capi.CLUSTER_API)
        assert md["metadata"]["labels"][capi.MANAGED_BY_LABEL] == pc.name

    op = settled(change(operator_api, "patch", f"{base}{extra}/", {"machine_size": "large"}))
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    assert op.progress["template"].startswith(f"{extra}-")
    pools = pools_of(operator_api, pc)
    assert pools[extra]["machine_size"] == "large"
    assert pools[extra]["infrastructure_template"] == op.progress["template"]
    assert [m["name"] for m in pools[extra]["machines"]] != [first]  # rolled onto a new machine
    with client_for(capi_fleet, pc.name) as kube:
        node = kube.get_object("Node", pools[extra]["machines"][0]["node"], api_version="v1")
        assert node["status"]["capacity"]["cpu"] == "8"

    op = settled(change(operator_api, "delete", f"{base}{extra}/"))
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    assert sorted(pools_of(operator_api, pc)) == [f"{pc.name}-workers"]
    last = operator_api.delete(f"{base}{pc.name}-workers/")
    assert last.status_code == 409
    assert last.json()["code"] == "last_pool"


def test_a_machine_that_never_becomes_ready_or_fails_its_bootstrap_ends_the_operation(
        admin_api: APIClient, operator_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="pools-fail")
    pc = provision(admin_api, mc, prefix="fail", pools=[
        {"name": "workers", "machineSize": "small", "replicas": 1},
        {"name": "never", "machineSize": "small", "replicas": 0, "fault": "NeverReady"},
        {"name": "boot", "machineSize": "small", "replicas": 0, "fault": "BootstrapFailure"}])
    base = f"/api/provisioning/clusters/{pc.pk}/pools/"

    op = settled(change(operator_api, "patch", f"{base}{pc.name}-boot/", {"replicas": 1}))
    assert op.status == OperationStatus.FAILED
    assert op.message_code == "machine_failed"
    assert op.message_params["reason"] == "BootstrapFailed"
    row = ProvisionedCluster.objects.get(pk=pc.pk)
    assert row.phase == Phase.PROVISIONED  # the cluster still works; its row says what failed
    assert row.message_code == "machine_failed"

    with override_settings(PROVISIONING_LIFECYCLE_DEADLINE=4):
        op_id = change(operator_api, "patch", f"{base}{pc.name}-never/", {"replicas": 1})
    op = settled(op_id)
    assert op.status == OperationStatus.FAILED
    assert op.message_code == "machine_stuck"
    assert op.message_params["machine"].startswith(f"{pc.name}-never-")
    assert op.message_params["phase"] == "Provisioning"


def test_a_lost_step_is_sent_again_by_the_reconcile(admin_api: APIClient, capi_fleet: Any) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="pools-lost")
    pc = provision(admin_api, mc, prefix="lost", pools=[{"name": "workers", "machineSize": "small", "replicas": 1}])
    # an intent whose task message never arrived (written without enqueueing, two minutes ago)
    op = ProvisioningOperation.objects.create(
        provisioned=pc, kind="scale_pool", spec={"pool": f"{pc.name}-workers", "replicas": 2, "from": 1},
        created=timezone.now() - timedelta(minutes=2), deadline=timezone.now() + timedelta(minutes=10))
    ProvisionedCluster.objects.filter(pk=pc.pk).update(phase=Phase.UPDATING)
    assert reconcile() >= 1  # the beat's task, run here: it sends the lost step to the worker
    done = settled(op.pk)
    assert done.status == OperationStatus.SUCCEEDED, (done.message_code, done.message)
    assert done.progress["step"] >= 2
    assert ProvisionedCluster.objects.get(pk=pc.pk).phase == Phase.PROVISIONED
    assert len(pools_of(admin_api, pc)[f"{pc.name}-workers"]["machines"]) == 2
