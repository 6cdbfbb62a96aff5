"""Metering: a report whose totals match the samples by hand calculation (monitoring/tests/
metering_seed.py works the numbers out), billed = max(request, usage), idle capacity per cluster,
a price change in the middle of a month, two currencies, the current month read from three
sources, and the raw samples rolled up by the store giving the same answer as by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from monitoring import metering, store
from monitoring.models import PriceSheet, RollupState
from monitoring.tests import metering_seed as seed
from portal import errors

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 2, 10, 20, tzinfo=dt.UTC)


def _approx(row: dict[str, float], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        if name != "costs":
            assert row[name] == pytest.approx(value, abs=1e-6), name


def _costs(costs: dict[str, Decimal]) -> dict[str, str]:
    return {c: str(v) for c, v in costs.items()}


@pytest.fixture
def fleet() -> seed.Fleet:
    f = seed.fleet()
    seed.prices(f)
    seed.october(f)
    return f


def test_workspace_report_matches_hand_calculation(fleet: seed.Fleet) -> None:
    report = metering.report(month="2026-10", group="workspace", workspace_ids=None, now=NOW)
    by_name = {(r.workspace or {}).get("name"): r for r in report.rows}
    assert set(by_name) == {"shop", "blog", None}
    for name, expected in seed.WORKSPACES.items():
        _approx(by_name[name].amounts, expected)
        assert _costs(by_name[name].costs) == expected["costs"]
    _approx(report.totals, seed.TOTALS)
    assert _costs(report.totals["costs"]) == seed.TOTALS["costs"]  # per currency, never added together
    assert report.currencies == ["KRW", "USD"]
    assert report.end == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_billed_is_max_of_request_and_usage_per_pod(fleet: seed.Fleet) -> None:
    rows = metering.report(month="2026-10", group="workload", workspace_ids=None, now=NOW).rows
    api = next(r for r in rows if r.workload and r.workload["name"] == "api")
    # request 0.25 / usage 0.1 and 2 GiB / 1 GiB with no billed column: max(request, usage)
    assert api.amounts["cpu_core_hours_billed"] == pytest.approx(0.25)
    assert api.amounts["memory_gib_hours_billed"] == pytest.approx(2.0)
    web = next(r for r in rows if r.workload and r.workload["name"] == "web" and r.cluster
               and r.cluster["name"] == "seoul")
    # hour 1: request above usage (0.5 > 0.2), hour 2: usage above request (0.8 > 0.5)
    assert web.amounts["cpu_core_hours_billed"] == pytest.approx(1.3)
    assert web.amounts["memory_gib_hours_billed"] == pytest.approx(2.5)


def test_price_change_mid_month_splits_by_hour(fleet: seed.Fleet) -> None:
    rows = metering.report(month="2026-10", group="workload", workspace_ids=None, now=NOW).rows
    web = next(r for r in rows if r.workload and r.workload["name"] == "web" and r.cluster
               and r.cluster["name"] == "seoul")
    assert _costs(web.costs) == {"KRW": "245"}  # 65 at the September sheet + 180 at the 15 October one
    blog = next(r for r in rows if r.workload and r.workload["name"] == "blog")
    assert _costs(blog.costs) == {"KRW": "380"}


def test_pods_of_no_workload_are_rows_of_their_own(fleet: seed.Fleet) -> None:
    rows = metering.report(month="2026-10", group="workload", workspace_ids=None, now=NOW).rows
    debug = next(r for r in rows if r.workload == {"namespace": "blog", "kind": "Pod", "name": "debug"})
    assert debug.amounts["cpu_core_hours_billed"] == pytest.approx(0.5)
    assert _costs(debug.costs) == {"KRW": "100"}
    assert len(rows) == 6  # web, api, blog, debug, web (virginia), coredns; no container or node row


def test_partial_hour_counts_its_share(fleet: seed.Fleet) -> None:
    """A series present in 40 of the cluster's 120 collections of an hour counts 20 minutes."""
    s = fleet.series
    seed.put("monitoring_sample_1h", s["virginia"], seed.at(25, 3), cpu_allocatable=8, mem_allocatable=0)
    seed.pod("monitoring_sample_1h", s["ns_shop-us"], seed.at(25, 3), cpu=(3, 3, 3), mem=(0, 0, 0), samples=40)
    report = metering.report(month="2026-10", group="cluster", workspace_ids=None, now=NOW)
    virginia = next(r for r in report.rows if r.cluster and r.cluster["name"] == "virginia")
    assert virginia.amounts["cpu_core_hours_billed"] == pytest.approx(4.0 + 1.0)


def test_totals_add_up_across_levels(fleet: seed.Fleet) -> None:
    reports = {g: metering.report(month="2026-10", group=g, workspace_ids=None, now=NOW) for g in metering.GROUPS}
    for name in metering.AMOUNTS:
        totals = {g: r.totals[name] for g, r in reports.items()}
        assert len({round(v, 6) for v in totals.values()}) == 1, (name, totals)
        for g, r in reports.items():
            assert sum(row.amounts[name] for row in r.rows) == pytest.approx(r.totals[name]), (g, name)
    # workloads -> service maps -> workspaces, row by row
    for name in metering.AMOUNTS:
        by_ws: dict[Any, float] = {}
        for row in reports["workload"].rows:
            key = (row.workspace or {}).get("id")
            by_ws[key] = by_ws.get(key, 0.0) + row.amounts[name]
        for row in reports["workspace"].rows:
            assert by_ws[(row.workspace or {}).get("id")] == pytest.approx(row.amounts[name])
        by_map: dict[Any, float] = {}
        for row in reports["workload"].rows:
            key = ((row.service_map or {}).get("id"), row.cluster["id"] if row.cluster else None)
            by_map[key] = by_map.get(key, 0.0) + row.amounts[name]
        for row in reports["servicemap"].rows:
            key = ((row.service_map or {}).get("id"), row.cluster["id"] if row.cluster else None)
            assert by_map[key] == pytest.approx(row.amounts[name])
    # clusters -> fleet
    clusters = {r.cluster["name"]: r for r in reports["cluster"].rows if r.cluster}
    assert clusters["seoul"].amounts["cpu_core_hours_billed"] == pytest.approx(3.65)
    assert clusters["virginia"].amounts["cpu_core_hours_billed"] == pytest.approx(4.0)
    for g in metering.GROUPS:
        assert _costs(reports[g].totals["costs"]) == {"KRW": "781", "USD": "0.24"}, g


def test_idle_capacity_per_cluster_never_spread(fleet: seed.Fleet) -> None:
    report = metering.report(month="2026-10", group="workspace", workspace_ids=None, now=NOW)
    assert report.idle is not None
    idle = {r.cluster["name"]: r for r in report.idle}
    for name, expected in seed.IDLE.items():
        _approx(idle[name].amounts, expected)
        assert _costs(idle[name].costs) == expected["costs"]
    assert report.totals["idle"]["cpu_core_hours_idle"] == pytest.approx(24.35)
    assert _costs(report.totals["idle"]["costs"]) == {"KRW": "2579", "USD": "0.72"}
    # the workspaces' rows carry no share of it
    assert report.totals["cpu_core_hours_billed"] == pytest.approx(7.65)


def test_member_scope_has_no_idle_and_only_their_workspaces(fleet: seed.Fleet) -> None:
    report = metering.report(month="2026-10", group="workload", workspace_ids=[fleet.shop.pk], now=NOW)
    assert report.idle is None
    assert "idle" not in report.totals
    assert {(r.workspace or {}).get("name") for r in report.rows} == {"shop"}
    _approx(report.totals, {k: v for k, v in seed.WORKSPACES["shop"].items()})
    assert metering.report(month="2026-10", group="workspace", workspace_ids=[], now=NOW).rows == []


def test_filters(fleet: seed.Fleet) -> None:
    report = metering.report(month="2026-10", group="workspace", workspace_ids=None, cluster_id=fleet.virginia.pk,
                             now=NOW)
    assert [(r.workspace or {}).get("name") for r in report.rows] == ["shop"]
    assert report.rows[0].amounts["cpu_core_hours_billed"] == pytest.approx(4.0)
    assert [r.cluster["name"] for r in report.idle or ()] == ["virginia"]
    report = metering.report(month="2026-10", group="workload", workspace_ids=None, service_map_id=fleet.shop_map.pk,
                             now=NOW)
    assert sorted(r.workload["name"] for r in report.rows if r.workload) == ["api", "web"]
    assert report.idle is None  # a service map's report is not about a whole cluster


def test_unpriced_cluster_has_no_cost(fleet: seed.Fleet) -> None:
    PriceSheet.objects.filter(provider="onprem").delete()
    report = metering.report(month="2026-10", group="cluster", workspace_ids=None, now=NOW)
    virginia = next(r for r in report.rows if r.cluster and r.cluster["name"] == "virginia")
    assert virginia.costs == {}
    assert virginia.unpriced
    assert report.totals["unpriced"] is True
    assert _costs(report.totals["costs"]) == {"KRW": "781"}


def test_price_segments() -> None:
    f = seed.fleet()
    seed.prices(f)
    start, end = dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    segments = metering.price_segments([f.seoul, f.virginia], start, end)
    assert [(s.cluster_id, s.start.day, s.end.month, s.sheet.name) for s in segments] == [
        (f.seoul.pk, 1, 10, "seoul a"), (f.seoul.pk, 15, 11, "seoul b"), (f.virginia.pk, 1, 11, "onprem")]


@override_settings(PORTAL_METRICS_INTERVAL_SECONDS=30)
def test_current_month_reads_rollups_then_5m_then_raw() -> None:
    """Hourly roll-ups up to their watermark, 5-minute ones to theirs, raw samples after, up to now;
    no bucket counted twice."""
    f = seed.fleet()
    web = f.series["ns_shop"]
    RollupState.objects.create(target="1h", done_until=dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC))
    RollupState.objects.create(target="5m", done_until=dt.datetime(2026, 12, 2, 10, 10, tzinfo=dt.UTC))
    dec = lambda day, hour, minute=0, second=0: seed.at(day, hour, 12, minute, second)  # noqa: E731
    seed.pod("monitoring_sample_1h", web, dec(1, 5), cpu=(1, 1, 1), mem=(0, 0, 0))  # 1 h x 1
    seed.pod("monitoring_sample_1h", web, dec(2, 10), cpu=(100, 100, 100), mem=(0, 0, 0))  # past the watermark
    seed.pod("monitoring_sample_5m", web, dec(2, 10, 0), cpu=(1, 1.2, 1.2), mem=(0, 0, 0))  # 5 min x 1.2
    seed.pod("monitoring_sample_5m", web, dec(2, 10, 5), cpu=(1, 1.2, 1.2), mem=(0, 0, 0))  # 5 min x 1.2
    seed.pod("monitoring_sample_5m", web, dec(2, 10, 10), cpu=(100, 100, 100), mem=(0, 0, 0))  # raw answers here
    seed.pod("monitoring_sample", web, dec(2, 10, 9, 30), cpu=(100, 100, 100), mem=(0, 0, 0))  # rolled up already
    seed.pod("monitoring_sample", web, dec(2, 10, 10, 0), cpu=(0.5, 0.6, 0.6), mem=(0, 0, 0))  # 30 s x 0.6
    seed.pod("monitoring_sample", web, dec(2, 10, 10, 30), cpu=(0.5, 0.6, 0.6), mem=(0, 0, 0))  # 30 s x 0.6
    seed.pod("monitoring_sample", web, dec(2, 10, 20, 30), cpu=(100, 100, 100), mem=(0, 0, 0))  # after now
    report = metering.report(month=None, group="workspace", workspace_ids=None, now=NOW)
    assert report.month == "2026-12"
    assert report.end == NOW
    shop = next(r for r in report.rows if r.workspace and r.workspace["name"] == "shop")
    assert shop.amounts["cpu_core_hours_billed"] == pytest.approx(1 + 2 * 1.2 * 5 / 60 + 2 * 0.6 * 30 / 3600)
    assert shop.amounts["cpu_core_hours_requested"] == pytest.approx(1 + 2 * 5 / 60 + 2 * 0.5 * 30 / 3600)


@override_settings(PORTAL_METRICS_INTERVAL_SECONDS=30)
def test_raw_samples_rolled_up_by_the_store_match_by_hand() -> None:
    """Raw samples every 30 s for one hour (usage alternating 0.2 / 0.4 cores against a request of
    0.25), rolled up by the store: billed per sample is 0.25 / 0.4, so 0.325 core-hours, not
    max(average request, average usage) = 0.3."""
    f = seed.fleet()
    start = dt.datetime(2026, 11, 3, 0, tzinfo=dt.UTC)
    samples = []
    for i in range(120):
        usage = 0.2 if i % 2 == 0 else 0.4
        for series in (f.series["web"], f.series["wl_web"], f.series["ns_shop"]):  # one pod: all equal
            samples.append(store.Sample(series_id=series, ts=start + dt.timedelta(seconds=30 * i), cpu_request=0.25,
                                        cpu_usage=usage, cpu_billed=max(0.25, usage), mem_request=seed.GIB,
                                        mem_usage=2 * seed.GIB, mem_billed=2 * seed.GIB))
        samples.append(store.Sample(series_id=f.series["seoul"], ts=start + dt.timedelta(seconds=30 * i),
                                    cpu_allocatable=4, mem_allocatable=16 * seed.GIB))
    assert store.write_samples(samples) == 480
    store.rollup(dt.datetime(2026, 11, 3, 2, tzinfo=dt.UTC))
    assert RollupState.objects.get(target="1h").done_until >= start + dt.timedelta(hours=1)
    PriceSheet.objects.create(name="seoul", cluster=f.seoul, currency="USD", cpu_core_hour=Decimal("0.1"),
                              memory_gib_hour=Decimal("0.01"), effective_from=dt.date(2026, 11, 1))
    report = metering.report(month="2026-11", group="workload", workspace_ids=None,
                             now=dt.datetime(2026, 11, 3, 2, tzinfo=dt.UTC))
    (row,) = report.rows
    assert row.workload == {"namespace": "shop", "kind": "Deployment", "name": "web"}
    assert row.amounts["cpu_core_hours_requested"] == pytest.approx(0.25)
    assert row.amounts["cpu_core_hours_used"] == pytest.approx(0.3)
    assert row.amounts["cpu_core_hours_billed"] == pytest.approx(0.325)
    assert row.amounts["memory_gib_hours_billed"] == pytest.approx(2.0)
    assert _costs(row.costs) == {"USD": "0.05"}  # 0.325 * 0.1 + 2 * 0.01 = 0.0525 -> 0.05
    (shop,) = metering.report(month="2026-11", group="workspace", workspace_ids=None,
                              now=dt.datetime(2026, 11, 3, 2, tzinfo=dt.UTC)).rows
    assert shop.amounts == row.amounts


@pytest.mark.parametrize("month", ["2026-13", "26-01", "2026-1", "abcd-ef", "2027-01", "2026-00"])
def test_bad_month(month: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        metering.parse_month(month, NOW)
    assert caught.value.code == "invalid_month"


def test_bad_group() -> None:
    with pytest.raises(errors.Invalid) as caught:
        metering.parse_group("namespace")
    assert caught.value.code == "invalid_group"
