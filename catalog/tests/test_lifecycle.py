"""Releases, revisions and rollouts follow their service map and workspace when those are
deleted (the namespace goes with the service map), instead of blocking the delete."""

from __future__ import annotations

import pytest

from catalog.models import CatalogSource, Package, PackageVersion, Release, Revision, Rollout, RolloutTarget
from clusters.models import Cluster
from workspaces import actions as ws_actions
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def test_deleting_a_service_map_and_then_its_workspace_takes_their_releases() -> None:
    workspace = Workspace.objects.create(name="gone")
    cluster = Cluster.objects.create(name="c", server="https://127.0.0.1:9")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="shop", status="deleting")
    source = CatalogSource.objects.create(name="charts", kind="upload", workspace=None)
    version = PackageVersion.objects.create(package=Package.objects.create(source=source, name="web"), version="1.0.0")
    release = Release.objects.create(workspace=workspace, service_map=sm, name="web", package_version=version)
    Revision.objects.create(release=release, number=1, package_version=version)
    rollout = Rollout.objects.create(workspace=workspace, release_name="web", package_version=version)
    RolloutTarget.objects.create(rollout=rollout, service_map=sm)

    ws_actions.service_map_deleted(sm)
    assert not ServiceMap.objects.exists()
    assert not Release.objects.exists()
    assert not Revision.objects.exists()
    assert not RolloutTarget.objects.exists()

    ws_actions.delete_workspace(workspace=workspace, request=None)
    assert not Workspace.objects.exists()
    assert not Rollout.objects.exists()
    assert PackageVersion.objects.filter(pk=version.pk).exists()  # the shared catalog stays


def test_a_repeated_deploy_or_watch_does_not_start_a_second_chain() -> None:
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    from catalog import deploy

    workspace = Workspace.objects.create(name="twice")
    cluster = Cluster.objects.create(name="c2", server="https://127.0.0.1:9")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="shop", status="ready")
    source = CatalogSource.objects.create(name="charts2", kind="upload", workspace=None)
    version = PackageVersion.objects.create(package=Package.objects.create(source=source, name="web"), version="1.0.0")
    release = Release.objects.create(workspace=workspace, service_map=sm, name="web", package_version=version,
                                     revision=1, status="deploying")
    Revision.objects.create(release=release, number=1, package_version=version, status="progressing")
    Release.objects.filter(pk=release.pk).update(updated=timezone.now() - timedelta(minutes=5))
    cache.delete(deploy.watching_key(release.pk, 1))

    # A deploy of a revision that is already applied does nothing (no second apply, no new watch).
    assert deploy.deploy_revision(release.pk, 1) == "done"
    # The beat restarts a watch only when no watch pass has marked the revision lately.
    assert deploy.due_revisions(stale_after=0) == [(release.pk, 1, "watch")]
    cache.set(deploy.watching_key(release.pk, 1), 1, timeout=30)
    assert deploy.due_revisions(stale_after=0) == []
