"""Views of the catalog API: sources, packages and versions (docs/catalog-api.md). Releases and
rollouts have theirs in :mod:`catalog.api.release_views`.

Scoping happens once, in :mod:`catalog.access` (asked through
:class:`portal.api.viewsets.AccessMixin`): querysets start from the visible sources, so a foreign
workspace's source, package or version answers 404. Writes ask
``self.require("manage", source)`` after the lookup and call :mod:`catalog.actions`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.db.models import Count, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import access, actions, archives, helm, sources
from catalog.api import serializers as s
from catalog.models import CatalogSource, Package, PackageVersion, SourceKind
from clusters.api.pagination import KeysetPagination
from portal.api.params import id_param
from portal.api.viewsets import AccessMixin
from workspaces import access as ws_access

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field"),
    403: OpenApiResponse(description="Your role lacks the grant"),
    404: OpenApiResponse(description="No such object (or not visible to you)"),
    409: OpenApiResponse(description="Conflicts with the current state; `detail` says how"),
}
REPOSITORY_ERROR = {502: OpenApiResponse(description="The chart repository failed; `detail` says how")}




# ---------------------------------------------------------------------------- sources


@extend_schema_view(
    list=extend_schema(parameters=[
        OpenApiParameter("workspace", OpenApiTypes.STR, description="a workspace id, or `shared`"),
        OpenApiParameter("kind", OpenApiTypes.STR, enum=[k.value for k in SourceKind])]),
)
class SourceViewSet(AccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    viewsets.GenericViewSet[CatalogSource]):
    """Where packages come from: shared sources (admins) and workspace sources (``servicemaps.manage``)."""

    queryset = CatalogSource.objects.none()
    serializer_class = s.SourceSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "id")}
    default_ordering = "name"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def scope_queryset(self, queryset: QuerySet[CatalogSource]) -> QuerySet[CatalogSource]:
        queryset = queryset.select_related("workspace").annotate(package_count=Count("packages"))
        workspace = self.request.query_params.get("workspace")
        if workspace == "shared":
            queryset = queryset.filter(workspace__isnull=True)
        elif workspace:
            queryset = queryset.filter(workspace_id=id_param(self.request, "workspace") or 0)
        kind = self.request.query_params.get("kind")
        if kind:
            queryset = queryset.filter(kind=kind)
        return queryset

    def _row(self, source: CatalogSource) -> dict[str, Any]:
        fresh = self.get_queryset().filter(pk=source.pk).first() if self.action != "destroy" else None
        return dict(s.SourceSerializer(fresh or source).data)

    def _managed(self) -> CatalogSource:
        source = self.get_object()
        self.require("manage", source)
        return source

    @extend_schema(request=s.SourceCreateSerializer, responses={201: s.SourceSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        data = s.SourceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = None
        workspace_id = data.validated_data.get("workspace")
        if workspace_id is not None:
            workspace = ws_access.visible_workspaces(request.user).filter(pk=workspace_id).first()
            if workspace is None:
                raise exceptions.ValidationError({"workspace": ["No such workspace."]})
        self.require("manage", CatalogSource(workspace=workspace))  # the source it would be
        source = actions.create_source(data=dict(data.validated_data), workspace=workspace, actor=request.user,
                                       request=request._request)
        return Response(self._row(source), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SourceUpdateSerializer, responses={200: s.SourceSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        source = self._managed()
        data = s.SourceUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        source = actions.update_source(source=source, data=dict(data.validated_data), actor=request.user,
                                       request=request._request)
        return Response(self._row(source))

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str) -> Response:
        actions.delete_source(source=self._managed(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: s.SourceSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str) -> Response:
        source = actions.refresh_source(source=self._managed(), request=request._request)
        return Response(self._row(source), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={201: s.WebhookTokenSerializer, **ERRORS},
                   summary="A new webhook token (shown once; the previous one stops working)")
    @action(detail=True, methods=["post"], url_path="webhook-token")
    def webhook_token(self, request: Request, pk: str) -> Response:
        token = actions.new_webhook_token(source=self._managed(), request=request._request)
        url = request.build_absolute_uri(f"/api/catalog/hooks/{token}/")
        return Response({"token": token, "url": url}, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": s.ChartUploadSerializer},
                   responses={201: s.VersionSerializer, **ERRORS},
                   summary="Upload a chart archive (.tgz) to an upload source")
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def charts(self, request: Request, pk: str) -> Response:
        source = self._managed()
        upload = request.FILES.get("chart")
        if upload is None:
            raise exceptions.ValidationError({"chart": ["Attach the chart archive (.tgz) as the field chart."]})
        if upload.size is not None and upload.size > helm.MAX_ARCHIVE_BYTES:
            raise exceptions.ValidationError(
                {"chart": [f"The archive is {upload.size} bytes; at most {helm.MAX_ARCHIVE_BYTES} are accepted."]})
        version = actions.upload_chart(source=source, data=upload.read(), request=request._request)
        return Response(_version_row(version), status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------- webhooks


class HookView(APIView):
    """``POST /api/catalog/hooks/<token>/``: a repository announces a change. No session and no
    CSRF: the token is the credential (an unknown token is 404)."""

    authentication_classes: ClassVar[list[Any]] = []  # type: ignore[misc]
    permission_classes: ClassVar[list[Any]] = [AllowAny]  # type: ignore[misc]

    @extend_schema(request=None, responses={202: None, 404: ERRORS[404]}, operation_id="catalog_hooks_create")
    def post(self, request: Request, token: str) -> Response:
        actions.webhook(token=token, request=request._request)
        return Response({"detail": "A refresh is queued."}, status=status.HTTP_202_ACCEPTED)


# ---------------------------------------------------------------------------- packages


@extend_schema_view(
    list=extend_schema(parameters=[
        OpenApiParameter("q", OpenApiTypes.STR, description="name, description or keyword contains"),
        OpenApiParameter("source", OpenApiTypes.INT),
        OpenApiParameter("scope", OpenApiTypes.STR, enum=["shared", "mine"],
                         description="`shared`: shared sources only; `mine`: workspace sources only"),
        OpenApiParameter("workspace", OpenApiTypes.INT, description="that workspace's sources only")]),
    retrieve=extend_schema(responses=s.PackageDetailSerializer),
)
class PackageViewSet(AccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Package]):
    """Packages of the sources the caller may see."""

    queryset = Package.objects.none()
    serializer_class = s.PackageSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "id"), "updated": ("updated", "id")}
    default_ordering = "name"
    lookup_value_regex = "[0-9]+"

    def scope_queryset(self, queryset: QuerySet[Package]) -> QuerySet[Package]:
        queryset = queryset.select_related("source__workspace")
        text = self.request.query_params.get("q", "").strip()
        if text:
            queryset = queryset.filter(Q(name__icontains=text) | Q(description__icontains=text)
                                       | Q(keywords__icontains=text))
        source = id_param(self.request, "source")
        if source is not None:
            queryset = queryset.filter(source_id=source)
        scope = self.request.query_params.get("scope", "")
        if scope == "shared":
            queryset = queryset.filter(source__workspace__isnull=True)
        elif scope == "mine":
            queryset = queryset.filter(source__workspace__isnull=False)
        elif scope not in ("", "all"):
            raise exceptions.ValidationError({"scope": ["Give shared, mine or all."]})
        workspace = id_param(self.request, "workspace")
        if workspace is not None:
            queryset = queryset.filter(source__workspace_id=workspace)
        return queryset

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(s.PackageDetailSerializer(self.get_object()).data)


# ---------------------------------------------------------------------------- versions


def _version_row(version: PackageVersion) -> dict[str, Any]:
    version.form = helm.values_form(sources.chart_info(version))  # type: ignore[attr-defined]
    return dict(s.VersionSerializer(version).data)


_KUBE_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def kube_version_of(raw: str) -> str | None:
    """A cluster's reported version as Helm's ``kube_version`` (``v1.30.2``), or None."""
    match = _KUBE_VERSION.search(raw or "")
    return f"v{match[1]}.{match[2]}.{match[3] or 0}" if match else None


@extend_schema_view(retrieve=extend_schema(responses={200: s.VersionSerializer}))
class VersionViewSet(AccessMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[PackageVersion]):
    """A package version with its readme, values, schema and form; a GET never fetches the archive: a
    task does (``archive_status`` says where it stands)."""

    queryset = PackageVersion.objects.none()
    serializer_class = s.VersionSerializer
    lookup_value_regex = "[0-9]+"

    def scope_queryset(self, queryset: QuerySet[PackageVersion]) -> QuerySet[PackageVersion]:
        return queryset.select_related("package__source")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        version = self.get_object()
        archives.ensure_fetch(version)  # never fetched here: a task stores it, the row says so meanwhile
        return Response(_version_row(version))

    @extend_schema(request=s.RenderRequestSerializer, responses={200: s.RenderResultSerializer, **ERRORS,
                                                                 **REPOSITORY_ERROR},
                   summary="Render the chart for a service map (release name `preview`); nothing is applied")
    @action(detail=True, methods=["post"])
    def render(self, request: Request, pk: str) -> Response:
        version = self.get_object()
        data = s.RenderRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data["values"]
        if not isinstance(values, dict):
            raise exceptions.ValidationError({"values": ["Give the values as an object."]})
        sm = (ws_access.visible_service_maps(request.user).select_related("cluster", "workspace")
              .filter(pk=data.validated_data["service_map"]).first())
        if sm is None:
            raise exceptions.ValidationError({"service_map": ["No such service map."]})
        if not access.usable_in(version, sm.workspace_id):
            raise exceptions.ValidationError({"service_map": [
                "This package is in another workspace's catalog; it can be used in that workspace only."]})
        archive = sources.ensure_archive(version)
        try:
            objects = helm.render(archive, values, release="preview", namespace=sm.namespace,
                                  kube_version=kube_version_of(sm.cluster.kubernetes_version))
        except helm.ChartError as exc:
            raise exceptions.ValidationError(exc.errors) from exc
        rows = [{"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
                 "namespace": str(o["metadata"].get("namespace") or "")} for o in objects]
        return Response({"objects": rows, "manifest": helm.dump_manifest(objects)})
