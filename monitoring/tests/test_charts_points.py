"""The named point metrics in the chart answer (network, restarts, filesystem, volume fill) against
the real PostgreSQL: points written by the store's writer, values checked by hand at pod, workload
and service map level (per-``ts`` sums over pods, then the bucket's average or maximum; a claim's
fill per claim), the 5-minute roll-up with its raw tail, a scope without points answering without
them, and the statement count staying the same with more pods and claims."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from monitoring import charts, store
from monitoring.api.charts import MonitoringChartSerializer
from monitoring.tests.chart_helpers import World, aligned_now, api_for, make_world, times, write

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/charts/"
MIB = 2.0**20
POINT_NAMES = set(charts.POINT_METRICS)


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def t0() -> datetime:
    return aligned_now(60) - timedelta(minutes=10)


def volume(world: World, claim: str, namespace: str | None = None) -> int:
    key = store.SeriesKey(cluster_id=world.a.pk, level="namespace", namespace=namespace or world.shop.namespace,
                          name=claim, container="pvc")
    return store.series_ids([key], aligned_now())[key]


def put(series_id: int, metric: str, ts: list[datetime], values: list[float]) -> None:
    store.write_points([(series_id, metric, t, v) for t, v in zip(ts, values, strict=True)])


def seed(world: World, t0: datetime) -> dict[str, int]:
    """Two buckets of 60 s, two samples each (t0, +30 | +60, +90)."""
    ts = times(t0, 4)
    write(world, "pod_web", ts, cpu_usage=[0.1, 0.1, 0.3, 0.3])
    write(world, "ns_shop", ts, cpu_usage=[0.5, 0.5, 1.0, 1.0])
    web, api = world.ids["pod_web"], world.ids["pod_api"]
    put(web, "net_rx_bytes_per_second", ts, [100, 300, 500, 700])
    put(web, "net_tx_bytes_per_second", ts, [10, 10, 20, 20])
    put(web, "restarts", ts[2:], [1, 2])  # none before: no restarts then
    put(web, "fs_used_bytes", ts, [MIB, MIB, 3 * MIB, 3 * MIB])
    put(api, "net_rx_bytes_per_second", ts, [1000, 1000, 1000, 1000])
    put(api, "restarts", ts, [4, 4, 4, 5])
    put(api, "fs_used_bytes", ts, [7 * MIB] * 4)
    data, logs = volume(world, "data-api-1"), volume(world, "logs")
    put(data, "pvc_used_ratio", ts, [0.5, 0.6, 0.7, 0.9])
    put(logs, "pvc_used_ratio", ts[:2], [0.1, 0.2])
    # the other workspace's pod and claim on the same cluster: never in ours
    put(world.ids["pod_other"], "net_rx_bytes_per_second", ts, [9e9] * 4)
    put(volume(world, "other-claim", world.other.namespace), "pvc_used_ratio", ts, [0.99] * 4)
    return {"data": data, "logs": logs}


def chart(client: APIClient, t0: datetime, **params: Any) -> Any:
    query = {"start": str(int(t0.timestamp())), "end": str(int(t0.timestamp()) + 120), "step": "60", **params}
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    body = response.json()
    shape = MonitoringChartSerializer(data=body)
    assert shape.is_valid(), shape.errors
    return body


def entries(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(s["metric"], s["unit"], s.get("label")) for s in body["series"] if s["metric"] in POINT_NAMES]


def values(body: dict[str, Any], metric: str, label: str | None = None) -> list[float | None]:
    [series] = [s for s in body["series"] if s["metric"] == metric and s.get("label") == label]
    return [p[1] for p in series["points"]]


def test_a_pods_points_by_hand(admin_api: APIClient, world: World, t0: datetime) -> None:
    seed(world, t0)
    body = chart(admin_api, t0, level="pod", cluster=world.a.pk, namespace=world.shop.namespace, pod="web-1")
    assert entries(body) == [("net_rx_bytes_per_second", "bytes_per_second", None),
                             ("net_tx_bytes_per_second", "bytes_per_second", None),
                             ("restarts", "count", None), ("fs_used_bytes", "bytes", None)]
    assert values(body, "net_rx_bytes_per_second") == [200, 600]  # (100+300)/2, (500+700)/2
    assert values(body, "net_tx_bytes_per_second") == [10, 20]
    assert values(body, "restarts") == [None, 2]  # the counter's newest in the bucket; no point: none stored
    assert values(body, "fs_used_bytes") == [MIB, 3 * MIB]
    assert values(body, "cpu_usage") == pytest.approx([0.1, 0.3])  # the resource series are still there
    start = int(t0.timestamp())
    assert [p[0] for p in body["series"][-1]["points"]] == [start, start + 60]


def test_a_workload_sums_its_pods(admin_api: APIClient, world: World, t0: datetime) -> None:
    seed(world, t0)
    ts = times(t0, 4)
    web2 = store.SeriesKey(cluster_id=world.a.pk, level="pod", namespace=world.shop.namespace, name="web-2",
                           workload_kind="Deployment", workload_name="web", node="node-2",
                           service_map_id=world.shop.pk, workspace_id=world.workspace.pk)
    web2_id = store.series_ids([web2], aligned_now())[web2]
    put(web2_id, "net_rx_bytes_per_second", ts, [1, 1, 1, 1])
    put(web2_id, "restarts", ts, [3, 3, 3, 3])
    body = chart(admin_api, t0, level="workload", cluster=world.a.pk, namespace=world.shop.namespace,
                 workload_kind="Deployment", workload_name="web")
    # web-1 and web-2, not api-1; no filesystem sum above a pod
    assert entries(body) == [("net_rx_bytes_per_second", "bytes_per_second", None),
                             ("net_tx_bytes_per_second", "bytes_per_second", None), ("restarts", "count", None)]
    assert values(body, "net_rx_bytes_per_second") == [201, 601]  # per ts 101, 301 | 501, 701
    assert values(body, "net_tx_bytes_per_second") == [10, 20]
    assert values(body, "restarts") == [3, 5]  # per ts 3, 3 | 4, 5


def test_a_service_map_sums_its_pods_and_lists_its_claims(admin_api: APIClient, world: World, t0: datetime) -> None:
    seed(world, t0)
    body = chart(admin_api, t0, level="servicemap", service_map=world.shop.pk)
    assert entries(body) == [("net_rx_bytes_per_second", "bytes_per_second", None),
                             ("net_tx_bytes_per_second", "bytes_per_second", None), ("restarts", "count", None),
                             ("pvc_used_ratio", "ratio", "data-api-1"), ("pvc_used_ratio", "ratio", "logs")]
    # web-1 + api-1 (never the other workspace's pod): per ts 1100, 1300 | 1500, 1700
    assert values(body, "net_rx_bytes_per_second") == [1200, 1600]
    assert values(body, "net_tx_bytes_per_second") == [10, 20]
    assert values(body, "restarts") == [4, 7]  # per ts 4, 4 | 5, 7
    assert values(body, "pvc_used_ratio", "data-api-1") == [0.6, 0.9]  # the fullest moment of each bucket
    assert values(body, "pvc_used_ratio", "logs") == [0.2, None]
    assert values(body, "cpu_usage") == [0.5, 1.0]
    # a member of the workspace sees the same
    assert chart(api_for(world.developer), t0, level="servicemap", service_map=world.shop.pk)["series"] == body["series"]


def test_a_scope_without_points_answers_without_them(admin_api: APIClient, world: World, t0: datetime) -> None:
    seed(world, t0)
    ts = times(t0, 4)
    write(world, "pod_b", ts, cpu_usage=[1, 1, 1, 1])
    pod = chart(admin_api, t0, level="pod", cluster=world.b.pk, namespace=world.shop_b.namespace, pod="web-b-1")
    assert entries(pod) == []
    assert values(pod, "cpu_usage") == [1, 1]
    sm = chart(admin_api, t0, level="servicemap", service_map=world.shop_b.pk)
    assert entries(sm) == []
    # levels without point metrics: above a namespace (the sum of every pod per chart costs too much
    # at scale), a node, a container
    assert entries(chart(admin_api, t0, level="fleet")) == []
    assert entries(chart(admin_api, t0, level="cluster", cluster=world.a.pk)) == []
    assert entries(chart(admin_api, t0, level="workspace", workspace=world.workspace.pk)) == []
    assert entries(chart(admin_api, t0, level="node", cluster=world.a.pk, node="node-1")) == []
    assert entries(chart(admin_api, t0, level="container", cluster=world.a.pk, namespace=world.shop.namespace,
                         pod="api-1", container="app")) == []
    # outside the window: nothing either
    later = t0 + timedelta(minutes=5)
    assert entries(chart(admin_api, later, level="pod", cluster=world.a.pk, namespace=world.shop.namespace,
                         pod="web-1")) == []


def test_five_minute_points_with_their_raw_tail(admin_api: APIClient, world: World) -> None:
    """Forty minutes of raw points rolled up by the store: a 5-minute chart reads the point roll-up
    up to its watermark and raw points after it."""
    now = aligned_now()
    start = store.align(now - timedelta(minutes=40), 300)
    ts = [t for t in times(start, 120) if t < now]
    rx = [float((t - start).total_seconds() // 300) for t in ts]  # the bucket's index
    claim = volume(world, "data-api-1")
    put(world.ids["pod_web"], "net_rx_bytes_per_second", ts, rx)
    put(claim, "pvc_used_ratio", ts, [0.5 if i != 25 else 0.95 for i in range(len(ts))])  # 25: bucket 2
    store.rollup(now)
    from monitoring.models import RollupState

    watermark = RollupState.objects.get(target="point_5m").done_until
    assert start < watermark < now
    body = admin_api.get(URL, {"level": "servicemap", "service_map": str(world.shop.pk), "start": start.isoformat(),
                               "end": now.isoformat(), "step": "300"}).json()
    assert body["source"] == "5m"
    got = values(body, "net_rx_bytes_per_second")
    assert got == pytest.approx([float(i) for i in range(len(got))])
    fill = values(body, "pvc_used_ratio", "data-api-1")
    assert fill[:4] == [0.5, 0.5, 0.95, 0.5]  # the maximum survives the roll-up
    assert None not in fill


def test_statements_do_not_grow_with_pods_and_claims(world: World, t0: datetime) -> None:
    seed(world, t0)
    dev = api_for(world.developer)
    with CaptureQueriesContext(connection) as few:
        chart(dev, t0, level="servicemap", service_map=world.shop.pk)
    keys = [store.SeriesKey(cluster_id=world.a.pk, level="pod", namespace=world.shop.namespace, name=f"extra-{i}",
                            workload_kind="Deployment", workload_name="web", service_map_id=world.shop.pk,
                            workspace_id=world.workspace.pk) for i in range(10)]
    for pk in store.series_ids(keys, t0).values():
        put(pk, "net_rx_bytes_per_second", [t0], [1.0])
    for i in range(5):
        put(volume(world, f"claim-{i}"), "pvc_used_ratio", [t0], [0.25])
    with CaptureQueriesContext(connection) as many:
        body = chart(dev, t0, level="servicemap", service_map=world.shop.pk)
    assert values(body, "net_rx_bytes_per_second")[0] == pytest.approx((1110 + 1300) / 2)  # t0 gains 10
    assert len([e for e in entries(body) if e[0] == "pvc_used_ratio"]) == 7
    assert len(many) == len(few)


def test_point_sql_and_series_pure() -> None:
    """Which levels have a point statement, and rows to series: a point per bucket, claims sorted,
    only the metrics with rows."""
    now = aligned_now(60)
    w = charts.Window(now - timedelta(minutes=2), now, 60)
    parts = charts.source_parts("raw", w, {})
    for level in ("fleet", "cluster", "workspace", "node", "container"):
        assert charts.point_sql(charts.ChartQuery(level=level, window=w, cluster_id=1), parts, w) is None
    pod = charts.ChartQuery(level="pod", window=w, cluster_id=1, namespace="shop", pod="web-1")
    statement = charts.point_sql(pod, parts, w)
    assert statement is not None
    assert statement[1]["ppod"] == "web-1"
    assert "JOIN scope" not in statement[0]  # pods only: no per-claim join
    sm = charts.point_sql(charts.ChartQuery(level="servicemap", window=w, cluster_id=1, namespace="shop"), parts, w)
    assert sm is not None
    assert "JOIN scope" in sm[0]
    start = w.start
    rows = [("pvc_used_ratio", "z", start, 0.5), ("pvc_used_ratio", "a", start + timedelta(seconds=60), 0.25),
            ("restarts", "", start, 2)]
    got = charts.point_series(rows, charts.LEVEL_POINTS["servicemap"], w)
    at = int(start.timestamp())
    assert got == [
        {"metric": "restarts", "unit": "count", "points": [[at, 2.0], [at + 60, None]]},
        {"metric": "pvc_used_ratio", "unit": "ratio", "points": [[at, None], [at + 60, 0.25]], "label": "a"},
        {"metric": "pvc_used_ratio", "unit": "ratio", "points": [[at, 0.5], [at + 60, None]], "label": "z"},
    ]
