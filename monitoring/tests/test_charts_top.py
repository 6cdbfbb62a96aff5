"""GET /api/monitoring/top/: busiest pods, nodes closest to full and pods nearest their limits
from the newest raw samples of each cluster in the caller's scope, with access as the charts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from monitoring.api.charts import MonitoringTopSerializer
from monitoring.tests.chart_helpers import World, aligned_now, api_for, make_world, write

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/top/"
MIB = 2.0**20


@pytest.fixture
def world() -> World:
    w = make_world()
    now = aligned_now()
    old, new = now - timedelta(seconds=60), now - timedelta(seconds=30)
    both = [old, new]
    write(w, "cluster_a", both, cpu_usage=[3, 3])
    write(w, "cluster_b", both, cpu_usage=[1, 1])
    # the older sample of each pod is the opposite order: only the newest counts
    write(w, "pod_web", both, cpu_usage=[9.0, 0.5], cpu_request=[1.0, 1.0], mem_usage=[100 * MIB, 100 * MIB],
          mem_limit=[128 * MIB, 128 * MIB])
    write(w, "pod_api", both, cpu_usage=[0.1, 1.5], cpu_request=[0.5, 0.5], mem_usage=[100 * MIB, 100 * MIB],
          mem_limit=[400 * MIB, 400 * MIB])
    write(w, "pod_other", both, cpu_usage=[0.1, 2.0], mem_usage=[50 * MIB, 50 * MIB])  # no limit
    write(w, "pod_b", both, cpu_usage=[0.1, 0.25], cpu_request=[0.25, 0.25], mem_usage=[90 * MIB, 90 * MIB],
          mem_limit=[100 * MIB, 100 * MIB])
    write(w, "node_a1", both, cpu_usage=[1, 1], cpu_request=[3.0, 3.0], cpu_allocatable=[4.0, 4.0])
    write(w, "node_a2", both, cpu_usage=[1, 2], cpu_request=[1.0, 1.0], cpu_allocatable=[4.0, 4.0])
    return w


def top(client: APIClient, **params: Any) -> Any:
    return client.get(URL, params)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [i["name"] for i in response.json()["items"]]


def test_busiest_pods(admin_api: APIClient, world: World) -> None:
    fleet = top(admin_api, what="busiest_pods").json()
    assert (fleet["what"], fleet["resource"]) == ("busiest_pods", "cpu")
    assert [(i["name"], i["value"]) for i in fleet["items"]] == [
        ("batch-1", 2.0), ("api-1", 1.5), ("web-1", 0.5), ("web-b-1", 0.25)]
    api_item = fleet["items"][1]
    assert api_item["ratio"] == 3.0  # 1.5 of 0.5 requested
    assert (api_item["cluster_id"], api_item["node"], api_item["workload_kind"], api_item["unit"]) == (
        world.a.pk, "node-2", "StatefulSet", "cores")
    assert fleet["items"][0]["ratio"] is None  # no request
    shape = MonitoringTopSerializer(data=fleet)
    assert shape.is_valid(), shape.errors
    assert names(top(admin_api, what="busiest_pods", cluster=world.b.pk)) == ["web-b-1"]
    assert names(top(admin_api, what="busiest_pods", limit=2)) == ["batch-1", "api-1"]
    # a workspace: its pods on both clusters, not the other workspace's
    assert names(top(admin_api, what="busiest_pods", workspace=world.workspace.pk)) == ["api-1", "web-1", "web-b-1"]
    assert names(top(admin_api, what="busiest_pods", service_map=world.shop.pk)) == ["api-1", "web-1"]


def test_pods_near_limit_and_nodes_fullest(admin_api: APIClient, world: World) -> None:
    near = top(admin_api, what="pods_near_limit").json()
    assert near["resource"] == "memory"
    assert [(i["name"], round(i["ratio"], 4)) for i in near["items"]] == [
        ("web-b-1", 0.9), ("web-1", 0.7812), ("api-1", 0.25)]  # batch-1 has no limit
    assert near["items"][0]["unit"] == "bytes"
    cpu_near = top(admin_api, what="pods_near_limit", resource="cpu").json()
    assert cpu_near["items"] == []  # no CPU limits stored

    nodes = top(admin_api, what="nodes_fullest", cluster=world.a.pk).json()
    assert [(i["name"], i["ratio"], i["value"]) for i in nodes["items"]] == [("node-1", 0.75, 3.0),
                                                                                ("node-2", 0.25, 1.0)]
    assert nodes["items"][1]["usage_ratio"] == 0.5
    assert nodes["items"][0]["allocatable"] == 4.0
    assert names(top(admin_api, what="nodes_fullest")) == ["node-1", "node-2"]  # the fleet's


def test_stale_clusters_are_left_out(admin_api: APIClient, world: World) -> None:
    from monitoring.models import MetricSeries

    MetricSeries.objects.filter(level="cluster", cluster=world.b).delete()  # b has no newest sample now
    assert "web-b-1" not in names(top(admin_api, what="busiest_pods"))


def test_access(world: World) -> None:
    dev = api_for(world.developer)
    assert names(top(dev, what="busiest_pods", workspace=world.workspace.pk)) == ["api-1", "web-1", "web-b-1"]
    assert names(top(dev, what="busiest_pods", service_map=world.shop.pk)) == ["api-1", "web-1"]
    for params in ({"what": "busiest_pods", "cluster": world.a.pk},
                   {"what": "nodes_fullest", "cluster": world.a.pk},
                   {"what": "busiest_pods", "workspace": world.other_workspace.pk},
                   {"what": "busiest_pods", "service_map": world.other.pk}):
        response = top(dev, **params)
        assert response.status_code == 404, params
    response = top(dev, what="busiest_pods")
    assert (response.status_code, response.json()["code"]) == (400, "param_required")


@pytest.mark.parametrize(("params", "param", "code"), [
    ({}, "what", "param_required"),
    ({"what": "loudest"}, "what", "what_invalid"),
    ({"what": "busiest_pods", "limit": "1000"}, "limit", "limit_invalid"),
    ({"what": "busiest_pods", "resource": "gpu"}, "resource", "resource_invalid"),
    ({"what": "nodes_fullest", "service_map": "3"}, "service_map", "scope_conflict"),
])
def test_bad_parameters(admin_api: APIClient, params: dict[str, str], param: str, code: str) -> None:
    response = top(admin_api, **params)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert param in response.json()["errors"]
