"""What each system role may read and do across the portal (issue 15 adds the auditor).

Admins do everything; operators read every cluster and workspace and act on clusters (node
operations, every object action) but do not manage clusters, workspaces or roles; auditors read
everything operators read and change nothing; users read only what their workspaces hold. One table
per side: reads (lists, details, the quota overview, socket groups) and acts (node operations, a
drain preview, cluster, workspace and role changes, object actions). The clusters are ORM rows and
no task runs inside these test transactions, so nothing reaches a cluster."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters import access as cluster_access
from clusters.models import Cluster, KubeObject, NodeOperation
from portal.events import can_subscribe
from portal.models import SystemRole, User
from portal.testing import make_user
from workspaces.models import ClusterAllocation, ServiceMap, Workspace

pytestmark = pytest.mark.django_db

ROLES = ("admin", "operator", "auditor", "user")
READS_ALL = {"admin": True, "operator": True, "auditor": True, "user": False}


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    cluster = Cluster.objects.create(name="roles-x", server="https://127.0.0.1:9", status="connected")
    workspace = Workspace.objects.create(name="roles-team")
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready")
    ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="roles-ns", status="ready")
    KubeObject.objects.create(cluster=cluster, kind="Node", name="node-1", uid="uid-node-1", resource_version="1")
    NodeOperation.objects.create(cluster=cluster, node="node-1", kind="cordon", status="succeeded")
    users = {role: make_user(f"sys-{role}", role=role) for role in ROLES}
    return {"cluster": cluster, "workspace": workspace, "users": users}


def _api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


def test_the_auditor_is_a_system_role() -> None:
    assert SystemRole.AUDITOR == "auditor"
    auditor = User(username="a", role=SystemRole.AUDITOR, is_active=True)
    assert auditor.is_auditor
    assert auditor.reads_all_clusters
    assert not auditor.is_operator
    assert not auditor.is_admin
    assert auditor.effective_role == "auditor"
    for role, reads in READS_ALL.items():
        assert User(username=role, role=role, is_active=True).reads_all_clusters is reads
    assert not User(username="gone", role=SystemRole.AUDITOR, is_active=False).reads_all_clusters


def test_admins_make_auditors_through_the_users_api(admin_api: APIClient, user: User) -> None:
    response = admin_api.patch(f"/api/users/{user.pk}/", {"role": "auditor"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "auditor"
    listed = admin_api.get("/api/users/", {"role": "auditor"}).json()["results"]
    assert [u["username"] for u in listed] == [user.username]
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    assert client.get("/api/auth/me/").json()["role"] == "auditor"


# ---------------------------------------------------------------------------- reads


@pytest.mark.parametrize("role", ROLES)
def test_reads(world: dict[str, Any], role: str) -> None:
    api, cluster, workspace = _api(world["users"][role]), world["cluster"], world["workspace"]
    reads = READS_ALL[role]
    clusters = api.get("/api/clusters/").json()["results"]
    assert (cluster.pk in {c["id"] for c in clusters}) is reads
    assert api.get(f"/api/clusters/{cluster.pk}/").status_code == (200 if reads else 404)
    nodes = api.get(f"/api/clusters/{cluster.pk}/nodes/")
    assert nodes.status_code == (200 if reads else 404)
    if reads:
        assert [n["name"] for n in nodes.json()["results"]] == ["node-1"]
    operation = NodeOperation.objects.get(cluster=cluster)
    assert api.get(f"/api/clusters/{cluster.pk}/operations/{operation.pk}/").status_code == (200 if reads else 404)
    workspaces = api.get("/api/workspaces/").json()["results"]
    assert (workspace.pk in {w["id"] for w in workspaces}) is reads
    assert api.get(f"/api/workspaces/{workspace.pk}/").status_code == (200 if reads else 404)
    overview = api.get("/api/workspaces/quota-overview/")
    assert overview.status_code == (200 if reads else 403)
    if reads:
        assert [row["workspace"]["id"] for row in overview.json()] == [workspace.pk]
    user = User.objects.get(pk=world["users"][role].pk)
    assert can_subscribe(user, "fleet") is reads
    assert can_subscribe(user, f"cluster.{cluster.pk}") is reads
    assert can_subscribe(user, f"cluster.{cluster.pk}.ns.roles-ns") is reads
    assert can_subscribe(user, f"workspace.{workspace.pk}") is reads
    assert cluster_access.visible_namespaces(user, cluster.pk) == (None if reads else [])


# ---------------------------------------------------------------------------- acts

# role -> the status of a node operation / drain preview (auditors see the cluster but may not act)
NODE_OPS = {"admin": 202, "operator": 202, "auditor": 403, "user": 404}


@pytest.mark.parametrize("role", ROLES)
def test_node_operations(world: dict[str, Any], role: str) -> None:
    api, cluster = _api(world["users"][role]), world["cluster"]
    before = NodeOperation.objects.count()
    response = api.post(f"/api/clusters/{cluster.pk}/nodes/node-1/cordon/")
    assert response.status_code == NODE_OPS[role], response.content
    assert NodeOperation.objects.count() == before + (1 if NODE_OPS[role] == 202 else 0)
    if role == "auditor":
        assert response.json()["code"] == "operator_required"
        preview = api.get(f"/api/clusters/{cluster.pk}/nodes/node-1/drain-preview/")
        assert preview.status_code == 403
        assert preview.json()["code"] == "operator_required"
        for verb in ("uncordon", "drain"):
            assert api.post(f"/api/clusters/{cluster.pk}/nodes/node-1/{verb}/", {}, format="json").status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_changes_to_clusters_workspaces_and_roles(world: dict[str, Any], role: str) -> None:
    api, cluster, workspace = _api(world["users"][role]), world["cluster"], world["workspace"]
    admin = role == "admin"
    response = api.patch(f"/api/clusters/{cluster.pk}/", {"region": "kr-1"}, format="json")
    assert response.status_code == (200 if admin else 403)
    response = api.post("/api/workspaces/", {"name": f"new-{role}"}, format="json")
    assert response.status_code == (201 if admin else 403)
    response = api.patch(f"/api/workspaces/{workspace.pk}/", {"display_name": "x"}, format="json")
    assert response.status_code == (200 if admin else 403 if READS_ALL[role] else 404)
    response = api.post("/api/workspaces/roles/", {"key": f"r-{role}", "name": "R"}, format="json")
    assert response.status_code == (201 if admin else 403)
    cluster.refresh_from_db()
    assert (cluster.region == "kr-1") is admin


@pytest.mark.parametrize("role", ROLES)
def test_object_actions(world: dict[str, Any], role: str) -> None:
    user, cluster = User.objects.get(pk=world["users"][role].pk), world["cluster"]
    grants = cluster_access.object_grants(user, cluster, "roles-ns")
    expected = {"admin": set(cluster_access.OBJECT_GRANTS), "operator": set(cluster_access.OBJECT_GRANTS),
                "auditor": {"pods.logs"}, "user": set()}[role]
    assert grants == expected
    assert cluster_access.object_grants(user, cluster, "") == (expected if role in ("admin", "operator") else set())
