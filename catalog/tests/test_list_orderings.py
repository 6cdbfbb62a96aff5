"""Server-side sorting of the releases list (issue 20): by name, status and last change in both
directions, keyset pages that never skip or repeat a row among equal statuses, and a 400 naming the
choices for an ordering that is not declared."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.models import CatalogSource, Package, PackageVersion, Release
from clusters.models import Cluster
from portal.testing import unique
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def walk(client: APIClient, ordering: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/catalog/releases/", {"ordering": ordering, "page_size": 2, **params})
    rows: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows.extend(body["results"])
        if not body["next"]:
            return rows
        response = client.get(body["next"])


@pytest.fixture
def workspace() -> Workspace:
    ws = Workspace.objects.create(name=unique("team"))
    sm = ServiceMap.objects.create(workspace=ws, cluster=Cluster.objects.create(name=unique("c"),
                                   server="https://127.0.0.1:9"), namespace="shop", status="ready")
    source = CatalogSource.objects.create(name=unique("charts"), kind="upload", workspace=None)
    version = PackageVersion.objects.create(package=Package.objects.create(source=source, name="web"), version="1.0.0")
    for name, state in (("web", "deployed"), ("api", "failed"), ("db", "deployed"), ("cache", "deployed"),
                        ("mail", "pending")):
        Release.objects.create(workspace=ws, service_map=sm, name=name, package_version=version, status=state)
    return ws


def test_releases_sort_by_status_then_name_both_ways(admin_api: APIClient, workspace: Workspace) -> None:
    rows = walk(admin_api, "status", workspace=workspace.pk)
    keys = [(r["status"], r["name"]) for r in rows]
    assert keys == [("deployed", "cache"), ("deployed", "db"), ("deployed", "web"), ("failed", "api"),
                    ("pending", "mail")]
    assert [(r["status"], r["name"]) for r in walk(admin_api, "-status", workspace=workspace.pk)] == keys[::-1]


def test_releases_sort_by_name_and_change(admin_api: APIClient, workspace: Workspace) -> None:
    names = [r["name"] for r in walk(admin_api, "-name", workspace=workspace.pk)]
    assert names == ["web", "mail", "db", "cache", "api"]
    Release.objects.get(workspace=workspace, name="db").save()  # `updated` moves on
    assert walk(admin_api, "-updated", workspace=workspace.pk)[0]["name"] == "db"


def test_an_undeclared_release_ordering_is_a_400(admin_api: APIClient) -> None:
    response = admin_api.get("/api/catalog/releases/", {"ordering": "-values"})
    assert response.status_code == 400
    assert "name, status, updated" in response.json()["errors"]["ordering"][0]


def test_releases_filter_by_status(admin_api: APIClient, workspace: Workspace) -> None:
    rows = walk(admin_api, "name", workspace=workspace.pk, status="deployed")
    assert [r["name"] for r in rows] == ["cache", "db", "web"]
    response = admin_api.get("/api/catalog/releases/", {"status": "exploded"})
    assert response.status_code == 400
    assert "failed" in response.json()["errors"]["status"][0]
