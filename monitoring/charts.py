"""Pure: chart ranges, steps, source tables and the SQL of a series (issue 14, CHARTS; docs/charts-api.md).

Everything here is a function of its arguments (no database, no clock): the chart API parses the
query string with :func:`parse_query`, asks :func:`choose_source` which table answers, builds the
bucketed SQL with :func:`series_sql` and turns the rows into ``[[epoch_s, value|null], ...]`` with
:func:`points`. :mod:`monitoring.queries` runs the SQL and resolves scopes; the view composes.

Choices, and why:

* **Buckets** are ``date_bin(step, ts, epoch)``: aligned to multiples of ``step`` since the epoch,
  so two charts of the same step share their buckets and a refresh does not shift the points. The
  window's start is aligned down to its bucket; the answer has one point per bucket, ``null`` where
  nothing was stored.
* **Several series** (the fleet: every cluster; a workspace: its namespaces on every cluster) are
  summed per ``ts`` first, then averaged per bucket: averaging first would give the mean of one
  cluster, not the fleet's total. Samples are aligned to the collection interval on every cluster
  (and roll-up rows to their bucket start), so equal ``ts`` means the same moment.
* **Sources**: raw samples while they are kept (``PORTAL_METRICS_RAW_RETENTION_HOURS``) and the step
  is under 5 minutes; 5-minute roll-ups within their retention (30 days) and a step under an hour;
  hourly roll-ups otherwise. The roll-ups lag their source by up to a bucket and a grace period, so
  the SQL reads the coarse table up to its watermark and the finer tables after it
  (:func:`source_parts`): the last minutes of a chart are never missing. A step finer than the
  roll-up's bucket grows to the bucket (:func:`fit_window`) rather than leaving empty points.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from portal import errors

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

LEVELS: tuple[str, ...] = ("fleet", "cluster", "node", "workspace", "servicemap", "workload", "pod", "container")
INFRASTRUCTURE_LEVELS: frozenset[str] = frozenset({"fleet", "cluster", "node"})
SOURCES: tuple[str, ...] = ("raw", "5m", "1h")
TABLES: dict[str, str] = {"raw": "monitoring_sample", "5m": "monitoring_sample_5m", "1h": "monitoring_sample_1h"}
BUCKET_SECONDS: dict[str, int] = {"5m": 300, "1h": 3600}

MAX_RANGE = timedelta(days=400)
MAX_POINTS = 1500
DEFAULT_POINTS = 120
DEFAULT_RANGE = timedelta(hours=1)
FIVE_MINUTE_DAYS = 30  # the 5-minute roll-ups' retention unless the settings say otherwise
# Steps chosen when none is given: the smallest of these giving at most DEFAULT_POINTS points.
NICE_STEPS: tuple[int, ...] = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)

# Which columns each level holds (docs/metrics.md): usage, requests and limits everywhere below the
# cluster; allocatable and capacity for nodes, clusters and the fleet; billed where pods are summed.
_APP = ("cpu_usage", "cpu_request", "cpu_limit", "cpu_billed", "mem_usage", "mem_request", "mem_limit", "mem_billed")
_INFRA = ("cpu_usage", "cpu_request", "cpu_limit", "cpu_allocatable", "cpu_capacity",
          "mem_usage", "mem_request", "mem_limit", "mem_allocatable", "mem_capacity")
LEVEL_METRICS: dict[str, tuple[str, ...]] = {
    "fleet": (*_INFRA, "cpu_billed", "mem_billed", "pods"),
    "cluster": (*_INFRA, "cpu_billed", "mem_billed", "pods"),
    "node": (*_INFRA, "pods"),
    "workspace": (*_APP, "pods"),
    "servicemap": (*_APP, "pods"),
    "workload": (*_APP, "pods"),
    "pod": _APP,
    "container": _APP,
}
MAX_METRICS: tuple[str, ...] = ("cpu_usage_max", "mem_usage_max")  # from the roll-ups only
COLUMNS: frozenset[str] = frozenset(c for cols in LEVEL_METRICS.values() for c in cols) | frozenset(MAX_METRICS)


def unit_of(metric: str) -> str:
    if metric.startswith("cpu_"):
        return "cores"
    if metric.startswith("mem_"):
        return "bytes"
    return "count"


def metrics_of(level: str, source: str) -> tuple[str, ...]:
    """The metrics a chart of ``level`` answers from ``source`` (maxima only from roll-ups)."""
    base = LEVEL_METRICS[level]
    return base if source == "raw" else (*base, *MAX_METRICS)


# ---------------------------------------------------------------------------- errors


def _invalid(param: str, message: str, code: str, **params: object) -> errors.Invalid:
    return errors.Invalid(message, code=code, params={"param": param, **params}, errors={param: [message]})


def required(param: str, level: str) -> errors.Invalid:
    return _invalid(param, f"A {level} chart needs {param}.", "param_required", level=level)


# ---------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class Window:
    """``start`` aligned down to ``step``; ``end`` exclusive; ``step`` in seconds."""

    start: datetime
    end: datetime
    step: int

    @property
    def buckets(self) -> int:
        return math.ceil((self.end - self.start).total_seconds() / self.step)

    def bucket_starts(self) -> list[int]:
        first = int(self.start.timestamp())
        return [first + i * self.step for i in range(self.buckets)]


@dataclass(frozen=True)
class ChartQuery:
    """What a chart asks for: a level, the names placing it (only those the level takes) and a window."""

    level: str
    window: Window
    cluster_id: int | None = None
    node: str = ""
    workspace_id: int | None = None
    service_map_id: int | None = None
    namespace: str = ""
    workload_kind: str = ""
    workload_name: str = ""
    pod: str = ""
    container: str = ""


TOP_WHAT: tuple[str, ...] = ("busiest_pods", "nodes_fullest", "pods_near_limit")
TOP_RESOURCES: tuple[str, ...] = ("cpu", "memory")
TOP_DEFAULT_RESOURCE: dict[str, str] = {"busiest_pods": "cpu", "nodes_fullest": "cpu", "pods_near_limit": "memory"}
TOP_MAX_LIMIT = 100


@dataclass(frozen=True)
class TopQuery:
    what: str
    resource: str
    limit: int
    cluster_id: int | None = None
    workspace_id: int | None = None
    service_map_id: int | None = None


_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]{0,39}$")


def _id(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name, "")
    if value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise _invalid(name, f"{name} must be an id (a whole number).", "param_invalid")
    return int(value)


def _name(params: Mapping[str, str], name: str, pattern: re.Pattern[str] = _NAME) -> str:
    value = params.get(name, "")
    if value and not pattern.match(value):
        raise _invalid(name, f"{name} is not a valid Kubernetes name.", "param_invalid")
    return value


def parse_time(param: str, value: str) -> datetime:
    """ISO 8601 (with a zone, or UTC when none) or epoch seconds (integer or decimal)."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{1,12}(\.\d{1,9})?", text):
            return datetime.fromtimestamp(float(text), tz=UTC)
        # an unencoded "+09:00" in a query string arrives as " 09:00"
        text = re.sub(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$", r"\1+\2", text)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise _invalid(param, f"{param} must be an ISO 8601 time or epoch seconds.", "range_invalid") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def default_step(span_seconds: float, interval: float) -> int:
    """The smallest nice step (at least the collection interval) giving at most DEFAULT_POINTS points."""
    floor = max(1, math.ceil(interval))
    wanted = max(floor, math.ceil(int(span_seconds) / DEFAULT_POINTS))  # whole seconds: 30 days + 0.3 s is 30 days
    for step in NICE_STEPS:
        if step >= wanted:
            return step
    return math.ceil(wanted / 86400) * 86400


def align_down(moment: datetime, step: int) -> datetime:
    seconds = int((moment - EPOCH).total_seconds() // step) * step
    return EPOCH + timedelta(seconds=seconds)


def parse_window(params: Mapping[str, str], *, now: datetime, interval: float) -> Window:
    """start/end/step of a chart: defaults the last hour at ~120 points; end after start; at most
    400 days; a step of whole seconds, at least the collection interval, giving at most 1,500 points."""
    end = parse_time("end", params["end"]) if params.get("end", "") else now
    start = parse_time("start", params["start"]) if params.get("start", "") else end - DEFAULT_RANGE
    if end <= start:
        raise _invalid("end", "end must be after start.", "range_invalid")
    if end - start > MAX_RANGE:
        raise _invalid("start", f"A chart spans at most {MAX_RANGE.days} days.", "range_invalid",
                       max_days=MAX_RANGE.days)
    floor = max(1, math.ceil(interval))
    raw_step = params.get("step", "")
    if raw_step == "":
        step = default_step((end - start).total_seconds(), interval)
    else:
        if not raw_step.isdigit() or len(raw_step) > 9:
            raise _invalid("step", "step must be a whole number of seconds.", "step_invalid", min=floor)
        step = int(raw_step)
        if step < floor:
            raise _invalid("step", f"step must be at least the collection interval ({floor} s).", "step_invalid",
                           min=floor)
    window = Window(align_down(start, step), end, step)
    if window.buckets > MAX_POINTS:
        least = math.ceil((end - window.start).total_seconds() / MAX_POINTS)
        raise _invalid("step", f"At most {MAX_POINTS} points per chart: use a step of at least {least} s.",
                       "step_invalid", min=least, max_points=MAX_POINTS)
    return window


# Which names each level takes: required ones first, then optional.
_LEVEL_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fleet": ((), ()),
    "cluster": (("cluster",), ()),
    "node": (("cluster", "node"), ()),
    "workspace": (("workspace",), ()),
    "servicemap": (("service_map",), ()),
    "workload": (("cluster", "namespace", "workload_kind", "workload_name"), ()),
    "pod": (("cluster", "namespace", "pod"), ()),
    "container": (("cluster", "namespace", "pod", "container"), ()),
}


def parse_query(params: Mapping[str, str], *, now: datetime, interval: float) -> ChartQuery:
    """A chart query from the query string; 400 naming the parameter for anything wrong."""
    level = params.get("level", "")
    if level == "":
        raise _invalid("level", f"Give a level: {', '.join(LEVELS)}.", "param_required", level="")
    if level not in LEVELS:
        raise _invalid("level", f"Unknown level; choose from {', '.join(LEVELS)}.", "level_invalid",
                       choices=", ".join(LEVELS))
    needed, _optional = _LEVEL_PARAMS[level]
    for name in needed:
        if params.get(name, "") == "":
            raise required(name, level)
    window = parse_window(params, now=now, interval=interval)
    takes = set(needed)
    return ChartQuery(
        level=level, window=window,
        cluster_id=_id(params, "cluster") if "cluster" in takes else None,
        node=_name(params, "node") if "node" in takes else "",
        workspace_id=_id(params, "workspace") if "workspace" in takes else None,
        service_map_id=_id(params, "service_map") if "service_map" in takes else None,
        namespace=_name(params, "namespace") if "namespace" in takes else "",
        workload_kind=_name(params, "workload_kind", _KIND) if "workload_kind" in takes else "",
        workload_name=_name(params, "workload_name") if "workload_name" in takes else "",
        pod=_name(params, "pod") if "pod" in takes else "",
        container=_name(params, "container") if "container" in takes else "",
    )


def parse_top(params: Mapping[str, str]) -> TopQuery:
    what = params.get("what", "")
    if what == "":
        raise _invalid("what", f"Give what: {', '.join(TOP_WHAT)}.", "param_required")
    if what not in TOP_WHAT:
        raise _invalid("what", f"Unknown list; choose from {', '.join(TOP_WHAT)}.", "what_invalid",
                       choices=", ".join(TOP_WHAT))
    resource = params.get("resource", "") or TOP_DEFAULT_RESOURCE[what]
    if resource not in TOP_RESOURCES:
        raise _invalid("resource", "resource must be cpu or memory.", "resource_invalid",
                       choices=", ".join(TOP_RESOURCES))
    raw_limit = params.get("limit", "") or "10"
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= TOP_MAX_LIMIT:
        raise _invalid("limit", f"limit must be a whole number from 1 to {TOP_MAX_LIMIT}.", "limit_invalid",
                       max=TOP_MAX_LIMIT)
    query = TopQuery(what=what, resource=resource, limit=int(raw_limit), cluster_id=_id(params, "cluster"),
                     workspace_id=_id(params, "workspace"), service_map_id=_id(params, "service_map"))
    given = [n for n, v in (("cluster", query.cluster_id), ("workspace", query.workspace_id),
                            ("service_map", query.service_map_id)) if v is not None]
    if len(given) > 1:
        raise _invalid(given[1], f"Give one scope, not {' and '.join(given)}.", "scope_conflict")
    if what == "nodes_fullest" and (query.workspace_id is not None or query.service_map_id is not None):
        raise _invalid("workspace" if query.workspace_id is not None else "service_map",
                       "nodes_fullest is about clusters: give cluster or nothing.", "scope_conflict")
    return query


# ---------------------------------------------------------------------------- sources and SQL


def choose_source(window: Window, *, now: datetime, raw_retention_hours: float,
                  five_minute_days: float = FIVE_MINUTE_DAYS) -> str:
    """raw within the raw retention and a step under 5 minutes; 5m within its retention and a step
    under an hour; 1h otherwise."""
    if window.start >= now - timedelta(hours=raw_retention_hours) and window.step < 300:
        return "raw"
    if window.start >= now - timedelta(days=five_minute_days) and window.step < 3600:
        return "5m"
    return "1h"


def fit_window(window: Window, source: str) -> Window:
    """A roll-up has one row per bucket: a step finer than its bucket would leave most points empty,
    so the step grows to the bucket (the answer says the step it used)."""
    bucket = BUCKET_SECONDS.get(source, 0)
    if window.step >= bucket:
        return window
    return Window(align_down(window.start, bucket), window.end, bucket)


@dataclass(frozen=True)
class Part:
    """Rows of ``table`` with ``lo <= ts < hi`` (None: unbounded on that side)."""

    source: str
    lo: datetime | None
    hi: datetime | None


def source_parts(source: str, window: Window, watermarks: Mapping[str, datetime | None]) -> list[Part]:
    """The tables answering ``window`` from ``source``: the roll-up up to its watermark (what it has
    aggregated), the finer roll-up after it up to its own, raw after that. ``watermarks`` maps
    ``5m`` and ``1h`` to ``done_until`` (None: never rolled up: the finer table answers it all)."""
    chain = {"raw": ["raw"], "5m": ["5m", "raw"], "1h": ["1h", "5m", "raw"]}[source]
    parts: list[Part] = []
    lo: datetime | None = None
    for name in chain:
        hi = watermarks.get(name) if name != "raw" else None
        if name != "raw" and hi is None:
            continue  # never rolled up: nothing in this table
        if hi is not None and hi <= window.start:
            lo = hi
            continue  # the whole window is past this table's watermark
        parts.append(Part(name, lo, hi))
        if hi is None or hi >= window.end:
            break
        lo = hi
    return parts


def _select(part: Part, metrics: Sequence[str], slot: int) -> str:
    table = TABLES[part.source]
    cols = []
    for metric in metrics:
        if metric in MAX_METRICS and part.source == "raw":
            cols.append(f"{metric.removesuffix('_max')} AS {metric}")
        else:
            cols.append(metric)
    where = ["series_id = ANY(%(ids)s)", "ts >= %(start)s", "ts < %(end)s"]
    if part.lo is not None:
        where.append(f"ts >= %(lo{slot})s")
    if part.hi is not None:
        where.append(f"ts < %(hi{slot})s")
    return f"SELECT ts, {', '.join(cols)} FROM {table} WHERE {' AND '.join(where)}"  # noqa: S608 (fixed names)


def series_sql(parts: Sequence[Part], metrics: Sequence[str], window: Window,
               ids: Sequence[int]) -> tuple[str, dict[str, object]]:
    """One statement answering ``metrics`` for the series ``ids`` over ``window``: per ``ts`` the
    sum over the series, then per bucket the average (the maximum for ``*_max``). Rows:
    ``(bucket, metric...)`` in bucket order. Column names come from :data:`COLUMNS` only."""
    unknown = [m for m in metrics if m not in COLUMNS]
    if unknown:
        raise ValueError(f"not a sample column: {unknown}")
    params: dict[str, object] = {"ids": list(ids), "start": window.start, "end": window.end,
                                 "step": timedelta(seconds=window.step), "origin": EPOCH}
    selects = []
    for slot, part in enumerate(parts):
        selects.append(_select(part, metrics, slot))
        if part.lo is not None:
            params[f"lo{slot}"] = part.lo
        if part.hi is not None:
            params[f"hi{slot}"] = part.hi
    union = " UNION ALL ".join(selects)
    sums = ", ".join(f"sum({m})::float8 AS {m}" for m in metrics)
    buckets = ", ".join(f"{'max' if m in MAX_METRICS else 'avg'}({m}) AS {m}" for m in metrics)
    sql = (f"SELECT date_bin(%(step)s, ts, %(origin)s) AS bucket, {buckets} "  # noqa: S608 (fixed names)
           f"FROM (SELECT ts, {sums} FROM ({union}) AS parts GROUP BY ts) AS per_ts "
           f"GROUP BY bucket ORDER BY bucket")
    return sql, params


def points(rows: Sequence[Sequence[object]], metrics: Sequence[str],
           window: Window) -> list[dict[str, object]]:
    """``[{metric, unit, points: [[epoch_s, value|null], ...]}]`` with a point for every bucket of
    ``window``; ``rows`` as :func:`series_sql` answers them."""
    by_bucket: dict[int, Sequence[object]] = {}
    for row in rows:
        bucket = row[0]
        assert isinstance(bucket, datetime)
        by_bucket[int(bucket.timestamp())] = row
    starts = window.bucket_starts()
    out: list[dict[str, object]] = []
    for i, metric in enumerate(metrics, start=1):
        series: list[list[float | int | None]] = []
        for at in starts:
            found = by_bucket.get(at)
            value = found[i] if found is not None else None
            series.append([at, None if value is None else float(value)])  # type: ignore[arg-type]
        out.append({"metric": metric, "unit": unit_of(metric), "points": series})
    return out


# ---------------------------------------------------------------------------- named point metrics

# The named metrics the collector writes to ``monitoring_point`` (docs/metrics.md "Points"), in the
# order a chart lists them, with their unit and how a bucket folds its rows: ``avg`` of the per-``ts``
# sums (rates and levels), ``max`` (the restart counter: its newest value in the bucket; a claim's
# fill: its fullest moment, ``value_max`` of the roll-ups).
POINT_METRICS: dict[str, tuple[str, str]] = {
    "net_rx_bytes_per_second": ("bytes_per_second", "avg"),
    "net_tx_bytes_per_second": ("bytes_per_second", "avg"),
    "restarts": ("count", "max"),
    "fs_used_bytes": ("bytes", "avg"),
    "pvc_used_ratio": ("ratio", "max"),
}
POINT_TABLES: dict[str, str] = {"raw": "monitoring_point", "5m": "monitoring_point_5m", "1h": "monitoring_point_1h"}
PVC_CONTAINER = "pvc"  # a volume's series: level namespace, name = the claim, container = "pvc"
_SUMMED_POINTS = ("net_rx_bytes_per_second", "net_tx_bytes_per_second", "restarts")

# Which point metrics each level answers: a pod its own; a workload and a service map the sums of
# their pods' network rates and restarts (a sum of filesystem use over pods is no one's disk); a
# service map also its claims' fill, one series per claim. The collector writes points per pod only,
# so a level above a namespace would sum every pod of a cluster or workspace per chart: measured at
# 1,000 pods, 24 h from the 5-minute roll-up is ~0.9 M rows and ~400 ms, twice the charts' whole
# budget, so workspace, cluster and fleet charts carry none until the collector writes pre-summed
# points for them (docs/charts-api.md). Node and container charts have none either (a node's pods
# are not its network; points are per pod, not per container).
LEVEL_POINTS: dict[str, tuple[str, ...]] = {
    "pod": ("net_rx_bytes_per_second", "net_tx_bytes_per_second", "restarts", "fs_used_bytes"),
    "workload": _SUMMED_POINTS,
    "servicemap": (*_SUMMED_POINTS, "pvc_used_ratio"),
}


def point_watermarks(watermarks: Mapping[str, datetime | None]) -> dict[str, datetime | None]:
    """The point roll-ups' watermarks (``point_5m``, ``point_1h``) under the names
    :func:`source_parts` reads."""
    return {"5m": watermarks.get("point_5m"), "1h": watermarks.get("point_1h")}


def _point_scope(query: ChartQuery) -> tuple[str, dict[str, object]]:
    """The ``monitoring_metricseries`` rows whose points a chart sums: its pods (and for a service
    map its volumes). Values are parameters; the text is fixed per level."""
    params: dict[str, object] = {"pcluster": query.cluster_id, "pnamespace": query.namespace}
    pods = "level = 'pod' AND cluster_id = %(pcluster)s AND namespace = %(pnamespace)s"
    if query.level == "pod":
        params["ppod"] = query.pod
        return f"{pods} AND name = %(ppod)s", params
    if query.level == "workload":
        params.update(pkind=query.workload_kind, pworkload=query.workload_name)
        return f"{pods} AND workload_kind = %(pkind)s AND workload_name = %(pworkload)s", params
    if query.level == "servicemap":
        params["pvc"] = PVC_CONTAINER
        return (f"({pods}) OR (level = 'namespace' AND cluster_id = %(pcluster)s AND namespace = %(pnamespace)s "
                f"AND container = %(pvc)s)"), params
    raise ValueError(f"no point metrics at level {query.level!r}")


def point_sql(query: ChartQuery, parts: Sequence[Part], window: Window) -> tuple[str, dict[str, object]] | None:
    """One statement answering the point metrics of ``query`` over ``window`` (None: the level has
    none): the scope's series resolved inside it (an array of ids, so each partition is probed on its
    ``(series_id, metric, ts)`` index), per metric and claim the sum over series per ``ts``, then per
    bucket the average or the maximum (:data:`POINT_METRICS`). Rows: ``(metric, label, bucket,
    value)``; ``label`` the claim for ``pvc_used_ratio``, ``""`` otherwise."""
    metrics = LEVEL_POINTS.get(query.level)
    if not metrics or not parts:
        return None
    scope, params = _point_scope(query)
    params.update({"pmetrics": list(metrics), "pstart": window.start, "pend": window.end,
                   "pstep": timedelta(seconds=window.step), "porigin": EPOCH})
    selects = []
    for slot, part in enumerate(parts):
        table = POINT_TABLES[part.source]
        value_max = "value" if part.source == "raw" else "value_max"
        where = ["series_id = ANY((SELECT array_agg(id) FROM scope)::bigint[])", "metric = ANY(%(pmetrics)s)", "ts >= %(pstart)s",
                 "ts < %(pend)s"]
        if part.lo is not None:
            where.append(f"ts >= %(plo{slot})s")
            params[f"plo{slot}"] = part.lo
        if part.hi is not None:
            where.append(f"ts < %(phi{slot})s")
            params[f"phi{slot}"] = part.hi
        selects.append(f"SELECT series_id, metric, ts, value, {value_max} AS value_max "  # noqa: S608 (fixed names)
                       f"FROM {table} WHERE {' AND '.join(where)}")
    maxed = [m for m in metrics if POINT_METRICS[m][1] == "max"]
    params["pmaxed"] = maxed
    params["pvc_label"] = PVC_CONTAINER
    union = " UNION ALL ".join(selects)
    if "pvc_used_ratio" in metrics:  # claims apart: the series' name is the claim
        per_ts = (f"SELECT p.metric, l.label, p.ts, sum(p.value)::float8 AS value, "  # noqa: S608 (fixed names)
                  f"sum(p.value_max)::float8 AS value_max FROM ({union}) AS p JOIN scope l ON l.id = p.series_id "
                  f"GROUP BY p.metric, l.label, p.ts")
    else:  # pods only: no join, one sum per metric and ts
        per_ts = (f"SELECT metric, '' AS label, ts, sum(value)::float8 AS value, "  # noqa: S608 (fixed names)
                  f"sum(value_max)::float8 AS value_max "
                  f"FROM ({union}) AS p GROUP BY metric, ts")
    sql = (f"WITH scope AS MATERIALIZED (SELECT id, CASE WHEN container = %(pvc_label)s THEN name ELSE '' END "  # noqa: S608
           f"AS label FROM monitoring_metricseries WHERE {scope}) "
           f"SELECT metric, label, date_bin(%(pstep)s, ts, %(porigin)s) AS bucket, "
           f"CASE WHEN metric = ANY(%(pmaxed)s) THEN max(value_max) ELSE avg(value) END "
           f"FROM ({per_ts}) AS per_ts GROUP BY metric, label, bucket ORDER BY metric, label, bucket")
    return sql, params


def point_series(rows: Sequence[Sequence[object]], metrics: Sequence[str],
                 window: Window) -> list[dict[str, object]]:
    """``[{metric, unit, points[, label]}]`` for every (metric, claim) :func:`point_sql` found rows
    of, in the order of ``metrics`` then claim; a point for every bucket of ``window``. A metric
    with no rows in the window has no series."""
    found: dict[tuple[str, str], dict[int, object]] = {}
    for metric, label, bucket, value in rows:
        assert isinstance(metric, str)
        assert isinstance(label, str)
        assert isinstance(bucket, datetime)
        found.setdefault((metric, label), {})[int(bucket.timestamp())] = value
    starts = window.bucket_starts()
    out: list[dict[str, object]] = []
    for metric in metrics:
        for label in sorted(lbl for m, lbl in found if m == metric):
            by_bucket = found[(metric, label)]
            pts: list[list[float | int | None]] = []
            for at in starts:
                value = by_bucket.get(at)
                pts.append([at, None if value is None else float(value)])  # type: ignore[arg-type]
            entry: dict[str, object] = {"metric": metric, "unit": POINT_METRICS[metric][0], "points": pts}
            if metric == "pvc_used_ratio":
                entry["label"] = label
            out.append(entry)
    return out
