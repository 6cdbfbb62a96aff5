"""Fixtures of the catalog tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.tests.charts import webapp
from catalog.tests.helpers import Driver, Repo
from clusters.models import Cluster
from portal.testing import make_user
from workspaces.models import Membership, Role, ServiceMap, Workspace


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> Driver:
    """The catalog's Celery tasks, run in this process in the order they were enqueued."""
    return Driver(monkeypatch)


@pytest.fixture
def repo() -> Iterator[Repo]:
    """A chart repository served in the test, with two versions of the webapp chart."""
    server = Repo()
    server.publish({"webapp": [("1.2.0", webapp()), ("1.1.0", webapp("1.1.0"))]})
    yield server
    server.close()


@pytest.fixture
def team(db: None) -> dict[str, Any]:
    """Workspace A with a manager and a viewer, workspace B with a manager, a service map in A."""
    Role.ensure_builtin()
    roles = {r.key: r for r in Role.objects.all()}
    a = Workspace.objects.create(name="team-a")
    b = Workspace.objects.create(name="team-b")
    users = {name: make_user(name) for name in ("a-manager", "a-viewer", "b-manager")}
    Membership.objects.create(workspace=a, user=users["a-manager"], role=roles["manager"])
    Membership.objects.create(workspace=a, user=users["a-viewer"], role=roles["viewer"])
    Membership.objects.create(workspace=b, user=users["b-manager"], role=roles["manager"])
    cluster = Cluster.objects.create(name="c1", server="https://127.0.0.1:9", status="connected",
                                     kubernetes_version="v1.30.2+k3s1")
    sm = ServiceMap.objects.create(workspace=a, cluster=cluster, namespace="shop-a", status="ready")
    sm_b = ServiceMap.objects.create(workspace=b, cluster=cluster, namespace="shop-b", status="ready")
    clients = {}
    for name, user in users.items():
        client = APIClient()
        client.force_authenticate(user)
        clients[name] = client
    return {"a": a, "b": b, "users": users, "api": clients, "sm": sm, "sm_b": sm_b, "cluster": cluster}
