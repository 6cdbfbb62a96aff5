"""GET /api/monitoring/charts/ against the real PostgreSQL: series and samples written by the
store, values checked by hand at every level (the fleet and a workspace summed across two
clusters), the 5-minute source with its raw tail, access (a member sees their service map's chart,
404 for a cluster's and another workspace's) and the 400s naming their parameter."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from monitoring import store
from monitoring.api.charts import MonitoringChartSerializer
from monitoring.tests.chart_helpers import World, aligned_now, api_for, make_world, times, write

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/charts/"
GIB = 2.0**30


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def t0() -> datetime:
    """Start of a two-minute window ten minutes ago, aligned to a minute."""
    return aligned_now(60) - timedelta(minutes=10)


def seed(world: World, t0: datetime) -> None:
    ts = times(t0, 4)  # t0, +30, +60, +90: two buckets of 60 s, two samples each
    write(world, "cluster_a", ts, cpu_usage=[1, 2, 3, 4], cpu_allocatable=[8, 8, 8, 8], mem_usage=[100, 200, 300, 400],
          pods=[3, 3, 3, 3])
    write(world, "cluster_b", ts, cpu_usage=[10, 20, 30, 40], cpu_allocatable=[4, 4, 4, 4],
          mem_usage=[1000, 1000, 1000, 1000])
    write(world, "node_a1", ts, cpu_usage=[2, 4, 6, 8], cpu_allocatable=[4, 4, 4, 4], cpu_capacity=[4.5] * 4)
    write(world, "ns_shop", ts, cpu_usage=[0.5, 0.5, 1.0, 1.0], mem_usage=[GIB, GIB, GIB, GIB])
    write(world, "ns_shop_b", ts, cpu_usage=[0.25, 0.75, 0.25, 0.75], mem_usage=[GIB, GIB, 3 * GIB, 3 * GIB])
    write(world, "ns_other", ts, cpu_usage=[5, 5, 5, 5])
    write(world, "wl_web", ts, cpu_usage=[0.2, 0.4, 0.6, 0.8], cpu_request=[0.5] * 4, pods=[2, 2, 2, 2])
    write(world, "pod_web", ts, cpu_usage=[0.1, 0.1, 0.3, 0.3], cpu_limit=[1.0] * 4)
    write(world, "pod_api", ts, cpu_usage=[1, 1, 1, 1])
    write(world, "ct_api_app", ts, cpu_usage=[0.7] * 4)
    write(world, "ct_api_proxy", ts, cpu_usage=[0.3] * 4)


def chart(client: APIClient, t0: datetime, **params: Any) -> Any:
    query = {"start": str(int(t0.timestamp())), "end": str(int(t0.timestamp()) + 120), "step": "60", **params}
    return client.get(URL, query)


def values(body: dict[str, Any], metric: str) -> list[float | None]:
    [series] = [s for s in body["series"] if s["metric"] == metric]
    return [p[1] for p in series["points"]]


def test_every_level_by_hand(admin_api: APIClient, world: World, t0: datetime) -> None:
    seed(world, t0)
    start = int(t0.timestamp())

    fleet = chart(admin_api, t0, level="fleet").json()
    assert (fleet["level"], fleet["source"], fleet["step"], fleet["start"], fleet["end"]) == (
        "fleet", "raw", 60, start, start + 120)
    cpu = next(s for s in fleet["series"] if s["metric"] == "cpu_usage")
    assert cpu["unit"] == "cores"
    assert cpu["points"] == [[start, 16.5], [start + 60, 38.5]]  # per ts 11, 22 | 33, 44
    assert values(fleet, "cpu_allocatable") == [12, 12]
    assert values(fleet, "mem_usage") == [1150, 1350]
    assert values(fleet, "pods") == [3, 3]  # cluster b reports none
    assert values(fleet, "cpu_capacity") == [None, None]
    assert fleet["last_sample"] == start + 90
    shape = MonitoringChartSerializer(data=fleet)  # the documented schema holds
    assert shape.is_valid(), shape.errors

    cluster = chart(admin_api, t0, level="cluster", cluster=world.a.pk).json()
    assert values(cluster, "cpu_usage") == [1.5, 3.5]
    assert values(cluster, "cpu_allocatable") == [8, 8]
    assert "cpu_usage_max" not in [s["metric"] for s in cluster["series"]]  # raw: no maxima

    node = chart(admin_api, t0, level="node", cluster=world.a.pk, node="node-1").json()
    assert values(node, "cpu_usage") == [3, 7]
    assert values(node, "cpu_capacity") == [4.5, 4.5]

    # a workspace: its namespaces on both clusters summed per ts (0.75, 1.25 | 1.25, 1.75), never
    # the other workspace's namespace on cluster a
    workspace = chart(admin_api, t0, level="workspace", workspace=world.workspace.pk).json()
    assert values(workspace, "cpu_usage") == [1.0, 1.5]
    assert values(workspace, "mem_usage") == [2 * GIB, 4 * GIB]
    assert "cpu_allocatable" not in [s["metric"] for s in workspace["series"]]

    sm = chart(admin_api, t0, level="servicemap", service_map=world.shop.pk).json()
    assert values(sm, "cpu_usage") == [0.5, 1.0]

    ns = world.shop.namespace
    workload = chart(admin_api, t0, level="workload", cluster=world.a.pk, namespace=ns, workload_kind="Deployment",
                     workload_name="web").json()
    assert values(workload, "cpu_usage") == pytest.approx([0.3, 0.7])
    assert values(workload, "cpu_request") == [0.5, 0.5]
    assert values(workload, "pods") == [2, 2]

    pod = chart(admin_api, t0, level="pod", cluster=world.a.pk, namespace=ns, pod="web-1").json()
    assert values(pod, "cpu_usage") == pytest.approx([0.1, 0.3])
    assert values(pod, "cpu_limit") == [1.0, 1.0]
    assert pod["fallback"] is None

    # a one-container pod has no container rows: its container chart is the pod's
    single = chart(admin_api, t0, level="container", cluster=world.a.pk, namespace=ns, pod="web-1",
                   container="web").json()
    assert values(single, "cpu_usage") == pytest.approx([0.1, 0.3])
    assert single["fallback"] == "pod"

    container = chart(admin_api, t0, level="container", cluster=world.a.pk, namespace=ns, pod="api-1",
                      container="app").json()
    assert values(container, "cpu_usage") == pytest.approx([0.7, 0.7])
    assert container["fallback"] is None
    missing = chart(admin_api, t0, level="container", cluster=world.a.pk, namespace=ns, pod="api-1",
                    container="sidecar")
    assert (missing.status_code, missing.json()["code"]) == (404, "container_not_found")


def test_nothing_stored_answers_nulls(admin_api: APIClient, world: World, t0: datetime) -> None:
    body = chart(admin_api, t0, level="pod", cluster=world.a.pk, namespace=world.shop.namespace,
                 pod="never-ran").json()
    assert values(body, "cpu_usage") == [None, None]
    assert body["last_sample"] is None
    assert body["markers"] == []


def test_defaults_are_the_last_hour(admin_api: APIClient, world: World) -> None:
    now = aligned_now()
    write(world, "cluster_a", [now - timedelta(seconds=60)], cpu_usage=[2.5])
    body = admin_api.get(URL, {"level": "cluster", "cluster": str(world.a.pk)}).json()
    assert (body["source"], body["step"]) == ("raw", 30)
    assert 3500 <= body["end"] - body["start"] <= 3630
    assert 2.5 in values(body, "cpu_usage")


def test_five_minute_source_with_its_raw_tail(admin_api: APIClient, world: World) -> None:
    """Forty minutes of raw samples rolled up by the store; a chart with a 5-minute step reads the
    roll-up up to its watermark and raw samples after it: every bucket by hand."""
    now = aligned_now()
    start = store.align(now - timedelta(minutes=40), 300)
    ts = [t for t in times(start, 120) if t < now]
    cpu: list[float | None] = [float((t - start).total_seconds() // 300) for t in ts]  # the bucket's index
    spike = ts.index(start + timedelta(minutes=10, seconds=90))
    cpu[spike] = 10.0  # bucket 2: nine samples of 2 and one of 10
    write(world, "pod_web", ts, cpu_usage=cpu)
    store.rollup(now)
    from monitoring.models import RollupState

    watermark = RollupState.objects.get(target="5m").done_until
    assert start < watermark < now  # the last buckets are not rolled up yet

    body = admin_api.get(URL, {"level": "pod", "cluster": str(world.a.pk), "namespace": world.shop.namespace,
                               "pod": "web-1", "start": start.isoformat(), "end": now.isoformat(),
                               "step": "300"}).json()
    assert body["source"] == "5m"
    got = values(body, "cpu_usage")
    buckets = len(got)
    want: list[float | None] = [float(i) for i in range(buckets)]
    want[2] = (2 * 9 + 10) / 10
    assert got == pytest.approx(want)
    assert None not in got  # the raw tail fills what the roll-up has not reached
    maxima = values(body, "cpu_usage_max")
    assert (maxima[1], maxima[2]) == (1.0, 10.0)


def test_a_member_sees_their_applications_only(world: World, t0: datetime) -> None:
    seed(world, t0)
    dev = api_for(world.developer)
    ns = world.shop.namespace
    assert values(chart(dev, t0, level="servicemap", service_map=world.shop.pk).json(), "cpu_usage") == [0.5, 1.0]
    assert chart(dev, t0, level="workspace", workspace=world.workspace.pk).status_code == 200
    assert chart(dev, t0, level="pod", cluster=world.a.pk, namespace=ns, pod="web-1").status_code == 200
    assert chart(dev, t0, level="workload", cluster=world.a.pk, namespace=ns, workload_kind="Deployment",
                 workload_name="web").status_code == 200
    for params in ({"level": "fleet"}, {"level": "cluster", "cluster": world.a.pk},
                   {"level": "node", "cluster": world.a.pk, "node": "node-1"},
                   {"level": "workspace", "workspace": world.other_workspace.pk},
                   {"level": "servicemap", "service_map": world.other.pk},
                   {"level": "pod", "cluster": str(world.a.pk), "namespace": world.other.namespace, "pod": "batch-1"},
                   {"level": "cluster", "cluster": 999999}):
        response = chart(dev, t0, **params)
        assert response.status_code == 404, params
        assert response.json()["code"] == "not_found"
    # the other workspace's member sees theirs and not ours
    outsider = api_for(world.outsider)
    assert chart(outsider, t0, level="servicemap", service_map=world.other.pk).status_code == 200
    assert chart(outsider, t0, level="servicemap", service_map=world.shop.pk).status_code == 404


def test_an_operator_sees_infrastructure(operator_user: Any, world: World, t0: datetime) -> None:
    seed(world, t0)
    assert chart(api_for(operator_user), t0, level="cluster", cluster=world.b.pk).status_code == 200


def test_anonymous_is_refused(api: APIClient, world: World, t0: datetime) -> None:
    assert chart(api, t0, level="fleet").status_code in (401, 403)


@pytest.mark.parametrize(("params", "param", "code"), [
    ({}, "level", "param_required"),
    ({"level": "planet"}, "level", "level_invalid"),
    ({"level": "cluster"}, "cluster", "param_required"),
    ({"level": "cluster", "cluster": "abc"}, "cluster", "param_invalid"),
    ({"level": "fleet", "start": "soon"}, "start", "range_invalid"),
    ({"level": "fleet", "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end", "range_invalid"),
    ({"level": "fleet", "start": "2024-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "start", "range_invalid"),
    ({"level": "fleet", "step": "5"}, "step", "step_invalid"),
    ({"level": "fleet", "start": "2025-12-01T00:00:00Z", "end": "2026-01-01T00:00:00Z", "step": "60"}, "step",
     "step_invalid"),
])
def test_bad_parameters_are_400s_naming_them(admin_api: APIClient, params: dict[str, str], param: str,
                                             code: str) -> None:
    response = admin_api.get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert param in body["errors"]


def test_a_roll_up_answers_at_its_own_bucket(admin_api: APIClient, world: World) -> None:
    now = aligned_now()
    body = admin_api.get(URL, {"level": "cluster", "cluster": str(world.a.pk),
                               "start": (now - timedelta(hours=30)).isoformat(), "step": "120"}).json()
    assert (body["source"], body["step"]) == ("5m", 300)
    assert body["start"] % 300 == 0


def test_queries_do_not_grow_with_the_series(world: World, t0: datetime) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seed(world, t0)
    dev = api_for(world.developer)
    with CaptureQueriesContext(connection) as few:
        assert chart(dev, t0, level="workspace", workspace=world.workspace.pk).status_code == 200
    keys = [store.SeriesKey(cluster_id=world.b.pk, level="namespace", namespace=f"extra-{i}", name=f"extra-{i}",
                            workspace_id=world.workspace.pk) for i in range(20)]
    for key, pk in store.series_ids(keys, t0).items():
        store.write_samples([store.Sample(series_id=pk, ts=t0, cpu_usage=1.0)])
    with CaptureQueriesContext(connection) as many:
        body = chart(dev, t0, level="workspace", workspace=world.workspace.pk).json()
    assert values(body, "cpu_usage")[0] == pytest.approx((0.75 + 20 + 1.25) / 2)  # t0 gains 20 cores
    assert len(many) == len(few) <= 14
