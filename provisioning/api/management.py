"""/api/provisioning/management-clusters/: registered clusters marked as Cluster API management
clusters (docs/provisioning.md). Admins, operators and auditors read them (others: an empty list,
404 on a detail); system admins mark, check and unmark (:mod:`provisioning.access`)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clusters.models import LABEL_NAME, Cluster
from portal import access as portal_access
from portal import errors
from portal.api.viewsets import AccessMixin
from provisioning import actions
from provisioning.api.serializers import ManagementClusterCreateSerializer, ManagementClusterSerializer
from provisioning.models import ManagementCluster

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field"),
    403: OpenApiResponse(description="Only system admins manage management clusters"),
    404: OpenApiResponse(description="No such management cluster (or not visible to you)"),
    409: OpenApiResponse(description="`management_cluster_exists`, `management_cluster_in_use`, "
                                     "`management_cluster_has_history`"),
}


def management_row(mc: ManagementCluster) -> dict[str, Any]:
    return {
        "id": mc.pk, "cluster": mc.cluster_id, "cluster_name": mc.cluster.name, "namespace": mc.namespace,
        "status": mc.status, "capi_versions": mc.capi_versions,
        "control_plane_providers": mc.control_plane_providers,
        "infrastructure_providers": mc.infrastructure_providers, "message": mc.message,
        "message_code": mc.message_code, "message_params": mc.message_params, "checked": mc.checked,
        "created": mc.created,
    }


class ManagementClusterViewSet(AccessMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ManagementCluster]):
    """Management clusters: where the portal writes Cluster API objects."""

    queryset = ManagementCluster.objects.none()
    access_model = ManagementCluster
    serializer_class = ManagementClusterSerializer
    pagination_class = None
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "delete", "head", "options"]  # type: ignore[misc]

    def scope_queryset(self, queryset: QuerySet[ManagementCluster]) -> QuerySet[ManagementCluster]:
        return queryset.select_related("cluster")

    def _row(self, mc: ManagementCluster) -> dict[str, Any]:
        return management_row(ManagementCluster.objects.select_related("cluster").get(pk=mc.pk))

    @extend_schema(responses={200: ManagementClusterSerializer(many=True)},
                   summary="Management clusters (a plain array: there are few)")
    def list(self, request: Request) -> Response:
        return Response([management_row(mc) for mc in self.get_queryset()])

    @extend_schema(responses={200: ManagementClusterSerializer, **ERRORS})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(management_row(self.get_object()))

    @extend_schema(request=ManagementClusterCreateSerializer, responses={201: ManagementClusterSerializer, **ERRORS},
                   summary="Mark a registered cluster as a management cluster (checked in the background)")
    def create(self, request: Request) -> Response:
        self.require("manage", ManagementCluster())
        data = ManagementClusterCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        namespace = data.validated_data["namespace"]
        if not LABEL_NAME.match(namespace):
            raise errors.Invalid("Invalid input: namespace: use lower-case letters, digits and '-' (at most 63).",
                                 errors={"namespace": ["Use lower-case letters, digits and '-' (at most 63)."]})
        cluster = portal_access.access_for(Cluster).visible(request.user).filter(
            pk=data.validated_data["cluster"]).first()
        if cluster is None:
            raise errors.Invalid("Invalid input: cluster: no such registered cluster; register it first.",
                                 code="management_cluster_not_registered",
                                 errors={"cluster": ["No such registered cluster."]})
        mc = actions.create_management(cluster=cluster, namespace=namespace, actor=request.user,
                                       request=request._request)
        return Response(self._row(mc), status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **ERRORS},
                   summary="Unmark a management cluster (refused while provisioned clusters use it)")
    def destroy(self, request: Request, pk: str) -> Response:
        mc = self.get_object()
        self.require("manage", mc)
        actions.delete_management(mc=mc, actor=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: ManagementClusterSerializer, **ERRORS},
                   summary="Check the management cluster again (Cluster API kinds and providers)")
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str) -> Response:
        mc = self.get_object()
        self.require("manage", mc)
        mc = actions.request_management_check(mc=mc, actor=request.user, request=request._request)
        return Response(self._row(mc), status=status.HTTP_202_ACCEPTED)
