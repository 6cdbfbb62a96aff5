"""Releases through the API with a chart pulled from a chart repository served in the test (the
``webapp`` chart in ``data/``): plan (preflight, dry-run, diff), install, upgrade, rollback,
delete, and who may do what (viewers 403, other workspaces 404, a busy release 409)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog import sources
from catalog.models import CatalogSource, PackageVersion, Release, Revision, SourceKind
from catalog.tests.helpers import PASSWORD, USER, Driver, Repo, release_state, setup_service_maps
from catalog.tests.intents import result
from clusters.kube.errors import NotFound
from clusters.tests.helpers import client_for
from portal.testing import make_user
from workspaces.models import Membership, Role, Workspace

# plans are answered by the real worker (202 + a cluster intent)
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_release_lifecycle_through_the_api(admin_api: APIClient, sandbox: Any, driver: Driver, repo: Repo,
                                           settings: Any) -> None:
    settings.PORTAL_CATALOG_ALLOW_HTTP = True
    workspace, (sm,), developer, _upload = setup_service_maps(admin_api, sandbox, ("cluster-2",))
    source = CatalogSource.objects.create(name="public", kind=SourceKind.HELM, url=repo.url + "/", username=USER)
    source.set_password(PASSWORD)
    source.save()
    assert sources.refresh(source.pk) == "ready", CatalogSource.objects.get(pk=source.pk).message
    version = PackageVersion.objects.get(package__source=source, package__name="webapp", version="1.2.0")
    dev = api_for(developer)

    # Plan: the chart's `required` value is named; then a good plan with preflight and a diff.
    missing = result(dev, dev.post("/api/catalog/releases/plan/", {"service_map": sm.pk, "name": "web",
                                                                   "package_version": version.pk, "values": {}},
                                   format="json"))
    assert missing["valid"] is False
    assert "host is required" in str(missing["errors"])
    values = {"host": "shop.example.com"}
    plan = dev.post("/api/catalog/releases/plan/", {"service_map": sm.pk, "name": "web",
                                                    "package_version": version.pk, "values": values}, format="json")
    body = result(dev, plan)
    assert body["valid"] is True, body
    assert body["dry_run"]["ok"] is True
    assert body["preflight"]["fits"] is True
    assert "+kind: Deployment" in body["diff"]
    assert {o["kind"] for o in body["objects"]} >= {"Deployment", "Service", "ConfigMap"}
    too_big = result(dev, dev.post("/api/catalog/releases/plan/", {"service_map": sm.pk, "name": "web",
                                                                   "package_version": version.pk,
                                                                   "values": {**values, "replicaCount": 20}},
                                   format="json"))
    assert too_big["valid"] is False
    assert "quota" in too_big["errors"]
    pods = next(r for r in too_big["preflight"]["resources"] if r["resource"] == "pods")
    assert (pods["requested"], pods["fits"]) == ("20", False)

    created = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "web", "package_version": version.pk,
                                                  "values": values}, format="json")
    assert created.status_code == 202, created.content
    release = Release.objects.get(pk=created.json()["id"])
    assert dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "web", "package_version": version.pk,
                                               "values": values}, format="json").status_code == 409
    # A deploy in flight: a second change is refused until it finishes.
    Revision.objects.filter(release=release, number=1).update(status="progressing")
    busy = dev.post(f"/api/catalog/releases/{release.pk}/upgrade/", {"values": {**values, "replicaCount": 2}},
                    format="json")
    assert busy.status_code == 409
    assert "still deploying" in busy.json()["detail"]
    Revision.objects.filter(release=release, number=1).update(status="pending")
    driver.run(until=lambda: release_state(release) == ("deployed", 1))

    upgraded = dev.post(f"/api/catalog/releases/{release.pk}/upgrade/", {"values": {**values, "greeting": "annyeong"}},
                        format="json")
    assert upgraded.status_code == 202, upgraded.content
    driver.run(until=lambda: release_state(release) == ("deployed", 2))
    diff = dev.get(f"/api/catalog/releases/{release.pk}/diff/?from=1&to=2").json()["diff"]
    assert "annyeong" in diff
    detail = dev.get(f"/api/catalog/releases/{release.pk}/").json()
    assert [r["number"] for r in detail["revisions"]] == [2, 1]
    assert dev.post(f"/api/catalog/releases/{release.pk}/rollback/", {"revision": 9}, format="json").status_code == 400
    assert dev.post(f"/api/catalog/releases/{release.pk}/rollback/", {"revision": 1},
                    format="json").status_code == 202
    driver.run(until=lambda: release_state(release) == ("deployed", 3))
    revision = dev.get(f"/api/catalog/releases/{release.pk}/revisions/3/").json()
    assert revision["rollback_of"] == 1
    assert "annyeong" not in revision["manifest"]

    # Who may do what.
    viewer = make_user(f"relview{sm.pk}")
    Membership.objects.create(workspace=workspace, user=viewer, role=Role.objects.get(key="viewer"))
    assert api_for(viewer).get(f"/api/catalog/releases/{release.pk}/").status_code == 200
    assert api_for(viewer).post(f"/api/catalog/releases/{release.pk}/rollback/", {"revision": 2},
                                format="json").status_code == 403
    stranger = make_user(f"relstr{sm.pk}")
    other = Workspace.objects.create(name=f"other-{sm.pk}")
    Membership.objects.create(workspace=other, user=stranger, role=Role.objects.get(key="manager"))
    assert api_for(stranger).get(f"/api/catalog/releases/{release.pk}/").status_code == 404
    assert api_for(stranger).post("/api/catalog/releases/", {
        "service_map": sm.pk, "name": "x", "package_version": version.pk, "values": values},
        format="json").status_code == 400  # the service map is not one they can see
    assert release.pk not in [r["id"] for r in api_for(stranger).get("/api/catalog/releases/").json()["results"]]

    # Delete: the objects go, then the release.
    assert dev.delete(f"/api/catalog/releases/{release.pk}/").status_code == 202
    driver.run(until=lambda: not Release.objects.filter(pk=release.pk).exists())
    with client_for(sandbox, "cluster-2") as kube, pytest.raises(NotFound):
        kube.get_object("Deployment", "web-webapp", sm.namespace)
