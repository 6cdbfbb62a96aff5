"""``/metrics``: the portal's own health in the Prometheus text format (issue 14,
docs/observability.md), with ``prometheus-client``.

What is measured, and where it lives:

* **Request latency by route** (``portal_http_request_duration_seconds{method,route,status}``): a
  histogram kept in the web process by :class:`RequestMetricsMiddleware`. ``route`` is the
  resolved URL pattern (``api/clusters/<int:pk>/``), never the raw path, so the number of series
  stays bounded whatever the URLs requested; unresolved requests (static files, 404s before
  routing) are ``<unresolved>``; methods outside the usual few are ``other``.
* **WebSocket connections** (``portal_websocket_connections``): a gauge in the web process, moved
  by :func:`socket_opened` / :func:`socket_closed` from ``portal.consumers``.
* **Task durations, CPU and failures by task** (``portal_task_duration_seconds{task}``,
  ``portal_task_cpu_seconds_total{task}``, ``portal_task_failures_total{task}``): tasks run in
  separate worker processes, so each worker's ``task_prerun`` / ``task_postrun`` signal handlers
  add to a Redis hash per task (``portal:metrics:task:<name>``: ``count``, ``sum``, ``cpu`` (the
  CPU time of the thread that ran it: waiting on a cluster or the database costs none, helper
  subprocesses such as ``helm`` are not in it), ``failures`` and one cumulative counter per
  bucket, ``HINCRBY``/``HINCRBYFLOAT``; a worker adds its runs up in memory and writes them in one
  pipeline every :data:`FLUSH_SECONDS`), and :class:`StateCollector` reads those
  hashes at scrape time. The counts are fleet-wide totals since Redis last lost them (a counter
  reset, which Prometheus' ``rate()`` handles).
* Read from PostgreSQL at scrape time by :class:`StateCollector`: **watcher lag** per cluster
  (``portal_watcher_lag_seconds{cluster}`` = now - ``Cluster.last_sync``), the watched kinds by
  sync state (``portal_watcher_kinds{cluster,state}``), the **notification outbox depth**
  (``portal_notification_outbox{state}``: pending and sending) and **open alerts**
  (``portal_alerts_open{severity,state}``).

The first two are per web process (scrape every replica); the rest are the same from any replica.
Access (:func:`monitoring.access.may_scrape`): an admin's session or API token, or
``Authorization: Bearer <PORTAL_METRICS_TOKEN>``; anonymous 401, anyone else 403, as JSON.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_cpu_seconds_total, process_resident_memory_bytes … of this process
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
TASK_KEY = "portal:metrics:task:"
TASK_SET = "portal:metrics:tasks"
UNRESOLVED = "<unresolved>"

REQUEST_LATENCY = Histogram(
    "portal_http_request_duration_seconds", "HTTP request latency by resolved route, method and status.",
    ["method", "route", "status"], buckets=REQUEST_BUCKETS, registry=REGISTRY)
WEBSOCKETS = Gauge("portal_websocket_connections", "Open WebSocket connections (/ws/) in this web process.",
                   registry=REGISTRY)


# ---------------------------------------------------------------------------- requests


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None) if match is not None else None
    return str(route)[:200] if route else UNRESOLVED


class RequestMetricsMiddleware:
    """Times every request by its resolved route (first in MIDDLEWARE, so it times the rest)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            method = request.method if request.method in METHODS else "other"
            try:
                REQUEST_LATENCY.labels(method, route_of(request), str(status)).observe(time.perf_counter() - started)
            except Exception:  # metrics never break a request
                logger.debug("request metric not recorded", exc_info=True)


# ---------------------------------------------------------------------------- sockets


def socket_opened(consumer: Any) -> None:
    """A WebSocket was accepted; counted once per consumer."""
    if not getattr(consumer, "_metrics_counted", False):
        consumer._metrics_counted = True
        WEBSOCKETS.inc()


def socket_closed(consumer: Any) -> None:
    if getattr(consumer, "_metrics_counted", False):
        consumer._metrics_counted = False
        WEBSOCKETS.dec()


# ---------------------------------------------------------------------------- tasks (worker side)

_started: dict[str, tuple[float, float]] = {}  # task id -> (perf_counter, thread_time) at its start
_started_lock = threading.Lock()
_installed = False


def _increments(seconds: float, failed: bool, cpu: float) -> dict[str, float]:
    """What one run adds to its task's hash, by field."""
    out = {"count": 1.0, "sum": seconds, "cpu": cpu, **({"failures": 1.0} if failed else {})}
    out.update({f"le:{bound}": 1.0 for bound in TASK_BUCKETS if seconds <= bound})
    return out


def _write(pending: dict[str, dict[str, float]]) -> None:
    """Add ``pending`` (task name -> field -> increment) to the tasks' Redis hashes in one pipeline
    (errors are logged, not raised; those runs are then not counted)."""
    from portal.redis import client

    if not pending:
        return
    try:
        pipe = client().pipeline(transaction=False)
        pipe.sadd(TASK_SET, *pending)
        for name, fields in pending.items():
            for field, value in fields.items():
                if field in ("sum", "cpu"):
                    pipe.hincrbyfloat(TASK_KEY + name, field, value)
                else:
                    pipe.hincrby(TASK_KEY + name, field, int(value))
        pipe.execute()
    except Exception:
        logger.warning("task metrics not recorded", extra={"tasks": sorted(pending)}, exc_info=True)


def record_task(name: str, seconds: float, failed: bool, cpu: float = 0.0) -> None:
    """Add one run of task ``name`` (``seconds`` long, ``cpu`` seconds of CPU) to its Redis hash
    now (any process; errors are logged, not raised)."""
    _write({name: _increments(seconds, failed, cpu)})


# A worker adds its task runs up in memory and writes them to Redis this often (seconds), in one
# pipeline: one pipeline of up to fifteen commands per task was 3.5 % of a busy worker's CPU.
FLUSH_SECONDS = 0.5
_pending: dict[str, dict[str, float]] = {}  # task name -> hash field -> increment not yet written
_pending_lock = threading.Lock()
_flusher_pid = 0


def _add_task(name: str, seconds: float, failed: bool, cpu: float) -> None:
    """Add one run to this process's pending increments (:func:`flush_tasks` writes them)."""
    global _flusher_pid
    with _pending_lock:
        fields = _pending.setdefault(name, {})
        for field, value in _increments(seconds, failed, cpu).items():
            fields[field] = fields.get(field, 0.0) + value
        start = _flusher_pid != os.getpid()  # none yet in this process (a forked child starts its own)
        if start:
            _flusher_pid = os.getpid()
    if start:
        threading.Thread(target=_flush_forever, name="portal-task-metrics", daemon=True).start()
        atexit.register(flush_tasks)


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush_tasks()


def flush_tasks() -> None:
    """Write this process's pending task runs to their Redis hashes, in one pipeline."""
    with _pending_lock:
        pending = dict(_pending)
        _pending.clear()
    _write(pending)


def _prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        with _started_lock:
            _started[task_id] = (time.perf_counter(), time.thread_time())


def _postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    with _started_lock:
        started = _started.pop(task_id or "", None)
    name = getattr(task, "name", None)
    if started is None or not name:
        return
    _add_task(str(name), time.perf_counter() - started[0], failed=state == "FAILURE",
              cpu=max(0.0, time.thread_time() - started[1]))


def install_task_signals() -> None:
    """Connect the worker-side handlers (idempotent; harmless in processes that run no task)."""
    global _installed
    if _installed:
        return
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_prerun, weak=False, dispatch_uid="portal.metrics.prerun")
    task_postrun.connect(_postrun, weak=False, dispatch_uid="portal.metrics.postrun")
    _installed = True


def task_stats() -> dict[str, dict[str, str]]:
    from portal.redis import client

    redis = client()
    names = sorted(n.decode() if isinstance(n, bytes) else str(n) for n in redis.smembers(TASK_SET))  # type: ignore[union-attr]
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(TASK_KEY + name)
    stats: dict[str, dict[str, str]] = {}
    for name, raw in zip(names, pipe.execute(), strict=True):
        stats[name] = {(k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
                       for k, v in (raw or {}).items()}
    return stats


# ---------------------------------------------------------------------------- scrape-time state


class StateCollector(Collector):
    """Families read at scrape time from Redis (tasks) and PostgreSQL (watcher, outbox, alerts)."""

    def describe(self) -> Iterable[Metric]:
        return []  # families are produced at collect time only

    def collect(self) -> Iterator[Metric]:
        for producer in (self._tasks, self._watcher, self._outbox, self._alerts):
            try:
                yield from producer()
            except Exception:  # one failing source must not hide the others
                logger.warning("metrics source failed", extra={"source": producer.__name__}, exc_info=True)

    @staticmethod
    def _tasks() -> Iterator[Metric]:
        duration = HistogramMetricFamily("portal_task_duration_seconds", "Celery task run time by task (all workers).",
                                         labels=["task"])
        failures = CounterMetricFamily("portal_task_failures", "Celery task runs that failed, by task (all workers).",
                                       labels=["task"])
        cpu = CounterMetricFamily("portal_task_cpu_seconds",
                                  "CPU time of the worker threads that ran the task, by task (all workers).",
                                  labels=["task"])
        for name, fields in task_stats().items():
            count = float(fields.get("count", 0) or 0)
            buckets = [(str(bound), float(fields.get(f"le:{bound}", 0) or 0)) for bound in TASK_BUCKETS]
            duration.add_metric([name], buckets=[*buckets, ("+Inf", count)],
                                sum_value=float(fields.get("sum", 0) or 0))
            failures.add_metric([name], float(fields.get("failures", 0) or 0))
            cpu.add_metric([name], float(fields.get("cpu", 0) or 0))
        yield duration
        yield failures
        yield cpu

    @staticmethod
    def _watcher() -> Iterator[Metric]:
        from clusters.models import Cluster, KindSync

        now = timezone.now()
        lag = GaugeMetricFamily("portal_watcher_lag_seconds",
                                "Seconds since the watcher last heard from the cluster (now - last_sync).",
                                labels=["cluster"])
        names: dict[int, str] = {}
        for pk, name, last_sync in Cluster.objects.values_list("pk", "name", "last_sync"):
            names[pk] = name
            if last_sync is not None:
                lag.add_metric([name], max(0.0, (now - last_sync).total_seconds()))
        yield lag
        kinds = GaugeMetricFamily("portal_watcher_kinds", "Watched kinds per cluster by sync state.",
                                  labels=["cluster", "state"])
        counts = dict(_grouped(KindSync.objects.all(), "cluster_id", "state"))
        for (cluster_id, state), count in sorted(counts.items()):
            kinds.add_metric([names.get(cluster_id, str(cluster_id)), state], float(count))
        yield kinds

    @staticmethod
    def _outbox() -> Iterator[Metric]:
        from monitoring.models import Notification, NotificationState

        depth = GaugeMetricFamily("portal_notification_outbox", "Notifications not delivered yet, by state.",
                                  labels=["state"])
        counts = dict.fromkeys((NotificationState.PENDING, NotificationState.SENDING), 0)
        for state, count in _grouped(Notification.objects.filter(state__in=list(counts)), "state"):
            counts[state] = count
        for state, count in counts.items():
            depth.add_metric([str(state)], float(count))
        yield depth

    @staticmethod
    def _alerts() -> Iterator[Metric]:
        from monitoring.models import OPEN_STATES, Alert, Severity

        family = GaugeMetricFamily("portal_alerts_open", "Open alerts by severity and state.",
                                   labels=["severity", "state"])
        counts = {(str(sev), str(st)): 0 for sev in Severity.values for st in OPEN_STATES}
        for (severity, state), count in _grouped(Alert.objects.filter(state__in=list(OPEN_STATES)), "severity",
                                                 "state"):
            counts[(severity, state)] = count
        for (severity, state), count in sorted(counts.items()):
            family.add_metric([severity, state], float(count))
        yield family


def _grouped(queryset: Any, *fields: str) -> Iterator[tuple[Any, int]]:
    from django.db.models import Count

    for row in queryset.order_by().values(*fields).annotate(n=Count("id")):
        key = row[fields[0]] if len(fields) == 1 else tuple(row[f] for f in fields)
        yield key, int(row["n"])


REGISTRY.register(StateCollector())


def render() -> bytes:
    return generate_latest(REGISTRY)


# ---------------------------------------------------------------------------- the view


class _ScrapeToken:
    """``request.auth`` of a request that presented the configured scrape token."""


class ScrapeTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <PORTAL_METRICS_TOKEN>``; any other header goes on to the API token
    and session authenticators (which refuse a wrong bearer with 401)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        from django.contrib.auth.models import AnonymousUser

        from monitoring.access import may_scrape

        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            return None
        if may_scrape(None, raw.strip(), str(getattr(settings, "PORTAL_METRICS_TOKEN", "") or "")):
            return AnonymousUser(), _ScrapeToken()
        return None

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class MetricsView(APIView):
    """GET /metrics (outside /api/: the path scrapers expect; not in the API schema)."""

    permission_classes: list[Any] = []
    schema = None

    def get_authenticators(self) -> list[Any]:
        return [ScrapeTokenAuthentication(), *super().get_authenticators()]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        # The answer is the Prometheus text format whatever the scraper accepts (a bare
        # ``Accept: text/plain;version=0.0.4`` included); errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request: Request) -> HttpResponse:
        from monitoring.access import may_scrape
        from portal import access

        if not isinstance(request.auth, _ScrapeToken):
            if not getattr(request.user, "is_authenticated", False):
                raise exceptions.NotAuthenticated()
            if not may_scrape(request.user, None, ""):
                raise access.admin_only("read the portal's metrics")
        return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


metrics_view = MetricsView.as_view()
