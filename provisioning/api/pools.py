"""Node pools, upgrades, deletion and the operation history of provisioned clusters
(docs/provisioning-lifecycle.md), under ``/api/provisioning/clusters/<id>/``.

The provisioned cluster is looked up among those the caller sees
(:class:`provisioning.access.ProvisionedClusterAccess`: others get 404); changing pools and the
version needs ``operate`` (operators, admins: 403 ``operator_required``), deleting needs
``delete`` and a forced delete ``force_delete`` (admins: 403 ``admin_required``). Every check of
the input (:mod:`provisioning.lifecycle`'s ``request_*``) comes before anything is written; a
write answers 202 with the operation and the provisioned row, and the steps run in the
``provisioning.lifecycle_step`` task, their progress on the ``provisioning.<id>`` socket group.

``DELETE /clusters/<id>/`` shares its path with the provisioned cluster's detail route, so it is
:class:`DeleteProvisionedMixin`, mixed into that viewset.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import access as portal_access
from portal import errors
from portal.api.pagination import KeysetPagination
from portal.api.params import TRUE
from portal.api.serializers import StrictCharField, StrictSerializer
from provisioning import lifecycle
from provisioning.api.serializers import ProvisionAcceptedSerializer, ProvisioningOperationSerializer
from provisioning.models import ProvisionedCluster, ProvisioningOperation
from provisioning.rows import operation_row, provisioned_row

ERRORS = {
    400: OpenApiResponse(description="Bad input (pool_replicas_invalid, pool_name_invalid, machine_size_unknown, "
                                     "machine_size_unchanged, resize_unsupported, version_skip, version_downgrade, "
                                     "version_unknown, version_unchanged, confirm_mismatch)"),
    403: OpenApiResponse(description="operator_required (pools, upgrades) or admin_required (delete, force)"),
    404: OpenApiResponse(description="No such provisioned cluster or pool (or not visible to you)"),
    409: OpenApiResponse(description="last_pool, pool_exists, service_maps_live, provisioned_not_ready, "
                                     "provisioned_deleted, provisioning_operation_running"),
}
POOL_PATH = OpenApiParameter("pool", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="The pool's name (its MachineDeployment's name)")


# ---------------------------------------------------------------------------- serializers


class LifecycleMachineSerializer(serializers.Serializer[Any]):
    """A Cluster API Machine as the progress shows it (provisioning.capi.summarize)."""

    name = StrictCharField()
    pool = StrictCharField(help_text="The pool (MachineDeployment) it belongs to; empty for the control plane")
    control_plane = serializers.BooleanField()
    phase = StrictCharField(help_text="Cluster API's phase: Pending, Provisioning, Provisioned, Running, Deleting, "
                                      "Failed")
    node = StrictCharField(help_text="The Node it became (empty until it joined)")
    version = StrictCharField()
    ready = serializers.BooleanField()
    node_healthy = serializers.BooleanField()
    draining = serializers.BooleanField(help_text="Cluster API is draining its node (DrainingSucceeded False, "
                                                  "reason Draining)")
    deleting = serializers.BooleanField()
    reason = StrictCharField(help_text="The failing condition's reason (or the drain's)")
    message = StrictCharField()
    created = StrictCharField()


class PoolSerializer(serializers.Serializer[Any]):
    name = StrictCharField()
    replicas = serializers.IntegerField(help_text="Machines asked for")
    ready = serializers.IntegerField()
    available = serializers.IntegerField()
    updated = serializers.IntegerField()
    phase = StrictCharField(help_text="ScalingUp, ScalingDown, Running, Failed")
    version = StrictCharField()
    machine_size = StrictCharField()
    infrastructure_template = StrictCharField(help_text="The infrastructure machine template the pool uses")
    deleting = serializers.BooleanField()
    machines = LifecycleMachineSerializer(many=True)


class AddPoolSerializer(StrictSerializer):
    name = StrictCharField(max_length=63, help_text="The pool's name; the MachineDeployment is <cluster>-<name>")
    replicas = serializers.IntegerField(help_text="0-100 machines")
    machine_size = StrictCharField(max_length=64, help_text="One of the template's machine sizes")


class PatchPoolSerializer(StrictSerializer):
    replicas = serializers.IntegerField(required=False, help_text="Scale the pool to this many machines (0-100)")
    machine_size = StrictCharField(required=False, max_length=64,
                                   help_text="Roll the pool onto machines of this size (a new machine template)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("replicas" in attrs) == ("machine_size" in attrs):
            raise errors.Invalid("Give either replicas (to scale the pool) or machine_size (to resize it).",
                                 code="pool_change_invalid",
                                 errors={"replicas": ["Give replicas or machine_size, not both."]})
        return attrs


class UpgradeSerializer(StrictSerializer):
    version = StrictCharField(max_length=32, help_text="The Kubernetes version, e.g. v1.31.1 (one of the template's)")


class DeleteSerializer(StrictSerializer):
    confirm = StrictCharField(max_length=63, allow_blank=True, help_text="The cluster's name, typed to confirm")
    force = serializers.BooleanField(required=False, default=False,
                                     help_text="Admins: delete although service maps still live there")


# ---------------------------------------------------------------------------- helpers


def provisioned_for(request: Request, pk: Any) -> ProvisionedCluster:
    """The provisioned cluster ``pk`` if the caller sees it (404 otherwise, never telling which)."""
    found = None
    if str(pk).isdigit():
        found = (portal_access.access_for(ProvisionedCluster).visible(request.user)
                 .select_related("management__cluster", "template", "cluster").filter(pk=int(pk)).first())
    if found is None:
        raise errors.NotFound("No such provisioned cluster.", code="provisioned_not_found", params={"id": str(pk)})
    return found


def accepted(op: ProvisioningOperation) -> Response:
    pc = (ProvisionedCluster.objects.select_related("management__cluster", "template")
          .get(pk=op.provisioned_id))
    op.refresh_from_db()
    return Response({"operation": operation_row(op), "provisioned": provisioned_row(pc)},
                    status=status.HTTP_202_ACCEPTED)


def _valid(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def pool_rows(pc: ProvisionedCluster) -> list[dict[str, Any]]:
    rows = lifecycle.pools(pc)
    lifecycle.pool_sizes(pc, rows)
    keys = ("name", "replicas", "ready", "available", "updated", "phase", "version", "machine_size",
            "infrastructure_template", "deleting", "machines")
    defaults: dict[str, Any] = {"replicas": 0, "ready": 0, "available": 0, "updated": 0, "deleting": False,
                                "machines": []}
    return [{k: row.get(k, defaults.get(k, "")) for k in keys} for row in rows]


# ---------------------------------------------------------------------------- views


class PoolListView(APIView):
    """The node pools of a provisioned cluster; add one."""

    @extend_schema(summary="Node pools (MachineDeployments) of a provisioned cluster, with their machines",
                   responses={200: PoolSerializer(many=True), 404: ERRORS[404]})
    def get(self, request: Request, pk: int) -> Response:
        return Response(pool_rows(provisioned_for(request, pk)))

    @extend_schema(summary="Add a node pool (MachineDeployment, machine template, bootstrap template like the "
                           "cluster's pools)", request=AddPoolSerializer,
                   responses={202: ProvisionAcceptedSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        pc = provisioned_for(request, pk)
        portal_access.require(request.user, "operate", pc)
        data = _valid(AddPoolSerializer, request.data)
        op = lifecycle.request_add_pool(pc, name=data["name"], replicas=data["replicas"],
                                        machine_size=data["machine_size"], actor=request.user,
                                        request=request._request)
        return accepted(op)


class PoolDetailView(APIView):
    """Scale, resize or delete one node pool."""

    @extend_schema(summary="Scale a pool ({replicas}: Cluster API drains machines before deleting them) or change "
                           "its machine size ({machine_size}: rolls the pool onto a new machine template)",
                   parameters=[POOL_PATH], request=PatchPoolSerializer,
                   responses={202: ProvisionAcceptedSerializer, **ERRORS})
    def patch(self, request: Request, pk: int, pool: str) -> Response:
        pc = provisioned_for(request, pk)
        portal_access.require(request.user, "operate", pc)
        data = _valid(PatchPoolSerializer, request.data)
        if "replicas" in data:
            op = lifecycle.request_scale(pc, pool=pool, replicas=data["replicas"], actor=request.user,
                                         request=request._request)
        else:
            op = lifecycle.request_resize(pc, pool=pool, machine_size=data["machine_size"], actor=request.user,
                                          request=request._request)
        return accepted(op)

    @extend_schema(summary="Delete a node pool (not the last one); its machines are drained and deleted",
                   parameters=[POOL_PATH], request=None, responses={202: ProvisionAcceptedSerializer, **ERRORS})
    def delete(self, request: Request, pk: int, pool: str) -> Response:
        pc = provisioned_for(request, pk)
        portal_access.require(request.user, "operate", pc)
        op = lifecycle.request_delete_pool(pc, pool=pool, actor=request.user, request=request._request)
        return accepted(op)


class UpgradeView(APIView):
    @extend_schema(summary="Upgrade Kubernetes: the control plane first, then each pool (one minor version at a "
                           "time)", request=UpgradeSerializer, responses={202: ProvisionAcceptedSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        pc = provisioned_for(request, pk)
        portal_access.require(request.user, "operate", pc)
        data = _valid(UpgradeSerializer, request.data)
        op = lifecycle.request_upgrade(pc, version=data["version"], actor=request.user, request=request._request)
        return accepted(op)


class OperationListView(GenericAPIView[ProvisioningOperation]):
    """The operations of one provisioned cluster (create, pools, upgrades, delete), newest first."""

    queryset = ProvisioningOperation.objects.none()
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"created": ("created", "id")}
    default_ordering = "-created"
    serializer_class = ProvisioningOperationSerializer

    def get_queryset(self) -> QuerySet[ProvisioningOperation]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no cluster to look up
            return ProvisioningOperation.objects.none()
        pc = provisioned_for(self.request, self.kwargs.get("pk"))
        return (portal_access.access_for(ProvisioningOperation).visible(self.request.user)
                .filter(provisioned=pc).select_related("created_by"))

    @extend_schema(summary="Operations of a provisioned cluster, newest first (keyset pages)",
                   responses={200: ProvisioningOperationSerializer(many=True), 404: ERRORS[404]})
    def get(self, request: Request, pk: int) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response([operation_row(op) for op in page])


class DeleteProvisionedMixin:
    """``destroy`` for the provisioned clusters' viewset (``DELETE /clusters/<id>/``): type the
    name to confirm; 409 ``service_maps_live`` while service maps live on the registered
    cluster, unless ``force`` (admins only). 202: the Cluster object is deleted and followed in
    a task; the row stays, ``deleted``."""

    request: Any
    kwargs: Any

    @extend_schema(summary="Delete a provisioned cluster (type-to-confirm; the portal row is kept as deleted)",
                   request=DeleteSerializer,
                   parameters=[OpenApiParameter("confirm", OpenApiTypes.STR, description="The cluster's name (when "
                                                "the client cannot send a body with DELETE)"),
                               OpenApiParameter("force", OpenApiTypes.BOOL, description="Admins: delete although "
                                                "service maps live there")],
                   responses={202: ProvisionAcceptedSerializer, **ERRORS})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pc = provisioned_for(request, kwargs.get("pk", self.kwargs.get("pk")))
        portal_access.require(request.user, "delete", pc)
        body = request.data if isinstance(request.data, dict) and request.data else {
            k: v for k, v in (("confirm", request.query_params.get("confirm")),
                              ("force", request.query_params.get("force", "").lower() in TRUE or None)) if v}
        data = _valid(DeleteSerializer, body if body else {"confirm": ""})
        op = lifecycle.request_delete(pc, confirm=data["confirm"], force=bool(data.get("force")), actor=request.user,
                                      request=request._request)
        return accepted(op)
