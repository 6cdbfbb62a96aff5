"""/api/provisioning/clusters/: clusters the portal provisions through Cluster API
(docs/provisioning.md): list and detail (admins, operators, auditors), plan (render + server-side
dry-run on the management cluster, read live through :mod:`clusters.gateway`) and create (admins;
202 with the operation; a task applies the objects and follows them). ``DELETE`` on a cluster is
:class:`provisioning.api.pools.DeleteProvisionedMixin` (node pools, upgrades and deletion are
LIFECYCLE's, under the same prefix)."""

from __future__ import annotations

from typing import ClassVar

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clusters import gateway
from portal import access as portal_access
from portal import errors
from portal.api.pagination import CursorPagination
from portal.api.params import id_param
from portal.api.viewsets import AccessMixin
from provisioning import apply, templates
from provisioning.api import pools
from provisioning.api.serializers import (
    PlanResultSerializer,
    ProvisionAcceptedSerializer,
    ProvisionedClusterDetailSerializer,
    ProvisionedClusterSerializer,
    ProvisionRequestSerializer,
)
from provisioning.api.templates import check_name
from provisioning.models import ClusterTemplate, ManagementCluster, Phase, ProvisionedCluster
from provisioning.rows import operation_row, provisioned_row

ERRORS = {
    400: OpenApiResponse(description="Invalid input: `template_parameters_invalid` (`errors` per parameter), "
                                     "`template_render_failed`, `template_archived`, `management_provider_missing`"),
    403: OpenApiResponse(description="Only system admins create provisioned clusters"),
    404: OpenApiResponse(description="No such provisioned cluster (or not visible to you)"),
    409: OpenApiResponse(description="`cluster_name_taken`, `management_not_ready`"),
}
LIVE_ERRORS = {
    502: OpenApiResponse(description="The management cluster answered with an error"),
    503: OpenApiResponse(description="The management cluster did not answer in time (`cluster_timeout`, "
                                     "`cluster_unreachable`)"),
}
OPERATIONS_SHOWN = 20


class ProvisionedPagination(CursorPagination):
    ordering = "-created"


class ProvisionedClusterViewSet(pools.DeleteProvisionedMixin, AccessMixin, mixins.RetrieveModelMixin,
                                viewsets.GenericViewSet[ProvisionedCluster]):
    """Provisioned clusters (deleted ones stay, ``phase=deleted``, with their history)."""

    queryset = ProvisionedCluster.objects.none()
    access_model = ProvisionedCluster
    serializer_class = ProvisionedClusterSerializer
    pagination_class = ProvisionedPagination
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "delete", "head", "options"]  # type: ignore[misc]

    def scope_queryset(self, queryset: QuerySet[ProvisionedCluster]) -> QuerySet[ProvisionedCluster]:
        return queryset.select_related("management__cluster", "template", "created_by")

    @extend_schema(
        parameters=[OpenApiParameter("phase", OpenApiTypes.STR, enum=Phase.values),
                    OpenApiParameter("management", OpenApiTypes.INT, description="a management cluster's id"),
                    OpenApiParameter("cluster", OpenApiTypes.INT,
                                     description="the registered cluster's id (the cluster page's tab)")],
        responses={200: ProvisionedClusterSerializer(many=True)}, summary="Provisioned clusters, newest first")
    def list(self, request: Request) -> Response:
        qs = self.get_queryset()
        phase = request.query_params.get("phase", "")
        if phase:
            if phase not in Phase.values:
                raise errors.Invalid(f"Invalid input: phase: one of {', '.join(Phase.values)}.",
                                     errors={"phase": [f"One of: {', '.join(Phase.values)}."]})
            qs = qs.filter(phase=phase)
        management = id_param(request, "management")
        if management is not None:
            qs = qs.filter(management_id=management)
        cluster = id_param(request, "cluster")
        if cluster is not None:
            qs = qs.filter(cluster_id=cluster)
        page = self.paginate_queryset(qs)
        assert page is not None
        return self.get_paginated_response([provisioned_row(pc) for pc in page])

    @extend_schema(responses={200: ProvisionedClusterDetailSerializer, **ERRORS},
                   summary="A provisioned cluster with its latest operations, machine sizes and upgrade versions")
    def retrieve(self, request: Request, pk: str) -> Response:
        pc = self.get_object()
        ops = list(pc.operations.select_related("created_by").order_by("-created")[:OPERATIONS_SHOWN])
        try:
            sizes = templates.machine_sizes(pc.template)
            versions = templates.upgrade_versions(pc.template, pc.kubernetes_version)
        except templates.TemplateError:
            sizes, versions = [], []
        return Response({**provisioned_row(pc), "operations": [operation_row(op) for op in ops],
                         "machine_sizes": sizes, "upgrade_versions": versions})

    def _request(self, request: Request) -> apply.CreateRequest:
        data = ProvisionRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        name = check_name(body["name"])
        mc = portal_access.access_for(ManagementCluster).visible(request.user).select_related("cluster").filter(
            pk=body["management"]).first()
        if mc is None:
            raise errors.Invalid("Invalid input: management: no such management cluster.",
                                 code="management_not_found", errors={"management": ["No such management cluster."]})
        template = portal_access.access_for(ClusterTemplate).visible(request.user).filter(pk=body["template"]).first()
        if template is None:
            raise errors.Invalid("Invalid input: template: no such cluster template.", code="template_not_found",
                                 errors={"template": ["No such cluster template."]})
        return apply.CreateRequest(name=name, management=mc, template=template, parameters=body["parameters"],
                                   stage=body["stage"], labels=body["labels"], display_name=body["display_name"])

    @extend_schema(request=ProvisionRequestSerializer, responses={200: PlanResultSerializer, **ERRORS, **LIVE_ERRORS},
                   summary="Render the cluster's objects and dry-run them on the management cluster")
    @action(detail=False, methods=["post"])
    def plan(self, request: Request) -> Response:
        self.require("create", ProvisionedCluster())
        req = self._request(request)
        with gateway.live_read(req.management.cluster, "dry-running the cluster's objects") as read:
            return Response(apply.plan(req, read.client))

    @extend_schema(request=ProvisionRequestSerializer, responses={202: ProvisionAcceptedSerializer, **ERRORS},
                   summary="Create a cluster: the objects are applied and followed in the background")
    def create(self, request: Request) -> Response:
        self.require("create", ProvisionedCluster())
        pc, op = apply.create(self._request(request), actor=request.user, request=request._request)
        pc = ProvisionedCluster.objects.select_related("management__cluster", "template").get(pk=pc.pk)
        op.refresh_from_db()
        return Response({"provisioned": provisioned_row(pc), "operation": operation_row(op)},
                        status=status.HTTP_202_ACCEPTED)

