"""The sample store against the real PostgreSQL: partitions, idempotent COPY writes, roll-ups
checked by hand, the watermark, the lock, and retention by dropping partitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from django.db import connection

from clusters.models import Cluster
from monitoring import store
from monitoring.models import MetricSeries, RollupState
from monitoring.store import Sample, SeriesKey

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def cluster() -> Cluster:
    return Cluster.objects.create(name="store-test", server="https://127.0.0.1:6443")


def _tables() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT relname FROM pg_class WHERE relname LIKE 'monitoring_%%_p%%' AND relkind = 'r'")
        return {r[0] for r in cur.fetchall()}


def _rows(sql: str, params: list[Any] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return list(cur.fetchall())


def _series(cluster: Cluster, name: str = "web-1", level: str = "pod") -> int:
    key = SeriesKey(cluster_id=cluster.pk, level=level, namespace="shop", name=name)
    return store.series_ids([key], T0)[key]


def test_ensure_partitions_makes_yesterday_to_tomorrow_and_months() -> None:
    store.ensure_partitions(T0)
    tables = _tables()
    for day in ("20260309", "20260310", "20260311"):
        for table in ("monitoring_sample", "monitoring_sample_5m", "monitoring_point", "monitoring_point_5m"):
            assert f"{table}_p{day}" in tables
    assert {"monitoring_sample_1h_p202603", "monitoring_point_1h_p202603"} <= tables
    assert "monitoring_sample_1h_p202604" not in tables
    # the bounds are the UTC day, and the BRIN index on ts is there
    bound = _rows("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'monitoring_sample_p20260310'")
    assert "2026-03-10 00:00:00+00" in str(bound[0][0])
    assert "2026-03-11 00:00:00+00" in str(bound[0][0])
    assert _rows("SELECT 1 FROM pg_indexes WHERE indexname = 'monitoring_sample_p20260310_ts'")
    store.ensure_partitions(T0)  # again: nothing to do, no error
    # month end: tomorrow is in the next month
    store.ensure_partitions(dt.datetime(2026, 3, 31, 23, 0, tzinfo=UTC))
    assert {"monitoring_sample_p20260401", "monitoring_sample_1h_p202604"} <= _tables()


def test_partition_names_round_trip() -> None:
    p = store.partition_for("monitoring_sample_1h", dt.datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert (p.name, p.start, p.end) == ("monitoring_sample_1h_p202612", dt.datetime(2026, 12, 1, tzinfo=UTC),
                                        dt.datetime(2027, 1, 1, tzinfo=UTC))
    assert store.parse_partition("monitoring_sample_1h", p.name) == p
    assert store.parse_partition("monitoring_sample", "monitoring_sample_p2026") is None
    assert store.parse_partition("monitoring_sample", "monitoring_sample_p20261341") is None


def test_series_ids_create_reuse_and_refresh(cluster: Cluster) -> None:
    pod = SeriesKey(cluster_id=cluster.pk, level="pod", namespace="shop", name="web-1", workload_kind="Deployment",
                    workload_name="web", node="n1")
    ns = SeriesKey(cluster_id=cluster.pk, level="namespace", namespace="shop", name="shop")
    ids = store.series_ids([pod, ns], T0)
    assert set(ids) == {pod, ns}
    assert ids[pod] != ids[ns]
    assert store.series_ids([pod, ns], T0 + dt.timedelta(seconds=30)) == ids
    row = MetricSeries.objects.get(pk=ids[pod])
    assert (row.workload_kind, row.workload_name, row.node, row.first_seen) == ("Deployment", "web", "n1", T0)
    moved = SeriesKey(cluster_id=cluster.pk, level="pod", namespace="shop", name="web-1", workload_kind="Deployment",
                      workload_name="web", node="n2")
    later = T0 + dt.timedelta(minutes=5)
    assert store.series_ids([moved], later) == {moved: ids[pod]}
    row.refresh_from_db()
    assert (row.node, row.last_seen) == ("n2", later)
    # last_seen is refreshed at most hourly when nothing else changed
    assert store.series_ids([moved], later + dt.timedelta(minutes=10))
    row.refresh_from_db()
    assert row.last_seen == later
    assert store.series_ids([moved], later + dt.timedelta(hours=2))
    row.refresh_from_db()
    assert row.last_seen == later + dt.timedelta(hours=2)
    assert store.series_ids([], T0) == {}


def test_write_samples_is_idempotent(cluster: Cluster) -> None:
    sid = _series(cluster)
    rows = [Sample(series_id=sid, ts=T0, cpu_usage=0.25, mem_usage=100.0, cpu_request=0.5, pods=1),
            Sample(series_id=sid, ts=T0 + dt.timedelta(seconds=30), cpu_usage=0.75)]
    assert store.write_samples(rows) == 2
    assert store.write_samples(rows) == 0  # the same interval again: nothing
    changed = [Sample(series_id=sid, ts=T0, cpu_usage=9.0)]
    assert store.write_samples(changed) == 0  # first write wins
    got = _rows("SELECT ts, cpu_usage, mem_usage, cpu_request, cpu_limit, pods FROM monitoring_sample "
                "WHERE series_id = %s ORDER BY ts", [sid])
    assert got == [(T0, 0.25, 100.0, 0.5, None, 1), (T0 + dt.timedelta(seconds=30), 0.75, None, None, None, None)]
    assert "monitoring_sample_p20260310" in _tables()
    assert store.write_samples([]) == 0


def test_write_points_is_idempotent(cluster: Cluster) -> None:
    sid = _series(cluster)
    points = [(sid, "restarts", T0, 3.0), (sid, "net_rx_bytes_per_second", T0, 1024.5)]
    assert store.write_points(points) == 2
    assert store.write_points(points) == 0
    assert store.write_points([(sid, "restarts", T0 + dt.timedelta(seconds=30), 4.0)]) == 1
    assert _rows("SELECT metric, value FROM monitoring_point WHERE series_id = %s ORDER BY metric, ts", [sid]) == [
        ("net_rx_bytes_per_second", 1024.5), ("restarts", 3.0), ("restarts", 4.0)]


def test_copy_batches(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows go over in COPY batches of BATCH_ROWS; every batch lands, across day partitions too."""
    monkeypatch.setattr(store, "BATCH_ROWS", 7)
    sid = _series(cluster)
    start = dt.datetime(2026, 3, 10, 23, 50, tzinfo=UTC)
    rows = [Sample(series_id=sid, ts=start + dt.timedelta(seconds=30 * i), cpu_usage=float(i)) for i in range(50)]
    assert store.write_samples(rows) == 50
    assert store.write_samples([*rows[:20], Sample(series_id=sid, ts=start + dt.timedelta(days=1), cpu_usage=1.0)]) == 1
    assert _rows("SELECT count(*), sum(cpu_usage) FROM monitoring_sample WHERE series_id = %s", [sid]) == [
        (51, float(sum(range(50)) + 1))]
    assert {"monitoring_sample_p20260310", "monitoring_sample_p20260311"} <= _tables()
    points = [(sid, "restarts", start + dt.timedelta(seconds=30 * i), float(i)) for i in range(30)]
    assert store.write_points(points) == 30


def test_rollup_values_by_hand(cluster: Cluster, settings: object) -> None:
    """Raw every 30 s over 12:00-12:10 → two 5-minute buckets; averages, maxima and counts by hand."""
    sid = _series(cluster)
    node = _series(cluster, "n1", level="node")
    rows = []
    for i in range(20):  # 12:00:00 … 12:09:30
        rows.append(Sample(series_id=sid, ts=T0 + dt.timedelta(seconds=30 * i), cpu_usage=float(i),
                           mem_usage=1000.0 * i, cpu_request=0.5, mem_request=None if i % 2 else 64.0, pods=1))
    rows.append(Sample(series_id=node, ts=T0, cpu_allocatable=4.0, cpu_capacity=8.0, pods=3))
    rows.append(Sample(series_id=node, ts=T0 + dt.timedelta(seconds=30), cpu_allocatable=4.0, cpu_capacity=8.0,
                       pods=4))
    store.write_samples(rows)
    store.write_points([(sid, "restarts", T0 + dt.timedelta(seconds=30 * i), float(i // 5)) for i in range(20)])
    # 12:10 + grace: both buckets complete; the hour is not
    done = store.rollup(T0 + dt.timedelta(minutes=10, seconds=store.grace_seconds()))
    assert (done["5m"], done["point_5m"], done["1h"]) == (3, 2, 0)
    got = _rows("SELECT ts, cpu_usage, mem_usage, cpu_request, mem_request, cpu_usage_max, mem_usage_max, samples, pods "
                "FROM monitoring_sample_5m WHERE series_id = %s ORDER BY ts", [sid])
    # first bucket: i = 0..9 → avg 4.5, max 9; mem avg 4500; mem_request only on even i (64)
    assert got[0] == (T0, 4.5, 4500.0, 0.5, 64.0, 9.0, 9000.0, 10, 1)
    assert got[1] == (T0 + dt.timedelta(minutes=5), 14.5, 14500.0, 0.5, 64.0, 19.0, 19000.0, 10, 1)
    assert _rows("SELECT cpu_allocatable, cpu_capacity, pods, samples, cpu_usage_max FROM monitoring_sample_5m "
                 "WHERE series_id = %s", [node]) == [(4.0, 8.0, 4, 2, None)]  # avg(3, 4) = 3.5 → 4
    # restarts: i//5 = 0,0,0,0,0,1,1,1,1,1 | 2,...,3 → avg 0.5 max 1 ; avg 2.5 max 3
    assert _rows("SELECT ts, value, value_max, samples FROM monitoring_point_5m WHERE series_id = %s ORDER BY ts",
                 [sid]) == [(T0, 0.5, 1.0, 10), (T0 + dt.timedelta(minutes=5), 2.5, 3.0, 10)]
    assert RollupState.objects.get(target="5m").done_until == T0 + dt.timedelta(minutes=10)


def test_rollup_hour_is_weighted_by_samples(cluster: Cluster) -> None:
    """The hour from 5-minute rows weighs each bucket by its raw sample count."""
    sid = _series(cluster)
    # bucket 12:00 has 10 samples of 1.0; bucket 12:05 has 2 samples of 4.0 (a collection gap)
    rows = [Sample(series_id=sid, ts=T0 + dt.timedelta(seconds=30 * i), cpu_usage=1.0, cpu_billed=2.0)
            for i in range(10)]
    rows += [Sample(series_id=sid, ts=T0 + dt.timedelta(minutes=5, seconds=30 * i), cpu_usage=4.0, cpu_billed=2.0)
             for i in range(2)]
    store.write_samples(rows)
    store.write_points([(sid, "fs_used_bytes", T0, 10.0), (sid, "fs_used_bytes", T0 + dt.timedelta(minutes=6), 40.0),
                        (sid, "fs_used_bytes", T0 + dt.timedelta(minutes=7), 70.0)])
    store.rollup(T0 + dt.timedelta(hours=1, minutes=5))
    got = _rows("SELECT ts, cpu_usage, cpu_billed, cpu_usage_max, samples FROM monitoring_sample_1h "
                "WHERE series_id = %s", [sid])
    # (10 * 1.0 + 2 * 4.0) / 12 = 1.5 (the plain average of the two buckets would be 2.5)
    assert got == [(T0, 1.5, 2.0, 4.0, 12)]
    # points: 5m buckets avg 10 (1) and 55 (2) → (10 + 110) / 3 = 40; max 70
    assert _rows("SELECT ts, value, value_max, samples FROM monitoring_point_1h WHERE series_id = %s", [sid]) == [
        (T0, 40.0, 70.0, 3)]
    assert RollupState.objects.get(target="1h").done_until == T0 + dt.timedelta(hours=1)
    assert "monitoring_sample_1h_p202603" in _tables()


def test_rollup_resumes_from_watermark_and_redoes_a_lost_chunk(cluster: Cluster) -> None:
    sid = _series(cluster)
    store.write_samples([Sample(series_id=sid, ts=T0 + dt.timedelta(seconds=30 * i), cpu_usage=float(i))
                         for i in range(10)])
    grace = dt.timedelta(seconds=store.grace_seconds())
    store.rollup(T0 + dt.timedelta(minutes=5) + grace)
    assert RollupState.objects.get(target="5m").done_until == T0 + dt.timedelta(minutes=5)
    # a bucket still within the grace is not rolled up yet
    store.write_samples([Sample(series_id=sid, ts=T0 + dt.timedelta(minutes=5, seconds=30 * i), cpu_usage=2.0)
                         for i in range(10)])
    assert store.rollup(T0 + dt.timedelta(minutes=10))["5m"] == 0
    assert store.rollup(T0 + dt.timedelta(minutes=10) + grace)["5m"] == 1  # only the new bucket
    first = _rows("SELECT ts, cpu_usage, samples FROM monitoring_sample_5m WHERE series_id = %s ORDER BY ts", [sid])
    assert first == [(T0, 4.5, 10), (T0 + dt.timedelta(minutes=5), 2.0, 10)]
    # a roll-up that died before its commit left the watermark behind: the redo upserts the same values
    RollupState.objects.filter(target="5m").update(done_until=T0)
    assert store.rollup(T0 + dt.timedelta(minutes=10) + grace)["5m"] == 2
    again = _rows("SELECT ts, cpu_usage, samples FROM monitoring_sample_5m WHERE series_id = %s ORDER BY ts", [sid])
    assert again == first


def test_rollup_skips_while_another_holds_the_lock(cluster: Cluster) -> None:
    sid = _series(cluster)
    store.write_samples([Sample(series_id=sid, ts=T0, cpu_usage=1.0)])
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"],
                         dbname=db["NAME"]) as other, other.transaction():
        other.execute("SELECT pg_advisory_xact_lock(%s)", [store.LOCK_ROLLUP])
        assert store.rollup(T0 + dt.timedelta(hours=2)) == {"5m": 0}
        assert not RollupState.objects.exists()
    assert store.rollup(T0 + dt.timedelta(hours=2))["5m"] == 1


def test_drop_expired_drops_whole_partitions(cluster: Cluster, settings: object) -> None:
    sid = _series(cluster)
    old = T0 - dt.timedelta(days=3)
    store.write_samples([Sample(series_id=sid, ts=old, cpu_usage=1.0), Sample(series_id=sid, ts=T0, cpu_usage=2.0)])
    store.write_points([(sid, "restarts", old, 1.0)])
    store.ensure_partitions_for("monitoring_sample_5m", [T0 - dt.timedelta(days=40)])
    store.ensure_partitions_for("monitoring_sample_1h", [T0 - dt.timedelta(days=500)])
    # not rolled up yet: partitions past retention are kept, but for the hourly one (nothing reads it)
    assert store.drop_expired(T0) == ["monitoring_sample_1h_p202410"]
    assert "monitoring_sample_p20260307" in _tables()
    store.rollup(T0)
    dropped = store.drop_expired(T0)
    assert set(dropped) == {"monitoring_sample_p20260307", "monitoring_point_p20260307", "monitoring_sample_5m_p20260129"}
    tables = _tables()
    assert not set(dropped) & tables
    # today's partition (within 24 h) stays, and so do its rows; the 5-minute roll-up of the old day too
    assert {"monitoring_sample_p20260310", "monitoring_sample_5m_p20260307"} <= tables
    assert _rows("SELECT cpu_usage FROM monitoring_sample WHERE series_id = %s", [sid]) == [(2.0,)]
    assert _rows("SELECT cpu_usage FROM monitoring_sample_5m WHERE series_id = %s AND ts = %s", [sid, old]) == [(1.0,)]
    assert store.drop_expired(T0) == []


def test_figures_fill_a_sample() -> None:
    """collect builds ``Sample(series_id, ts, **Figures.as_dict())``: the same columns, in order."""
    from monitoring.samples import Figures

    assert tuple(Figures().as_dict()) == store.RESOURCE_COLUMNS
    sample = Sample(series_id=1, ts=T0, **Figures(cpu_usage=0.5, pods=2).as_dict())
    assert sample.row() == (1, T0, 0.5, *([None] * 11), 2)
