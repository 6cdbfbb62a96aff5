"""The lifecycle API on rows made directly (no management cluster needed): who may, and every bad
input answered with a stable code before anything is written."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from rest_framework.test import APIClient

from portal.testing import make_user
from provisioning.models import (
    OperationKind,
    OperationStatus,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)
from provisioning.tests.lifecycle_helpers import make_provisioned
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db


_users = itertools.count(1)


def client(role: str | None = None) -> APIClient:
    api = APIClient()
    api.force_authenticate(make_user(f"u-{role or 'member'}-{next(_users)}", **({"role": role} if role else {})))
    return api


def url(pc: ProvisionedCluster, rest: str = "") -> str:
    return f"/api/provisioning/clusters/{pc.pk}/{rest}"


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = dict(response.json())
    assert body["code"] == code, body
    return body


def test_pools_list_shows_pools_machines_and_sizes() -> None:
    pc = make_provisioned(pools=[("pc-a-md-0", 2), ("pc-a-gpu", 1)], name="pc-a")
    pc.progress["pools"][1]["infrastructure_template"] = "pc-a-gpu-large"  # as the builtin templates name it
    pc.save()
    response = client("auditor").get(url(pc, "pools/"))
    assert response.status_code == 200, response.content
    rows = {r["name"]: r for r in response.json()}
    assert set(rows) == {"pc-a-md-0", "pc-a-gpu"}
    assert rows["pc-a-md-0"]["replicas"] == 2
    assert len(rows["pc-a-md-0"]["machines"]) == 2
    assert rows["pc-a-md-0"]["machine_size"] == "medium"  # from the create parameters
    assert rows["pc-a-gpu"]["machine_size"] == "large"  # from its machine template's name
    assert {m["pool"] for m in rows["pc-a-gpu"]["machines"]} == {"pc-a-gpu"}


def test_members_see_nothing_and_auditors_change_nothing() -> None:
    pc = make_provisioned()
    error(client().get(url(pc, "pools/")), 404, "provisioned_not_found")
    error(client().patch(url(pc, f"pools/{pc.name}-md-0/"), {"replicas": 4}, format="json"), 404,
          "provisioned_not_found")
    error(client("auditor").patch(url(pc, f"pools/{pc.name}-md-0/"), {"replicas": 4}, format="json"), 403,
          "operator_required")
    error(client("auditor").post(url(pc, "upgrade/"), {"version": "v1.31.1"}, format="json"), 403,
          "operator_required")
    assert not ProvisioningOperation.objects.exists()


def test_scale_writes_the_intent_and_marks_the_cluster_updating() -> None:
    pc = make_provisioned()
    response = client("operator").patch(url(pc, f"pools/{pc.name}-md-0/"), {"replicas": 5}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["operation"]["kind"] == OperationKind.SCALE_POOL
    assert body["operation"]["spec"] == {"pool": f"{pc.name}-md-0", "replicas": 5, "from": 3}
    assert body["provisioned"]["phase"] == Phase.UPDATING
    op = ProvisioningOperation.objects.get()
    assert op.status == OperationStatus.PENDING
    assert op.deadline is not None
    # one operation at a time
    error(client("operator").patch(url(pc, f"pools/{pc.name}-md-0/"), {"replicas": 4}, format="json"), 409,
          "provisioning_operation_running")


@pytest.mark.parametrize("replicas", [-1, 101, 10**12])
def test_scale_out_of_range_is_refused(replicas: int) -> None:
    pc = make_provisioned()
    body = error(client("operator").patch(url(pc, f"pools/{pc.name}-md-0/"), {"replicas": replicas}, format="json"),
                 400, "pool_replicas_invalid")
    assert body["params"]["max"] == 100
    assert not ProvisioningOperation.objects.exists()
    pc.refresh_from_db()
    assert pc.phase == Phase.PROVISIONED


def test_scaling_below_the_control_planes_needs_is_refused() -> None:
    pc = make_provisioned()
    body = error(client("operator").patch(url(pc, f"pools/{pc.name}-md-0/"), {"replicas": 0}, format="json"), 400,
                 "pool_replicas_invalid")
    assert body["params"]["min"] == 1
    two = make_provisioned(pools=[("two-a", 2), ("two-b", 1)], name="two")
    ok = client("operator").patch(url(two, "pools/two-a/"), {"replicas": 0}, format="json")
    assert ok.status_code == 202, ok.content


def test_patch_needs_exactly_one_change_and_a_known_pool() -> None:
    pc = make_provisioned()
    api = client("operator")
    error(api.patch(url(pc, f"pools/{pc.name}-md-0/"), {}, format="json"), 400, "pool_change_invalid")
    error(api.patch(url(pc, f"pools/{pc.name}-md-0/"), {"replicas": 2, "machine_size": "large"}, format="json"), 400,
          "pool_change_invalid")
    error(api.patch(url(pc, "pools/nope/"), {"replicas": 2}, format="json"), 404, "pool_not_found")


def test_the_last_pool_cannot_be_deleted() -> None:
    pc = make_provisioned()
    api = client("operator")
    error(api.delete(url(pc, f"pools/{pc.name}-md-0/")), 409, "last_pool")
    two = make_provisioned(pools=[("dp-a", 2), ("dp-b", 1)], name="dp")
    response = api.delete(url(two, "pools/dp-b/"))
    assert response.status_code == 202, response.content
    assert response.json()["operation"]["kind"] == OperationKind.DELETE_POOL


def test_add_pool_validates_name_size_and_count() -> None:
    pc = make_provisioned(name="ap")
    api = client("operator")
    error(api.post(url(pc, "pools/"), {"name": "Bad_Name", "replicas": 1, "machine_size": "small"}, format="json"),
          400, "pool_name_invalid")
    error(api.post(url(pc, "pools/"), {"name": "md-0", "replicas": 1, "machine_size": "small"}, format="json"),
          409, "pool_exists")
    body = error(api.post(url(pc, "pools/"), {"name": "gpu", "replicas": 1, "machine_size": "huge"}, format="json"),
                 400, "machine_size_unknown")
    assert body["params"]["sizes"] == ["small", "medium", "large", "xlarge"]
    error(api.post(url(pc, "pools/"), {"name": "gpu", "replicas": 500, "machine_size": "large"}, format="json"),
          400, "pool_replicas_invalid")
    error(api.post(url(pc, "pools/"), {"name": "gpu", "replicas": 1, "machine_size": "large", "x": 1},
                   format="json"), 400, "invalid")
    assert not ProvisioningOperation.objects.exists()
    ok = api.post(url(pc, "pools/"), {"name": "gpu", "replicas": 2, "machine_size": "large"}, format="json")
    assert ok.status_code == 202, ok.content
    assert ok.json()["operation"]["spec"] == {"pool": "ap-gpu", "replicas": 2, "machine_size": "large"}


def test_resize_refuses_the_same_size_and_providers_without_one() -> None:
    pc = make_provisioned()
    api = client("operator")
    error(api.patch(url(pc, f"pools/{pc.name}-md-0/"), {"machine_size": "medium"}, format="json"), 400,
          "machine_size_unchanged")
    ok = api.patch(url(pc, f"pools/{pc.name}-md-0/"), {"machine_size": "large"}, format="json")
    assert ok.status_code == 202, ok.content
    assert ok.json()["operation"]["spec"] == {"pool": f"{pc.name}-md-0", "machine_size": "large", "from": "medium"}
    vs = make_provisioned(provider="vsphere")  # its template names no machine sizes
    error(api.patch(url(vs, f"pools/{vs.name}-md-0/"), {"machine_size": "large"}, format="json"), 400,
          "resize_unsupported")


def test_upgrade_refuses_skips_downgrades_and_unknown_versions() -> None:
    pc = make_provisioned(version="v1.29.8")  # the sandbox template offers v1.28.13, v1.29.8, v1.30.4, v1.31.1
    api = client("operator")
    body = error(api.post(url(pc, "upgrade/"), {"version": "v1.31.1"}, format="json"), 400, "version_skip")
    assert body["params"] == {"from": "v1.29.8", "to": "v1.31.1"}
    error(api.post(url(pc, "upgrade/"), {"version": "v1.28.13"}, format="json"), 400, "version_downgrade")
    error(api.post(url(pc, "upgrade/"), {"version": "v1.30.9"}, format="json"), 400, "version_unknown")
    error(api.post(url(pc, "upgrade/"), {"version": "latest"}, format="json"), 400, "version_unknown")
    error(api.post(url(pc, "upgrade/"), {"version": "v1.29.8"}, format="json"), 400, "version_unchanged")
    assert not ProvisioningOperation.objects.exists()
    ok = api.post(url(pc, "upgrade/"), {"version": "v1.30.4"}, format="json")
    assert ok.status_code == 202, ok.content
    assert ok.json()["operation"]["spec"] == {"version": "v1.30.4", "from": "v1.29.8"}


def test_a_cluster_not_yet_provisioned_or_deleted_is_not_operated() -> None:
    api = client("operator")
    pending = make_provisioned(phase=Phase.PROVISIONING)
    pending.progress = {}
    pending.save()
    error(api.patch(url(pending, f"pools/{pending.name}-md-0/"), {"replicas": 2}, format="json"), 409,
          "provisioned_not_ready")
    gone = make_provisioned(phase=Phase.DELETED)
    error(api.post(url(gone, "upgrade/"), {"version": "v1.31.1"}, format="json"), 409, "provisioned_deleted")


def test_a_pool_the_template_cannot_render_is_refused_before_anything_is_written() -> None:
    pc = make_provisioned(name="rn")
    body = error(client("operator").post(url(pc, "pools/"), {"name": "a-very-long-pool-name-x", "replicas": 1,
                                                              "machine_size": "small"}, format="json"),
                 400, "template_parameters_invalid")
    assert body["params"] == {"pool": "rn-a-very-long-pool-name-x"}
    assert not ProvisioningOperation.objects.exists()


def test_delete_confirms_refuses_live_service_maps_and_force_is_for_admins() -> None:
    pc = make_provisioned(name="doomed")
    workspace = Workspace.objects.create(name="shop-team")
    assert pc.cluster is not None
    ServiceMap.objects.create(workspace=workspace, cluster=pc.cluster, namespace="shop")
    ServiceMap.objects.create(workspace=workspace, cluster=pc.cluster, namespace="cart")
    admin, operator = client("admin"), client("operator")
    target = url(pc)
    error(operator.delete(target, {"confirm": "doomed"}, format="json"), 403, "admin_required")
    error(operator.delete(target, {"confirm": "doomed", "force": True}, format="json"), 403, "admin_required")
    error(admin.delete(target, {"confirm": "doome"}, format="json"), 400, "confirm_mismatch")
    error(admin.delete(target), 400, "confirm_mismatch")
    body = error(admin.delete(target, {"confirm": "doomed"}, format="json"), 409, "service_maps_live")
    assert body["params"] == {"cluster": "doomed", "count": 2, "service_maps": ["cart", "shop"]}
    assert not ProvisioningOperation.objects.exists()
    response = admin.delete(target, {"confirm": "doomed", "force": True}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["operation"]["kind"] == OperationKind.DELETE
    assert response.json()["provisioned"]["phase"] == Phase.DELETING
    error(admin.delete(target, {"confirm": "doomed"}, format="json"), 409, "service_maps_live")


def test_delete_supersedes_a_running_operation_and_takes_the_query_string() -> None:
    pc = make_provisioned(name="stuck")
    running = ProvisioningOperation.objects.create(provisioned=pc, kind=OperationKind.CREATE,
                                                   status=OperationStatus.RUNNING)
    response = client("admin").delete(f"{url(pc)}?confirm=stuck")
    assert response.status_code == 202, response.content
    running.refresh_from_db()
    assert running.status == OperationStatus.FAILED
    assert running.message_code == "provisioning_operation_superseded"


def test_operations_are_listed_newest_first_in_keyset_pages() -> None:
    pc = make_provisioned()
    for kind in (OperationKind.CREATE, OperationKind.SCALE_POOL, OperationKind.UPGRADE):
        ProvisioningOperation.objects.create(provisioned=pc, kind=kind, status=OperationStatus.SUCCEEDED)
    api = client("auditor")
    first = api.get(url(pc, "operations/?page_size=2"))
    assert first.status_code == 200, first.content
    assert [r["kind"] for r in first.json()["results"]] == [OperationKind.UPGRADE, OperationKind.SCALE_POOL]
    second = api.get(first.json()["next"])
    assert [r["kind"] for r in second.json()["results"]] == [OperationKind.CREATE]
    error(client().get(url(pc, "operations/")), 404, "provisioned_not_found")
