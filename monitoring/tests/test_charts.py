"""Pure chart rules (monitoring.charts): parsing and validating the window, choosing the source
table, the parts of a source around the roll-up watermarks, the SQL shape and the points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring import charts
from portal import errors

NOW = datetime(2026, 12, 2, 12, 0, 7, tzinfo=UTC)


def window(**params: str) -> charts.Window:
    return charts.parse_window(params, now=NOW, interval=30)


def invalid(call: object, *args: object, **kwargs: object) -> errors.Invalid:
    with pytest.raises(errors.Invalid) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_default_window_is_the_last_hour_at_about_120_points() -> None:
    w = window()
    assert w.step == 30
    assert w.end == NOW
    assert w.start == datetime(2026, 12, 2, 11, 0, 0, tzinfo=UTC)  # 11:00:07 aligned down to 30 s
    assert w.buckets == 121


def test_times_as_iso_or_epoch_and_default_steps() -> None:
    start = NOW - timedelta(hours=24)
    w = window(start=start.isoformat(), end=str(int(NOW.timestamp())))
    assert w.step == 900
    assert w.buckets <= 120 + 1
    assert window(start="2026-12-01T12:00:00Z", end="2026-12-02T12:00:00Z").start == datetime(2026, 12, 1, 12,
                                                                                                tzinfo=UTC)
    seoul = window(start="2026-12-02T19:00:00+09:00", end="2026-12-02T20:00:00 09:00")  # "+" unencoded: a space
    assert (seoul.start, seoul.end) == (datetime(2026, 12, 2, 10, tzinfo=UTC), datetime(2026, 12, 2, 11, tzinfo=UTC))
    naive = window(start="2026-12-02T10:00:00", end="2026-12-02T11:00:00")
    assert naive.start.tzinfo is not None
    assert naive.start.hour == 10
    thirty_days = window(start=(NOW - timedelta(days=30)).isoformat())
    assert thirty_days.step == 21600
    assert window(start=str(NOW.timestamp() - 30 * 86400 - 0.4)).step == 21600  # a fraction of a second over
    assert window(start=(NOW - timedelta(days=400)).isoformat()).step == 86400 * 4
    assert window(step="60").step == 60


@pytest.mark.parametrize(("params", "param", "code"), [
    ({"start": "yesterday"}, "start", "range_invalid"),
    ({"end": "2026-13-40"}, "end", "range_invalid"),
    ({"start": "2026-12-02T12:00:00Z", "end": "2026-12-02T11:00:00Z"}, "end", "range_invalid"),
    ({"start": "2026-12-02T12:00:00Z", "end": "2026-12-02T12:00:00Z"}, "end", "range_invalid"),
    ({"start": "2025-01-01T00:00:00Z"}, "start", "range_invalid"),  # over 400 days
    ({"step": "10"}, "step", "step_invalid"),  # under the collection interval
    ({"step": "abc"}, "step", "step_invalid"),
    ({"step": "-30"}, "step", "step_invalid"),
    ({"step": "1.5"}, "step", "step_invalid"),
    ({"start": "2026-11-01T00:00:00Z", "step": "30"}, "step", "step_invalid"),  # too many points
])
def test_bad_windows_name_their_parameter(params: dict[str, str], param: str, code: str) -> None:
    error = invalid(charts.parse_window, params, now=NOW, interval=30)
    assert error.code == code
    assert param in error.errors
    assert error.params["param"] == param


def test_too_many_points_says_the_least_step() -> None:
    error = invalid(charts.parse_window, {"start": "2026-11-02T12:00:00Z", "end": "2026-12-02T12:00:00Z",
                                          "step": "60"}, now=NOW, interval=30)
    assert error.params["min"] == 1728  # 30 days / 1,500 points
    ok = window(start="2026-11-02T12:00:00Z", end="2026-12-02T12:00:00Z", step="1728")
    assert ok.buckets <= charts.MAX_POINTS


@pytest.mark.parametrize(("params", "param", "code"), [
    ({}, "level", "param_required"),
    ({"level": "galaxy"}, "level", "level_invalid"),
    ({"level": "cluster"}, "cluster", "param_required"),
    ({"level": "node", "cluster": "1"}, "node", "param_required"),
    ({"level": "workspace"}, "workspace", "param_required"),
    ({"level": "servicemap"}, "service_map", "param_required"),
    ({"level": "workload", "cluster": "1", "namespace": "shop", "workload_kind": "Deployment"}, "workload_name",
     "param_required"),
    ({"level": "pod", "cluster": "1", "namespace": "shop"}, "pod", "param_required"),
    ({"level": "container", "cluster": "1", "namespace": "shop", "pod": "web-1"}, "container", "param_required"),
    ({"level": "cluster", "cluster": "x1"}, "cluster", "param_invalid"),
    ({"level": "pod", "cluster": "1", "namespace": "Shop Ns", "pod": "p"}, "namespace", "param_invalid"),
    ({"level": "workload", "cluster": "1", "namespace": "shop", "workload_kind": "deployment;",
      "workload_name": "web"}, "workload_kind", "param_invalid"),
])
def test_bad_queries_name_their_parameter(params: dict[str, str], param: str, code: str) -> None:
    error = invalid(charts.parse_query, params, now=NOW, interval=30)
    assert (error.code, error.params["param"]) == (code, param)
    assert param in error.errors


def test_a_query_keeps_only_what_its_level_takes() -> None:
    q = charts.parse_query({"level": "pod", "cluster": "3", "namespace": "shop", "pod": "web-1", "workspace": "9"},
                           now=NOW, interval=30)
    assert (q.level, q.cluster_id, q.namespace, q.pod, q.workspace_id) == ("pod", 3, "shop", "web-1", None)


def test_source_choice() -> None:
    def source(hours: float, step: int) -> str:
        w = charts.Window(charts.align_down(NOW - timedelta(hours=hours), step), NOW, step)
        return charts.choose_source(w, now=NOW, raw_retention_hours=24)

    assert source(1, 30) == "raw"
    assert source(23, 60) == "raw"
    assert source(23, 300) == "5m"  # step of 5 minutes: the roll-up has it already
    assert source(30, 60) == "5m"  # past the raw retention
    assert source(24 * 29, 600) == "5m"
    assert source(24 * 29, 3600) == "1h"
    assert source(24 * 31, 900) == "1h"  # past the 5-minute retention
    w = charts.Window(charts.align_down(NOW - timedelta(hours=3), 30), NOW, 30)
    assert charts.choose_source(w, now=NOW, raw_retention_hours=2) == "5m"


def test_source_parts_follow_the_watermarks() -> None:
    w = charts.Window(NOW - timedelta(hours=24), NOW, 900)
    wm5 = NOW - timedelta(minutes=7)
    wm1h = NOW - timedelta(minutes=67)
    parts = charts.source_parts("5m", w, {"5m": wm5, "1h": wm1h})
    assert parts == [charts.Part("5m", None, wm5), charts.Part("raw", wm5, None)]
    parts = charts.source_parts("1h", w, {"5m": wm5, "1h": wm1h})
    assert parts == [charts.Part("1h", None, wm1h), charts.Part("5m", wm1h, wm5), charts.Part("raw", wm5, None)]
    # never rolled up: raw answers everything it has
    assert charts.source_parts("5m", w, {"5m": None, "1h": None}) == [charts.Part("raw", None, None)]
    # a watermark before the window: the finer table answers it all
    assert charts.source_parts("1h", w, {"5m": wm5, "1h": NOW - timedelta(days=3)}) == [
        charts.Part("5m", NOW - timedelta(days=3), wm5), charts.Part("raw", wm5, None)]
    # a watermark past the window's end: the roll-up alone
    old = charts.Window(NOW - timedelta(days=3), NOW - timedelta(days=2), 900)
    assert charts.source_parts("5m", old, {"5m": wm5, "1h": wm1h}) == [charts.Part("5m", None, wm5)]
    assert charts.source_parts("raw", w, {"5m": wm5, "1h": wm1h}) == [charts.Part("raw", None, None)]


def test_series_sql_sums_per_ts_then_averages_per_bucket() -> None:
    w = charts.Window(NOW - timedelta(hours=1), NOW, 300)
    wm = NOW - timedelta(minutes=10)
    sql, params = charts.series_sql([charts.Part("5m", None, wm), charts.Part("raw", wm, None)],
                                    charts.metrics_of("cluster", "5m"), w, [1, 2])
    for text in ("FROM monitoring_sample_5m WHERE", "FROM monitoring_sample WHERE", "sum(cpu_usage)::float8",
                 "avg(cpu_usage)", "max(cpu_usage_max)"):
        assert text in sql
    assert "cpu_usage AS cpu_usage_max" in sql  # raw rows stand in for the maxima after the watermark
    assert sql.index("GROUP BY ts") < sql.index("GROUP BY bucket")
    assert (params["ids"], params["hi0"], params["lo1"]) == ([1, 2], wm, wm)
    with pytest.raises(ValueError):
        charts.series_sql([charts.Part("raw", None, None)], ["cpu_usage; DROP TABLE x"], w, [1])


def test_metrics_per_level_and_units() -> None:
    assert "cpu_allocatable" in charts.metrics_of("node", "raw")
    assert "cpu_allocatable" not in charts.metrics_of("pod", "raw")
    assert "cpu_usage_max" not in charts.metrics_of("pod", "raw")
    assert "cpu_usage_max" in charts.metrics_of("pod", "5m")
    assert charts.unit_of("cpu_usage") == "cores"
    assert charts.unit_of("mem_limit") == "bytes"
    assert charts.unit_of("pods") == "count"


def test_points_fill_every_bucket() -> None:
    w = charts.Window(datetime(2026, 12, 2, 11, 0, tzinfo=UTC), datetime(2026, 12, 2, 11, 2, tzinfo=UTC), 30)
    rows = [(datetime(2026, 12, 2, 11, 0, 30, tzinfo=UTC), 1.5, None)]
    out = charts.points(rows, ["cpu_usage", "mem_usage"], w)
    start = int(w.start.timestamp())
    assert out[0] == {"metric": "cpu_usage", "unit": "cores",
                      "points": [[start, None], [start + 30, 1.5], [start + 60, None], [start + 90, None]]}
    assert out[1]["points"] == [[start, None], [start + 30, None], [start + 60, None], [start + 90, None]]


@pytest.mark.parametrize(("params", "param", "code"), [
    ({}, "what", "param_required"),
    ({"what": "slowest"}, "what", "what_invalid"),
    ({"what": "busiest_pods", "resource": "disk"}, "resource", "resource_invalid"),
    ({"what": "busiest_pods", "limit": "0"}, "limit", "limit_invalid"),
    ({"what": "busiest_pods", "limit": "101"}, "limit", "limit_invalid"),
    ({"what": "busiest_pods", "cluster": "1", "workspace": "2"}, "workspace", "scope_conflict"),
    ({"what": "nodes_fullest", "workspace": "2"}, "workspace", "scope_conflict"),
    ({"what": "busiest_pods", "service_map": "z"}, "service_map", "param_invalid"),
])
def test_bad_top_queries(params: dict[str, str], param: str, code: str) -> None:
    error = invalid(charts.parse_top, params)
    assert (error.code, error.params["param"]) == (code, param)


def test_top_defaults() -> None:
    assert charts.parse_top({"what": "busiest_pods"}) == charts.TopQuery("busiest_pods", "cpu", 10)
    assert charts.parse_top({"what": "pods_near_limit"}).resource == "memory"
    assert charts.parse_top({"what": "nodes_fullest", "cluster": "4", "limit": "5"}).cluster_id == 4


def test_a_step_finer_than_the_roll_up_grows_to_its_bucket() -> None:
    w = charts.Window(datetime(2026, 12, 1, 11, 59, tzinfo=UTC), NOW, 60)
    assert charts.fit_window(w, "raw") == w
    fitted = charts.fit_window(w, "5m")
    assert fitted == charts.Window(datetime(2026, 12, 1, 11, 55, tzinfo=UTC), NOW, 300)
    assert charts.fit_window(charts.Window(w.start, NOW, 900), "1h").step == 3600
    assert charts.fit_window(charts.Window(w.start, NOW, 7200), "1h").step == 7200
