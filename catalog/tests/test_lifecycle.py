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

    ws_actions.delete_workspace(workspace=workspace, request=None)  # type: ignore[arg-type]
    assert not Workspace.objects.exists()
    assert not Rollout.objects.exists()
    assert PackageVersion.objects.filter(pk=version.pk).exists()  # the shared catalog stays
