"""API tests of the workspaces app (docs/workspaces-api.md) against ORM-made clusters and read-model
rows: no cluster is contacted (the tasks the actions enqueue on commit never run inside these
test transactions), so what would reach a cluster is checked on the rows."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster, KubeObject
from portal.models import AuditRecord, User
from portal.testing import make_user
from workspaces.models import ClusterAllocation, Grant, Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db
_uid = itertools.count(1)
ALL_GRANTS = sorted(g.value for g in Grant)


def api_for(user: Any) -> APIClient:
    """A client for ``user``, freshly loaded (access caches memberships on the user object)."""
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


def make_cluster(name: str) -> Cluster:
    return Cluster.objects.create(name=name, server="https://127.0.0.1:9")


def kube(cluster: Cluster, kind: str, name: str, namespace: str = "", data: dict[str, Any] | None = None,
         phase: str = "") -> KubeObject:
    return KubeObject.objects.create(cluster=cluster, kind=kind, namespace=namespace, name=name,
                                     uid=f"uid-{next(_uid)}", resource_version="1", phase=phase, data=data or {})


def quota_row(sm: ServiceMap, used: dict[str, str]) -> KubeObject:
    return kube(sm.cluster, "ResourceQuota", "portal-quota", sm.namespace,
                data={"hard": dict(sm.quota), "used": used})


def errors(response: Any) -> dict[str, list[str]]:
    body = response.json()
    assert "errors" in body, body
    return dict(body["errors"])


def audited(action: str, **filters: Any) -> bool:
    return AuditRecord.objects.filter(action=action, **filters).exists()


@pytest.fixture
def workspace(admin_user: Any) -> Workspace:
    return Workspace.objects.create(name="team-a", display_name="Team A", created_by=admin_user)


def member(workspace: Workspace, username: str, role: str) -> User:
    user = make_user(username)
    Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))
    return user


@pytest.fixture
def manager(workspace: Workspace) -> User:
    return member(workspace, "mia", "manager")


@pytest.fixture
def developer(workspace: Workspace) -> User:
    return member(workspace, "dev", "developer")


@pytest.fixture
def viewer(workspace: Workspace) -> User:
    return member(workspace, "vic", "viewer")


@pytest.fixture
def cluster() -> Cluster:
    return make_cluster("seoul-prod")


@pytest.fixture
def allocation(workspace: Workspace, cluster: Cluster) -> ClusterAllocation:
    return ClusterAllocation.objects.create(
        workspace=workspace, cluster=cluster, status="ready",
        quota={"requests.cpu": "8", "requests.memory": "16Gi", "pods": "100"})


def service_map(allocation: ClusterAllocation, namespace: str, quota: dict[str, str], **kwargs: Any) -> ServiceMap:
    return ServiceMap.objects.create(workspace=allocation.workspace, cluster=allocation.cluster, namespace=namespace,
                                     quota=quota, status=kwargs.pop("status", "ready"), **kwargs)


# ---------------------------------------------------------------------------- workspaces


def test_admin_creates_a_workspace_and_non_admins_cannot(admin_api: APIClient, user: Any,
                                                         operator_user: Any) -> None:
    response = admin_api.post("/api/workspaces/", {"name": "team-a", "display_name": "Team A",
                                                   "description": "the A team"}, format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["name"] == "team-a"
    assert row["display_name"] == "Team A"
    assert row["cluster_count"] == 0
    assert row["member_count"] == 0
    assert row["my_role"] is None
    assert row["my_grants"] == ALL_GRANTS
    assert row["quota_use"] == []
    assert audited("workspace.create", target_id=str(row["id"]))
    for someone in (user, operator_user):
        denied = api_for(someone).post("/api/workspaces/", {"name": "team-b"}, format="json")
        assert denied.status_code == 403
    assert not Workspace.objects.filter(name="team-b").exists()


@pytest.mark.parametrize("name", ["team-a", "TEAM-A", "Team-A"])
def test_duplicate_workspace_name_is_400_on_name(admin_api: APIClient, workspace: Workspace, name: str) -> None:
    response = admin_api.post("/api/workspaces/", {"name": name}, format="json")
    assert response.status_code == 400
    assert "name" in errors(response)
    assert Workspace.objects.count() == 1


def test_duplicate_name_case_insensitive_in_the_action(admin_user: Any, rf: Any) -> None:
    from portal.errors import Invalid
    from workspaces import actions

    Workspace.objects.create(name="Legacy")  # predates the validator
    with pytest.raises(Invalid) as info:  # a domain error (portal.errors), not DRF's
        actions.create_workspace(data={"name": "legacy"}, actor=admin_user, request=rf.post("/"))
    assert "name" in info.value.errors
    assert info.value.message == "Invalid input: name: A workspace named 'legacy' exists already."


@pytest.mark.parametrize("name", ["Team_A", "-team", "team-", "a" * 41, "", "team a"])
def test_workspace_name_must_be_a_dns_label(admin_api: APIClient, name: str) -> None:
    response = admin_api.post("/api/workspaces/", {"name": name}, format="json")
    assert response.status_code == 400
    assert "name" in errors(response)


def test_unknown_fields_are_refused(admin_api: APIClient) -> None:
    response = admin_api.post("/api/workspaces/", {"name": "team-a", "owner": "x"}, format="json")
    assert response.status_code == 400


def test_update_workspace(admin_api: APIClient, workspace: Workspace, manager: Any) -> None:
    response = admin_api.patch(f"/api/workspaces/{workspace.pk}/", {"display_name": "Alpha", "description": "d"},
                               format="json")
    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == "Alpha"
    workspace.refresh_from_db()
    assert (workspace.display_name, workspace.description) == ("Alpha", "d")
    assert audited("workspace.update", target_id=str(workspace.pk))
    # the name cannot change; members (even managers) cannot edit the workspace itself
    assert admin_api.patch(f"/api/workspaces/{workspace.pk}/", {"name": "x"}, format="json").status_code == 400
    assert api_for(manager).patch(f"/api/workspaces/{workspace.pk}/", {"display_name": "M"},
                                  format="json").status_code == 403


def test_delete_workspace_refused_while_service_maps_exist(admin_api: APIClient, workspace: Workspace,
                                                           allocation: ClusterAllocation) -> None:
    sm = service_map(allocation, "shop", {"requests.cpu": "1"})
    response = admin_api.delete(f"/api/workspaces/{workspace.pk}/")
    assert response.status_code == 409
    assert "service map" in response.json()["detail"]
    sm.delete()
    response = admin_api.delete(f"/api/workspaces/{workspace.pk}/")
    assert response.status_code == 204
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert audited("workspace.delete")


def test_list_shows_counts_role_grants_and_quota_use(workspace: Workspace, manager: Any, developer: Any,
                                                     allocation: ClusterAllocation) -> None:
    other_cluster = make_cluster("busan-prod")
    ClusterAllocation.objects.create(workspace=workspace, cluster=other_cluster,
                                     quota={"requests.cpu": "2", "pods": "10"})
    sm = service_map(allocation, "shop", {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "20"})
    quota_row(sm, {"requests.cpu": "1500m", "requests.memory": "1Gi", "pods": "3"})
    Workspace.objects.create(name="team-b")

    response = api_for(developer).get("/api/workspaces/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["name"] for r in rows] == ["team-a"]  # not team-b
    row = rows[0]
    assert row["cluster_count"] == 2
    assert row["member_count"] == 2
    assert row["service_map_count"] == 1
    assert row["my_role"] == "developer"
    assert row["my_grants"] == sorted(Role.objects.get(key="developer").grants)
    assert row["quota_use"] == [
        {"resource": "pods", "allocated": "110", "used": "3"},
        {"resource": "requests.cpu", "allocated": "10", "used": "1500m"},
        {"resource": "requests.memory", "allocated": "16Gi", "used": "1Gi"},
    ]
    detail = api_for(manager).get(f"/api/workspaces/{workspace.pk}/").json()
    assert detail["my_role"] == "manager"
    assert detail["my_grants"] == ALL_GRANTS


def test_operators_see_all_workspaces_without_grants(operator_user: Any, workspace: Workspace, user: Any) -> None:
    Workspace.objects.create(name="team-b")
    rows = api_for(operator_user).get("/api/workspaces/").json()["results"]
    assert [r["name"] for r in rows] == ["team-a", "team-b"]
    assert all(r["my_role"] is None and r["my_grants"] == [] for r in rows)
    assert api_for(operator_user).get(f"/api/workspaces/{workspace.pk}/").status_code == 200
    # an ordinary user sees none of them
    assert api_for(user).get("/api/workspaces/").json()["results"] == []
    assert api_for(user).get(f"/api/workspaces/{workspace.pk}/").status_code == 404


def test_list_filter_and_ordering(admin_api: APIClient) -> None:
    for name in ("alpha", "beta", "gamma"):
        Workspace.objects.create(name=name)
    assert [r["name"] for r in admin_api.get("/api/workspaces/", {"q": "et"}).json()["results"]] == ["beta"]
    names = [r["name"] for r in admin_api.get("/api/workspaces/", {"ordering": "-name"}).json()["results"]]
    assert names == ["gamma", "beta", "alpha"]


# ---------------------------------------------------------------------------- roles


def test_builtin_roles_and_grants(user_api: APIClient) -> None:
    roles = {r["key"]: r for r in user_api.get("/api/workspaces/roles/").json()}
    assert {"manager", "developer", "viewer"} <= set(roles)
    assert all(roles[k]["builtin"] for k in ("manager", "developer", "viewer"))
    assert sorted(roles["manager"]["grants"]) == ALL_GRANTS
    assert roles["viewer"]["grants"] == ["pods.logs"]
    assert "members.manage" not in roles["developer"]["grants"]
    assert "servicemaps.manage" not in roles["developer"]["grants"]
    assert "workloads.restart" in roles["developer"]["grants"]
    grants = user_api.get("/api/workspaces/roles/grants/").json()
    assert sorted(g["key"] for g in grants) == ALL_GRANTS
    assert all(g["description"] for g in grants)


def test_custom_roles(admin_api: APIClient, user: Any, workspace: Workspace) -> None:
    body = {"key": "restarter", "name": "Restarter", "description": "restart, not edit",
            "grants": ["workloads.restart", "workloads.restart"]}
    assert api_for(user).post("/api/workspaces/roles/", body, format="json").status_code == 403
    response = admin_api.post("/api/workspaces/roles/", body, format="json")
    assert response.status_code == 201, response.content
    role = response.json()
    assert role["grants"] == ["workloads.restart"]
    assert role["builtin"] is False
    assert audited("role.create", target_id=str(role["id"]))
    # duplicate key
    assert "key" in errors(admin_api.post("/api/workspaces/roles/", body, format="json"))

    response = admin_api.patch(f"/api/workspaces/roles/{role['id']}/",
                               {"grants": ["workloads.restart", "workloads.scale"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["grants"] == ["workloads.restart", "workloads.scale"]
    assert audited("role.update", target_id=str(role["id"]))

    # a member holding it gets exactly its grants
    restarter = make_user("rita")
    Membership.objects.create(workspace=workspace, user=restarter, role=Role.objects.get(pk=role["id"]))
    row = api_for(restarter).get(f"/api/workspaces/{workspace.pk}/").json()
    assert row["my_role"] == "restarter"
    assert row["my_grants"] == ["workloads.restart", "workloads.scale"]

    # in use: cannot be deleted
    response = admin_api.delete(f"/api/workspaces/roles/{role['id']}/")
    assert response.status_code == 409
    assert "1 member" in response.json()["detail"]
    Membership.objects.filter(user=restarter).delete()
    assert admin_api.delete(f"/api/workspaces/roles/{role['id']}/").status_code == 204
    assert audited("role.delete")
    assert not Role.objects.filter(key="restarter").exists()


@pytest.mark.parametrize("grants", [["workloads.fly"], ["workloads.edit"], "workloads.restart", [1], {"a": 1}])
def test_invalid_grants_are_400(admin_api: APIClient, grants: Any) -> None:
    response = admin_api.post("/api/workspaces/roles/", {"key": "odd", "name": "Odd", "grants": grants},
                              format="json")
    assert response.status_code == 400
    assert "grants" in errors(response)
    assert not Role.objects.filter(key="odd").exists()


def test_invalid_role_key_is_400(admin_api: APIClient) -> None:
    response = admin_api.post("/api/workspaces/roles/", {"key": "Odd Key", "name": "Odd"}, format="json")
    assert "key" in errors(response)


def test_builtin_roles_cannot_be_changed_or_deleted(admin_api: APIClient) -> None:
    for key in ("manager", "developer", "viewer"):
        role = Role.objects.get(key=key)
        assert admin_api.patch(f"/api/workspaces/roles/{role.pk}/", {"grants": []},
                               format="json").status_code == 409
        assert admin_api.delete(f"/api/workspaces/roles/{role.pk}/").status_code == 409
        role.refresh_from_db()
        assert role.builtin


# ---------------------------------------------------------------------------- members


def test_admin_adds_members_with_field_errors(admin_api: APIClient, workspace: Workspace) -> None:
    path = f"/api/workspaces/{workspace.pk}/members/"
    bob = make_user("bob")
    response = admin_api.post(path, {"user": "nobody", "role": "developer"}, format="json")
    assert response.status_code == 400
    assert set(errors(response)) == {"user"}
    response = admin_api.post(path, {"user": "bob", "role": "emperor"}, format="json")
    assert response.status_code == 400
    assert set(errors(response)) == {"role"}
    assert "developer" in errors(response)["role"][0]
    response = admin_api.post(path, {"user": "nobody", "role": "emperor"}, format="json")
    assert set(errors(response)) == {"user", "role"}
    inactive = make_user("gone")
    inactive.is_active = False
    inactive.save()
    assert "user" in errors(admin_api.post(path, {"user": "gone", "role": "viewer"}, format="json"))

    response = admin_api.post(path, {"user": "bob", "role": "developer"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["user"]["username"] == "bob"
    assert response.json()["role"] == "developer"
    assert audited("workspace.member_add", target_id=str(workspace.pk))
    response = admin_api.post(path, {"user": "bob", "role": "viewer"}, format="json")
    assert response.status_code == 409
    assert Membership.objects.get(workspace=workspace, user=bob).role.key == "developer"
    listed = admin_api.get(path).json()["results"]
    assert [(m["user"]["username"], m["role"]) for m in listed] == [("bob", "developer")]


def test_manager_adds_changes_and_removes_members(workspace: Workspace, manager: Any) -> None:
    mgr = api_for(manager)
    path = f"/api/workspaces/{workspace.pk}/members/"
    make_user("carol")
    response = mgr.post(path, {"user": "carol", "role": "developer"}, format="json")
    assert response.status_code == 201, response.content
    mid = response.json()["id"]
    response = mgr.patch(f"{path}{mid}/", {"role": "viewer"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "viewer"
    assert audited("workspace.member_change", target_id=str(workspace.pk))
    assert "role" in errors(mgr.patch(f"{path}{mid}/", {"role": "emperor"}, format="json"))
    assert mgr.delete(f"{path}{mid}/").status_code == 204
    assert audited("workspace.member_remove", target_id=str(workspace.pk))
    assert not Membership.objects.filter(pk=mid).exists()


def test_developer_may_read_members_but_not_manage_them(workspace: Workspace, manager: Any,
                                                        developer: Any) -> None:
    dev = api_for(developer)
    path = f"/api/workspaces/{workspace.pk}/members/"
    assert dev.get(path).status_code == 200
    make_user("carol")
    response = dev.post(path, {"user": "carol", "role": "viewer"}, format="json")
    assert response.status_code == 403
    assert "members.manage" in response.json()["detail"]
    mid = Membership.objects.get(user=manager).pk
    for response in (dev.patch(f"{path}{mid}/", {"role": "viewer"}, format="json"), dev.delete(f"{path}{mid}/"),
                     dev.get(f"{path}candidates/")):
        assert response.status_code == 403
        assert "members.manage" in response.json()["detail"]
    assert Membership.objects.get(pk=mid).role.key == "manager"


def test_strangers_get_404(workspace: Workspace, manager: Any, user: Any) -> None:
    stranger = api_for(user)
    mid = Membership.objects.get(user=manager).pk
    assert stranger.get(f"/api/workspaces/{workspace.pk}/members/").status_code == 404
    assert stranger.post(f"/api/workspaces/{workspace.pk}/members/", {"user": "alice", "role": "manager"},
                         format="json").status_code == 404
    assert stranger.delete(f"/api/workspaces/{workspace.pk}/members/{mid}/").status_code == 404
    assert stranger.get(f"/api/workspaces/{workspace.pk}/allocations/").status_code == 404
    assert stranger.get(f"/api/workspaces/{workspace.pk}/servicemaps/").status_code == 404
    assert not Membership.objects.filter(user=user).exists()


def test_last_manager_cannot_demote_or_remove_themselves(admin_api: APIClient, workspace: Workspace,
                                                         manager: Any, developer: Any) -> None:
    path = f"/api/workspaces/{workspace.pk}/members/"
    mid = Membership.objects.get(user=manager).pk
    mgr = api_for(manager)
    response = mgr.patch(f"{path}{mid}/", {"role": "developer"}, format="json")
    assert response.status_code == 409
    assert "last member" in response.json()["detail"]
    assert mgr.delete(f"{path}{mid}/").status_code == 409
    assert Membership.objects.get(pk=mid).role.key == "manager"
    # changing to another role that still grants members.manage is fine
    Role.objects.create(key="lead", name="Lead", grants=["members.manage"])
    assert mgr.patch(f"{path}{mid}/", {"role": "lead"}, format="json").status_code == 200
    # with a second manager, the first may step down
    dev_mid = Membership.objects.get(user=developer).pk
    assert api_for(manager).patch(f"{path}{dev_mid}/", {"role": "manager"}, format="json").status_code == 200
    assert api_for(manager).patch(f"{path}{mid}/", {"role": "viewer"}, format="json").status_code == 200
    # now the developer-turned-manager is the last one: an admin may still remove them
    assert api_for(developer).delete(f"{path}{dev_mid}/").status_code == 409
    assert admin_api.delete(f"{path}{dev_mid}/").status_code == 204
    assert not Membership.objects.filter(workspace=workspace, role__key="manager").exists()


def test_admin_may_demote_the_last_manager(admin_api: APIClient, workspace: Workspace, manager: Any) -> None:
    mid = Membership.objects.get(user=manager).pk
    response = admin_api.patch(f"/api/workspaces/{workspace.pk}/members/{mid}/", {"role": "viewer"}, format="json")
    assert response.status_code == 200


def test_candidates(workspace: Workspace, manager: Any, developer: Any) -> None:
    make_user("carol")
    make_user("carlos")
    gone = make_user("carl")
    gone.is_active = False
    gone.save()
    mgr = api_for(manager)
    response = mgr.get(f"/api/workspaces/{workspace.pk}/members/candidates/", {"q": "car"})
    assert response.status_code == 200
    assert [u["username"] for u in response.json()] == ["carlos", "carol"]
    everyone = {u["username"] for u in mgr.get(f"/api/workspaces/{workspace.pk}/members/candidates/").json()}
    assert "mia" not in everyone
    assert "dev" not in everyone
    assert "carol" in everyone


# ---------------------------------------------------------------------------- allocations


def test_create_allocation(admin_api: APIClient, workspace: Workspace, cluster: Cluster) -> None:
    path = f"/api/workspaces/{workspace.pk}/allocations/"
    response = admin_api.post(path, {"cluster": cluster.pk, "quota": {
        "requests.cpu": "8000m", "requests.memory": "16384Mi", "pods": "100"}}, format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["cluster"]["name"] == "seoul-prod"
    assert row["quota"] == {"pods": "100", "requests.cpu": "8", "requests.memory": "16Gi"}
    assert row["status"] == "pending"
    assert row["shared"] == {"pods": "0", "requests.cpu": "0", "requests.memory": "0"}
    assert row["remaining"] == {"pods": "100", "requests.cpu": "8", "requests.memory": "16Gi"}
    assert row["service_map_count"] == 0
    assert audited("workspace.allocate", target_id=str(workspace.pk))
    response = admin_api.post(path, {"cluster": cluster.pk, "quota": {}}, format="json")
    assert response.status_code == 409
    assert [a["id"] for a in admin_api.get(path).json()] == [row["id"]]


def test_allocation_field_errors(admin_api: APIClient, workspace: Workspace, cluster: Cluster) -> None:
    path = f"/api/workspaces/{workspace.pk}/allocations/"
    response = admin_api.post(path, {"cluster": 99999, "quota": {"pods": "1"}}, format="json")
    assert response.status_code == 400
    assert "cluster" in errors(response)
    response = admin_api.post(path, {"cluster": cluster.pk, "quota": {"requests.cpu": "2 cores",
                                                                      "requests.memory": "-1Gi",
                                                                      "gpus": "1", "pods": "2.5"}}, format="json")
    assert response.status_code == 400
    assert set(errors(response)) == {"quota.requests.cpu", "quota.requests.memory", "quota.gpus", "quota.pods"}
    assert "quota" in errors(admin_api.post(path, {"cluster": cluster.pk, "quota": ["pods"]}, format="json"))
    kube(cluster, "StorageClass", "standard", data={"is_default": True})
    kube(cluster, "StorageClass", "fast")
    response = admin_api.post(path, {"cluster": cluster.pk, "storage_classes": ["slow"]}, format="json")
    assert response.status_code == 400
    assert "slow" in errors(response)["storage_classes"][0]
    assert "storage_classes" in errors(admin_api.post(path, {"cluster": cluster.pk, "storage_classes": "fast"},
                                                      format="json"))
    assert not ClusterAllocation.objects.exists()
    response = admin_api.post(path, {"cluster": cluster.pk, "storage_classes": ["fast"],
                                     "quota": {"fast.storageclass.storage.k8s.io/requests.storage": "100Gi"}},
                              format="json")
    assert response.status_code == 201, response.content
    assert response.json()["storage_classes"] == ["fast"]


def test_non_admins_cannot_allocate(workspace: Workspace, manager: Any, operator_user: Any, cluster: Cluster,
                                    allocation: ClusterAllocation) -> None:
    other = make_cluster("busan-prod")
    path = f"/api/workspaces/{workspace.pk}/allocations/"
    for someone in (manager, operator_user):
        client = api_for(someone)
        assert client.post(path, {"cluster": other.pk, "quota": {"pods": "1"}}, format="json").status_code == 403
        assert client.patch(f"{path}{allocation.pk}/", {"quota": {"pods": "1"}}, format="json").status_code == 403
        assert client.delete(f"{path}{allocation.pk}/").status_code == 403
        assert client.get(path).status_code == 200
    allocation.refresh_from_db()
    assert allocation.quota["pods"] == "100"


def test_delete_allocation_refused_while_service_maps_live_there(admin_api: APIClient,
                                                                 allocation: ClusterAllocation) -> None:
    path = f"/api/workspaces/{allocation.workspace_id}/allocations/{allocation.pk}/"
    sm = service_map(allocation, "shop", {"requests.cpu": "1"})
    response = admin_api.delete(path)
    assert response.status_code == 409
    assert "shop" in response.json()["detail"]
    sm.delete()
    assert admin_api.delete(path).status_code == 204
    assert audited("workspace.deallocate")
    assert not ClusterAllocation.objects.exists()


def test_lowering_an_allocation_below_the_shares_is_409_naming_them(admin_api: APIClient,
                                                                    allocation: ClusterAllocation) -> None:
    service_map(allocation, "shop", {"requests.cpu": "5", "requests.memory": "1Gi", "pods": "10"})
    service_map(allocation, "blog", {"requests.cpu": "2", "requests.memory": "1Gi", "pods": "10"})
    path = f"/api/workspaces/{allocation.workspace_id}/allocations/{allocation.pk}/"
    response = admin_api.patch(path, {"quota": {"requests.cpu": "6", "requests.memory": "16Gi", "pods": "100"},
                                      "force": True}, format="json")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "shop (5)" in detail
    assert "blog (2)" in detail
    assert "7" in detail
    allocation.refresh_from_db()
    assert allocation.quota["requests.cpu"] == "8"
    # down to exactly the shares is fine; shown canonically
    response = admin_api.patch(path, {"quota": {"requests.cpu": "7000m", "requests.memory": "16Gi",
                                                 "pods": "100"}}, format="json")
    assert response.status_code == 200, response.content
    row = response.json()
    assert row["quota"]["requests.cpu"] == "7"
    assert row["shared"]["requests.cpu"] == "7"
    assert row["remaining"]["requests.cpu"] == "0"
    assert row["service_map_count"] == 2
    assert audited("workspace.allocation_update", target_id=str(allocation.workspace_id))


def test_adding_a_key_while_service_maps_exist_needs_force(admin_api: APIClient,
                                                           allocation: ClusterAllocation) -> None:
    sm = service_map(allocation, "shop", {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "10"})
    path = f"/api/workspaces/{allocation.workspace_id}/allocations/{allocation.pk}/"
    body: dict[str, Any] = {"quota": {**allocation.quota, "services": "10"}}
    response = admin_api.patch(path, body, format="json")
    assert response.status_code == 409
    assert "services" in response.json()["detail"]
    assert "shop" in response.json()["detail"]
    response = admin_api.patch(path, {**body, "force": True}, format="json")
    assert response.status_code == 200, response.content
    assert any("services" in w and "shop" in w for w in response.json()["warnings"])
    sm.refresh_from_db()
    assert sm.quota["services"] == "0"
    assert sm.generation == 2


def test_removing_a_key_drops_it_from_the_shares(admin_api: APIClient, allocation: ClusterAllocation) -> None:
    sm = service_map(allocation, "shop", {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "10"})
    path = f"/api/workspaces/{allocation.workspace_id}/allocations/{allocation.pk}/"
    response = admin_api.patch(path, {"quota": {"requests.cpu": "8", "pods": "100"}}, format="json")
    assert response.status_code == 200, response.content
    sm.refresh_from_db()
    assert sm.quota == {"requests.cpu": "1", "pods": "10"}


def test_lowering_an_allocation_below_use_needs_force(admin_api: APIClient, allocation: ClusterAllocation) -> None:
    sm = service_map(allocation, "shop", {"requests.cpu": "2", "requests.memory": "1Gi", "pods": "10"})
    quota_row(sm, {"requests.cpu": "3", "requests.memory": "512Mi", "pods": "4"})  # over its share already
    path = f"/api/workspaces/{allocation.workspace_id}/allocations/{allocation.pk}/"
    body: dict[str, Any] = {"quota": {"requests.cpu": "2500m", "requests.memory": "16Gi", "pods": "100"}}
    response = admin_api.patch(path, body, format="json")
    assert response.status_code == 409
    assert "requests.cpu: 3 is in use" in response.json()["detail"]
    allocation.refresh_from_db()
    assert allocation.quota["requests.cpu"] == "8"
    response = admin_api.patch(path, {**body, "force": True}, format="json")
    assert response.status_code == 200, response.content
    row = response.json()
    assert row["quota"]["requests.cpu"] == "2500m"
    assert row["used"]["requests.cpu"] == "3"
    assert row["warnings"] == ["requests.cpu: 3 is in use, more than 2500m"]


def test_allocation_malformed_update(admin_api: APIClient, allocation: ClusterAllocation) -> None:
    path = f"/api/workspaces/{allocation.workspace_id}/allocations/{allocation.pk}/"
    response = admin_api.patch(path, {"quota": {"requests.cpu": "2 cores"}}, format="json")
    assert response.status_code == 400
    assert "quota.requests.cpu" in errors(response)


def test_allocation_storage_classes_update(admin_api: APIClient, allocation: ClusterAllocation) -> None:
    kube(allocation.cluster, "StorageClass", "standard")
    path = f"/api/workspaces/{allocation.workspace_id}/allocations/{allocation.pk}/"
    assert "storage_classes" in errors(admin_api.patch(path, {"storage_classes": ["gold"]}, format="json"))
    response = admin_api.patch(path, {"storage_classes": ["standard"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["storage_classes"] == ["standard"]


def test_registries(admin_api: APIClient, workspace: Workspace, manager: Any) -> None:
    path = f"/api/workspaces/{workspace.pk}/registries/"
    for bad in ("https://registry.example.com", "registry example", ""):
        response = admin_api.post(path, {"registry": bad}, format="json")
        assert response.status_code == 400, bad
        assert "registry" in errors(response)
    response = admin_api.post(path, {"registry": "Registry.example.com:5000/team-a/"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["registry"] == "registry.example.com:5000/team-a"
    assert audited("workspace.registry_add", target_id=str(workspace.pk))
    assert admin_api.post(path, {"registry": "registry.example.com:5000/team-a"}, format="json").status_code == 409
    rid = response.json()["id"]
    assert api_for(manager).delete(f"{path}{rid}/").status_code == 403
    assert api_for(manager).get(path).status_code == 200
    assert admin_api.delete(f"{path}{rid}/").status_code == 204
    assert audited("workspace.registry_remove", target_id=str(workspace.pk))


# ---------------------------------------------------------------------------- service maps


def sm_path(workspace: Workspace | int, sid: int | None = None) -> str:
    wid = workspace if isinstance(workspace, int) else workspace.pk
    return f"/api/workspaces/{wid}/servicemaps/" + (f"{sid}/" if sid is not None else "")


def test_manager_creates_a_service_map(workspace: Workspace, manager: Any, allocation: ClusterAllocation) -> None:
    response = api_for(manager).post(sm_path(workspace), {
        "cluster": allocation.cluster_id, "namespace": "shop-prod", "display_name": "Shop",
        "quota": {"requests.cpu": "2000m", "pods": "20"}}, format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["status"] == "pending"
    assert row["in_sync"] is False
    # omitted allocated keys become "0"; quantities canonical
    assert row["quota"] == {"pods": "20", "requests.cpu": "2", "requests.memory": "0"}
    assert row["workspace"]["name"] == "team-a"
    assert row["usage"]["requests.cpu"] == {"hard": "2", "used": "0"}
    # the default LimitRange for constrained resources
    assert row["limits"] == {"default_request": {"cpu": "100m", "memory": "128Mi"},
                             "default": {"cpu": "500m", "memory": "512Mi"}}
    sm = ServiceMap.objects.get(pk=row["id"])
    assert sm.created_by_id == manager.pk
    assert audited("servicemap.create", target_id=str(sm.pk))
    # the allocation now shows the share
    alloc = api_for(manager).get(f"/api/workspaces/{workspace.pk}/allocations/").json()[0]
    assert alloc["shared"] == {"pods": "20", "requests.cpu": "2", "requests.memory": "0"}
    assert alloc["remaining"] == {"pods": "80", "requests.cpu": "6", "requests.memory": "16Gi"}
    assert alloc["service_map_count"] == 1


def test_service_map_cluster_must_be_allocated(workspace: Workspace, manager: Any,
                                               allocation: ClusterAllocation) -> None:
    other = make_cluster("busan-prod")
    response = api_for(manager).post(sm_path(workspace), {"cluster": other.pk, "namespace": "shop"}, format="json")
    assert response.status_code == 400
    assert "cluster" in errors(response)
    response = api_for(manager).post(sm_path(workspace), {"cluster": 99999, "namespace": "shop"}, format="json")
    assert "cluster" in errors(response)


@pytest.mark.parametrize("namespace", ["kube-system", "default", "kube-public", "kube-node-lease", "kube-foo"])
def test_reserved_namespaces_are_400(workspace: Workspace, manager: Any, allocation: ClusterAllocation,
                                     namespace: str) -> None:
    response = api_for(manager).post(sm_path(workspace), {"cluster": allocation.cluster_id, "namespace": namespace},
                                     format="json")
    assert response.status_code == 400
    assert "namespace" in errors(response)


@pytest.mark.parametrize("namespace", ["Shop", "shop_prod", "-shop", "shop.prod", "a" * 64, ""])
def test_namespace_must_be_a_dns_label(workspace: Workspace, manager: Any, allocation: ClusterAllocation,
                                       namespace: str) -> None:
    response = api_for(manager).post(sm_path(workspace), {"cluster": allocation.cluster_id, "namespace": namespace},
                                     format="json")
    assert response.status_code == 400
    assert "namespace" in errors(response)


def test_duplicate_namespace_is_409(admin_api: APIClient, workspace: Workspace, manager: Any,
                                    allocation: ClusterAllocation) -> None:
    service_map(allocation, "shop", {"requests.cpu": "1"})
    body = {"cluster": allocation.cluster_id, "namespace": "shop"}
    assert api_for(manager).post(sm_path(workspace), body, format="json").status_code == 409
    # also from another workspace on the same cluster
    other = Workspace.objects.create(name="team-b")
    ClusterAllocation.objects.create(workspace=other, cluster=allocation.cluster, quota={"pods": "10"})
    assert admin_api.post(sm_path(other), body, format="json").status_code == 409
    # the same name on another cluster is fine
    busan = make_cluster("busan-prod")
    ClusterAllocation.objects.create(workspace=workspace, cluster=busan, quota={"pods": "10"})
    response = api_for(manager).post(sm_path(workspace), {"cluster": busan.pk, "namespace": "shop"}, format="json")
    assert response.status_code == 201, response.content


def test_namespace_existing_in_the_cluster_is_409(workspace: Workspace, manager: Any,
                                                  allocation: ClusterAllocation) -> None:
    kube(allocation.cluster, "Namespace", "legacy", phase="Active")
    response = api_for(manager).post(sm_path(workspace), {"cluster": allocation.cluster_id, "namespace": "legacy"},
                                     format="json")
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]
    assert not ServiceMap.objects.exists()


def test_share_beyond_what_is_left_is_400_and_writes_nothing(workspace: Workspace, manager: Any,
                                                             allocation: ClusterAllocation) -> None:
    service_map(allocation, "shop", {"requests.cpu": "6", "requests.memory": "1Gi", "pods": "10"})
    response = api_for(manager).post(sm_path(workspace), {
        "cluster": allocation.cluster_id, "namespace": "blog", "quota": {"requests.cpu": "2500m", "pods": "95"}},
        format="json")
    assert response.status_code == 400
    errs = errors(response)
    assert set(errs) == {"quota.requests.cpu", "quota.pods"}
    assert "requests.cpu: 6 of 8 is shared" in errs["quota.requests.cpu"][0]
    assert "at most 2 is left" in errs["quota.requests.cpu"][0]
    assert "at most 90 is left" in errs["quota.pods"][0]
    assert not ServiceMap.objects.filter(namespace="blog").exists()
    assert ServiceMap.objects.count() == 1


def test_share_of_a_key_the_allocation_lacks_is_400(workspace: Workspace, manager: Any,
                                                    allocation: ClusterAllocation) -> None:
    response = api_for(manager).post(sm_path(workspace), {
        "cluster": allocation.cluster_id, "namespace": "blog", "quota": {"limits.cpu": "1"}}, format="json")
    assert response.status_code == 400
    assert "does not include limits.cpu" in errors(response)["quota.limits.cpu"][0]
    response = api_for(manager).post(sm_path(workspace), {
        "cluster": allocation.cluster_id, "namespace": "blog", "quota": {"requests.cpu": "two"}}, format="json")
    assert "quota.requests.cpu" in errors(response)


def test_limits_validation(workspace: Workspace, manager: Any, allocation: ClusterAllocation) -> None:
    base = {"cluster": allocation.cluster_id, "namespace": "blog", "quota": {"requests.cpu": "1"}}
    mgr = api_for(manager)
    response = mgr.post(sm_path(workspace), {**base, "limits": {"default_request": {"cpu": "1"},
                                                                "default": {"cpu": "500m"}}}, format="json")
    assert response.status_code == 400
    assert "limits.default_request.cpu" in errors(response)
    for bad in ({"max": {"cpu": "1"}}, {"default": {"gpu": "1"}}, {"default": {"cpu": "lots"}}, ["cpu"]):
        response = mgr.post(sm_path(workspace), {**base, "limits": bad}, format="json")
        assert response.status_code == 400, bad
        assert any(k.startswith("limits") for k in errors(response)), errors(response)
    response = mgr.post(sm_path(workspace), {**base, "limits": {"default_request": {"cpu": "0.2"},
                                                                "default": {"cpu": "1000m", "memory": "1Gi"}}},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["limits"] == {"default_request": {"cpu": "200m", "memory": "128Mi"},
                                         "default": {"cpu": "1", "memory": "1Gi"}}
    assert ServiceMap.objects.get(namespace="blog").limits == {"default_request": {"cpu": "200m"},
                                                              "default": {"cpu": "1", "memory": "1Gi"}}


def test_viewers_and_developers_cannot_manage_service_maps(workspace: Workspace, viewer: Any, developer: Any,
                                                           allocation: ClusterAllocation) -> None:
    sm = service_map(allocation, "shop", {"requests.cpu": "1"})
    for someone in (viewer, developer):
        client = api_for(someone)
        response = client.post(sm_path(workspace), {"cluster": allocation.cluster_id, "namespace": "blog"},
                               format="json")
        assert response.status_code == 403
        assert "servicemaps.manage" in response.json()["detail"]
        assert client.patch(sm_path(workspace, sm.pk), {"display_name": "x"}, format="json").status_code == 403
        assert client.delete(sm_path(workspace, sm.pk)).status_code == 403
        assert client.get(sm_path(workspace, sm.pk)).status_code == 200
    sm.refresh_from_db()
    assert sm.status == "ready"
    assert ServiceMap.objects.count() == 1


def test_update_service_map_share(workspace: Workspace, manager: Any, allocation: ClusterAllocation) -> None:
    sm = service_map(allocation, "shop", {"requests.cpu": "2", "requests.memory": "1Gi", "pods": "10"},
                     applied_generation=1)
    service_map(allocation, "blog", {"requests.cpu": "5", "requests.memory": "1Gi", "pods": "10"})
    mgr = api_for(manager)
    response = mgr.patch(sm_path(workspace, sm.pk), {"quota": {"requests.cpu": "3500m", "pods": "10"}}, format="json")
    assert response.status_code == 400
    assert "at most 3 is left" in errors(response)["quota.requests.cpu"][0]
    response = mgr.patch(sm_path(workspace, sm.pk), {"quota": {"requests.cpu": "3", "pods": "10"},
                                                     "description": "shop"}, format="json")
    assert response.status_code == 200, response.content
    row = response.json()
    assert row["quota"] == {"pods": "10", "requests.cpu": "3", "requests.memory": "0"}
    assert row["status"] == "pending"
    assert row["in_sync"] is False
    sm.refresh_from_db()
    assert sm.generation == 2
    assert sm.description == "shop"
    assert audited("servicemap.update", target_id=str(sm.pk))


def test_lowering_a_share_below_use_needs_force(workspace: Workspace, manager: Any,
                                                allocation: ClusterAllocation) -> None:
    sm = service_map(allocation, "shop", {"requests.cpu": "2", "requests.memory": "1Gi", "pods": "10"})
    quota_row(sm, {"requests.cpu": "1500m", "requests.memory": "256Mi", "pods": "6"})
    mgr = api_for(manager)
    body: dict[str, Any] = {"quota": {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "5"}}
    response = mgr.patch(sm_path(workspace, sm.pk), body, format="json")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "requests.cpu: shop uses 1500m, more than 1" in detail
    assert "pods: shop uses 6, more than 5" in detail
    sm.refresh_from_db()
    assert sm.quota["requests.cpu"] == "2"
    response = mgr.patch(sm_path(workspace, sm.pk), {**body, "force": True}, format="json")
    assert response.status_code == 200, response.content
    assert len(response.json()["warnings"]) == 2
    assert response.json()["usage"]["requests.cpu"] == {"hard": "1", "used": "1500m"}


def test_delete_service_map_is_202_deleting(workspace: Workspace, manager: Any,
                                            allocation: ClusterAllocation) -> None:
    sm = service_map(allocation, "shop", {"requests.cpu": "1"})
    response = api_for(manager).delete(sm_path(workspace, sm.pk))
    assert response.status_code == 202
    assert response.json()["status"] == "deleting"
    sm.refresh_from_db()
    assert sm.status == "deleting"
    assert audited("servicemap.delete", target_id=str(sm.pk))
    # a deleting service map cannot be changed any more
    response = api_for(manager).patch(sm_path(workspace, sm.pk), {"display_name": "x"}, format="json")
    assert response.status_code == 409


def test_service_map_lists(admin_api: APIClient, workspace: Workspace, developer: Any, user: Any,
                           allocation: ClusterAllocation) -> None:
    shop = service_map(allocation, "shop", {"requests.cpu": "1"})
    busan = make_cluster("busan-prod")
    ClusterAllocation.objects.create(workspace=workspace, cluster=busan, quota={"pods": "10"})
    service_map(ClusterAllocation.objects.get(cluster=busan), "blog", {"pods": "1"})
    other = Workspace.objects.create(name="team-b")
    ClusterAllocation.objects.create(workspace=other, cluster=allocation.cluster, quota={"pods": "10"})
    service_map(ClusterAllocation.objects.get(workspace=other), "secret-shop", {"pods": "1"})
    kube(allocation.cluster, "Pod", "web-1", "shop", phase="Running")
    kube(allocation.cluster, "Pod", "web-2", "shop", phase="Failed")
    kube(allocation.cluster, "Deployment", "web", "shop", phase="Available")

    dev = api_for(developer)
    rows = dev.get("/api/workspaces/servicemaps/").json()["results"]
    assert [r["namespace"] for r in rows] == ["blog", "shop"]
    rows = dev.get(sm_path(workspace), {"cluster": allocation.cluster_id}).json()["results"]
    assert [r["namespace"] for r in rows] == ["shop"]
    assert rows[0]["pods"] == {"total": 2, "running": 1, "failed": 1}
    assert rows[0]["workloads"] == {"total": 1, "ready": 1}
    assert dev.get(sm_path(workspace), {"cluster": "x"}).status_code == 400
    everything = admin_api.get("/api/workspaces/servicemaps/", {"workspace": other.pk}).json()["results"]
    assert [r["namespace"] for r in everything] == ["secret-shop"]
    assert api_for(user).get("/api/workspaces/servicemaps/").json()["results"] == []
    assert dev.get(sm_path(other, shop.pk)).status_code == 404
    assert dev.get(sm_path(workspace, ServiceMap.objects.get(namespace="secret-shop").pk)).status_code == 404


# ---------------------------------------------------------------------------- preflight


def deployment(name: str, replicas: int, cpu: str = "200m", namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
        "replicas": replicas, "template": {"spec": {"containers": [{
            "name": "app", "image": "nginx", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}}}}


@pytest.fixture
def shop(allocation: ClusterAllocation) -> ServiceMap:
    sm = service_map(allocation, "shop", {"requests.cpu": "2", "requests.memory": "1Gi", "pods": "10"})
    quota_row(sm, {"requests.cpu": "300m", "requests.memory": "256Mi", "pods": "3"})
    return sm


def preflight(client: APIClient, sm: ServiceMap, body: dict[str, Any]) -> Any:
    return client.post(f"{sm_path(sm.workspace_id, sm.pk)}preflight/", body, format="json")


def test_preflight_fits(viewer: Any, shop: ServiceMap) -> None:
    response = preflight(api_for(viewer), shop, {"manifests": [deployment("web", 2)]})
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["fits"] is True
    assert result["problems"] == []
    by_key = {r["resource"]: r for r in result["resources"]}
    assert by_key["requests.cpu"] == {"resource": "requests.cpu", "requested": "400m", "used": "300m", "hard": "2",
                                      "remaining": "1700m", "fits": True}
    assert by_key["pods"] == {"resource": "pods", "requested": "2", "used": "3", "hard": "10", "remaining": "7",
                              "fits": True}
    assert by_key["requests.memory"]["requested"] == "128Mi"


def test_preflight_does_not_fit(viewer: Any, shop: ServiceMap) -> None:
    response = preflight(api_for(viewer), shop, {"manifests": [deployment("web", 3, cpu="1")]})
    result = response.json()
    assert result["fits"] is False
    # 1 CPU requested with no limit is also above the 500m limit the LimitRange gives by default
    assert result["problems"][-1] == "requests.cpu: the manifests ask for 3 but only 1700m is left in shop."
    assert result["problems"][0].startswith("Deployment/web: container")
    cpu = next(r for r in result["resources"] if r["resource"] == "requests.cpu")
    assert cpu["fits"] is False
    assert cpu["remaining"] == "1700m"


def test_preflight_yaml_and_defaults(viewer: Any, shop: ServiceMap) -> None:
    text = """
apiVersion: v1
kind: Pod
metadata: {name: bare}
spec:
  containers: [{name: c, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: LoadBalancer}
"""
    result = preflight(api_for(viewer), shop, {"yaml": text}).json()
    by_key = {r["resource"]: r["requested"] for r in result["resources"]}
    # the bare pod gets the LimitRange's default request
    assert by_key == {"pods": "1", "requests.cpu": "100m", "requests.memory": "128Mi"}
    assert result["fits"] is True


def test_preflight_input_errors(viewer: Any, shop: ServiceMap) -> None:
    client = api_for(viewer)
    response = preflight(client, shop, {"yaml": "kind: [unclosed"})
    assert response.status_code == 400
    assert "yaml" in errors(response)
    assert "manifests" in errors(preflight(client, shop, {"manifests": []}))
    assert "manifests" in errors(preflight(client, shop, {"yaml": "---\n"}))
    assert preflight(client, shop, {"manifests": [{"metadata": {"name": "x"}}]}).status_code == 400
    assert preflight(client, shop, {"yaml": "just a string"}).status_code == 400
    assert "yaml" in errors(preflight(client, shop, {"yaml": "kind: Pod", "manifests": [{"kind": "Pod"}]}))


def test_preflight_other_namespace_is_a_problem(viewer: Any, shop: ServiceMap) -> None:
    result = preflight(api_for(viewer), shop, {"manifests": [deployment("web", 1, namespace="elsewhere")]}).json()
    assert result["fits"] is False
    assert result["problems"] == ["manifests[0] (Deployment web) targets namespace elsewhere, not shop."]
    ok = preflight(api_for(viewer), shop, {"manifests": [deployment("web", 1, namespace="shop")]}).json()
    assert ok["fits"] is True


def test_preflight_replacing_a_deployment_frees_its_pods(viewer: Any, shop: ServiceMap) -> None:
    cluster = shop.cluster
    kube(cluster, "Deployment", "web", "shop", phase="Available")
    kube(cluster, "ReplicaSet", "web-abc", "shop", data={"owner": {"kind": "Deployment", "name": "web"}})
    for i in range(3):  # 3 pods of 100m, as the ResourceQuota row counts them (300m, 3 pods)
        kube(cluster, "Pod", f"web-abc-{i}", "shop", phase="Running", data={
            "owner": {"kind": "ReplicaSet", "name": "web-abc"},
            "requests": {"cpu": 0.1, "memory": 64 * 1024 * 1024}, "limits": {"cpu": 0.0, "memory": 0}})
    kube(cluster, "Pod", "web-old", "shop", phase="Succeeded", data={
        "owner": {"kind": "ReplicaSet", "name": "web-abc"}, "requests": {"cpu": 5.0}})
    # Replacing web with 10 pods of 200m: 2 cpu and 10 pods fit once its 3 pods are freed.
    result = preflight(api_for(viewer), shop, {"manifests": [deployment("web", 10)]}).json()
    by_key = {r["resource"]: r for r in result["resources"]}
    assert by_key["pods"]["remaining"] == "10"
    assert by_key["requests.cpu"]["remaining"] == "2"
    assert by_key["requests.cpu"]["used"] == "300m"
    assert result["fits"] is True, result
    # A new deployment of the same size does not fit.
    result = preflight(api_for(viewer), shop, {"manifests": [deployment("api", 10)]}).json()
    assert result["fits"] is False
    assert {p.split(":")[0] for p in result["problems"]} == {"pods", "requests.cpu"}


def test_preflight_reads_the_namespace_once_not_once_per_workload(viewer: Any, shop: ServiceMap) -> None:
    """A chart of many workloads replacing running ones: the namespace's pods and ReplicaSets are
    read once for all of them (a query per workload read every pod of the namespace each time)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workspaces import services

    cluster = shop.cluster
    for n in range(6):
        kube(cluster, "ReplicaSet", f"w{n}-abc", "shop", data={"owner": {"kind": "Deployment", "name": f"w{n}"}})
        kube(cluster, "Pod", f"w{n}-abc-0", "shop", phase="Running", data={
            "owner": {"kind": "ReplicaSet", "name": f"w{n}-abc"}, "requests": {"cpu": 0.01}})

    def queries(count: int) -> tuple[int, dict[str, Any]]:
        with CaptureQueriesContext(connection) as captured:
            fit = services.preflight(shop, [deployment(f"w{n}", 1) for n in range(count)])
        return len(captured.captured_queries), fit

    few, _ = queries(2)
    many, fit = queries(6)
    assert many == few
    assert fit["fits"] is True, fit  # each replaced workload's running pod is freed


def test_read_ahead_answers_every_preflight_as_its_own_reads_would(workspace: Workspace, shop: ServiceMap) -> None:
    """A rollout's request checks every target inside :func:`services.read_ahead`: each answer is
    the one the preflight's own queries give (pods freed by a replaced Deployment, a Service and a
    PVC replaced, the default storage class, the ready nodes, the quota row), from four queries
    however many service maps there are."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workspaces import services

    other_cluster = make_cluster("busan-prod")
    other_allocation = ClusterAllocation.objects.create(
        workspace=workspace, cluster=other_cluster, status="ready",
        quota={"requests.cpu": "8", "requests.memory": "16Gi", "pods": "100", "requests.storage": "10Gi",
               "persistentvolumeclaims": "5", "services": "5", "services.loadbalancers": "1"})
    db = service_map(other_allocation, "db", {"requests.cpu": "1", "pods": "4", "requests.storage": "6Gi",
                                              "persistentvolumeclaims": "2", "services": "2",
                                              "services.loadbalancers": "1"})
    quota_row(db, {"requests.cpu": "500m", "pods": "2", "requests.storage": "5Gi", "persistentvolumeclaims": "1",
                   "services": "1", "services.loadbalancers": "1"})
    kube(other_cluster, "Node", "n1", phase="Ready")
    kube(other_cluster, "Node", "n2", phase="NotReady")
    kube(other_cluster, "StorageClass", "fast", data={"is_default": True})
    kube(other_cluster, "PersistentVolumeClaim", "data", "db", phase="Bound",
         data={"requested": 5 * 1024**3, "storage_class": "fast"})
    kube(other_cluster, "Service", "front", "db", data={"type": "LoadBalancer"})
    for cluster, namespace in ((shop.cluster, "shop"), (other_cluster, "db")):
        kube(cluster, "ReplicaSet", "web-abc", namespace, data={"owner": {"kind": "Deployment", "name": "web"}})
        for i, phase in enumerate(("Running", "Running", "Failed")):
            kube(cluster, "Pod", f"web-abc-{i}", namespace, phase=phase, data={
                "owner": {"kind": "ReplicaSet", "name": "web-abc"}, "requests": {"cpu": 0.25}})
    kube(shop.cluster, "Pod", "web-abc-0", "db", phase="Running", data={  # same names, another cluster's namespace
        "owner": {"kind": "ReplicaSet", "name": "web-abc"}, "requests": {"cpu": 3.0}})
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"resources": {"requests": {"storage": "5Gi"}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "front"}, "spec": {"type": "LoadBalancer"}}
    daemons = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": {"template": {
        "spec": {"containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "10m"}}}]}}}}
    manifests = [deployment("web", 3), claim, service, daemons]
    alone = {sm.pk: services.preflight(sm, manifests) for sm in (shop, db)}
    with CaptureQueriesContext(connection) as captured, services.read_ahead([shop, db]):
        read = len(captured.captured_queries)
        ahead = {sm.pk: services.preflight(sm, manifests) for sm in (shop, db)}
    assert ahead == alone
    assert read == 4
    assert len(captured.captured_queries) == 4
    assert alone[db.pk]["fits"] is True, alone[db.pk]  # the pods, claim and load balancer it replaces are freed
    assert next(r for r in alone[db.pk]["resources"] if r["resource"] == "pods")["requested"] == "4"  # 3 + 1 node


def test_preflight_strangers_404(user: Any, shop: ServiceMap) -> None:
    assert preflight(api_for(user), shop, {"manifests": [deployment("web", 1)]}).status_code == 404


# ---------------------------------------------------------------------------- overview


def test_quota_overview(admin_api: APIClient, operator_user: Any, user: Any, shop: ServiceMap) -> None:
    for client in (admin_api, api_for(operator_user)):
        response = client.get("/api/workspaces/quota-overview/")
        assert response.status_code == 200, response.content
        rows = response.json()
        assert len(rows) == 1
        assert rows[0]["workspace"]["name"] == "team-a"
        assert rows[0]["cluster"]["name"] == "seoul-prod"
        assert rows[0]["quota"]["requests.cpu"] == "8"
        assert rows[0]["shared"]["requests.cpu"] == "2"
        assert rows[0]["used"]["requests.cpu"] == "300m"
    assert api_for(user).get("/api/workspaces/quota-overview/").status_code == 403


def test_preflight_replacing_a_pvc_frees_its_storage(viewer: Any, allocation: ClusterAllocation) -> None:
    allocation.quota = {**allocation.quota, "requests.storage": "8Gi", "persistentvolumeclaims": "2"}
    allocation.save()
    sm = service_map(allocation, "db", {"requests.storage": "8Gi", "persistentvolumeclaims": "2"})
    quota_row(sm, {"requests.storage": "5Gi", "persistentvolumeclaims": "1"})
    kube(sm.cluster, "PersistentVolumeClaim", "data", "db", phase="Bound",
         data={"requested": 5 * 1024**3, "capacity": 5 * 1024**3, "storage_class": "standard"})
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"storageClassName": "standard", "resources": {"requests": {"storage": "5Gi"}}}}
    result = preflight(api_for(viewer), sm, {"manifests": [claim]}).json()
    assert result["fits"] is True, result
    by_key = {r["resource"]: r for r in result["resources"]}
    assert by_key["requests.storage"]["remaining"] == "8Gi"
    # a new claim of the same size does not fit
    other = {**claim, "metadata": {"name": "more"}}
    assert preflight(api_for(viewer), sm, {"manifests": [other]}).json()["fits"] is False


def test_filled_limit_defaults_never_contradict_the_given_ones(workspace: Workspace, manager: Any,
                                                               allocation: ClusterAllocation) -> None:
    allocation.quota = {**allocation.quota, "limits.cpu": "8", "limits.memory": "16Gi"}
    allocation.save()
    mgr = api_for(manager)
    response = mgr.post(sm_path(workspace), {
        "cluster": allocation.cluster_id, "namespace": "big", "quota": {"requests.cpu": "2", "limits.cpu": "4"},
        "limits": {"default_request": {"cpu": "1", "memory": "1Gi"}}}, format="json")
    assert response.status_code == 201, response.content
    # the portal's 500m / 512Mi default limits would be below the given requests: a cluster refuses that
    # (memory is constrained too: the share gets 0 of the allocated requests.memory and limits.memory)
    assert response.json()["limits"] == {"default_request": {"cpu": "1", "memory": "1Gi"},
                                         "default": {"cpu": "1", "memory": "1Gi"}}
    response = mgr.post(sm_path(workspace), {
        "cluster": allocation.cluster_id, "namespace": "small", "quota": {"requests.cpu": "1"},
        "limits": {"default": {"cpu": "50m", "memory": "64Mi"}}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["limits"] == {"default_request": {"cpu": "50m", "memory": "64Mi"},
                                         "default": {"cpu": "50m", "memory": "64Mi"}}


def test_preflight_refuses_a_request_above_the_default_limit(viewer: Any, shop: ServiceMap) -> None:
    """podinfo with requests.cpu 1 and no limit: the LimitRange gives it its default limit, the
    API server then refuses the pod (request above limit), so the preflight says so up front."""
    text = """
apiVersion: v1
kind: Pod
metadata: {name: greedy}
spec:
  containers: [{name: c, image: nginx, resources: {requests: {cpu: "64"}}}]
"""
    result = preflight(api_for(viewer), shop, {"yaml": text}).json()
    assert result["fits"] is False
    assert any("Pod/greedy" in p and "LimitRange" in p for p in result["problems"]), result["problems"]
