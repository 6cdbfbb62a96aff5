"""API of the generic resource browser (issue 21 §2): every kind a cluster serves, a page of one
kind with the server's columns, and one object. See docs/clusters-api.md, "Resource browser".

Who sees what is :mod:`clusters.access`, as for the inventory: the cluster must be visible
(404 otherwise); members see only the namespaces of their service maps, and of cluster-scoped
kinds only namespaces (theirs) and storage classes; admins and operators see everything. The
scope is checked before the cluster is asked anything. Errors carry a stable ``code``.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import browser, gateway
from clusters.access import cluster_access, visible_clusters, visible_namespaces
from clusters.api.serializers import FreshnessSerializer
from clusters.kube.discovery import ApiResource
from clusters.models import Cluster
from portal import errors
from portal.api.params import bool_param


class ApiResourceSerializer(serializers.Serializer[Any]):
    group = serializers.CharField(help_text='API group ("" for core; "core" in URLs).')
    version = serializers.CharField()
    plural = serializers.CharField()
    kind = serializers.CharField()
    namespaced = serializers.BooleanField()
    verbs = serializers.ListField(child=serializers.CharField())
    short_names = serializers.ListField(child=serializers.CharField())
    categories = serializers.ListField(child=serializers.CharField())
    source = serializers.CharField(  # type: ignore[assignment]  # a field named source, as the contract says
        help_text="Where a list of this kind is read from: read_model or live.")


class DiscoveryErrorSerializer(serializers.Serializer[Any]):
    status = serializers.IntegerField(help_text="What a list of a live kind would answer now (502, 503).")
    code = serializers.CharField()
    detail = serializers.CharField()


class ResourceKindsSerializer(serializers.Serializer[Any]):
    resources = ApiResourceSerializer(many=True)
    discovery_error = DiscoveryErrorSerializer(
        allow_null=True, help_text="Set when the cluster could not be asked: `resources` are then only the read "
                                   "model's kinds.")


class ColumnSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    type = serializers.CharField(help_text="string, integer, number, boolean or date (an ISO time: show an age).")
    format = serializers.CharField()
    priority = serializers.IntegerField(help_text="0 = shown by default; higher = kubectl's -o wide columns.")
    description = serializers.CharField()


class RowSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    namespace = serializers.CharField()
    cells = serializers.ListField(child=serializers.JSONField())
    labels = serializers.DictField(child=serializers.CharField())


class ResourcePageSerializer(serializers.Serializer[Any]):
    source = serializers.CharField(help_text="read_model or live.")  # type: ignore[assignment]
    resource = ApiResourceSerializer()
    columns = ColumnSerializer(many=True)
    rows = RowSerializer(many=True)
    # "continue" is a Python keyword: declared below under its wire name
    remaining = serializers.IntegerField(allow_null=True)
    freshness = FreshnessSerializer(allow_null=True, help_text="Read-model pages: how fresh the watcher's copy "
                                                               "is (as the inventory lists say it); null for live "
                                                               "pages.")


ResourcePageSerializer._declared_fields["continue"] = serializers.CharField(
    help_text="Token of the next page ('' on the last one): pass it back as ?continue=.")


class ResourceObjectSerializer(serializers.Serializer[Any]):
    source = serializers.CharField(help_text="Always live.")  # type: ignore[assignment]
    resource = ApiResourceSerializer()
    object = serializers.DictField(help_text="The object as the cluster has it, without managedFields (a Secret "
                                             "without data and stringData).")
    secret_keys = serializers.ListField(child=serializers.CharField(), allow_null=True,
                                        help_text="A Secret's key names (values are never returned); null "
                                                  "for other kinds.")


def problem(status: int, code: str, detail: str, field: str = "") -> Response:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if field:
        body["errors"] = {field: [detail]}
    return Response(body, status=status)


class _ResourceView(APIView):
    permission_classes = (IsAuthenticated,)
    pagination_class = None

    def cluster(self, request: Request, cluster_id: str) -> Cluster:
        return get_object_or_404(visible_clusters(request.user), pk=cluster_id)

    @staticmethod
    def member_may_see(resource: ApiResource, namespaces: list[str] | None) -> bool:
        return cluster_access().may_see_resource(namespaces, group=resource.group, plural=resource.plural,
                                                 namespaced=resource.namespaced)


CLUSTER_ID = OpenApiParameter("cluster_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The cluster's id.")
GVR = [OpenApiParameter("group", OpenApiTypes.STR, OpenApiParameter.PATH, description='API group, "core" for ""'),
       OpenApiParameter("version", OpenApiTypes.STR, OpenApiParameter.PATH),
       OpenApiParameter("plural", OpenApiTypes.STR, OpenApiParameter.PATH, description="Resource, e.g. configmaps")]
FAILURES = {
    403: OpenApiResponse(description="Not allowed (cluster-scoped kind for a member, a namespace not yours; "
                                     "code forbidden: the portal's credentials may not)"),
    404: OpenApiResponse(description="No such cluster, kind (unknown_resource) or object (object_not_found)"),
    502: OpenApiResponse(description="The cluster answered with an error or refused the credentials"),
    503: OpenApiResponse(description="cluster_unreachable (refused, reset, DNS, TLS; params.reason says which) or "
                                     "cluster_timeout (no answer within PORTAL_VIEW_READ_BUDGET seconds)"),
}


class ResourceKindsView(_ResourceView):
    """Every kind the cluster serves (discovery, cached briefly), with where lists come from."""

    @extend_schema(parameters=[CLUSTER_ID, OpenApiParameter("refresh", OpenApiTypes.BOOL,
                                                            description="Ask the cluster again (skip the cache).")],
                   responses={200: ResourceKindsSerializer, **FAILURES}, operation_id="clusters_resources_kinds",
                   summary="Kinds the cluster serves (kubectl api-resources), custom resources included",
                   description="Never fails for an unreachable cluster: the read model's kinds are listed and "
                               "`discovery_error` says why the others are missing.")
    def get(self, request: Request, cluster_id: str) -> Response:
        cluster = self.cluster(request, cluster_id)
        namespaces = visible_namespaces(request.user, cluster.pk)
        error: dict[str, Any] | None = None
        try:
            with gateway.live_read(cluster, "reading what it serves") as read:
                resources = browser.served(cluster, read, refresh=bool_param(request, "refresh"))
        except errors.PortalError as exc:
            # the read model's kinds stay browsable while the cluster is away; say why the rest is missing
            error = {"status": exc.status, "code": exc.code, "detail": exc.message}
            resources = browser.read_model_resources()
        rows = [{**r.as_dict(), "source": browser.source_of(r)} for r in resources
                if self.member_may_see(r, namespaces)]
        rows.sort(key=lambda r: (r["group"], r["kind"]))
        return Response({"resources": rows, "discovery_error": error})


LIST_PARAMS = [
    CLUSTER_ID, *GVR,
    OpenApiParameter("namespace", OpenApiTypes.STR, description="Only this namespace (namespaced kinds)."),
    OpenApiParameter("labelSelector", OpenApiTypes.STR, description="Kubernetes label selector."),
    OpenApiParameter("fieldSelector", OpenApiTypes.STR,
                     description="Kubernetes field selector (read-model kinds: metadata.name, metadata.namespace, "
                                 "spec.nodeName, status.phase)."),
    OpenApiParameter("limit", OpenApiTypes.INT, description=f"Page size, 1-{browser.MAX_LIMIT} "
                                                            f"(default {browser.DEFAULT_LIMIT})."),
    OpenApiParameter("continue", OpenApiTypes.STR, description="The previous page's continue token."),
]


class ResourceListView(_ResourceView):
    """A page of one kind: the read model for the watcher's kinds, else the cluster's Table."""

    @extend_schema(parameters=LIST_PARAMS, operation_id="clusters_resources_list",
                   responses={200: ResourcePageSerializer, 400: OpenApiResponse(
        description="Bad limit, selector or continue token (code names which)"), **FAILURES},
        summary="A page of one kind with the server's columns (kubectl get)")
    def get(self, request: Request, cluster_id: str, group: str, version: str, plural: str) -> Response:
        cluster = self.cluster(request, cluster_id)
        namespaces = visible_namespaces(request.user, cluster.pk)
        q = request.query_params
        namespace = q.get("namespace", "")
        try:
            limit = browser.parse_limit(q.get("limit"))
            with gateway.live_read(cluster, f"listing {plural}") as read:
                resource = browser.resolve(cluster, read, group, version, plural)
                if not self.member_may_see(resource, namespaces):
                    return problem(403, "cluster_scoped_forbidden", f"{resource.kind} is cluster-scoped: only "
                                                                    "operators and system admins may list it.")
                if namespace and namespaces is not None and namespace not in namespaces:
                    return problem(403, "namespace_forbidden", "That namespace is not one of your service maps' "
                                                               "namespaces on this cluster.", "namespace")
                common: dict[str, Any] = {"label_selector": q.get("labelSelector", ""),
                                          "field_selector": q.get("fieldSelector", ""),
                                          "limit": limit, "continue_token": q.get("continue", "")}
                if browser.source_of(resource) == "read_model":
                    page = browser.read_model_page(cluster, resource, namespaces=namespaces, namespace=namespace,
                                                   **common)
                else:
                    if resource.namespaced and not namespace and namespaces is not None:
                        if len(namespaces) != 1:
                            if not namespaces:
                                return Response(browser.Page("live", resource, [], []).as_dict())
                            return problem(400, "namespace_required", "Choose one of your namespaces: "
                                           + ", ".join(sorted(namespaces)) + ".", "namespace")
                        namespace = namespaces[0]
                    page = browser.live_page(read, resource, namespace=namespace, **common)
        except browser.BrowserProblem as exc:
            return problem(exc.status, exc.code, str(exc), exc.field)
        return Response(page.as_dict())


class ResourceDetailView(_ResourceView):
    """One object, live, without managedFields; a Secret with its key names only."""

    @extend_schema(parameters=[CLUSTER_ID, *GVR,
                               OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH),
                               OpenApiParameter("namespace", OpenApiTypes.STR,
                                                description="The object's namespace (namespaced kinds).")],
                   responses={200: ResourceObjectSerializer, 400: OpenApiResponse(
                       description="namespace_required for a namespaced kind"), **FAILURES},
                   summary="One object of any kind (YAML view), read live", operation_id="clusters_resources_object")
    def get(self, request: Request, cluster_id: str, group: str, version: str, plural: str,
            name: str) -> Response:
        cluster = self.cluster(request, cluster_id)
        namespaces = visible_namespaces(request.user, cluster.pk)
        namespace = request.query_params.get("namespace", "")
        try:
            with gateway.live_read(cluster, f"reading {plural}/{name}") as read:
                resource = browser.resolve(cluster, read, group, version, plural)
                if not self.member_may_see(resource, namespaces):
                    return problem(403, "cluster_scoped_forbidden", f"{resource.kind} is cluster-scoped: only "
                                                                    "operators and system admins may read it.")
                if resource.namespaced:
                    if not namespace:
                        return problem(400, "namespace_required",
                                       f"{resource.kind} is namespaced: give ?namespace=.", "namespace")
                    if namespaces is not None and namespace not in namespaces:
                        return problem(403, "namespace_forbidden", "That namespace is not one of your service "
                                                                   "maps' namespaces on this cluster.", "namespace")
                elif namespaces is not None and resource.plural == "namespaces" and name not in namespaces:
                    return problem(403, "namespace_forbidden", "That namespace is not one of your service maps' "
                                                               "namespaces on this cluster.")
                found = browser.fetch_object(read, resource, name, namespace=namespace)
        except browser.BrowserProblem as exc:
            return problem(exc.status, exc.code, str(exc), exc.field)
        return Response({"source": "live", "resource": {**resource.as_dict(), "source": browser.source_of(resource)},
                         **found})
