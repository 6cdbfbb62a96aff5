"""Views of charts and top-N lists (issue 14, CHARTS; docs/charts-api.md).

``GET /api/monitoring/charts/`` parses the query (:mod:`monitoring.charts`), resolves what the
caller may see (:mod:`monitoring.access`: the fleet, a cluster and a node for those who read every
cluster, 404 for others; a workspace, a service map, a workload, a pod and a container for the
members of the workspace holding the namespace), then :func:`build_chart` reads the series
(:mod:`monitoring.queries`) and the markers (:mod:`monitoring.markers`). ``GET
/api/monitoring/top/`` answers the busiest pods, the fullest nodes and the pods nearest their limits.

:func:`build_chart` takes a parsed, authorised :class:`~monitoring.charts.ChartQuery` and no
request: the benchmark (``bench/metrics_ingest.py``) times it directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import access, charts, markers, queries
from portal import errors
from workspaces.models import ServiceMap

ERRORS = {
    400: OpenApiResponse(description="A bad parameter; `code` says what (param_required, param_invalid, "
                                     "level_invalid, range_invalid, step_invalid, what_invalid, resource_invalid, "
                                     "limit_invalid, scope_conflict) and `errors` names it"),
    404: OpenApiResponse(description="No such cluster, node, workspace, service map or namespace, or not one you "
                                     "may see (infrastructure charts are for those who read every cluster)"),
}


# ---------------------------------------------------------------------------- shapes


class MonitoringChartSeriesSerializer(serializers.Serializer[Any]):
    metric = serializers.CharField(help_text="cpu_usage, cpu_request, cpu_limit, cpu_billed, cpu_allocatable, "
                                             "cpu_capacity, mem_* likewise, pods; cpu_usage_max and mem_usage_max "
                                             "from roll-ups; where the scope has them, the point metrics "
                                             "net_rx_bytes_per_second, net_tx_bytes_per_second, restarts, "
                                             "fs_used_bytes (pods) and pvc_used_ratio (service maps, per claim)")
    unit = serializers.ChoiceField(choices=["cores", "bytes", "count", "bytes_per_second", "ratio"])
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, help_text="pvc_used_ratio: the claim the series is of")
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True), min_length=2, max_length=2),
        help_text="[[epoch seconds of the bucket start, value or null], ...]: one per bucket")


class MonitoringChartMarkerSerializer(serializers.Serializer[Any]):
    at = serializers.IntegerField(help_text="epoch seconds")
    kind = serializers.ChoiceField(choices=["deploy", "rollback", "scale", "restart", "alert", "edit"])
    title = serializers.CharField()
    actor = serializers.CharField(help_text="who did it (\"\" for the portal itself)")
    severity = serializers.ChoiceField(choices=["info", "warning", "critical"])
    link = serializers.CharField(help_text="console path of what the marker is about")
    params = serializers.DictField(help_text="what the title says, for a translated text: release, revision, "
                                             "action, object_kind, name, replicas, alert, event (fired|resolved) …")


class MonitoringChartSerializer(serializers.Serializer[Any]):
    level = serializers.ChoiceField(choices=list(charts.LEVELS))
    start = serializers.IntegerField(help_text="epoch seconds, aligned down to the step")
    end = serializers.IntegerField(help_text="epoch seconds (exclusive)")
    step = serializers.IntegerField(help_text="seconds per point")
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=list(charts.SOURCES), help_text="raw samples, 5-minute or hourly roll-ups")
    series = MonitoringChartSeriesSerializer(many=True)
    markers = MonitoringChartMarkerSerializer(many=True)
    last_sample = serializers.IntegerField(allow_null=True, help_text="epoch seconds of the newest raw sample")
    fallback = serializers.CharField(allow_null=True, help_text="\"pod\": a one-container pod's container chart "
                                                                "shows the pod's figures")


class MonitoringTopItemSerializer(serializers.Serializer[Any]):
    cluster_id = serializers.IntegerField()
    cluster = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField(help_text="the pod or node")
    node = serializers.CharField()
    workload_kind = serializers.CharField()
    workload_name = serializers.CharField()
    at = serializers.IntegerField(help_text="epoch seconds of the sample")
    value = serializers.FloatField(allow_null=True, help_text="busiest_pods, pods_near_limit: usage; "
                                                              "nodes_fullest: requests")
    ratio = serializers.FloatField(allow_null=True, help_text="busiest_pods: usage/request; pods_near_limit: "
                                                              "usage/limit; nodes_fullest: requests/allocatable")
    unit = serializers.ChoiceField(choices=["cores", "bytes"])
    usage = serializers.FloatField(allow_null=True)
    request = serializers.FloatField(allow_null=True)
    limit = serializers.FloatField(allow_null=True)
    allocatable = serializers.FloatField(allow_null=True, required=False, help_text="nodes only")
    usage_ratio = serializers.FloatField(allow_null=True, required=False, help_text="nodes only: usage/allocatable")


class MonitoringTopSerializer(serializers.Serializer[Any]):
    what = serializers.ChoiceField(choices=list(charts.TOP_WHAT))
    resource = serializers.ChoiceField(choices=list(charts.TOP_RESOURCES))
    items = MonitoringTopItemSerializer(many=True)


# ---------------------------------------------------------------------------- composition


def _interval() -> float:
    return float(settings.PORTAL_METRICS_INTERVAL_SECONDS)


def _epoch(at: datetime | None) -> int | None:
    return int(at.timestamp()) if at is not None else None


def build_chart(query: charts.ChartQuery, *, now: datetime, service_map_id: int | None = None) -> dict[str, Any]:
    """The chart answer for an authorised ``query``: ``servicemap`` queries carry the map's
    ``cluster_id`` and ``namespace`` (and pass its id). No request needed."""
    found = queries.series_for(query.level, cluster_id=query.cluster_id, node=query.node,
                               workspace_id=query.workspace_id, namespace=query.namespace,
                               workload_kind=query.workload_kind, workload_name=query.workload_name,
                               pod=query.pod, container=query.container)
    raw_hours = float(settings.PORTAL_METRICS_RAW_RETENTION_HOURS)
    source = charts.choose_source(query.window, now=now, raw_retention_hours=raw_hours,
                                  five_minute_days=float(settings.PORTAL_METRICS_5M_RETENTION_DAYS))
    window = charts.fit_window(query.window, source)
    metrics = charts.metrics_of(query.level, source)
    rows: list[tuple[Any, ...]] = []
    point_rows: list[tuple[Any, ...]] = []
    point_metrics = charts.LEVEL_POINTS.get(query.level, ())
    if found.ids or point_metrics:
        marks_of_rollups = queries.watermarks()
        if found.ids:
            parts = charts.source_parts(source, window, marks_of_rollups)
            sql, params = charts.series_sql(parts, metrics, window, found.ids)
            rows = queries.run(sql, params)
        point_parts = charts.source_parts(source, window, charts.point_watermarks(marks_of_rollups))
        statement = charts.point_sql(query, point_parts, window)
        if statement is not None:
            point_rows = queries.run(*statement)
    marks = markers.for_chart(level=query.level, start=window.start, end=window.end, cluster_id=query.cluster_id,
                              node=query.node, workspace_id=query.workspace_id, service_map_id=service_map_id,
                              namespace=query.namespace, workload_kind=found.workload_kind,
                              workload_name=found.workload_name, pod=query.pod)
    return {
        "level": query.level, "start": _epoch(window.start), "end": _epoch(window.end), "step": window.step,
        "source": source,
        "series": [*charts.points(rows, metrics, window), *charts.point_series(point_rows, point_metrics, window)],
        "markers": marks,
        "last_sample": _epoch(queries.last_sample(found.ids, now - timedelta(hours=raw_hours))),
        "fallback": found.fallback,
    }


def authorize(user: Any, query: charts.ChartQuery) -> tuple[charts.ChartQuery, int | None]:
    """404 unless ``user`` may see the chart; a service map chart comes back placed on its cluster
    and namespace, with the map's id."""
    level = query.level
    if level == "fleet":
        access.require_infrastructure(user, "fleet")
    elif level in ("cluster", "node"):
        access.cluster(user, query.cluster_id)
    elif level == "workspace":
        access.workspace(user, query.workspace_id)
    elif level == "servicemap":
        sm = access.service_map(user, query.service_map_id)
        return (charts.ChartQuery(level=level, window=query.window, cluster_id=sm.cluster_id,
                                  namespace=sm.namespace, service_map_id=sm.pk, workspace_id=sm.workspace_id),
                sm.pk)
    else:
        access.namespace_place(user, query.cluster_id, query.namespace)
    return query, None


def _param(name: str, type_: Any, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, required=False, description=description)


class ChartView(APIView):
    """A chart of one level over a time range: CPU and memory usage, requests, limits (and
    allocatable and capacity for infrastructure), with the deploys, rollbacks, scale events and
    alerts of the same scope as markers."""

    @extend_schema(
        operation_id="monitoring_charts_retrieve",
        parameters=[
            OpenApiParameter("level", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True,
                             enum=list(charts.LEVELS), description="What the chart is of."),
            _param("cluster", OpenApiTypes.INT, "cluster, node, workload, pod, container charts."),
            _param("node", OpenApiTypes.STR, "node charts."),
            _param("workspace", OpenApiTypes.INT, "workspace charts (its namespaces on every cluster, summed)."),
            _param("service_map", OpenApiTypes.INT, "servicemap charts."),
            _param("namespace", OpenApiTypes.STR, "workload, pod, container charts."),
            _param("workload_kind", OpenApiTypes.STR, "workload charts: Deployment, StatefulSet, DaemonSet …"),
            _param("workload_name", OpenApiTypes.STR, "workload charts."),
            _param("pod", OpenApiTypes.STR, "pod and container charts."),
            _param("container", OpenApiTypes.STR, "container charts (a one-container pod answers with the pod's)."),
            _param("start", OpenApiTypes.STR, "ISO 8601 or epoch seconds (default: an hour before end)."),
            _param("end", OpenApiTypes.STR, "ISO 8601 or epoch seconds (default: now); after start, at most "
                                            "400 days later."),
            _param("step", OpenApiTypes.INT, "Seconds per point: at least the collection interval, at most 1,500 "
                                             "points (default: about 120 points)."),
        ],
        responses={200: MonitoringChartSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        query = charts.parse_query(request.query_params, now=now, interval=_interval())
        query, service_map_id = authorize(request.user, query)
        return Response(build_chart(query, now=now, service_map_id=service_map_id))


def top_items(query: charts.TopQuery, user: Any, *, now: datetime) -> list[dict[str, Any]]:
    """The items of a top-N list ``user`` may see (404 for a scope they may not)."""
    cluster_ids: list[int] | None = None
    workspace_id: int | None = None
    namespace: str | None = None
    if query.service_map_id is not None:
        sm = access.service_map(user, query.service_map_id)
        cluster_ids, namespace = [sm.cluster_id], sm.namespace
    elif query.workspace_id is not None:
        workspace_id = access.workspace(user, query.workspace_id).pk
        cluster_ids = sorted(set(ServiceMap.objects.filter(workspace_id=workspace_id)
                                 .values_list("cluster_id", flat=True)))
    elif query.cluster_id is not None:
        cluster_ids = [access.cluster(user, query.cluster_id).pk]
    elif not access.sees_infrastructure(user):
        message = "Give a workspace or a service map."
        raise errors.Invalid(message, code="param_required", params={"param": "workspace"},
                             errors={"workspace": [message]})
    return queries.top(query.what, resource=query.resource, limit=query.limit, now=now,
                       fresh_seconds=max(300.0, 3 * _interval()), cluster_ids=cluster_ids,
                       workspace_id=workspace_id, namespace=namespace)


class TopView(APIView):
    """The busiest pods, the nodes closest to full, or the pods nearest their limits, from the newest
    samples of each cluster in scope."""

    @extend_schema(
        operation_id="monitoring_top_retrieve",
        parameters=[
            OpenApiParameter("what", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True,
                             enum=list(charts.TOP_WHAT),
                             description="busiest_pods (by usage), nodes_fullest (requests / allocatable), "
                                         "pods_near_limit (usage / limit)."),
            OpenApiParameter("resource", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                             enum=list(charts.TOP_RESOURCES),
                             description="cpu or memory (default: memory for pods_near_limit, else cpu)."),
            _param("cluster", OpenApiTypes.INT, "One cluster (those who read every cluster)."),
            _param("workspace", OpenApiTypes.INT, "A workspace's pods (not for nodes_fullest)."),
            _param("service_map", OpenApiTypes.INT, "A service map's pods (not for nodes_fullest)."),
            _param("limit", OpenApiTypes.INT, f"Items (1-{charts.TOP_MAX_LIMIT}, default 10)."),
        ],
        responses={200: MonitoringTopSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = charts.parse_top(request.query_params)
        items = top_items(query, request.user, now=timezone.now())
        return Response({"what": query.what, "resource": query.resource, "items": items})
