"""Kept cluster events (issue 14, docs/metering.md#events): ``GET /api/monitoring/events/``.

Filters: ``cluster``, ``namespace``, ``service_map`` (its cluster and namespace), ``type``
(``Normal`` | ``Warning``), ``reason``, ``object_kind``, ``object_name`` (exact), ``since`` (ISO
8601 or epoch seconds: last seen at or after). Keyset pagination (``cursor``, ``page_size``);
``ordering=-last_seen`` (default, newest first) or ``ordering=-warning`` (warnings first, then
newest first).

Access (:mod:`monitoring.access`): those who read every cluster see every event; a member only the
events of their service maps' namespaces (a service map filter they do not see is 404). Cluster-
scoped events (a node's) are infrastructure: members never see them.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from django.db.models import Case, Exists, IntegerField, OuterRef, QuerySet, Value, When
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import access
from monitoring.models import EventRecord
from portal import errors
from portal.api.pagination import KeysetPagination
from portal.api.serializers import StrictCharField
from workspaces.models import ServiceMap

TYPES = ("Normal", "Warning")
# Events about cluster-scoped objects are recorded in some namespace (a node's in ``default``):
# they are infrastructure, so members never see them whatever namespace holds them.
CLUSTER_SCOPED_KINDS = ("Node", "PersistentVolume", "StorageClass", "Namespace", "ClusterRole",
                        "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "IngressClass",
                        "CSIDriver", "CSINode", "VolumeAttachment", "APIService")
FILTER_MAX = 253


def _invalid(name: str, message: str, code: str = "invalid") -> errors.Invalid:
    return errors.Invalid(f"Invalid input: {name}: {message}", code=code, params={"field": name},
                          errors={name: [message]})


def parse_since(text: str) -> datetime.datetime:
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.datetime.fromtimestamp(float(text), tz=datetime.UTC)
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise _invalid("since", "Give a time as ISO 8601 or epoch seconds.", "invalid_since") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


EventSerializer = inline_serializer("MonitoringEvent", fields={
    "id": serializers.IntegerField(),
    "cluster": inline_serializer("MonitoringEventCluster", fields={"id": serializers.IntegerField(),
                                                                   "name": StrictCharField()}),
    "namespace": StrictCharField(),
    "service_map": inline_serializer("MonitoringEventServiceMap", fields={
        "id": serializers.IntegerField(), "namespace": StrictCharField(), "display_name": StrictCharField(),
        "workspace": serializers.IntegerField()},
        allow_null=True),
    "type": StrictCharField(), "reason": StrictCharField(), "message": StrictCharField(),
    "object_kind": StrictCharField(), "object_name": StrictCharField(),
    "count": serializers.IntegerField(),
    "first_seen": serializers.DateTimeField(allow_null=True), "last_seen": serializers.DateTimeField(),
    "source": StrictCharField(),
})


class EventListView(generics.ListAPIView[EventRecord]):
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"last_seen": ("last_seen", "id"),
                                                       "warning": ("warning", "last_seen", "id")}
    default_ordering = "-last_seen"
    filter_backends: ClassVar[list[Any]] = []  # type: ignore[misc]

    def get_queryset(self) -> QuerySet[EventRecord]:
        user = self.request.user
        params = self.request.query_params
        qs = EventRecord.objects.all()
        if not access.sees_infrastructure(user):
            qs = qs.filter(Exists(ServiceMap.objects.filter(
                pk__in=access.member_service_map_ids(user), cluster_id=OuterRef("cluster_id"),
                namespace=OuterRef("namespace")))).exclude(object_kind__in=CLUSTER_SCOPED_KINDS)
        if params.get("service_map"):
            sm = access.service_map(user, params["service_map"])
            qs = qs.filter(cluster_id=sm.cluster_id, namespace=sm.namespace)
        if params.get("cluster"):
            try:
                qs = qs.filter(cluster_id=int(params["cluster"]))
            except ValueError:
                raise _invalid("cluster", "Give a cluster id.") from None
        event_type = params.get("type")
        if event_type:
            if event_type not in TYPES:
                raise _invalid("type", "Give Normal or Warning.", "invalid_event_type")
            qs = qs.filter(type=event_type)
        for name in ("namespace", "reason", "object_kind", "object_name"):
            value = params.get(name)
            if value:
                if len(value) > FILTER_MAX:
                    raise _invalid(name, f"Give at most {FILTER_MAX} characters.")
                qs = qs.filter(**{name: value})
        if params.get("since"):
            qs = qs.filter(last_seen__gte=parse_since(params["since"]))
        return qs.select_related("cluster").annotate(
            warning=Case(When(type="Warning", then=Value(1)), default=Value(0), output_field=IntegerField()))

    @extend_schema(parameters=[
        OpenApiParameter("cluster", OpenApiTypes.INT), OpenApiParameter("namespace", OpenApiTypes.STR),
        OpenApiParameter("service_map", OpenApiTypes.INT),
        OpenApiParameter("type", OpenApiTypes.STR, enum=list(TYPES)),
        OpenApiParameter("reason", OpenApiTypes.STR), OpenApiParameter("object_kind", OpenApiTypes.STR),
        OpenApiParameter("object_name", OpenApiTypes.STR),
        OpenApiParameter("since", OpenApiTypes.STR, description="ISO 8601 or epoch seconds"),
    ], responses={200: EventSerializer,  # a row: the paginator wraps the list in {next, previous, results}
                  400: OpenApiResponse(description="`invalid_since`, `invalid_event_type`, bad ordering or cursor"),
                  404: OpenApiResponse(description="No such service map (or not visible to you)")})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        pairs = {(e.cluster_id, e.namespace) for e in page if e.namespace}
        maps: dict[tuple[int, str], ServiceMap] = {}
        if pairs:
            for sm in ServiceMap.objects.filter(cluster_id__in={c for c, _ in pairs},
                                                namespace__in={n for _, n in pairs}):
                maps[(sm.cluster_id, sm.namespace)] = sm
        return self.get_paginated_response([event_row(e, maps.get((e.cluster_id, e.namespace))) for e in page])


def event_row(event: EventRecord, sm: ServiceMap | None) -> dict[str, Any]:
    return {"id": event.pk, "cluster": {"id": event.cluster_id, "name": event.cluster.name},
            "namespace": event.namespace,
            "service_map": {"id": sm.pk, "namespace": sm.namespace, "display_name": sm.display_name,
                            "workspace": sm.workspace_id} if sm is not None else None,
            "type": event.type, "reason": event.reason, "message": event.message, "object_kind": event.object_kind,
            "object_name": event.object_name, "count": event.count,
            "first_seen": event.first_seen.isoformat() if event.first_seen else None,
            "last_seen": event.last_seen.isoformat(), "source": event.source}
