"""The timeline and the diff of one entry. Views parse the query (activity.timeline), resolve what
the caller may see (activity.access) and read (activity.sources, activity.diffs); nothing else."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from activity import access, diffs, sources
from activity.api import serializers as s
from activity.timeline import MAX_PAGE_SIZE, SOURCES, encode_cursor, parse_query

ERRORS = {
    400: OpenApiResponse(description="Bad scope, source, cursor or page size; `code` says which"),
    404: OpenApiResponse(description="No such cluster, namespace, service map or workspace (or not yours)"),
}


def _param(name: str, type_: OpenApiTypes, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, required=False, description=description)


class TimelineView(APIView):
    """One timeline, newest first: portal changes, exec sessions, Kubernetes events, changes made
    outside the portal and (service map, workspace) release revisions and rollouts."""

    @extend_schema(
        operation_id="activity_list",
        parameters=[
            _param("cluster", OpenApiTypes.INT, "A cluster's timeline (with namespace, kind and name: one object's)."),
            _param("namespace", OpenApiTypes.STR, "Within a cluster: one namespace (\"\" with kind and name: a "
                                                  "cluster-scoped object)."),
            _param("kind", OpenApiTypes.STR, "With name: one object."),
            _param("name", OpenApiTypes.STR, "With kind: one object."),
            _param("service_map", OpenApiTypes.INT, "A service map's timeline (its namespace and releases)."),
            _param("workspace", OpenApiTypes.INT, "A workspace's timeline (its service maps)."),
            _param("source", OpenApiTypes.STR, f"Comma-separated sources: {', '.join(SOURCES)} (default: all)."),
            _param("cursor", OpenApiTypes.STR, "From `next`."),
            _param("page_size", OpenApiTypes.INT, f"Entries per page (1-{MAX_PAGE_SIZE}, default 50)."),
        ],
        responses={200: s.ActivityPageSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = parse_query(request.query_params)
        scope = access.resolve(request.user, query)
        entries, after = sources.page(scope, query)
        url = request.build_absolute_uri()
        return Response({
            "next": replace_query_param(url, "cursor", encode_cursor(after)) if after is not None else None,
            "previous": None,
            "results": [s.ActivityEntrySerializer(entry).data for entry in entries],
            "groups": list(scope.groups),
        })


class DiffView(APIView):
    """The diff of a portal change or of a change made outside the portal."""

    @extend_schema(operation_id="activity_diff_retrieve",
                   responses={200: s.ActivityDiffSerializer, 404: OpenApiResponse(description="No such entry, or no diff")})
    def get(self, request: Request, entry_id: str) -> Response:
        return Response(diffs.diff_of(request.user, entry_id))
