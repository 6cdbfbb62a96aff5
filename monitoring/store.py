"""Writer of the sample tables: partitions ahead, batched COPY writes, roll-ups, retention by
dropping partitions (issue 14, METRICS; docs/metrics.md).

* :func:`series_ids` maps :class:`SeriesKey` (what a row measures) to ``MetricSeries`` ids: one
  SELECT for the lot, one INSERT for the new ones, one UPDATE for those whose owner, node, service
  map or workspace changed (or whose ``last_seen`` is older than :data:`SEEN_REFRESH`).
* :func:`write_samples` / :func:`write_points`: ``COPY`` into a session temp table, then one
  ``INSERT … SELECT … ON CONFLICT DO NOTHING``: a repeated collection of the same aligned ``ts`` is a
  no-op, and the count returned is what was new.
* Partitions: ``<table>_pYYYYMMDD`` (a UTC day) for raw and 5-minute tables, ``<table>_pYYYYMM`` (a
  UTC month) for the hourly ones, created ahead by :func:`ensure_partitions` and on demand by the
  writers, each with a BRIN index on ``ts`` (rows arrive in time order: the roll-ups read a time
  range out of a partition without scanning it).
* :func:`rollup`: raw → 5 min → 1 h (samples and points), bucket ``ts`` = bucket start, up to the
  last bucket complete :func:`grace_seconds` ago; one ``INSERT … SELECT … GROUP BY … ON CONFLICT DO
  UPDATE`` per chunk with the :class:`~monitoring.models.RollupState` watermark moved in the same
  transaction, under a transaction-level advisory lock (two roll-ups never run at once; one that
  dies redoes its chunk and the upsert keeps the values right).
* :func:`drop_expired`: whole partitions past the retention settings are dropped (never ``DELETE``),
  and never one whose rows the next roll-up has not aggregated yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from psycopg import sql

from monitoring.samples import SeriesKey

__all__ = ["Sample", "SeriesKey", "drop_expired", "ensure_partitions", "rollup", "series_ids", "write_points",
           "write_samples"]

logger = logging.getLogger(__name__)

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

RESOURCE_COLUMNS: tuple[str, ...] = (
    "cpu_usage", "mem_usage", "cpu_request", "mem_request", "cpu_limit", "mem_limit", "cpu_billed", "mem_billed",
    "cpu_allocatable", "mem_allocatable", "cpu_capacity", "mem_capacity", "pods",
)
ROLLUP_EXTRA: tuple[str, ...] = ("cpu_usage_max", "mem_usage_max", "samples")

SAMPLE = "monitoring_sample"
POINT = "monitoring_point"
TABLES: tuple[str, ...] = (SAMPLE, f"{SAMPLE}_5m", f"{SAMPLE}_1h", POINT, f"{POINT}_5m", f"{POINT}_1h")

BATCH_ROWS = 20_000  # rows per COPY + INSERT
SEEN_REFRESH = dt.timedelta(hours=1)  # last_seen is rewritten at most this often per series

# Advisory lock keys (pg_advisory_xact_lock): one per kind of work.
LOCK_ROLLUP = 0x6D6F6E_0001
LOCK_PARTITIONS = 0x6D6F6E_0002


# ---------------------------------------------------------------------------- series


def series_ids(keys: Iterable[SeriesKey], now: dt.datetime) -> dict[SeriesKey, int]:
    """The ``MetricSeries`` id of every key, creating the missing series (``first_seen`` =
    ``last_seen`` = ``now``) and refreshing changed attributes. Three statements at most."""
    given = list(keys)
    by_identity: dict[tuple[int, str, str, str, str], SeriesKey] = {}
    for key in given:
        by_identity[key.identity] = key  # the last one wins if a caller repeats an identity
    if not by_identity:
        return {}
    wanted = list(by_identity.values())
    found: dict[tuple[int, str, str, str, str], int] = {}
    stale: list[tuple[int, SeriesKey]] = []
    with connection.cursor() as cur:
        cur.execute(
            """SELECT s.id, s.cluster_id, s.level, s.namespace, s.name, s.container, s.workload_kind,
                      s.workload_name, s.node, s.service_map_id, s.workspace_id, s.last_seen
                 FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[]) AS k(c, l, ns, n, ct)
                 JOIN monitoring_metricseries s
                   ON s.cluster_id = k.c AND s.level = k.l AND s.namespace = k.ns AND s.name = k.n
                  AND s.container = k.ct""",
            _identity_arrays(wanted))
        for row in cur.fetchall():
            identity = (int(row[1]), row[2], row[3], row[4], row[5])
            key = by_identity[identity]
            found[identity] = int(row[0])
            if (row[6], row[7], row[8], row[9], row[10]) != key.attributes() or row[11] < now - SEEN_REFRESH:
                stale.append((int(row[0]), key))
        missing = [k for k in wanted if k.identity not in found]
        if missing:
            cur.execute(
                """INSERT INTO monitoring_metricseries (cluster_id, level, namespace, name, container, workload_kind,
                          workload_name, node, service_map_id, workspace_id, first_seen, last_seen)
                   SELECT k.c, k.l, k.ns, k.n, k.ct, k.wk, k.wn, k.nd, k.sm, k.ws, %s, %s
                     FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                                 %s::text[], %s::bigint[], %s::bigint[]) AS k(c, l, ns, n, ct, wk, wn, nd, sm, ws)
                   ON CONFLICT ON CONSTRAINT metricseries_unique
                   DO UPDATE SET last_seen = GREATEST(monitoring_metricseries.last_seen, EXCLUDED.last_seen)
                   RETURNING id, cluster_id, level, namespace, name, container""",
                [now, now, *_identity_arrays(missing), *_attribute_arrays(missing)])
            for row in cur.fetchall():
                found[(int(row[1]), row[2], row[3], row[4], row[5])] = int(row[0])
        if stale:
            cur.execute(
                """UPDATE monitoring_metricseries s
                      SET workload_kind = k.wk, workload_name = k.wn, node = k.nd, service_map_id = k.sm,
                          workspace_id = k.ws, last_seen = GREATEST(s.last_seen, %s)
                     FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])
                          AS k(id, wk, wn, nd, sm, ws)
                    WHERE s.id = k.id""",
                [now, [pk for pk, _ in stale], *_attribute_arrays([k for _, k in stale])])
    # A key repeating an identity with other attributes maps to the same series.
    return {key: found[key.identity] for key in given if key.identity in found}


def _identity_arrays(keys: Sequence[SeriesKey]) -> list[list[Any]]:
    return [[k.cluster_id for k in keys], [k.level for k in keys], [k.namespace for k in keys],
            [k.name for k in keys], [k.container for k in keys]]


def _attribute_arrays(keys: Sequence[SeriesKey]) -> list[list[Any]]:
    return [[k.workload_kind for k in keys], [k.workload_name for k in keys], [k.node for k in keys],
            [k.service_map_id for k in keys], [k.workspace_id for k in keys]]


# ---------------------------------------------------------------------------- rows


@dataclass
class Sample:
    """One row of ``monitoring_sample``: cores, bytes, a pod count; None where a level has no figure."""

    series_id: int
    ts: dt.datetime
    cpu_usage: float | None = None
    mem_usage: float | None = None
    cpu_request: float | None = None
    mem_request: float | None = None
    cpu_limit: float | None = None
    mem_limit: float | None = None
    cpu_billed: float | None = None
    mem_billed: float | None = None
    cpu_allocatable: float | None = None
    mem_allocatable: float | None = None
    cpu_capacity: float | None = None
    mem_capacity: float | None = None
    pods: int | None = None

    def row(self) -> tuple[Any, ...]:
        return (self.series_id, self.ts, self.cpu_usage, self.mem_usage, self.cpu_request, self.mem_request,
                self.cpu_limit, self.mem_limit, self.cpu_billed, self.mem_billed, self.cpu_allocatable,
                self.mem_allocatable, self.cpu_capacity, self.mem_capacity, self.pods)


assert tuple(f.name for f in fields(Sample))[2:] == RESOURCE_COLUMNS

Point = tuple[int, str, dt.datetime, float]  # (series_id, metric, ts, value)


def align(when: dt.datetime, seconds: float) -> dt.datetime:
    """``when`` floored to a multiple of ``seconds`` since the epoch (UTC)."""
    step = max(int(seconds), 1)
    epoch = int((when - EPOCH).total_seconds())
    return EPOCH + dt.timedelta(seconds=epoch - epoch % step)


def write_samples(samples: Sequence[Sample]) -> int:
    """Write resource samples; rows whose (series, ts) is already stored are skipped. Returns the
    number of rows written. Partitions for every day the rows fall in are created first."""
    if not samples:
        return 0
    ensure_partitions_for(SAMPLE, {s.ts for s in samples})
    columns = ("series_id", "ts", *RESOURCE_COLUMNS)
    written = 0
    for start in range(0, len(samples), BATCH_ROWS):
        written += _copy_insert(SAMPLE, columns, [s.row() for s in samples[start:start + BATCH_ROWS]],
                                conflict="(series_id, ts)")
    return written


def write_points(points: Sequence[Point]) -> int:
    """Write named scalar metrics (series_id, metric, ts, value); repeats are skipped. Returns the
    number of rows written."""
    if not points:
        return 0
    ensure_partitions_for(POINT, {p[2] for p in points})
    written = 0
    for start in range(0, len(points), BATCH_ROWS):
        written += _copy_insert(POINT, ("series_id", "metric", "ts", "value"),
                                [tuple(p) for p in points[start:start + BATCH_ROWS]],
                                conflict="(series_id, metric, ts)")
    return written


def _copy_insert(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], *, conflict: str) -> int:
    """COPY ``rows`` into the session's temp twin of ``table`` and move them over in one INSERT."""
    staging = f"{table}_in"
    cols = ", ".join(columns)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS)")
        cur.execute(f"TRUNCATE {staging}")
        with cur.cursor.copy(f"COPY {staging} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} "  # noqa: S608 (fixed names only)
                    f"ON CONFLICT {conflict} DO NOTHING")
        written = max(cur.rowcount, 0)
        cur.execute(f"TRUNCATE {staging}")
    return written


# ---------------------------------------------------------------------------- partitions


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    start: dt.datetime
    end: dt.datetime


def monthly(table: str) -> bool:
    return table.endswith("_1h")


def partition_for(table: str, when: dt.datetime) -> Partition:
    """The partition of ``table`` that holds ``when``."""
    when = when.astimezone(UTC)
    if monthly(table):
        start = dt.datetime(when.year, when.month, 1, tzinfo=UTC)
        end = dt.datetime(when.year + (when.month == 12), when.month % 12 + 1, 1, tzinfo=UTC)
        return Partition(table, f"{table}_p{start:%Y%m}", start, end)
    start = dt.datetime(when.year, when.month, when.day, tzinfo=UTC)
    return Partition(table, f"{table}_p{start:%Y%m%d}", start, start + dt.timedelta(days=1))


def parse_partition(table: str, name: str) -> Partition | None:
    """The partition a name of ``table`` stands for, or None for a name this module did not make."""
    prefix = f"{table}_p"
    suffix = name[len(prefix):] if name.startswith(prefix) else ""
    if not suffix.isdigit() or len(suffix) != (6 if monthly(table) else 8):
        return None
    try:
        when = dt.datetime.strptime(suffix + ("01" if monthly(table) else ""), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return partition_for(table, when)


def existing_partitions(table: str) -> list[Partition]:
    """The partitions of ``table`` (those named by this module), oldest first."""
    with connection.cursor() as cur:
        cur.execute("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = %s::regclass""", [table])
        names = [r[0] for r in cur.fetchall()]
    found = [p for p in (parse_partition(table, n) for n in names) if p is not None]
    return sorted(found, key=lambda p: p.start)


def _create(partitions: Iterable[Partition]) -> list[str]:
    """Create the partitions that do not exist yet (checked without locks first, created under an
    advisory lock so two writers never race on the catalog). Returns the names created."""
    wanted = {p.name: p for p in partitions}
    if not wanted:
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT n FROM unnest(%s::text[]) AS n WHERE to_regclass(n) IS NULL", [sorted(wanted)])
        missing = [wanted[r[0]] for r in cur.fetchall()]
    if not missing:
        return []
    created = []
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_PARTITIONS])
        for p in missing:
            cur.execute("SELECT to_regclass(%s) IS NULL", [p.name])
            if not cur.fetchone()[0]:
                continue
            # DDL takes no parameters (the settings bind them on the server): the bounds as literals
            bounds = sql.SQL("FOR VALUES FROM ({}) TO ({})").format(
                sql.Literal(p.start), sql.Literal(p.end)).as_string(cur.connection)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {p.name} PARTITION OF {p.table} {bounds}")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {p.name}_ts ON {p.name} USING brin (ts)")
            created.append(p.name)
    if created:
        logger.info("monitoring partitions created: %s", ", ".join(created))
    return created


def ensure_partitions_for(table: str, times: Iterable[dt.datetime]) -> list[str]:
    return _create(partition_for(table, t) for t in times)


def ensure_partitions(now: dt.datetime) -> None:
    """Partitions of every table for yesterday, today and tomorrow (months for the hourly tables)."""
    days = [now - dt.timedelta(days=1), now, now + dt.timedelta(days=1)]
    _create(partition_for(table, day) for table in TABLES for day in days)


# ---------------------------------------------------------------------------- roll-ups


@dataclass(frozen=True)
class Rollup:
    target: str  # RollupState.target
    source: str
    dest: str
    seconds: int
    points: bool
    chunk: dt.timedelta  # at most this much source time per statement (and transaction)

    @property
    def from_raw(self) -> bool:
        return self.source in (SAMPLE, POINT)


ROLLUPS: tuple[Rollup, ...] = (
    Rollup("5m", SAMPLE, f"{SAMPLE}_5m", 300, False, dt.timedelta(hours=2)),
    Rollup("1h", f"{SAMPLE}_5m", f"{SAMPLE}_1h", 3600, False, dt.timedelta(days=1)),
    Rollup("point_5m", POINT, f"{POINT}_5m", 300, True, dt.timedelta(hours=2)),
    Rollup("point_1h", f"{POINT}_5m", f"{POINT}_1h", 3600, True, dt.timedelta(days=1)),
)


def grace_seconds() -> float:
    """How long after a 5-minute bucket ends it is rolled up: a collection stamped inside the bucket
    may still be writing (two intervals, at least a minute)."""
    return max(60.0, 2 * float(getattr(settings, "PORTAL_METRICS_INTERVAL_SECONDS", 30.0)))


def _sample_sql(r: Rollup) -> str:
    bucket = f"date_bin('{r.seconds} seconds', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    values = [c for c in RESOURCE_COLUMNS if c != "pods"]
    if r.from_raw:
        aggregates = [f"avg({c})" for c in values] + ["round(avg(pods))::integer", "max(cpu_usage)",
                                                       "max(mem_usage)", "count(*)"]
    else:  # averages of averages, weighted by how many raw samples each holds
        aggregates = [f"sum({c} * samples) / nullif(sum(CASE WHEN {c} IS NOT NULL THEN samples END), 0)"
                      for c in values]
        aggregates += ["round(sum(pods * samples)::numeric / nullif(sum(CASE WHEN pods IS NOT NULL THEN samples END), 0))"
                       "::integer", "max(cpu_usage_max)", "max(mem_usage_max)", "sum(samples)"]
    columns = (*values, "pods", *ROLLUP_EXTRA)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    return (f"INSERT INTO {r.dest} (series_id, ts, {', '.join(columns)}) "  # noqa: S608 (fixed names only)
            f"SELECT series_id, {bucket}, {', '.join(aggregates)} FROM {r.source} "
            f"WHERE ts >= %s AND ts < %s GROUP BY 1, 2 "
            f"ON CONFLICT (series_id, ts) DO UPDATE SET {updates}")


def _point_sql(r: Rollup) -> str:
    bucket = f"date_bin('{r.seconds} seconds', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    if r.from_raw:
        aggregates = "avg(value), max(value), count(*)"
    else:
        aggregates = ("sum(value * samples) / nullif(sum(CASE WHEN value IS NOT NULL THEN samples END), 0), "
                      "max(value_max), sum(samples)")
    return (f"INSERT INTO {r.dest} (series_id, metric, ts, value, value_max, samples) "  # noqa: S608
            f"SELECT series_id, metric, {bucket}, {aggregates} FROM {r.source} "
            f"WHERE ts >= %s AND ts < %s GROUP BY 1, 2, 3 "
            f"ON CONFLICT (series_id, metric, ts) DO UPDATE SET value = EXCLUDED.value, "
            f"value_max = EXCLUDED.value_max, samples = EXCLUDED.samples")


def _watermark(target: str) -> dt.datetime | None:
    with connection.cursor() as cur:
        cur.execute("SELECT done_until FROM monitoring_rollupstate WHERE target = %s", [target])
        row = cur.fetchone()
    return row[0] if row else None


def _set_watermark(cur: Any, target: str, until: dt.datetime) -> None:
    cur.execute("""INSERT INTO monitoring_rollupstate (target, done_until) VALUES (%s, %s)
                   ON CONFLICT (target) DO UPDATE SET done_until = EXCLUDED.done_until""", [target, until])


def rollup(now: dt.datetime) -> dict[str, int]:
    """Aggregate raw → 5 min → 1 h (samples and points) up to the last complete bucket. Returns the
    rows upserted per target. Each chunk is one transaction holding the roll-up advisory lock that
    reads the watermark, upserts the buckets and moves the watermark: two roll-ups never run a chunk
    at once, and one that finds the lock taken stops (the holder does the work)."""
    done: dict[str, int] = {}
    limit_5m = align(now - dt.timedelta(seconds=grace_seconds()), 300)
    for r in ROLLUPS:
        done[r.target] = 0
        while True:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_ROLLUP])
                if not cur.fetchone()[0]:
                    logger.info("monitoring roll-up skipped: another one is running")
                    return done
                if r.seconds == 300:
                    until = limit_5m
                else:  # an hour is complete when its 5-minute buckets are
                    until = align(min(limit_5m, _watermark("point_5m" if r.points else "5m") or EPOCH), 3600)
                span = _next_chunk(r, until)
                if span is None:
                    break
                start, end = span
                ensure_partitions_for(r.dest, _span(start, end, r.dest))
                cur.execute(_point_sql(r) if r.points else _sample_sql(r), [start, end])
                done[r.target] += max(cur.rowcount, 0)
                _set_watermark(cur, r.target, end)
    return done


def _next_chunk(r: Rollup, until: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The next source range [start, end) to aggregate, or None when caught up."""
    sources = existing_partitions(r.source)
    if not sources:
        return None
    start = _watermark(r.target)
    oldest = align(sources[0].start, r.seconds)
    if start is None or start < oldest:
        start = oldest  # first run, or the partitions it had not reached are gone
    if start >= until:
        return None
    end = min(until, align(start + r.chunk, r.seconds))
    return start, (end if end > start else until)


def _span(start: dt.datetime, end: dt.datetime, table: str) -> list[dt.datetime]:
    """One instant in every partition of ``table`` that [start, end) touches."""
    times = []
    at = partition_for(table, start).start
    while at < end:
        times.append(max(at, start))
        at = partition_for(table, at).end
    return times


# ---------------------------------------------------------------------------- retention


def retention(table: str) -> dt.timedelta:
    if table.endswith("_1h"):
        return dt.timedelta(days=int(getattr(settings, "PORTAL_METRICS_1H_RETENTION_DAYS", 400)))
    if table.endswith("_5m"):
        return dt.timedelta(days=int(getattr(settings, "PORTAL_METRICS_5M_RETENTION_DAYS", 30)))
    return dt.timedelta(hours=int(getattr(settings, "PORTAL_METRICS_RAW_RETENTION_HOURS", 24)))


def drop_expired(now: dt.datetime) -> list[str]:
    """Drop the partitions whose whole range is older than their table's retention, except those
    the next roll-up has not aggregated past yet. Returns the names dropped."""
    consumers = {r.source: r.target for r in ROLLUPS}
    dropped = []
    for table in TABLES:
        cutoff = now - retention(table)
        consumer = consumers.get(table)
        rolled = (_watermark(consumer) or EPOCH) if consumer else None
        for p in existing_partitions(table):
            if p.end > cutoff:
                break
            if rolled is not None and rolled < p.end:
                logger.warning("monitoring partition %s is past retention but not rolled up yet; kept", p.name)
                continue
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {p.name}")
            dropped.append(p.name)
    if dropped:
        logger.info("monitoring partitions dropped: %s", ", ".join(dropped))
    return dropped
