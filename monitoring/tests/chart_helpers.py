"""A small monitored world for the chart, top-N and marker tests: two clusters, a workspace with a
service map on each, another workspace's namespace, a node, a workload, a one-container pod and a
two-container pod, and samples written through :mod:`monitoring.store` (the collector's writer)
at times aligned to the 30-second interval just before now, so the API's own clock finds them in
the raw retention.

Values are chosen to be checked by hand: see each test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster
from monitoring import store
from monitoring.store import Sample, SeriesKey
from portal.models import User
from portal.testing import make_user
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

_n = itertools.count(1)
INTERVAL = 30


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


def aligned_now(seconds: int = INTERVAL) -> datetime:
    return store.align(timezone.now(), seconds)


@dataclass
class World:
    a: Cluster
    b: Cluster
    workspace: Workspace
    other_workspace: Workspace
    shop: ServiceMap  # cluster a, namespace shop-<n>
    shop_b: ServiceMap  # cluster b, namespace shopb-<n>
    other: ServiceMap  # the other workspace's, cluster a
    developer: User
    outsider: User  # a member of the other workspace
    ids: dict[str, int] = field(default_factory=dict)

    def key(self, name: str) -> SeriesKey:
        return KEYS[name](self)


KEYS: dict[str, Any] = {
    "cluster_a": lambda w: SeriesKey(cluster_id=w.a.pk, level="cluster"),
    "cluster_b": lambda w: SeriesKey(cluster_id=w.b.pk, level="cluster"),
    "node_a1": lambda w: SeriesKey(cluster_id=w.a.pk, level="node", name="node-1"),
    "node_a2": lambda w: SeriesKey(cluster_id=w.a.pk, level="node", name="node-2"),
    "ns_shop": lambda w: SeriesKey(cluster_id=w.a.pk, level="namespace", namespace=w.shop.namespace,
                                   name=w.shop.namespace, service_map_id=w.shop.pk, workspace_id=w.workspace.pk),
    "ns_shop_b": lambda w: SeriesKey(cluster_id=w.b.pk, level="namespace", namespace=w.shop_b.namespace,
                                     name=w.shop_b.namespace, service_map_id=w.shop_b.pk, workspace_id=w.workspace.pk),
    "ns_other": lambda w: SeriesKey(cluster_id=w.a.pk, level="namespace", namespace=w.other.namespace,
                                    name=w.other.namespace, service_map_id=w.other.pk,
                                    workspace_id=w.other_workspace.pk),
    "wl_web": lambda w: SeriesKey(cluster_id=w.a.pk, level="workload", namespace=w.shop.namespace, name="web",
                                  workload_kind="Deployment", workload_name="web", service_map_id=w.shop.pk,
                                  workspace_id=w.workspace.pk),
    "pod_web": lambda w: SeriesKey(cluster_id=w.a.pk, level="pod", namespace=w.shop.namespace, name="web-1",
                                   workload_kind="Deployment", workload_name="web", node="node-1",
                                   service_map_id=w.shop.pk, workspace_id=w.workspace.pk),
    "pod_api": lambda w: SeriesKey(cluster_id=w.a.pk, level="pod", namespace=w.shop.namespace, name="api-1",
                                   workload_kind="StatefulSet", workload_name="api", node="node-2",
                                   service_map_id=w.shop.pk, workspace_id=w.workspace.pk),
    "ct_api_app": lambda w: SeriesKey(cluster_id=w.a.pk, level="container", namespace=w.shop.namespace,
                                      name="api-1", container="app", workload_kind="StatefulSet",
                                      workload_name="api", node="node-2", service_map_id=w.shop.pk,
                                      workspace_id=w.workspace.pk),
    "ct_api_proxy": lambda w: SeriesKey(cluster_id=w.a.pk, level="container", namespace=w.shop.namespace,
                                        name="api-1", container="proxy", workload_kind="StatefulSet",
                                        workload_name="api", node="node-2", service_map_id=w.shop.pk,
                                        workspace_id=w.workspace.pk),
    "pod_other": lambda w: SeriesKey(cluster_id=w.a.pk, level="pod", namespace=w.other.namespace, name="batch-1",
                                     workload_kind="Job", workload_name="batch", node="node-1",
                                     service_map_id=w.other.pk, workspace_id=w.other_workspace.pk),
    "pod_b": lambda w: SeriesKey(cluster_id=w.b.pk, level="pod", namespace=w.shop_b.namespace, name="web-b-1",
                                 workload_kind="Deployment", workload_name="web-b", node="node-b",
                                 service_map_id=w.shop_b.pk, workspace_id=w.workspace.pk),
}


def member(workspace: Workspace, role: str = "developer") -> User:
    user = make_user(f"{role}-chart-{next(_n)}")
    Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))
    return user


def make_world() -> World:
    Role.ensure_builtin()
    n = next(_n)
    a = Cluster.objects.create(name=f"chart-a-{n}", server=f"https://127.0.0.1:{7100 + n}", status="ready")
    b = Cluster.objects.create(name=f"chart-b-{n}", server=f"https://127.0.0.1:{7200 + n}", status="ready")
    ws = Workspace.objects.create(name=f"charts-{n}")
    other_ws = Workspace.objects.create(name=f"charts-other-{n}")
    for workspace, cluster in ((ws, a), (ws, b), (other_ws, a)):
        ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready", quota={"pods": "10"})
    shop = ServiceMap.objects.create(workspace=ws, cluster=a, namespace=f"shop-{n}", status="ready")
    shop_b = ServiceMap.objects.create(workspace=ws, cluster=b, namespace=f"shopb-{n}", status="ready")
    other = ServiceMap.objects.create(workspace=other_ws, cluster=a, namespace=f"other-{n}", status="ready")
    world = World(a, b, ws, other_ws, shop, shop_b, other, member(ws), member(other_ws))
    keys = {name: make(world) for name, make in KEYS.items()}
    found = store.series_ids(keys.values(), timezone.now())
    world.ids = {name: found[key] for name, key in keys.items()}
    return world


def write(world: World, name: str, times: list[datetime], **columns: list[float | None]) -> None:
    """Samples of series ``name`` at ``times``, column -> one value per time."""
    rows = []
    for i, ts in enumerate(times):
        values = {column: series[i] for column, series in columns.items()}
        rows.append(Sample(series_id=world.ids[name], ts=ts, **values))  # type: ignore[arg-type]
    store.write_samples(rows)


def times(start: datetime, count: int, step: int = INTERVAL) -> list[datetime]:
    return [start + timedelta(seconds=step * i) for i in range(count)]
