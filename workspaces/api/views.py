"""Views of the workspaces API (docs/workspaces-api.md).

Scoping and permissions live in :mod:`workspaces.access`, asked through
:class:`portal.api.viewsets.AccessMixin`: querysets start from the access class's visible
objects, :class:`WorkspaceScopedMixin` resolves ``workspace_id`` through
:class:`~workspaces.access.WorkspaceAccess` (404 for anyone who may not see it), and every nested
queryset starts from that workspace. Writes ask ``self.require(action, obj)`` and call
:mod:`workspaces.actions`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from clusters.api.pagination import KeysetPagination
from portal import access as portal_access
from portal import yamlsafe
from portal.api.params import id_param
from portal.api.permissions import IsSystemAdmin, ReadsAllClusters
from portal.api.viewsets import AccessMixin
from workspaces import access, actions, services
from workspaces.api import serializers as s
from workspaces.models import (
    ClusterAllocation,
    Grant,
    Membership,
    RegistryAllocation,
    Role,
    ServiceMap,
    Workspace,
)
from workspaces.shapes import manifest_shape_errors

# Service map lists: by namespace (the default), cluster name, apply status or age; every ordering
# ends in the id, so keyset pages never skip or repeat a row among equal values.
SERVICE_MAP_ORDERINGS: dict[str, tuple[str, ...]] = {
    "namespace": ("namespace", "id"),
    "cluster": ("cluster_name", "namespace", "id"),
    "status": ("status", "namespace", "id"),
    "created": ("created", "id"),
}
WORKSPACE_ID = OpenApiParameter("workspace_id", OpenApiTypes.INT, OpenApiParameter.PATH)
ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field"),
    403: OpenApiResponse(description="Your role lacks the grant"),
    404: OpenApiResponse(description="No such object (or not visible to you)"),
    409: OpenApiResponse(description="Conflicts with the current state; `detail` says how"),
}


# ---------------------------------------------------------------------------- roles


@extend_schema_view(list=extend_schema(responses=s.RoleSerializer(many=True)))
class RoleViewSet(AccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet[Role]):
    """Workspace roles: built-in (seeded by migration and after every flush, see
    :mod:`workspaces.apps`) and custom sets of grants."""

    queryset = Role.objects.none()
    access_model = Role
    serializer_class = s.RoleSerializer
    pagination_class = None
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def get_permissions(self) -> list[BasePermission]:
        if self.action in ("list", "grants"):
            return [IsAuthenticated()]
        return [IsSystemAdmin()]

    @extend_schema(responses=s.GrantSerializer(many=True))
    @action(detail=False, methods=["get"])
    def grants(self, request: Request) -> Response:
        return Response([{"key": g.value, "description": str(g.label)} for g in Grant])

    @extend_schema(request=s.RoleWriteSerializer, responses={201: s.RoleSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        data = s.RoleWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = actions.create_role(data=dict(data.validated_data), request=request._request)
        return Response(s.RoleSerializer(role).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.RoleWriteSerializer, responses={200: s.RoleSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        data = s.RoleWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        role = actions.update_role(role=self.get_object(), data=dict(data.validated_data), request=request._request)
        return Response(s.RoleSerializer(role).data)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_role(role=self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------- workspaces


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("q", OpenApiTypes.STR, description="name contains")]),
)
class WorkspaceViewSet(AccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet[Workspace]):
    """Workspaces the caller may see; admins create, change and delete them."""

    queryset = Workspace.objects.none()
    access_model = Workspace
    serializer_class = s.WorkspaceSerializer
    pagination_class = KeysetPagination
    lookup_value_regex = "[0-9]+"
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "id"), "created": ("created", "id")}
    default_ordering = "name"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def get_permissions(self) -> list[BasePermission]:
        # Changing and deleting check the admin role after the lookup, so a workspace the caller
        # cannot see answers 404 like every other foreign object.
        if self.action in ("list", "retrieve", "partial_update", "destroy"):
            return [IsAuthenticated()]
        if self.action == "quota_overview":
            return [ReadsAllClusters()]
        return [IsSystemAdmin()]

    def scope_queryset(self, queryset: QuerySet[Workspace]) -> QuerySet[Workspace]:
        text = self.request.query_params.get("q")
        if text:
            queryset = queryset.filter(name__icontains=text) | queryset.filter(display_name__icontains=text)
        return queryset

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response(s.workspace_rows(list(page), request.user))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(s.workspace_rows([self.get_object()], request.user)[0])

    @extend_schema(request=s.WorkspaceCreateSerializer, responses={201: s.WorkspaceSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        data = s.WorkspaceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = actions.create_workspace(data=dict(data.validated_data), actor=request.user,
                                             request=request._request)
        return Response(s.workspace_rows([workspace], request.user)[0], status=status.HTTP_201_CREATED)

    @extend_schema(request=s.WorkspaceUpdateSerializer, responses={200: s.WorkspaceSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        workspace = self.get_object()
        self.require("change", workspace)
        data = s.WorkspaceUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        workspace = actions.update_workspace(workspace=workspace, data=dict(data.validated_data),
                                             request=request._request)
        return Response(s.workspace_rows([workspace], request.user)[0])

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        workspace = self.get_object()
        self.require("delete", workspace)
        actions.delete_workspace(workspace=workspace, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.QuotaOverviewSerializer(many=True), summary="Quota use of every workspace per cluster")
    @action(detail=False, methods=["get"], url_path="quota-overview", pagination_class=None)
    def quota_overview(self, request: Request) -> Response:
        allocations = list(portal_access.visible(request.user, ClusterAllocation).select_related("workspace", "cluster")
                           .order_by("cluster__name", "workspace__name"))
        rows = s.allocation_rows(allocations)
        out = [{"workspace": s.WorkspaceRefSerializer(a.workspace).data, "cluster": row["cluster"],
                "quota": row["quota"], "shared": row["shared"], "used": row["used"], "status": row["status"]}
               for a, row in zip(allocations, rows, strict=True)]
        return Response(out)


class WorkspaceScopedMixin(AccessMixin):
    """Resolves ``workspace_id`` through :class:`~workspaces.access.WorkspaceAccess` (404
    otherwise); the nested queryset is the model's visible objects in that workspace."""

    kwargs: dict[str, Any]

    @cached_property
    def workspace(self) -> Workspace:
        return get_object_or_404(access.visible_workspaces(self.request.user), pk=self.kwargs["workspace_id"])

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return self.in_workspace(queryset.filter(workspace=self.workspace))

    def in_workspace(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Narrow further (ordering, joins, filters)."""
        return queryset


# ---------------------------------------------------------------------------- members


@extend_schema_view(list=extend_schema(parameters=[WORKSPACE_ID]))
class MemberViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet[Membership]):
    queryset = Membership.objects.none()
    serializer_class = s.MemberSerializer
    # Newest first by default, as the list always came (DRF's cursor on -pk); sortable by user and role.
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"created": ("created", "id"),
                                                       "username": ("username", "id"),
                                                       "role": ("role_key", "username", "id")}
    default_ordering = "-created"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def in_workspace(self, queryset: QuerySet[Membership]) -> QuerySet[Membership]:
        return queryset.select_related("user", "role").annotate(username=F("user__username"),
                                                                 role_key=F("role__key"))

    @extend_schema(parameters=[WORKSPACE_ID, OpenApiParameter("q", OpenApiTypes.STR)],
                   responses=s.MemberUserSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def candidates(self, request: Request, workspace_id: str) -> Response:
        self.require("manage_members", self.workspace)
        users = get_user_model().objects.filter(is_active=True).exclude(memberships__workspace=self.workspace)
        text = request.query_params.get("q", "").strip()
        if text:
            users = users.filter(actions.visible_user_filter(text))
        return Response([s._user_ref(u) for u in users.order_by("username")[:20]])

    @extend_schema(parameters=[WORKSPACE_ID], request=s.MemberCreateSerializer, responses={201: s.MemberSerializer,
                   **ERRORS})
    def create(self, request: Request, workspace_id: str) -> Response:
        self.require("manage_members", self.workspace)
        data = s.MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = actions.add_member(workspace=self.workspace, username=data.validated_data["user"],
                                    role_key=data.validated_data["role"], request=request._request)
        return Response(s.MemberSerializer(member).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[WORKSPACE_ID], request=s.MemberUpdateSerializer, responses={200: s.MemberSerializer,
                   **ERRORS})
    def partial_update(self, request: Request, workspace_id: str, pk: str) -> Response:
        member = self.get_object()
        self.require("change", member)
        data = s.MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = actions.change_member(membership=member, role_key=data.validated_data["role"], actor=request.user,
                                       request=request._request)
        return Response(s.MemberSerializer(member).data)

    @extend_schema(parameters=[WORKSPACE_ID], responses={204: None, **ERRORS})
    def destroy(self, request: Request, workspace_id: str, pk: str) -> Response:
        member = self.get_object()
        self.require("delete", member)
        actions.remove_member(membership=member, actor=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------- allocations


@extend_schema_view(list=extend_schema(parameters=[WORKSPACE_ID], responses=s.AllocationSerializer(many=True)),
                    retrieve=extend_schema(parameters=[WORKSPACE_ID], responses=s.AllocationSerializer))
class AllocationViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet[ClusterAllocation]):
    queryset = ClusterAllocation.objects.none()
    serializer_class = s.AllocationSerializer
    pagination_class = None
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def in_workspace(self, queryset: QuerySet[ClusterAllocation]) -> QuerySet[ClusterAllocation]:
        return queryset.select_related("cluster").order_by("cluster__name")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(s.allocation_rows(list(self.get_queryset())))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(s.allocation_rows([self.get_object()])[0])

    @extend_schema(parameters=[WORKSPACE_ID], request=s.AllocationCreateSerializer,
                   responses={201: s.AllocationSerializer, **ERRORS})
    def create(self, request: Request, workspace_id: str) -> Response:
        workspace = self.workspace
        self.require("allocate", workspace)
        data = s.AllocationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        allocation = actions.create_allocation(workspace=workspace, data=dict(data.validated_data),
                                               request=request._request)
        return Response(s.allocation_rows([allocation])[0], status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[WORKSPACE_ID], request=s.AllocationUpdateSerializer,
                   responses={200: s.AllocationSerializer, **ERRORS})
    def partial_update(self, request: Request, workspace_id: str, pk: str) -> Response:
        allocation = self.get_object()
        self.require("change", allocation)
        data = s.AllocationUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        allocation, warnings = actions.update_allocation(allocation=allocation, data=dict(data.validated_data),
                                                         request=request._request)
        return Response(s.allocation_rows([allocation], warnings)[0])

    @extend_schema(parameters=[WORKSPACE_ID], responses={204: None, **ERRORS})
    def destroy(self, request: Request, workspace_id: str, pk: str) -> Response:
        allocation = self.get_object()
        self.require("delete", allocation)
        actions.delete_allocation(allocation=allocation, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(list=extend_schema(parameters=[WORKSPACE_ID], responses=s.RegistrySerializer(many=True)))
class RegistryViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet[RegistryAllocation]):
    queryset = RegistryAllocation.objects.none()
    serializer_class = s.RegistrySerializer
    pagination_class = None
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "delete", "head", "options"]  # type: ignore[misc]

    @extend_schema(parameters=[WORKSPACE_ID], request=s.RegistryCreateSerializer,
                   responses={201: s.RegistrySerializer, **ERRORS})
    def create(self, request: Request, workspace_id: str) -> Response:
        workspace = self.workspace
        self.require("allocate", workspace)
        data = s.RegistryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registry = actions.add_registry(workspace=workspace, data=dict(data.validated_data), request=request._request)
        return Response(s.RegistrySerializer(registry).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[WORKSPACE_ID], responses={204: None, **ERRORS})
    def destroy(self, request: Request, workspace_id: str, pk: str) -> Response:
        registry = self.get_object()
        self.require("delete", registry)
        actions.remove_registry(allocation=registry, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------- service maps


CLUSTER_FILTER = OpenApiParameter("cluster", OpenApiTypes.INT, description="only this cluster")




@extend_schema_view(list=extend_schema(operation_id="servicemaps_all_list", parameters=[
    CLUSTER_FILTER, OpenApiParameter("workspace", OpenApiTypes.INT), OpenApiParameter("q", OpenApiTypes.STR)]))
class AllServiceMapsViewSet(AccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet[ServiceMap]):
    """Every service map the caller may see, across workspaces."""

    queryset = ServiceMap.objects.none()
    access_model = ServiceMap
    serializer_class = s.ServiceMapSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = SERVICE_MAP_ORDERINGS
    default_ordering = "namespace"

    def scope_queryset(self, queryset: QuerySet[ServiceMap]) -> QuerySet[ServiceMap]:
        queryset = queryset.select_related("workspace", "cluster").annotate(cluster_name=F("cluster__name"))
        for name in ("cluster", "workspace"):
            value = id_param(self.request, name)
            if value is not None:
                queryset = queryset.filter(**{f"{name}_id": value})
        text = self.request.query_params.get("q")
        if text:
            queryset = queryset.filter(namespace__icontains=text) | queryset.filter(display_name__icontains=text)
        return queryset.distinct()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response(s.service_map_rows(list(page)))


@extend_schema_view(
    list=extend_schema(parameters=[WORKSPACE_ID, CLUSTER_FILTER]),
    retrieve=extend_schema(parameters=[WORKSPACE_ID]),
)
class ServiceMapViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet[ServiceMap]):
    queryset = ServiceMap.objects.none()
    serializer_class = s.ServiceMapSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = SERVICE_MAP_ORDERINGS
    default_ordering = "namespace"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def in_workspace(self, queryset: QuerySet[ServiceMap]) -> QuerySet[ServiceMap]:
        queryset = queryset.select_related("workspace", "cluster").annotate(cluster_name=F("cluster__name"))
        cluster = id_param(self.request, "cluster")
        return queryset.filter(cluster_id=cluster) if cluster is not None else queryset

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response(s.service_map_rows(list(page)))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(s.service_map_rows([self.get_object()])[0])

    @extend_schema(parameters=[WORKSPACE_ID], request=s.ServiceMapCreateSerializer,
                   responses={201: s.ServiceMapSerializer, **ERRORS})
    def create(self, request: Request, workspace_id: str) -> Response:
        self.require("manage_service_maps", self.workspace)
        data = s.ServiceMapCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sm = actions.create_service_map(workspace=self.workspace, data=dict(data.validated_data), actor=request.user,
                                        request=request._request)
        return Response(s.service_map_rows([sm])[0], status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[WORKSPACE_ID], request=s.ServiceMapUpdateSerializer,
                   responses={200: s.ServiceMapSerializer, **ERRORS})
    def partial_update(self, request: Request, workspace_id: str, pk: str) -> Response:
        sm = self.get_object()
        self.require("manage", sm)
        data = s.ServiceMapUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sm, warnings = actions.update_service_map(sm=sm, data=dict(data.validated_data), request=request._request)
        return Response(s.service_map_rows([sm], warnings)[0])

    @extend_schema(parameters=[WORKSPACE_ID], responses={202: s.ServiceMapSerializer, **ERRORS})
    def destroy(self, request: Request, workspace_id: str, pk: str) -> Response:
        sm = self.get_object()
        self.require("manage", sm)
        sm = actions.delete_service_map(sm=sm, request=request._request)
        return Response(s.service_map_rows([sm])[0], status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[WORKSPACE_ID], request=s.PreflightSerializer,
                   responses={200: s.PreflightResultSerializer, **ERRORS},
                   summary="Would these manifests fit in the service map's remaining quota?")
    @action(detail=True, methods=["post"], pagination_class=None)
    def preflight(self, request: Request, workspace_id: str, pk: str) -> Response:
        sm = self.get_object()
        data = s.PreflightSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        manifests = _manifests(data.validated_data)
        return Response(services.preflight(sm, manifests))


MAX_MANIFESTS = 500


def _manifests(data: dict[str, Any]) -> list[dict[str, Any]]:
    if "manifests" in data and "yaml" in data:
        raise exceptions.ValidationError({"yaml": ["Give manifests or yaml, not both."]})
    if "yaml" in data:
        try:
            documents = [d for d in yamlsafe.load_all(data["yaml"], what="The YAML") if d is not None]
        except yamlsafe.YamlError as exc:
            raise exceptions.ValidationError({"yaml": [exc.message]}) from exc
    else:
        documents = list(data.get("manifests") or [])
    if not documents:
        raise exceptions.ValidationError({"manifests": ["Give at least one manifest."]})
    if len(documents) > MAX_MANIFESTS:
        raise exceptions.ValidationError({"manifests": [f"At most {MAX_MANIFESTS} objects at once."]})
    out = []
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict) or not doc.get("kind"):
            raise exceptions.ValidationError({f"manifests.{index}": ["Each manifest must be an object with a kind."]})
        problems = manifest_shape_errors(doc)  # wrongly typed fields: refused as the API server would
        if problems:
            raise exceptions.ValidationError({f"manifests.{index}": problems[:10]})
        out.append(doc)
    return out
