"""``manage.py backup`` / ``restore`` (issue 18 "Backups") against this run's own test database
(``test_<DATABASE_URL's name>``, real PostgreSQL, the real ``pg_dump``/``pg_restore``): clusters
registered to the sandbox, a workspace with a ready service map, a release, a source password
(encrypted like the cluster credentials); dump; wipe (the ``public`` schema dropped and made
again: the portal cannot even read a table); restore; the portal serves the same clusters,
workspaces and releases through its API, the secrets still decrypt with the same keys and the
restored credentials still reach the cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, ProgrammingError, connection
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import CatalogSource, Release, ReleaseStatus, SourceKind
from catalog.tests.helpers import setup_service_maps
from clusters.kube.client import KubeClient
from clusters.models import Cluster
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE_PASSWORD = "registry-password-Qz7"


def _snapshot() -> dict[str, Any]:
    return {
        "clusters": sorted(Cluster.objects.values_list("id", "name", "server", "credentials_encrypted")),
        "workspaces": sorted(Workspace.objects.values_list("id", "name")),
        "service_maps": sorted(ServiceMap.objects.values_list("id", "namespace", "cluster_id", "workspace_id")),
        "releases": sorted(Release.objects.values_list("id", "name", "revision", "status", "values")),
        "sources": sorted(CatalogSource.objects.values_list("id", "name", "password_encrypted")),
    }


def _listed(api: APIClient) -> list[tuple[int, str, str]]:
    response = api.get("/api/clusters/")
    assert response.status_code == 200, response.content
    return sorted((c["id"], c["name"], c["server"]) for c in response.json()["results"])


def _wipe(worker_idle: Callable[[], None]) -> None:
    """Drop the ``public`` schema and make it again, as a lost disk would leave the database.
    Registering the clusters enqueued checks that this process's Celery worker may still be
    running; their writes would deadlock with the DROP, so wait for them first, and retry the
    DROP (one statement, all or nothing) if PostgreSQL still picks it as a deadlock's victim."""
    worker_idle()
    for attempt in range(5):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '60s'")  # a session still in a transaction fails the test, not hangs it
                cursor.execute("DROP SCHEMA public CASCADE")
                cursor.execute("CREATE SCHEMA public")
            break
        except OperationalError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    with pytest.raises(ProgrammingError):
        Cluster.objects.count()
    connection.close()


def test_backup_wipe_restore_serves_the_same_portal(admin_api: APIClient, sandbox: Any, tmp_path: Path,
                                                    session_worker_idle: Callable[[], None]) -> None:
    workspace, maps, _, version = setup_service_maps(admin_api, sandbox, ("cluster-1", "cluster-2"))
    release = Release.objects.create(workspace=workspace, service_map=maps[0], name="shop", package_version=version,
                                     values={"replicaCount": 2}, revision=1, status=ReleaseStatus.DEPLOYED)
    source = CatalogSource.objects.create(name="private-charts", kind=SourceKind.OCI, url="oci://charts.example.com/x",
                                          username="robot", workspace=workspace)
    source.set_password(SOURCE_PASSWORD)
    source.save()
    before = _snapshot()
    assert len(before["clusters"]) == 2
    listed = _listed(admin_api)
    dump = tmp_path / "portal.dump"

    call_command("backup", str(dump))
    assert dump.stat().st_size > 0
    assert not list(tmp_path.glob(".*.partial"))
    with pytest.raises(CommandError, match="exists"):
        call_command("backup", str(dump))  # never overwritten by accident

    _wipe(session_worker_idle)
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(dump))  # confirms first
    call_command("restore", str(dump), "--yes")

    assert _snapshot() == before
    assert _listed(admin_api) == listed
    assert {c[0] for c in listed} == {c[0] for c in before["clusters"]}
    workspace_page = admin_api.get(f"/api/workspaces/{workspace.pk}/")
    assert workspace_page.status_code == 200, workspace_page.content
    assert workspace_page.json()["name"] == workspace.name
    release_page = admin_api.get(reverse("catalog-release-detail", args=[release.pk]))
    assert release_page.status_code == 200, release_page.content
    assert release_page.json()["name"] == "shop"

    # The secrets decrypt with the same keys, and the restored credentials still reach the cluster.
    assert CatalogSource.objects.get(pk=source.pk).get_password() == SOURCE_PASSWORD
    for cluster in Cluster.objects.all():
        assert cluster.get_credentials().method
        client = KubeClient(cluster.connection_spec())
        names = {n["metadata"]["name"] for n in client.list_objects("Namespace")}
        assert any(sm.namespace in names for sm in ServiceMap.objects.filter(cluster=cluster))


def test_restore_refuses_what_is_not_a_dump(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a dump")
    with pytest.raises(CommandError, match="not a pg_dump custom-format dump"):
        call_command("restore", str(bogus), "--yes")
    with pytest.raises(CommandError, match="is not a file"):
        call_command("restore", str(tmp_path / "missing.dump"), "--yes")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("backup", str(tmp_path / "no-such-dir" / "x.dump"))
