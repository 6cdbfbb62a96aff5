"""Server-side sorting of the workspace lists the console's tables ask for (issue 20): workspaces,
members and service maps answer every declared ``ordering`` in both directions, keyset pages never
skip or repeat a row among equal values, and an undeclared ordering is a 400 naming the choices."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster
from portal.testing import make_user, unique
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def walk(client: APIClient, url: str, ordering: str, **params: Any) -> list[dict[str, Any]]:
    """Every row of the list, two at a time, following ``next``."""
    response = client.get(url, {"ordering": ordering, "page_size": 2, **params})
    rows: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["results"]) <= 2
        rows.extend(body["results"])
        if not body["next"]:
            return rows
        response = client.get(body["next"])


def test_members_sort_by_user_and_role_both_ways_across_pages(admin_api: APIClient) -> None:
    ws = Workspace.objects.create(name=unique("team"))
    viewer, developer = Role.objects.get(key="viewer"), Role.objects.get(key="developer")
    names = ["dana", "bo", "eli", "cy", "ann"]
    for i, name in enumerate(names):  # three viewers and two developers: ties on the role
        Membership.objects.create(workspace=ws, user=make_user(f"{name}-{ws.name}"),
                                  role=viewer if i % 2 == 0 else developer)
    url = f"/api/workspaces/{ws.pk}/members/"

    by_name = [r["user"]["username"] for r in walk(admin_api, url, "username")]
    assert by_name == sorted(f"{n}-{ws.name}" for n in names)
    assert [r["user"]["username"] for r in walk(admin_api, url, "-username")] == by_name[::-1]

    by_role = [(r["role"], r["user"]["username"]) for r in walk(admin_api, url, "role")]
    assert by_role == sorted(by_role)
    assert len(set(by_role)) == 5
    assert [(r["role"], r["user"]["username"]) for r in walk(admin_api, url, "-role")] == by_role[::-1]

    # the default stays newest first, as the list always came
    default = [r["id"] for r in walk(admin_api, url, "-created")]
    assert [r["id"] for r in admin_api.get(url).json()["results"]] == default
    assert default == sorted(default, reverse=True)


def test_service_maps_sort_by_cluster_status_and_namespace(admin_api: APIClient) -> None:
    ws = Workspace.objects.create(name=unique("team"))
    clusters = [Cluster.objects.create(name=unique(p), server="https://127.0.0.1:9") for p in ("zeta", "alpha")]
    for cluster in clusters:
        ClusterAllocation.objects.create(workspace=ws, cluster=cluster, status="ready")
    for i, ns in enumerate(["web", "api", "db", "cache", "mail"]):  # ties on the cluster and on the status
        ServiceMap.objects.create(workspace=ws, cluster=clusters[i % 2], namespace=ns,
                                  status="ready" if i < 3 else "pending")
    for url, extra in ((f"/api/workspaces/{ws.pk}/servicemaps/", {}), ("/api/workspaces/servicemaps/", {"workspace": ws.pk})):
        rows = walk(admin_api, url, "cluster", **extra)
        keys = [(r["cluster"]["name"], r["namespace"]) for r in rows]
        assert keys == sorted(keys)
        assert len(keys) == 5
        assert [(r["cluster"]["name"], r["namespace"]) for r in walk(admin_api, url, "-cluster", **extra)] == keys[::-1]
        status = [(r["status"], r["namespace"]) for r in walk(admin_api, url, "status", **extra)]
        assert status == sorted(status)
        assert [r["namespace"] for r in walk(admin_api, url, "-namespace", **extra)] == ["web", "mail", "db", "cache", "api"]


def test_workspaces_sort_by_name_and_age(admin_api: APIClient) -> None:
    prefix = unique("w")
    made = [Workspace.objects.create(name=f"{prefix}-{n}") for n in ("b", "c", "a")]
    names = [r["name"] for r in walk(admin_api, "/api/workspaces/", "-name", q=prefix)]
    assert names == [f"{prefix}-{n}" for n in ("c", "b", "a")]
    oldest = [r["id"] for r in walk(admin_api, "/api/workspaces/", "created", q=prefix)]
    assert oldest == [w.pk for w in made]
    assert [r["id"] for r in walk(admin_api, "/api/workspaces/", "-created", q=prefix)] == oldest[::-1]


@pytest.mark.parametrize("url", ["/api/workspaces/", "/api/workspaces/servicemaps/", "members"])
def test_an_undeclared_ordering_is_a_400_naming_the_choices(admin_api: APIClient, url: str) -> None:
    if url == "members":
        url = f"/api/workspaces/{Workspace.objects.create(name=unique('team')).pk}/members/"
    response = admin_api.get(url, {"ordering": "password"})
    assert response.status_code == 400
    assert "Order by one of:" in response.json()["errors"]["ordering"][0]
    assert "created" in response.json()["errors"]["ordering"][0]
