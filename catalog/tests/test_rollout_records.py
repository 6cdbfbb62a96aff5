"""Rollout records after the fact: a finished rollout pins no package version (its source can be
deleted, and the rollout keeps what it deployed), and can be deleted; a running one protects its
version, is cancelled (pending targets skipped) and only then deleted; a finished one cannot be
cancelled again. Database rows only: no cluster is asked."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.models import CatalogSource, Package, PackageVersion, Rollout, RolloutTarget
from clusters.models import Cluster
from portal.models import AuditRecord
from portal.testing import make_user
from workspaces.models import Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db
_n = itertools.count(1)
SUFFIX = int(time.time()) % 100000


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_n)}-{SUFFIX}"


@pytest.fixture
def world(admin_user: Any) -> dict[str, Any]:
    workspace = Workspace.objects.create(name=unique("rr-team"))
    cluster = Cluster.objects.create(name=unique("rr-c"), server="https://127.0.0.1:1", status="connected")
    maps = [ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=unique("rr-ns"), status="ready")
            for _ in range(2)]
    source = CatalogSource.objects.create(name=unique("rr-src"), kind="upload", workspace=workspace, status="ready")
    package = Package.objects.create(source=source, name="webapp", latest_version="1.2.0")
    version = PackageVersion.objects.create(package=package, version="1.2.0")
    Role.ensure_builtin()
    users = {}
    for role in ("developer", "viewer"):
        user = make_user(unique(role))
        Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))
        client = APIClient()
        client.force_authenticate(user)
        users[role] = client
    return {"workspace": workspace, "maps": maps, "source": source, "version": version, **users}


def rollout(world: dict[str, Any], status: str) -> Rollout:
    version = world["version"]
    row = Rollout.objects.create(workspace=world["workspace"], release_name="shop", package_version=version,
                                 version_label=f"{version.package.name} {version.version}", status=status,
                                 policy={"canary": None, "batch_size": 1, "max_failures": 0})
    for wave, sm in enumerate(world["maps"], start=1):
        RolloutTarget.objects.create(rollout=row, service_map=sm, wave=wave)
    return row


def test_a_finished_rollout_pins_nothing_and_can_be_deleted(world: dict[str, Any], admin_api: APIClient) -> None:
    done = rollout(world, "succeeded")
    dev = world["developer"]
    # It cannot be cancelled any more: a 409 that says so.
    refused = dev.post(f"/api/catalog/rollouts/{done.pk}/cancel/")
    assert refused.status_code == 409
    assert "already succeeded" in refused.json()["detail"]
    # Its source can go; the rollout keeps what it deployed.
    deleted = admin_api.delete(f"/api/catalog/sources/{world['source'].pk}/")
    assert deleted.status_code == 204, deleted.content
    assert not PackageVersion.objects.filter(pk=world["version"].pk).exists()
    row = dev.get(f"/api/catalog/rollouts/{done.pk}/").json()
    assert row["version"] == {"id": None, "version": "1.2.0", "label": "webapp 1.2.0"}
    # A viewer may not delete it; a developer may.
    assert world["viewer"].delete(f"/api/catalog/rollouts/{done.pk}/").status_code == 403
    assert dev.delete(f"/api/catalog/rollouts/{done.pk}/").status_code == 204
    assert dev.get(f"/api/catalog/rollouts/{done.pk}/").status_code == 404
    assert AuditRecord.objects.filter(action="rollout.delete", target_id=str(done.pk)).exists()


def test_a_running_rollout_protects_its_version_until_cancelled(world: dict[str, Any], admin_api: APIClient) -> None:
    running = rollout(world, "running")
    dev = world["developer"]
    refused = admin_api.delete(f"/api/catalog/sources/{world['source'].pk}/")
    assert refused.status_code == 409
    assert "use 1 version" in refused.json()["detail"]
    busy = dev.delete(f"/api/catalog/rollouts/{running.pk}/")
    assert busy.status_code == 409
    assert "cancel it first" in busy.json()["detail"]
    assert world["viewer"].post(f"/api/catalog/rollouts/{running.pk}/cancel/").status_code == 403

    cancelled = dev.post(f"/api/catalog/rollouts/{running.pk}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert body["finished"] is not None
    assert {t["state"] for t in body["targets"]} == {"skipped"}
    assert dev.post(f"/api/catalog/rollouts/{running.pk}/cancel/").status_code == 409
    # Cancelled is finished: the source may go now, and the record too.
    assert admin_api.delete(f"/api/catalog/sources/{world['source'].pk}/").status_code == 204
    assert dev.delete(f"/api/catalog/rollouts/{running.pk}/").status_code == 204
    assert not Rollout.objects.filter(pk=running.pk).exists()


def test_rollout_values_that_became_secret_values_are_redacted(world: dict[str, Any]) -> None:
    """A password given as a rollout value (or a target override) ends up in a Secret of the
    target's revision: the rollout shows it as <redacted>, as the release does."""
    from catalog.models import Release, Revision

    sm = world["maps"][0]
    version = world["version"]
    release = Release.objects.create(workspace=world["workspace"], service_map=sm, name="shop",
                                     package_version=version, revision=1)
    manifest = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: shop-secret\n  namespace: " + sm.namespace +
                "\ntype: Opaque\nstringData:\n  password: canary-rollout-pw\n  token: canary-override-tk\n")
    Revision.objects.create(release=release, number=1, package_version=version, manifest=manifest)
    row = rollout(world, "succeeded")
    row.values = {"password": "canary-rollout-pw", "replicas": 2}
    row.save(update_fields=["values"])
    target = row.targets.get(service_map=sm)
    target.release, target.revision, target.overrides = release, 1, {"token": "canary-override-tk"}
    target.save(update_fields=["release", "revision", "overrides"])
    body = world["developer"].get(f"/api/catalog/rollouts/{row.pk}/").json()
    assert body["values"] == {"password": "<redacted>", "replicas": 2}
    shown = next(t for t in body["targets"] if t["service_map"]["id"] == sm.pk)
    assert shown["overrides"] == {"token": "<redacted>"}
    listed = world["developer"].get(f"/api/catalog/rollouts/?workspace={world['workspace'].pk}").json()
    assert "canary-rollout-pw" not in str(listed)
    assert "canary-override-tk" not in str(listed)


def test_the_grant_is_checked_before_the_body(world: dict[str, Any]) -> None:
    """A viewer who sends an invalid body learns nothing about a valid one: 403, not 400."""
    sm = world["maps"][0]
    viewer = world["viewer"]
    configs = f"/api/catalog/configs/{sm.pk}"
    assert viewer.post(f"{configs}/", {"kind": 7}, format="json").status_code == 403
    assert viewer.put(f"{configs}/ConfigMap/app/", {"data": 7}, format="json").status_code == 403
    assert viewer.post(f"{configs}/ConfigMap/app/versions/", {"version": "x"}, format="json").status_code == 403
    scaler = f"/api/catalog/autoscalers/{sm.pk}/Deployment/web/"
    assert viewer.put(scaler, {"min_replicas": "x"}, format="json").status_code == 403
