"""Catalog sources and packages end to end: a chart repository served by the test (basic auth,
index.yaml with real digests), refresh, archives fetched and checked, uploads, webhooks, the API
and who may do what."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from catalog import sources, tasks
from catalog.models import CatalogSource, Package, PackageVersion, Release, SourceStatus
from catalog.tests.charts import webapp
from catalog.tests.helpers import PASSWORD, USER, Repo
from portal.models import AuditRecord

pytestmark = pytest.mark.django_db

def _refreshes(callbacks: list[Any]) -> list[Any]:
    return [c for c in callbacks if "_enqueue_refresh" in c.__qualname__]


def _create(client: APIClient, repo: Repo, *, workspace: int | None, name: str = "charts") -> Any:
    return client.post("/api/catalog/sources/", {
        "name": name, "kind": "helm", "workspace": workspace, "url": repo.url + "/", "username": USER,
        "password": PASSWORD, "refresh_minutes": 30}, format="json")


def test_repository_refresh_versions_archives_and_render(admin_api: APIClient, repo: Repo, team: dict[str, Any],
                                                         django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = _create(admin_api, repo, workspace=None)
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["status"] == "refreshing"
    assert row["has_password"] is True
    assert "password" not in row
    assert row["url"] == repo.url
    assert row["workspace"] is None
    assert len(_refreshes(queued)) == 1, "a refresh is queued on commit"
    source = CatalogSource.objects.get(pk=row["id"])
    assert PASSWORD not in source.password_encrypted
    assert source.get_password() == PASSWORD
    assert AuditRecord.objects.filter(action="catalog.source_create").exists()

    assert tasks.refresh_source(source.pk) == "ready"
    source.refresh_from_db()
    assert source.status == SourceStatus.READY
    assert source.message.startswith("1 package(s), 2 version(s)")
    package = Package.objects.get(source=source)
    assert (package.name, package.latest_version, package.keywords) == ("webapp", "1.2.0", ["web"])
    v120 = PackageVersion.objects.get(package=package, version="1.2.0")
    assert v120.archive_url == repo.url + "/webapp-1.2.0.tgz"
    assert v120.digest == "sha256:" + hashlib.sha256(webapp()).hexdigest()
    assert v120.archive is None

    # Everyone signed in reads shared packages.
    viewer = team["api"]["a-viewer"]
    listing = viewer.get("/api/catalog/packages/?q=web").json()["results"]
    assert [p["name"] for p in listing] == ["webapp"]
    assert listing[0]["source"] == {"id": source.pk, "name": "charts", "kind": "helm"}
    assert listing[0]["workspace"] is None
    detail = viewer.get(f"/api/catalog/packages/{package.pk}/").json()
    assert [v["version"] for v in detail["versions"]] == ["1.2.0", "1.1.0"]

    # The archive is fetched once by a task (never by the GET), checked and kept; the GET says so.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = viewer.get(f"/api/catalog/versions/{v120.pk}/")
    assert first.status_code == 200, first.content
    assert (first.json()["archive_status"], first.json()["readme"]) == ("fetching", "")
    assert "/charts/webapp-1.2.0.tgz" not in repo.requests, "a GET never fetches"
    assert len(queued) == 1, "the fetch is asked for on commit"
    with django_capture_on_commit_callbacks(execute=False) as again:
        viewer.get(f"/api/catalog/versions/{v120.pk}/")
    assert not again, "asked for once, however often the console polls"
    assert tasks.fetch_archive(v120.pk) == "stored"  # what the enqueued task does
    version = viewer.get(f"/api/catalog/versions/{v120.pk}/")
    body = version.json()
    assert body["archive_status"] == "stored"
    assert body["package"] == {"id": package.pk, "name": "webapp"}
    assert body["readme"].startswith("# webapp")
    assert body["values_schema"]["type"] == "object"
    assert [f["path"] for f in body["form"]][:3] == ["replicaCount", "image.repository", "image.tag"]
    v120.refresh_from_db()
    assert bytes(v120.archive or b"") == webapp()
    fetched = repo.requests.count("/charts/webapp-1.2.0.tgz")
    viewer.get(f"/api/catalog/versions/{v120.pk}/")
    assert repo.requests.count("/charts/webapp-1.2.0.tgz") == fetched, "fetched once"

    rendered = viewer.post(f"/api/catalog/versions/{v120.pk}/render/",
                           {"values": {"host": "shop.example.com"}, "service_map": team["sm"].pk}, format="json")
    assert rendered.status_code == 200, rendered.content
    assert rendered.json()["objects"] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "preview-webapp-config", "namespace": "shop-a"},
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "preview-webapp", "namespace": "shop-a"},
        {"apiVersion": "v1", "kind": "Service", "name": "preview-webapp", "namespace": "shop-a"}]
    assert 'kube: "v1.30.2"' in rendered.json()["manifest"] or "kube: v1.30.2" in rendered.json()["manifest"]
    bad = viewer.post(f"/api/catalog/versions/{v120.pk}/render/",
                      {"values": {"host": "h", "replicaCount": "x"}, "service_map": team["sm"].pk}, format="json")
    assert bad.status_code == 400
    assert "values.replicaCount" in bad.json()["errors"]
    failing = viewer.post(f"/api/catalog/versions/{v120.pk}/render/", {"values": {}, "service_map": team["sm"].pk},
                          format="json")
    assert failing.status_code == 400
    assert "host is required" in failing.json()["errors"]["chart"][0]
    foreign_map = viewer.post(f"/api/catalog/versions/{v120.pk}/render/",
                              {"values": {}, "service_map": team["sm_b"].pk}, format="json")
    assert foreign_map.status_code == 400
    assert "service_map" in foreign_map.json()["errors"]

    # A version that left the index goes, unless a release uses it.
    v110 = PackageVersion.objects.get(package=package, version="1.1.0")
    Release.objects.create(workspace=team["a"], service_map=team["sm"], name="shop", package_version=v110)
    repo.publish({"webapp": [("1.3.0", webapp("1.3.0"))]})
    repo.files["/charts/webapp-1.2.0.tgz"] = b"gone"
    assert sources.refresh(source.pk) == "ready"
    source.refresh_from_db()
    assert "1 version(s) no longer in the repository are kept" in source.message
    assert sorted(PackageVersion.objects.filter(package=package).values_list("version", flat=True)) == [
        "1.1.0", "1.3.0"]
    package.refresh_from_db()
    assert package.latest_version == "1.3.0"


def test_tampered_archive_and_bad_repositories_are_refused(admin_api: APIClient, repo: Repo) -> None:
    source_id = _create(admin_api, repo, workspace=None).json()["id"]
    sources.refresh(source_id)
    version = PackageVersion.objects.get(version="1.2.0")
    repo.files["/charts/webapp-1.2.0.tgz"] = webapp(**{"templates/extra.yaml": "# injected\n"})
    response = admin_api.get(f"/api/catalog/versions/{version.pk}/")
    assert (response.status_code, response.json()["archive_status"]) == (200, "fetching")
    assert "/charts/webapp-1.2.0.tgz" not in repo.requests, "a GET never fetches"
    assert tasks.fetch_archive(version.pk) == "failed"  # what the enqueued task does
    response = admin_api.get(f"/api/catalog/versions/{version.pk}/")
    assert response.json()["archive_status"] == "failed"
    assert "does not match the digest" in response.json()["archive_message"]
    assert response.json()["archive_message_code"] == "archive_fetch_failed"
    version.refresh_from_db()
    assert version.archive is None

    # Another chart under the version's name is refused too (no digest in this index).
    repo.publish({"webapp": [("1.2.0", webapp("9.9.9"))]}, digests=False)
    sources.refresh(source_id)
    assert tasks.fetch_archive(version.pk) == "failed"
    response = admin_api.get(f"/api/catalog/versions/{version.pk}/")
    assert response.json()["archive_status"] == "failed"
    assert "holds webapp 9.9.9" in response.json()["archive_message"]

    source = CatalogSource.objects.get(pk=source_id)
    source.set_password("wrong")
    source.save()
    assert sources.refresh(source_id) == "error"
    source.refresh_from_db()
    assert source.status == "error"
    assert "HTTP 401" in source.message
    assert "username and password" in source.message
    repo.files["/charts/index.yaml"] = b"entries: [not, a, map"
    source.set_password(PASSWORD)
    source.save()
    sources.refresh(source_id)
    source.refresh_from_db()
    assert source.status == "error"
    assert "not valid YAML" in source.message
    CatalogSource.objects.filter(pk=source_id).update(url="http://127.0.0.1:1/charts")
    sources.refresh(source_id)
    source.refresh_from_db()
    assert source.status == "error"
    assert source.message.startswith("Could not connect to 127.0.0.1;")  # one message, no detail


def test_uploads(team: dict[str, Any]) -> None:
    manager = team["api"]["a-manager"]
    created = manager.post("/api/catalog/sources/", {"name": "mine", "kind": "upload", "workspace": team["a"].pk},
                           format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "ready"
    source_id = created.json()["id"]
    url = f"/api/catalog/sources/{source_id}/charts/"
    response = manager.post(url, {"chart": SimpleUploadedFile("webapp.tgz", webapp())}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["version"] == "1.2.0"
    assert response.json()["form"]
    again = manager.post(url, {"chart": SimpleUploadedFile("webapp.tgz", webapp())}, format="multipart")
    assert again.status_code == 409
    assert "uploaded already" in again.json()["detail"]
    newer = manager.post(url, {"chart": SimpleUploadedFile("webapp.tgz", webapp("1.3.0"))}, format="multipart")
    assert newer.status_code == 201
    assert Package.objects.get(source_id=source_id).latest_version == "1.3.0"
    uploaded = CatalogSource.objects.get(pk=source_id)
    assert uploaded.status == "ready"
    assert uploaded.last_refreshed is not None
    assert "webapp 1.3.0 uploaded last" in uploaded.message
    assert response.json()["lookup_templates"] == []
    # A chart calling Helm's lookup says so on its version (the package page warns about it).
    lookup = webapp("1.4.0", **{"templates/found.yaml": 'kind: ConfigMap\napiVersion: v1\nmetadata: {name: f}\n'
                                'data: {x: "{{ (lookup "v1" "Secret" .Release.Namespace "s").data }}"}\n'})
    looked = manager.post(url, {"chart": SimpleUploadedFile("webapp.tgz", lookup)}, format="multipart")
    assert looked.status_code == 201, looked.content
    assert looked.json()["lookup_templates"] == ["templates/found.yaml"]
    version_id = looked.json()["id"]
    assert manager.get(f"/api/catalog/versions/{version_id}/").json()["lookup_templates"] == ["templates/found.yaml"]
    junk = manager.post(url, {"chart": SimpleUploadedFile("x.tgz", b"not a chart")}, format="multipart")
    assert junk.status_code == 400
    assert "gzip" in junk.json()["errors"]["chart"][0]
    assert manager.post(url, {}, format="multipart").status_code == 400
    # A's package is not for B's service maps, nor visible to B at all.
    version = PackageVersion.objects.get(version="1.2.0")
    assert team["api"]["b-manager"].get(f"/api/catalog/versions/{version.pk}/").status_code == 404
    assert team["api"]["b-manager"].get("/api/catalog/packages/").json()["results"] == []
    assert [p["name"] for p in team["api"]["a-viewer"].get("/api/catalog/packages/?scope=mine").json()["results"]] \
        == ["webapp"]
    assert team["api"]["a-viewer"].get("/api/catalog/packages/?scope=shared").json()["results"] == []
    # Deleting a source whose versions a release uses is refused.
    Release.objects.create(workspace=team["a"], service_map=team["sm"], name="shop", package_version=version)
    refused = manager.delete(f"/api/catalog/sources/{source_id}/")
    assert refused.status_code == 409
    assert "Releases or rollouts use 1 version" in refused.json()["detail"]


def test_webhook_and_scheduled_refresh(admin_api: APIClient, repo: Repo, api: APIClient,
                                       django_capture_on_commit_callbacks: Any) -> None:
    source_id = _create(admin_api, repo, workspace=None).json()["id"]
    sources.refresh(source_id)
    response = admin_api.post(f"/api/catalog/sources/{source_id}/webhook-token/")
    assert response.status_code == 201
    token, hook_url = response.json()["token"], response.json()["url"]
    assert hook_url.endswith(f"/api/catalog/hooks/{token}/")
    source = CatalogSource.objects.get(pk=source_id)
    assert source.webhook_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert api.post("/api/catalog/hooks/not-the-token/").status_code == 404
    with django_capture_on_commit_callbacks(execute=False) as queued:
        accepted = api.post(f"/api/catalog/hooks/{token}/")  # no session, no CSRF token
    assert accepted.status_code == 202
    assert len(_refreshes(queued)) == 1
    assert CatalogSource.objects.get(pk=source_id).status == "refreshing"
    # A new token replaces the old one.
    admin_api.post(f"/api/catalog/sources/{source_id}/webhook-token/")
    assert api.post(f"/api/catalog/hooks/{token}/").status_code == 404

    # The beat queues sources whose refresh_minutes have passed.
    sources.refresh(source_id)
    enqueued: list[int] = []
    assert sources.enqueue_due(enqueued.append) == 0
    CatalogSource.objects.filter(pk=source_id).update(last_refreshed=timezone.now() - timedelta(minutes=31))
    assert sources.enqueue_due(enqueued.append) == 1
    assert enqueued == [source_id]
    CatalogSource.objects.filter(pk=source_id).update(refresh_minutes=0, last_refreshed=None)
    assert sources.enqueue_due(enqueued.append) == 0


def test_who_may_do_what(admin_api: APIClient, repo: Repo, team: dict[str, Any], settings: Any) -> None:
    api = team["api"]
    body = {"name": "charts", "kind": "helm", "url": "https://charts.example.com", "workspace": None}
    refused = api["a-manager"].post("/api/catalog/sources/", body, format="json")
    assert refused.status_code == 403
    assert "system admins" in refused.json()["detail"]
    viewer = api["a-viewer"].post("/api/catalog/sources/", {**body, "workspace": team["a"].pk}, format="json")
    assert viewer.status_code == 403
    assert "servicemaps.manage" in viewer.json()["detail"]
    foreign = api["b-manager"].post("/api/catalog/sources/", {**body, "workspace": team["a"].pk}, format="json")
    assert foreign.status_code == 400
    assert foreign.json()["errors"] == {"workspace": ["No such workspace."]}
    mine = api["a-manager"].post("/api/catalog/sources/", {**body, "workspace": team["a"].pk}, format="json")
    assert mine.status_code == 201, mine.content
    source_id = mine.json()["id"]
    shared = admin_api.post("/api/catalog/sources/", {**body, "name": "shared"}, format="json").json()

    # Visible: shared to everyone, A's to A only (B gets 404 for every verb).
    assert {s["name"] for s in api["b-manager"].get("/api/catalog/sources/").json()["results"]} == {"shared"}
    assert {s["name"] for s in api["a-viewer"].get("/api/catalog/sources/").json()["results"]} == {"charts", "shared"}
    assert [s["name"] for s in api["a-viewer"].get("/api/catalog/sources/?workspace=shared").json()["results"]] == [
        "shared"]
    for method in ("get", "patch", "delete"):
        assert getattr(api["b-manager"], method)(f"/api/catalog/sources/{source_id}/", {}, format="json") \
            .status_code == 404
    for sub in ("refresh", "webhook-token", "charts"):
        assert api["b-manager"].post(f"/api/catalog/sources/{source_id}/{sub}/").status_code == 404
    # A's viewer sees but may not change; the shared source needs an admin.
    assert api["a-viewer"].patch(f"/api/catalog/sources/{source_id}/", {"refresh_minutes": 5},
                                 format="json").status_code == 403
    assert api["a-manager"].post(f"/api/catalog/sources/{shared['id']}/refresh/").status_code == 403
    assert api["a-manager"].delete(f"/api/catalog/sources/{shared['id']}/").status_code == 403
    changed = api["a-manager"].patch(f"/api/catalog/sources/{source_id}/", {"refresh_minutes": 5, "password": "x"},
                                     format="json")
    assert changed.status_code == 200
    assert changed.json()["refresh_minutes"] == 5
    assert changed.json()["has_password"]

    # http:// only for admins outside development and test.
    settings.PORTAL_ENV = "production"
    plain = api["a-manager"].patch(f"/api/catalog/sources/{source_id}/", {"url": "http://charts.example.com"},
                                   format="json")
    assert plain.status_code == 400
    assert "https://" in plain.json()["errors"]["url"][0]
    assert admin_api.patch(f"/api/catalog/sources/{shared['id']}/", {"url": repo.url}, format="json") \
        .status_code == 200
    bad_ca = api["a-manager"].patch(f"/api/catalog/sources/{source_id}/", {"ca_pem": "nope"}, format="json")
    assert bad_ca.status_code == 400
    assert "ca_pem" in bad_ca.json()["errors"]
    assert api["a-manager"].delete(f"/api/catalog/sources/{source_id}/").status_code == 204


def test_repositories_on_forbidden_addresses_are_not_contacted(settings: Any) -> None:
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = False
    for url, why in (("https://169.254.169.254/charts", "link-local or cloud-metadata"),
                     ("http://127.0.0.1:9/charts", "loopback")):
        source = CatalogSource.objects.create(name=f"bad-{len(why)}", kind="helm", url=url)
        assert sources.refresh(source.pk) == "error"
        source.refresh_from_db()
        assert "is not allowed" in source.message
        assert why in source.message
