"""Helpers of the build definition tests: a workspace with a cluster allocation, a service map
row and a registry allocation (``registry.example.com/team-a``), members of each built-in role,
a valid definition body, and a recorder of the Celery tasks the writes send after commit. No
cluster or registry is contacted: definitions and queued runs are rows until a task runs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from builds.models import Registry
from clusters.models import Cluster
from portal.celery import app as celery_app
from portal.models import User
from portal.testing import make_user
from workspaces.models import ClusterAllocation, Membership, RegistryAllocation, Role, ServiceMap, Workspace

_n = itertools.count(1)
REGISTRY_HOST = "registry.example.com"
GIT_URL = "http://127.0.0.1:9/team-a/shop.git"


def api_for(user: Any) -> APIClient:
    """A client for ``user``, freshly loaded (access caches memberships on the user object)."""
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


@dataclass
class World:
    workspace: Workspace
    cluster: Cluster
    service_map: ServiceMap
    registry: Registry
    developer: User
    viewer: User
    manager: User
    other_cluster: Cluster  # no allocation of the workspace
    other_map: ServiceMap  # another workspace's, on the same cluster
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self, **overrides: Any) -> dict[str, Any]:
        body = {"workspace": self.workspace.pk, "name": "shop", "git_url": GIT_URL, "git_ref": "main",
                "registry": self.registry.pk, "repository": "team-a/shop", "cluster": self.cluster.pk,
                "service_map": self.service_map.pk}
        body.update(overrides)
        return body


def member(workspace: Workspace, role: str) -> User:
    user = make_user(f"{role}-{next(_n)}")
    Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))
    return user


def make_world() -> World:
    Role.ensure_builtin()
    n = next(_n)
    workspace = Workspace.objects.create(name=f"team-a-{n}")
    cluster = Cluster.objects.create(name=f"build-{n}", server=f"https://127.0.0.1:{7000 + n}", status="ready")
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready",
                                     quota={"requests.cpu": "8", "requests.memory": "16Gi", "pods": "100"})
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=f"team-a-build-{n}",
                                   quota={"requests.cpu": "2", "requests.memory": "4Gi", "pods": "20"},
                                   status="ready")
    registry, _ = Registry.objects.get_or_create(name="example", defaults={"host": REGISTRY_HOST, "kind": "generic"})
    RegistryAllocation.objects.create(workspace=workspace, registry=f"{REGISTRY_HOST}/team-a")
    other_cluster = Cluster.objects.create(name=f"other-{n}", server=f"https://127.0.0.1:{8000 + n}", status="ready")
    other = Workspace.objects.create(name=f"team-b-{n}")
    ClusterAllocation.objects.create(workspace=other, cluster=cluster, status="ready", quota={"pods": "10"})
    other_map = ServiceMap.objects.create(workspace=other, cluster=cluster, namespace=f"team-b-{n}",
                                          quota={"pods": "10"}, status="ready")
    return World(workspace, cluster, sm, registry, member(workspace, "developer"), member(workspace, "viewer"),
                 member(workspace, "manager"), other_cluster, other_map)


class SentTasks:
    """Records the tasks sent by name (``portal.enqueue``) instead of handing them to the broker:
    the runner's tasks are not what these tests are about."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []
        monkeypatch.setattr(celery_app, "send_task",
                            lambda name, args=None, kwargs=None, **options: self.sent.append((name, tuple(args or ()))))

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for sent, args in self.sent if sent == name]
