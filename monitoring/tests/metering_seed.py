"""A month of samples with known values for the metering tests (October 2026), worked out by hand
in the comments so the tests can compare the report with plain arithmetic.

Clusters: ``seoul`` (provider eks) with its own KRW sheets: 100/core-h and 10/GiB-h from
2026-09-01, 200 and 20 from 2026-10-15 (an eks provider sheet at 999 must lose to them);
``virginia`` (provider onprem) priced by the onprem provider sheet in USD: 0.04 and 0.005.
Workspaces: ``shop`` (service maps seoul/shop and virginia/shop-us) and ``blog`` (seoul/blog);
``kube-system`` on seoul belongs to no workspace.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from clusters.models import Cluster
from monitoring import store
from monitoring.models import PriceSheet, RollupState
from monitoring.samples import SeriesKey
from workspaces.models import Membership, Role, ServiceMap, Workspace

GIB = float(1 << 30)
UTC = dt.UTC


def at(day: int, hour: int, month: int = 10, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def put(table: str, series_id: int, ts: dt.datetime, samples: int = 120, **values: float | None) -> None:
    """One row into a sample table (its partition created as the store would). Roll-up rows hold
    ``samples`` raw samples: 120 is a whole hour at 30 s."""
    store.ensure_partitions_for(table, [ts])
    columns = ["series_id", "ts", *values]
    params: list[Any] = [series_id, ts, *values.values()]
    if table != "monitoring_sample":
        columns.append("samples")
        params.append(samples)
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                    params)


def pod(table: str, series_id: int, ts: dt.datetime, *, cpu: tuple[float, float, float | None],
        mem: tuple[float, float, float | None], samples: int = 120) -> None:
    """``cpu``/``mem``: (request, usage, billed) in cores and GiB; billed None leaves it to the reader."""
    put(table, series_id, ts, samples, cpu_request=cpu[0], cpu_usage=cpu[1], cpu_billed=cpu[2],
        mem_request=mem[0] * GIB, mem_usage=mem[1] * GIB, mem_billed=None if mem[2] is None else mem[2] * GIB)


_DERIVE = """
INSERT INTO {table} (series_id, ts, cpu_request, cpu_usage, cpu_billed, mem_request, mem_usage, mem_billed{extra})
SELECT w.id, x.ts, sum(x.cpu_request), sum(x.cpu_usage),
       CASE WHEN bool_and(x.cpu_billed IS NULL) THEN NULL
            ELSE sum(coalesce(x.cpu_billed, greatest(x.cpu_request, x.cpu_usage))) END,
       sum(x.mem_request), sum(x.mem_usage),
       CASE WHEN bool_and(x.mem_billed IS NULL) THEN NULL
            ELSE sum(coalesce(x.mem_billed, greatest(x.mem_request, x.mem_usage))) END{extra_value}
  FROM {table} x JOIN monitoring_metricseries p ON p.id = x.series_id AND p.level = 'pod'
  JOIN monitoring_metricseries w ON w.cluster_id = p.cluster_id AND w.level = %s AND w.namespace = p.namespace
   AND (w.level = 'namespace' OR (w.workload_kind = p.workload_kind AND w.workload_name = p.workload_name))
 GROUP BY w.id, x.ts
"""


def derive(table: str) -> None:
    """Namespace and workload rows as the collector writes them: per timestamp, the sums of their
    pods' rows (billed: the sum of each pod's billed)."""
    rollup = table != "monitoring_sample"
    sql = _DERIVE.format(table=table, extra=", samples" if rollup else "",
                         extra_value=", max(x.samples)" if rollup else "")
    with connection.cursor() as cur:
        for level in ("namespace", "workload"):
            cur.execute(sql, [level])


@dataclass
class Fleet:
    seoul: Cluster
    virginia: Cluster
    shop: Workspace
    blog: Workspace
    shop_map: ServiceMap
    blog_map: ServiceMap
    shop_us_map: ServiceMap
    series: dict[str, int]


def fleet() -> Fleet:
    seoul = Cluster.objects.create(name="seoul", server="https://127.0.0.1:9", provider="eks")
    virginia = Cluster.objects.create(name="virginia", server="https://127.0.0.1:9", provider="onprem")
    shop = Workspace.objects.create(name="shop")
    blog = Workspace.objects.create(name="blog")
    shop_map = ServiceMap.objects.create(workspace=shop, cluster=seoul, namespace="shop")
    blog_map = ServiceMap.objects.create(workspace=blog, cluster=seoul, namespace="blog")
    shop_us_map = ServiceMap.objects.create(workspace=shop, cluster=virginia, namespace="shop-us")
    keys = {
        "web": SeriesKey(seoul.pk, "pod", "shop", "web-1", workload_kind="Deployment", workload_name="web",
                         service_map_id=shop_map.pk, workspace_id=shop.pk),
        "api": SeriesKey(seoul.pk, "pod", "shop", "api-1", workload_kind="Deployment", workload_name="api",
                         service_map_id=shop_map.pk, workspace_id=shop.pk),
        "blog": SeriesKey(seoul.pk, "pod", "blog", "blog-1", workload_kind="Deployment", workload_name="blog",
                          service_map_id=blog_map.pk, workspace_id=blog.pk),
        "web_us": SeriesKey(virginia.pk, "pod", "shop-us", "web-us-1", workload_kind="Deployment",
                            workload_name="web", service_map_id=shop_us_map.pk, workspace_id=shop.pk),
        "dns": SeriesKey(seoul.pk, "pod", "kube-system", "coredns-1", workload_kind="Deployment",
                         workload_name="coredns"),
        "debug": SeriesKey(seoul.pk, "pod", "blog", "debug", service_map_id=blog_map.pk, workspace_id=blog.pk),
        "seoul": SeriesKey(seoul.pk, "cluster"),
        "virginia": SeriesKey(virginia.pk, "cluster"),
        # A container and a node series: parts of the same pods, which must not count twice.
        "web_app": SeriesKey(seoul.pk, "container", "shop", "web-1", "app", workload_kind="Deployment",
                             workload_name="web", service_map_id=shop_map.pk, workspace_id=shop.pk),
        "node": SeriesKey(seoul.pk, "node", name="node-1"),
    }
    for ns, cluster, sm in (("shop", seoul, shop_map), ("blog", seoul, blog_map), ("kube-system", seoul, None),
                            ("shop-us", virginia, shop_us_map)):
        keys[f"ns_{ns}"] = SeriesKey(cluster.pk, "namespace", ns, ns, service_map_id=sm.pk if sm else None,
                                     workspace_id=sm.workspace_id if sm else None)
    for name in ("web", "api", "blog", "web_us", "dns"):
        pod_key = keys[name]
        keys[f"wl_{name}"] = SeriesKey(pod_key.cluster_id, "workload", pod_key.namespace, pod_key.workload_name,
                                       workload_kind="Deployment", workload_name=pod_key.workload_name,
                                       service_map_id=pod_key.service_map_id, workspace_id=pod_key.workspace_id)
    ids = store.series_ids(keys.values(), at(1, 0))
    return Fleet(seoul, virginia, shop, blog, shop_map, blog_map, shop_us_map, {n: ids[k] for n, k in keys.items()})


def prices(f: Fleet) -> None:
    sheet = PriceSheet.objects.create
    sheet(name="eks list", provider="eks", currency="KRW", cpu_core_hour=Decimal(999), memory_gib_hour=Decimal(99),
          effective_from=dt.date(2026, 1, 1))
    sheet(name="seoul a", cluster=f.seoul, currency="KRW", cpu_core_hour=Decimal(100), memory_gib_hour=Decimal(10),
          effective_from=dt.date(2026, 9, 1))
    sheet(name="seoul b", cluster=f.seoul, currency="KRW", cpu_core_hour=Decimal(200), memory_gib_hour=Decimal(20),
          effective_from=dt.date(2026, 10, 15))
    sheet(name="onprem", provider="onprem", currency="USD", cpu_core_hour=Decimal("0.04"),
          memory_gib_hour=Decimal("0.005"), effective_from=dt.date(2026, 1, 1))


def october(f: Fleet) -> None:
    """The hourly roll-ups of October (and one row either side that must not count); the roll-ups
    have finished the month."""
    for target in ("5m", "1h"):
        RollupState.objects.update_or_create(target=target, defaults={"done_until": dt.datetime(2026, 11, 2, tzinfo=UTC)})
    h, s = "monitoring_sample_1h", f.series
    pod(h, s["web"], at(10, 0), cpu=(0.5, 0.2, 0.5), mem=(1, 1.5, 1.5))
    pod(h, s["web"], at(20, 0), cpu=(0.5, 0.8, 0.8), mem=(1, 0.5, 1))
    pod(h, s["api"], at(10, 1), cpu=(0.25, 0.1, None), mem=(2, 1, None))  # billed = max(request, usage)
    pod(h, s["blog"], at(16, 5), cpu=(1, 1.5, 1.5), mem=(4, 3, 4))
    pod(h, s["web_us"], at(12, 0), cpu=(2, 1, 2), mem=(8, 4, 8))
    pod(h, s["web_us"], at(12, 1), cpu=(2, 1, 2), mem=(8, 4, 8))
    pod(h, s["dns"], at(10, 0), cpu=(0.1, 0.05, 0.1), mem=(0.125, 0.0625, 0.125))
    pod(h, s["debug"], at(16, 5), cpu=(0.5, 0.5, 0.5), mem=(0, 0, 0))  # a pod of no workload
    for when in (at(10, 0), at(10, 1), at(16, 5), at(20, 0)):
        put(h, s["seoul"], when, cpu_allocatable=4, mem_allocatable=16 * GIB)
    for when in (at(12, 0), at(12, 1)):
        put(h, s["virginia"], when, cpu_allocatable=8, mem_allocatable=32 * GIB)
    pod(h, s["web"], dt.datetime(2026, 9, 30, 23, tzinfo=UTC), cpu=(7, 7, 7), mem=(7, 7, 7))
    pod(h, s["web"], dt.datetime(2026, 11, 1, 0, tzinfo=UTC), cpu=(7, 7, 7), mem=(7, 7, 7))
    derive(h)
    pod(h, s["web_app"], at(10, 0), cpu=(9, 9, 9), mem=(9, 9, 9))
    put(h, s["node"], at(10, 0), cpu_usage=9, cpu_request=9, cpu_billed=9, cpu_allocatable=9)


def member(user: Any, workspace: Workspace, role: str = "developer") -> None:
    Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))


# By hand (core-hours and GiB-hours; requested / used / billed):
#   web    (seoul, shop):   cpu 1.0 / 1.0 / 1.3     mem 2 / 2 / 2.5       KRW 0.5*100+1.5*10 + 0.8*200+1*20 = 245
#   api    (seoul, shop):   cpu 0.25 / 0.1 / 0.25   mem 2 / 1 / 2         KRW 25 + 20 = 45
#   blog   (seoul, blog):   cpu 1 / 1.5 / 1.5       mem 4 / 3 / 4         KRW 1.5*200 + 4*20 = 380
#   web_us (virginia, shop): cpu 4 / 2 / 4          mem 16 / 8 / 16       USD 4*0.04 + 16*0.005 = 0.24
#   dns    (seoul, none):   cpu 0.1 / 0.05 / 0.1    mem 0.125 / 0.0625 / 0.125   KRW 10 + 1.25 = 11.25 -> 11
#   debug  (seoul, blog, no workload): cpu 0.5 / 0.5 / 0.5, mem 0      KRW 0.5*200 = 100
WORKSPACES = {
    "shop": {"cpu_core_hours_requested": 5.25, "cpu_core_hours_used": 3.1, "cpu_core_hours_billed": 5.55,
             "memory_gib_hours_requested": 20.0, "memory_gib_hours_used": 11.0, "memory_gib_hours_billed": 20.5,
             "costs": {"KRW": "290", "USD": "0.24"}},
    "blog": {"cpu_core_hours_requested": 1.5, "cpu_core_hours_used": 2.0, "cpu_core_hours_billed": 2.0,
             "memory_gib_hours_requested": 4.0, "memory_gib_hours_used": 3.0, "memory_gib_hours_billed": 4.0,
             "costs": {"KRW": "480"}},
    None: {"cpu_core_hours_requested": 0.1, "cpu_core_hours_used": 0.05, "cpu_core_hours_billed": 0.1,
           "memory_gib_hours_requested": 0.125, "memory_gib_hours_used": 0.0625, "memory_gib_hours_billed": 0.125,
           "costs": {"KRW": "11"}},
}
TOTALS = {"cpu_core_hours_requested": 6.85, "cpu_core_hours_used": 5.15, "cpu_core_hours_billed": 7.65,
          "memory_gib_hours_requested": 24.125, "memory_gib_hours_used": 14.0625, "memory_gib_hours_billed": 24.625,
          "costs": {"KRW": "781", "USD": "0.24"}}
# Idle: seoul allocatable 4 h x (4 cores, 16 GiB) = 16 / 64; billed 1.3+0.25+1.5+0.1+0.5 = 3.65 and
# 2.5+2+4+0.125 = 8.625. Before 15 Oct (sheet a): allocatable 8 / 32, billed 0.85 / 3.625 -> idle
# 7.15*100 + 28.375*10 = 998.75; after (sheet b): 8 / 32 minus 2.8 / 5 -> 5.2*200 + 27*20 = 1580;
# 2578.75 -> KRW 2579. virginia: 16 / 64 minus 4 / 16 -> 12*0.04 + 48*0.005 = USD 0.72.
IDLE = {
    "seoul": {"cpu_core_hours_allocatable": 16.0, "cpu_core_hours_billed": 3.65, "cpu_core_hours_idle": 12.35,
              "memory_gib_hours_allocatable": 64.0, "memory_gib_hours_billed": 8.625,
              "memory_gib_hours_idle": 55.375, "costs": {"KRW": "2579"}},
    "virginia": {"cpu_core_hours_allocatable": 16.0, "cpu_core_hours_billed": 4.0, "cpu_core_hours_idle": 12.0,
                 "memory_gib_hours_allocatable": 64.0, "memory_gib_hours_billed": 16.0,
                 "memory_gib_hours_idle": 48.0, "costs": {"USD": "0.72"}},
}
