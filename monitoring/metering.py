"""Metering and showback (issue 14): CPU core-hours and memory GiB-hours requested, used and billed
per workspace, service map, workload or cluster for one calendar month (UTC), idle capacity per
cluster, and a cost estimate from the price sheets in force. Reads only; data in, report out.

**Where the hours come from.** A row of the sample tables is an average over its bucket; the
hours it stands for are the bucket's length times the share of the cluster's collections in that
bucket the series was present in (its ``samples`` over the cluster row's ``samples``; raw rows:
one collection interval each). So a pod that ran ten minutes of an hour counts ten minutes, a
collection missed for the whole cluster costs nobody anything, and since each level's row is the
sum of the same pods in the same collections, levels add up exactly. The sources, by time:

* ``monitoring_sample_1h`` for every hour the hourly roll-up has finished
  (``RollupState("1h").done_until``);
* ``monitoring_sample_5m`` from there up to the 5-minute roll-up's watermark;
* raw ``monitoring_sample`` (``PORTAL_METRICS_INTERVAL_SECONDS`` per row) from there up to now.

So the current month is complete up to the last collection, and no bucket is counted twice (each
source only answers for the time the next-finer one does not).

**Which series.** Workspaces, service maps and clusters sum the *namespace* series (each the sum
of every pod of its namespace, bare pods included); workloads sum the *workload* series plus the
pods that belong to no workload (one row each, kind ``Pod``). Every one of them carries
``cpu_billed``/``mem_billed`` as the sum of its pods' max(request, usage) taken per pod (the
OpenCost model), never max of the sums; where a row has no billed figure the reader takes
max(request, usage) of the row. The series keep the service map and workspace that held the
namespace when they were recorded. Namespaces no service map held are under no workspace
(``workspace`` null): admins see them, members never do.

**Idle capacity** per cluster is the cluster series' allocatable hours minus the billed hours of
its pods, shown beside the report (never spread over the workspaces), only to those who see
infrastructure. It is negative when billed exceeds allocatable (usage above requests, overcommit).

**Cost.** For each hour, the price sheet in force for the pod's cluster: the newest of the
cluster's own sheets whose ``effective_from`` (a UTC date) has come, else the newest of its
provider's. A month that spans a price change is split at the change (the query joins each
sample with the price segment covering its timestamp). cost = core-hours x ``cpu_core_hour`` +
GiB-hours x ``memory_gib_hour`` (billed amounts). Each sheet has a currency; amounts of different
currencies are never added: a row and the totals carry ``costs`` per currency, and ``cost`` /
``currency`` only when there is exactly one. Costs are rounded per row to the currency's minor
unit (KRW and JPY: whole units; USD and EUR: cents) and totals are the sums of the rounded rows,
so a report adds up exactly; the same month grouped differently may differ by a minor unit.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from clusters.models import Cluster
from monitoring.models import PriceSheet, RollupState
from portal import errors
from workspaces.models import ServiceMap, Workspace

GROUPS = ("workspace", "servicemap", "workload", "cluster")
GIB = float(1 << 30)
HOURS_DIGITS = 4
MINOR_UNITS: dict[str, int] = {"KRW": 0, "JPY": 0, "USD": 2, "EUR": 2}
AMOUNTS = ("cpu_core_hours_requested", "cpu_core_hours_used", "cpu_core_hours_billed",
           "memory_gib_hours_requested", "memory_gib_hours_used", "memory_gib_hours_billed")
IDLE_AMOUNTS = ("cpu_core_hours_allocatable", "cpu_core_hours_billed", "cpu_core_hours_idle",
                "memory_gib_hours_allocatable", "memory_gib_hours_billed", "memory_gib_hours_idle")


# ---------------------------------------------------------------------------- input


def parse_month(text: str | None, now: datetime.datetime | None = None) -> tuple[datetime.datetime, datetime.datetime]:
    """``YYYY-MM`` → [start, end) in UTC; empty: the current month. A malformed month or one
    that has not begun is 400 ``invalid_month``."""
    now = now or timezone.now()
    if not text:
        start = datetime.datetime(now.year, now.month, 1, tzinfo=datetime.UTC)
    else:
        try:
            if len(text) != 7 or text[4] != "-":
                raise ValueError(text)
            start = datetime.datetime(int(text[:4]), int(text[5:]), 1, tzinfo=datetime.UTC)
        except ValueError:
            raise errors.Invalid("Invalid input: month: give a month as YYYY-MM, such as 2026-03.",
                                 code="invalid_month", params={"month": text[:20]},
                                 errors={"month": ["Give a month as YYYY-MM."]}) from None
        if start > now:
            raise errors.Invalid("Invalid input: month: that month has not begun.", code="invalid_month",
                                 params={"month": text}, errors={"month": ["That month has not begun."]})
    end = (start + datetime.timedelta(days=32)).replace(day=1)
    return start, end


def parse_group(text: str | None) -> str:
    group = text or "workspace"
    if group not in GROUPS:
        raise errors.Invalid(f"Invalid input: group: give one of {', '.join(GROUPS)}.", code="invalid_group",
                             params={"group": group[:40], "choices": list(GROUPS)},
                             errors={"group": [f"Give one of {', '.join(GROUPS)}."]})
    return group


# ---------------------------------------------------------------------------- prices


@dataclass(frozen=True)
class Segment:
    """``sheet`` is in force for ``cluster_id`` from ``start`` to ``end``."""

    cluster_id: int
    start: datetime.datetime
    end: datetime.datetime
    sheet: PriceSheet


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)


def _in_force(sheets: Sequence[PriceSheet], at: datetime.datetime) -> PriceSheet | None:
    """The newest of ``sheets`` effective at ``at`` (a tie: the newer row)."""
    best: PriceSheet | None = None
    for sheet in sheets:
        if _midnight(sheet.effective_from) <= at and (
                best is None or (sheet.effective_from, sheet.pk) > (best.effective_from, best.pk)):
            best = sheet
    return best


def price_segments(clusters: Iterable[Cluster], start: datetime.datetime, end: datetime.datetime,
                   sheets: Sequence[PriceSheet] | None = None) -> list[Segment]:
    """For each cluster, the periods of [start, end) with one sheet in force (the cluster's own,
    else its provider's); periods with no sheet are left out (no cost)."""
    sheets = list(PriceSheet.objects.all()) if sheets is None else list(sheets)
    segments: list[Segment] = []
    for cluster in clusters:
        own = [s for s in sheets if s.cluster_id == cluster.pk]
        provider = [s for s in sheets if s.cluster_id is None and s.provider == cluster.provider]
        if not own and not provider:
            continue
        cuts = sorted({start, end} | {_midnight(s.effective_from) for s in (*own, *provider)
                                      if start < _midnight(s.effective_from) < end})
        current: Segment | None = None
        for seg_start, seg_end in itertools.pairwise(cuts):
            sheet = _in_force(own, seg_start) or _in_force(provider, seg_start)
            if sheet is None:
                if current is not None:
                    segments.append(current)
                current = None
            elif current is not None and current.sheet.pk == sheet.pk:
                current = Segment(cluster.pk, current.start, seg_end, sheet)
            else:
                if current is not None:
                    segments.append(current)
                current = Segment(cluster.pk, seg_start, seg_end, sheet)
        if current is not None:
            segments.append(current)
    return segments


def round_cost(amount: Decimal, currency: str) -> Decimal:
    digits = MINOR_UNITS.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def sheet_cost(sheet: PriceSheet, core_hours: float, gib_hours: float) -> Decimal:
    """Unrounded cost of ``core_hours`` and ``gib_hours`` at ``sheet``'s prices."""
    return (Decimal(repr(core_hours)) * sheet.cpu_core_hour) + (Decimal(repr(gib_hours)) * sheet.memory_gib_hour)


# ---------------------------------------------------------------------------- the sources


@dataclass(frozen=True)
class Window:
    """Which table answers for which part of [start, end): hourly roll-ups before ``hourly_until``,
    5-minute ones before ``fine_until``, raw samples after (up to ``end``)."""

    start: datetime.datetime
    end: datetime.datetime
    hourly_until: datetime.datetime
    fine_until: datetime.datetime


def window(start: datetime.datetime, end: datetime.datetime, now: datetime.datetime) -> Window:
    end = min(end, now)
    marks = {r.target: r.done_until for r in RollupState.objects.filter(target__in=("5m", "1h"))}
    hourly = marks.get("1h", start)
    fine = max(marks.get("5m", hourly), hourly)
    clamp = lambda t: min(max(t, start), end)  # noqa: E731
    return Window(start, end, clamp(hourly), clamp(fine))


def _sources(win: Window, columns: Sequence[str], level: str, level_params: Sequence[Any] = ()) -> tuple[str, list[Any]]:
    """A UNION ALL of the three tables' rows in their parts of the window, each with ``hours``: the
    time the row stands for. A raw row stands for one collection interval. A roll-up row stands for
    its bucket times the share of the cluster's collections in that bucket the series was in
    (its ``samples`` over the cluster row's): a pod that ran ten minutes of an hour counts ten
    minutes, and because every level's row is the sum of the same collections, the levels add up.
    Without a cluster row for the bucket the share is ``samples`` x interval / bucket (at most 1).
    ``level`` picks the series (a predicate on the alias ``xs`` with ``level_params``)."""
    interval = float(settings.PORTAL_METRICS_INTERVAL_SECONDS)
    parts = [("monitoring_sample_1h", 3600.0, win.start, win.hourly_until),
             ("monitoring_sample_5m", 300.0, win.hourly_until, win.fine_until),
             ("monitoring_sample", interval, win.fine_until, win.end)]
    picked = ", ".join(f"x.{c}" for c in columns)
    sql: list[str] = []
    params: list[Any] = []
    for table, bucket, lo, hi in parts:
        if lo >= hi:
            continue
        if table == "monitoring_sample":
            sql.append(f"SELECT x.series_id, x.ts, {picked}, %s::float8 AS hours FROM {table} x "  # noqa: S608
                       f"JOIN monitoring_metricseries xs ON xs.id = x.series_id AND {level} "
                       "WHERE x.ts >= %s AND x.ts < %s")
            params += [bucket / 3600.0, *level_params, lo, hi]
            continue
        sql.append(
            f"SELECT x.series_id, x.ts, {picked}, %s::float8 * least(1.0, coalesce("  # noqa: S608 (fixed names)
            "x.samples::float8 / nullif(cl.samples, 0), x.samples * %s::float8 / %s::float8)) AS hours "
            f"FROM {table} x JOIN monitoring_metricseries xs ON xs.id = x.series_id AND {level} "
            f"LEFT JOIN (SELECT cs.cluster_id, c.ts, c.samples FROM {table} c "
            "JOIN monitoring_metricseries cs ON cs.id = c.series_id AND cs.level = 'cluster' "
            "WHERE c.ts >= %s AND c.ts < %s) cl ON cl.cluster_id = xs.cluster_id AND cl.ts = x.ts "
            "WHERE x.ts >= %s AND x.ts < %s")
        params += [bucket / 3600.0, interval, bucket, *level_params, lo, hi, lo, hi]
    if not sql:
        sql.append(f"SELECT x.series_id, x.ts, {picked}, 0::float8 AS hours "  # noqa: S608
                   "FROM monitoring_sample x WHERE false")
    return " UNION ALL ".join(sql), params


_POD_COLUMNS = ("cpu_request", "cpu_usage", "cpu_billed", "mem_request", "mem_usage", "mem_billed")
_AMOUNT_SQL = f"""
  sum(coalesce(src.cpu_request, 0) * src.hours),
  sum(coalesce(src.cpu_usage, 0) * src.hours),
  sum(coalesce(src.cpu_billed, greatest(src.cpu_request, src.cpu_usage), 0) * src.hours),
  sum(coalesce(src.mem_request, 0) * src.hours) / {GIB},
  sum(coalesce(src.mem_usage, 0) * src.hours) / {GIB},
  sum(coalesce(src.mem_billed, greatest(src.mem_request, src.mem_usage), 0) * src.hours) / {GIB}
"""
_KEYS = {
    "workspace": ("s.workspace_id",),
    "servicemap": ("s.workspace_id", "s.service_map_id", "s.cluster_id"),
    "workload": ("s.workspace_id", "s.service_map_id", "s.cluster_id", "s.namespace",
                 "CASE WHEN s.level = 'pod' THEN 'Pod' ELSE s.workload_kind END",
                 "CASE WHEN s.level = 'pod' THEN s.name ELSE s.workload_name END"),
    "cluster": ("s.cluster_id",),
}


# Which series a grouping sums: namespaces (every pod of the namespace, bare pods included) for
# workspaces, service maps and clusters; workloads plus the pods that belong to none for workloads.
_LEVELS = {"namespace": "{a}.level = 'namespace'",
           "workload": "({a}.level = 'workload' OR ({a}.level = 'pod' AND {a}.workload_kind = ''))",
           "cluster": "{a}.level = 'cluster'"}


def _segments_sql(segments: Sequence[Segment]) -> tuple[str, list[Any]]:
    sql = ("SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::bigint[]) "
           "AS p(cluster_id, seg_start, seg_end, sheet_id)")
    return sql, [[s.cluster_id for s in segments], [s.start for s in segments], [s.end for s in segments],
                 [s.sheet.pk for s in segments]]


def _amounts(win: Window, group: str, segments: Sequence[Segment], *, workspace_ids: list[int] | None,
             workspace_id: int | None, cluster_id: int | None, service_map_id: int | None) -> list[tuple[Any, ...]]:
    """Rows ``(*keys, sheet_id, *six amounts)`` in the window, by group and sheet."""
    level = _LEVELS["workload" if group == "workload" else "namespace"]
    where = [level]
    params: list[Any] = []
    if workspace_ids is not None:
        where.append("{a}.workspace_id = ANY(%s)")
        params.append(workspace_ids)
    for column, value in (("workspace_id", workspace_id), ("cluster_id", cluster_id),
                          ("service_map_id", service_map_id)):
        if value is not None:
            where.append(f"{{a}}.{column} = %s")
            params.append(value)
    series = " AND ".join(where)
    source, source_params = _sources(win, _POD_COLUMNS, series.format(a="xs"), params)
    prices, price_params = _segments_sql(segments)
    keys = _KEYS[group]
    sql = (f"WITH prices AS ({prices}), src AS ({source}) "  # noqa: S608 (fixed column names only)
           f"SELECT {', '.join(keys)}, p.sheet_id, {_AMOUNT_SQL} "
           "FROM src JOIN monitoring_metricseries s ON s.id = src.series_id "
           "LEFT JOIN prices p ON p.cluster_id = s.cluster_id AND src.ts >= p.seg_start AND src.ts < p.seg_end "
           f"WHERE {series.format(a='s')} GROUP BY {', '.join(keys)}, p.sheet_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*price_params, *source_params, *params])
        return list(cursor.fetchall())


def _allocatable(win: Window, segments: Sequence[Segment], cluster_id: int | None) -> list[tuple[Any, ...]]:
    """Rows ``(cluster_id, sheet_id, cpu core-hours, memory GiB-hours)`` allocatable."""
    source, source_params = _sources(win, ("cpu_allocatable", "mem_allocatable"), _LEVELS["cluster"].format(a="xs"))
    prices, price_params = _segments_sql(segments)
    where, params = "s.level = 'cluster'", []
    if cluster_id is not None:
        where += " AND s.cluster_id = %s"
        params.append(cluster_id)
    sql = (f"WITH prices AS ({prices}), src AS ({source}) "  # noqa: S608
           "SELECT s.cluster_id, p.sheet_id, sum(coalesce(src.cpu_allocatable, 0) * src.hours), "
           f"sum(coalesce(src.mem_allocatable, 0) * src.hours) / {GIB} "
           "FROM src JOIN monitoring_metricseries s ON s.id = src.series_id "
           "LEFT JOIN prices p ON p.cluster_id = s.cluster_id AND src.ts >= p.seg_start AND src.ts < p.seg_end "
           f"WHERE {where} GROUP BY s.cluster_id, p.sheet_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*price_params, *source_params, *params])
        return list(cursor.fetchall())


# ---------------------------------------------------------------------------- the report


@dataclass
class Row:
    """One line of the report: what it is about (by group) and its amounts."""

    workspace: dict[str, Any] | None = None
    cluster: dict[str, Any] | None = None
    service_map: dict[str, Any] | None = None
    workload: dict[str, Any] | None = None
    amounts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(AMOUNTS, 0.0))
    raw_costs: dict[str, Decimal] = field(default_factory=dict)  # unrounded, per currency
    costs: dict[str, Decimal] = field(default_factory=dict)  # rounded, per currency
    unpriced: bool = False  # some hours fell where no price sheet was in force


@dataclass
class IdleRow:
    cluster: dict[str, Any]
    amounts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(IDLE_AMOUNTS, 0.0))
    raw_costs: dict[str, Decimal] = field(default_factory=dict)
    costs: dict[str, Decimal] = field(default_factory=dict)
    unpriced: bool = False


@dataclass
class Report:
    month: str
    group: str
    start: datetime.datetime
    end: datetime.datetime  # the end of the month, or now for the current month
    window: Window
    rows: list[Row]
    totals: dict[str, Any]
    idle: list[IdleRow] | None  # None: not shown to this caller
    currencies: list[str]


def _cost_of(sheet: PriceSheet | None, cpu: float, mem: float, into: dict[str, Decimal]) -> bool:
    """Add the cost of billed ``cpu`` core-hours and ``mem`` GiB-hours at ``sheet`` to ``into``;
    False when there is no sheet and something was billed."""
    if sheet is None:
        return not (cpu or mem)
    into[sheet.currency] = into.get(sheet.currency, Decimal(0)) + sheet_cost(sheet, cpu, mem)
    return True


def _round_row(raw: dict[str, Decimal]) -> dict[str, Decimal]:
    return {currency: round_cost(amount, currency) for currency, amount in sorted(raw.items())}


def _ref(obj: Any, *fields: str) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, **{f: getattr(obj, f) for f in fields}}


def report(*, month: str | None, group: str | None, workspace_ids: list[int] | None, workspace_id: int | None = None,
           cluster_id: int | None = None, service_map_id: int | None = None,
           now: datetime.datetime | None = None) -> Report:
    """The month's report by ``group``. ``workspace_ids``: the workspaces the caller may see
    (None: all, and idle capacity); the other filters narrow it."""
    now = now or timezone.now()
    start, end = parse_month(month, now)
    grouping = parse_group(group)
    win = window(start, end, now)
    clusters = {c.pk: c for c in Cluster.objects.all().only("id", "name", "display_name", "provider")}
    if cluster_id is not None:
        clusters = {k: v for k, v in clusters.items() if k == cluster_id}
    sheets = list(PriceSheet.objects.filter(effective_from__lt=end.date()))
    segments = price_segments(clusters.values(), start, end, sheets)
    by_sheet = {s.pk: s for s in sheets}

    def query(by: str) -> list[tuple[Any, ...]]:
        return _amounts(win, by, segments, workspace_ids=workspace_ids, workspace_id=workspace_id,
                            cluster_id=cluster_id, service_map_id=service_map_id)

    # One statement for the namespace-level groupings: by (workspace, service map, cluster), reduced
    # here to the grouping asked for and to the clusters' billed hours for idle capacity.
    base = query("workload" if grouping == "workload" else "servicemap")
    raw = base if grouping in ("workload", "servicemap") else _reduce(base, 3, (2,) if grouping == "cluster" else (0,))
    nkeys = len(_KEYS[grouping])
    rows_by_key: dict[tuple[Any, ...], Row] = {}
    for values in raw:
        key, sheet_id, amounts = tuple(values[:nkeys]), values[nkeys], values[nkeys + 1:]
        row = rows_by_key.setdefault(key, Row())
        for name, amount in zip(AMOUNTS, amounts, strict=True):
            row.amounts[name] += float(amount or 0.0)
        priced = _cost_of(by_sheet.get(sheet_id) if sheet_id is not None else None,
                          float(amounts[2] or 0.0), float(amounts[5] or 0.0), row.raw_costs)
        row.unpriced = row.unpriced or not priced
    rows = _name_rows(grouping, rows_by_key, clusters)
    for row in rows:
        row.amounts = {k: round(v, HOURS_DIGITS) for k, v in row.amounts.items()}
        row.costs = _round_row(row.raw_costs)
    idle = None
    if workspace_ids is None and workspace_id is None and service_map_id is None:
        if grouping == "workload":
            base = query("servicemap")
        idle = _idle(win, segments, by_sheet, clusters, cluster_id, _reduce(base, 3, (2,)))
    currencies = sorted({c for r in rows for c in r.costs} | {c for r in idle or () for c in r.costs})
    return Report(month=start.strftime("%Y-%m"), group=grouping, start=start, end=win.end, window=win, rows=rows,
                  totals=_totals(rows, idle), idle=idle, currencies=currencies)


def _name_rows(group: str, rows_by_key: dict[tuple[Any, ...], Row], clusters: dict[int, Cluster]) -> list[Row]:
    ws_ids = {k[0] for k in rows_by_key if group != "cluster" and k[0] is not None}
    sm_ids = {k[1] for k in rows_by_key if group in ("servicemap", "workload") and k[1] is not None}
    workspaces = {w.pk: w for w in Workspace.objects.filter(pk__in=ws_ids).only("id", "name", "display_name")}
    service_maps = {m.pk: m for m in ServiceMap.objects.filter(pk__in=sm_ids).only("id", "namespace", "display_name")}
    named: list[tuple[tuple[Any, ...], Row]] = []
    for key, row in rows_by_key.items():
        if group == "cluster":
            cluster = clusters.get(key[0])
            row.cluster = _ref(cluster, "name") or {"id": key[0], "name": ""}
            sort: tuple[Any, ...] = (row.cluster["name"], key[0])
        else:
            row.workspace = _ref(workspaces.get(key[0]), "name", "display_name")
            sort = ((row.workspace or {}).get("name") or "\uffff", key[0] or 0)
            if group in ("servicemap", "workload"):
                row.service_map = _ref(service_maps.get(key[1]), "namespace", "display_name")
                cluster = clusters.get(key[2])
                row.cluster = _ref(cluster, "name") or {"id": key[2], "name": ""}
                sort += ((row.service_map or {}).get("namespace") or "\uffff", key[1] or 0, row.cluster["name"], key[2])
            if group == "workload":
                row.workload = {"namespace": key[3], "kind": key[4], "name": key[5]}
                sort += (key[3], key[4] or "\uffff", key[5])
        named.append((sort, row))
    return [row for _, row in sorted(named, key=lambda pair: pair[0])]


def _reduce(rows: Sequence[tuple[Any, ...]], nkeys: int, keep: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """Rows ``(*keys, sheet_id, *amounts)`` summed down to the keys at positions ``keep``."""
    sums: dict[tuple[Any, ...], list[float]] = {}
    for values in rows:
        key = (*(values[i] for i in keep), values[nkeys])
        total = sums.setdefault(key, [0.0] * len(AMOUNTS))
        for i, amount in enumerate(values[nkeys + 1:]):
            total[i] += float(amount or 0.0)
    return [(*key, *amounts) for key, amounts in sums.items()]


def _idle(win: Window, segments: Sequence[Segment], by_sheet: dict[int, PriceSheet], clusters: dict[int, Cluster],
          cluster_id: int | None, billed: Sequence[tuple[Any, ...]]) -> list[IdleRow]:
    """Per cluster: allocatable, the namespaces' billed (rows ``(cluster_id, sheet_id, *amounts)``)
    and the difference, each with its cost."""
    allocatable = _allocatable(win, segments, cluster_id)
    rows: dict[int, IdleRow] = {}
    per_sheet: dict[tuple[int, int | None], list[float]] = {}
    for cid, sheet_id, cpu, mem in allocatable:
        per_sheet.setdefault((cid, sheet_id), [0.0, 0.0, 0.0, 0.0])[0:2] = [float(cpu or 0.0), float(mem or 0.0)]
    for values in billed:
        cid, sheet_id = values[0], values[1]
        entry = per_sheet.setdefault((cid, sheet_id), [0.0, 0.0, 0.0, 0.0])
        entry[2], entry[3] = float(values[4] or 0.0), float(values[7] or 0.0)
    for (cid, sheet_id), (cpu_alloc, mem_alloc, cpu_billed, mem_billed) in per_sheet.items():
        spare = rows.setdefault(cid, IdleRow(cluster=_ref(clusters.get(cid), "name") or {"id": cid, "name": ""}))
        a = spare.amounts
        a["cpu_core_hours_allocatable"] += cpu_alloc
        a["cpu_core_hours_billed"] += cpu_billed
        a["memory_gib_hours_allocatable"] += mem_alloc
        a["memory_gib_hours_billed"] += mem_billed
        priced = _cost_of(by_sheet.get(sheet_id) if sheet_id is not None else None, cpu_alloc - cpu_billed,
                          mem_alloc - mem_billed, spare.raw_costs)
        spare.unpriced = spare.unpriced or not priced
    out = sorted(rows.values(), key=lambda r: (r.cluster["name"], r.cluster["id"]))
    for row in out:
        a = row.amounts
        a["cpu_core_hours_idle"] = a["cpu_core_hours_allocatable"] - a["cpu_core_hours_billed"]
        a["memory_gib_hours_idle"] = a["memory_gib_hours_allocatable"] - a["memory_gib_hours_billed"]
        row.amounts = {k: round(v, HOURS_DIGITS) for k, v in a.items()}
        row.costs = _round_row(row.raw_costs)
    return out


def _totals(rows: Sequence[Row], idle: Sequence[IdleRow] | None) -> dict[str, Any]:
    """Sums of the (rounded) rows, so the report adds up; costs per currency, never mixed."""
    totals: dict[str, Any] = {name: round(sum(r.amounts[name] for r in rows), HOURS_DIGITS) for name in AMOUNTS}
    costs: dict[str, Decimal] = {}
    for row in rows:
        for currency, amount in row.costs.items():
            costs[currency] = costs.get(currency, Decimal(0)) + amount
    totals["costs"] = dict(sorted(costs.items()))
    totals["unpriced"] = any(r.unpriced for r in rows)
    if idle is not None:
        idle_costs: dict[str, Decimal] = {}
        for spare in idle:
            for currency, amount in spare.costs.items():
                idle_costs[currency] = idle_costs.get(currency, Decimal(0)) + amount
        totals["idle"] = {**{name: round(sum(r.amounts[name] for r in idle), HOURS_DIGITS) for name in IDLE_AMOUNTS},
                          "costs": dict(sorted(idle_costs.items()))}
    return totals
