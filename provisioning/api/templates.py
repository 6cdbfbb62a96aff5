"""/api/provisioning/templates/: versioned cluster templates (small Helm charts rendered into
Cluster API objects; docs/provisioning.md). Admins, operators and auditors read them; system
admins create them, add versions, archive and delete them. ``render`` shows what a template
makes of given parameters (nothing is applied)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Count, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clusters.models import LABEL_NAME
from portal import errors
from portal.api.params import FALSE, TRUE
from portal.api.viewsets import AccessMixin
from provisioning import actions, templates
from provisioning.api.serializers import (
    ClusterTemplateCreateSerializer,
    ClusterTemplateDetailSerializer,
    ClusterTemplateSerializer,
    ClusterTemplateUpdateSerializer,
    ClusterTemplateVersionSerializer,
    TemplateRenderRequestSerializer,
    TemplateRenderResultSerializer,
)
from provisioning.models import ClusterTemplate, InfraProvider

ERRORS = {
    400: OpenApiResponse(description="Invalid input (`template_invalid`, `template_render_failed`, "
                                     "`template_parameters_invalid` with `errors` per parameter)"),
    403: OpenApiResponse(description="Only system admins manage cluster templates"),
    404: OpenApiResponse(description="No such template (or not visible to you)"),
    409: OpenApiResponse(description="`template_in_use`, `template_builtin`"),
}


def check_name(value: str, field: str = "name") -> str:
    if not LABEL_NAME.match(value):
        message = "Use lower-case letters, digits and '-' (at most 63), starting and ending with a letter or digit."
        raise errors.Invalid(f"Invalid input: {field}: {message}", errors={field: [message]})
    return value


def template_row(t: ClusterTemplate) -> dict[str, Any]:
    count = getattr(t, "n_clusters", None)
    return {
        "id": t.pk, "name": t.name, "version": t.version, "provider": t.provider, "display_name": t.display_name,
        "description": t.description, "builtin": t.builtin, "archived": t.archived, "created": t.created,
        "clusters_count": count if count is not None else t.clusters.count(),
    }


def template_detail(t: ClusterTemplate) -> dict[str, Any]:
    files = dict(t.files)
    try:
        schema, defaults, form = templates.schema_of(files), templates.defaults_of(files), templates.form_of(files)
        sizes, versions = templates.machine_sizes(files), templates.kubernetes_versions(files)
    except templates.TemplateError:  # stored before checks existed: show the files, not a form
        schema, defaults, form, sizes, versions = {}, {}, [], [], []
    return {**template_row(t), "files": files, "schema": schema, "defaults": defaults, "form": form,
            "machine_sizes": sizes, "kubernetes_versions": versions}


class ClusterTemplateViewSet(AccessMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ClusterTemplate]):
    """Cluster templates, one row per version (newest first within a name)."""

    queryset = ClusterTemplate.objects.none()
    access_model = ClusterTemplate
    serializer_class = ClusterTemplateSerializer
    pagination_class = None
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def scope_queryset(self, queryset: QuerySet[ClusterTemplate]) -> QuerySet[ClusterTemplate]:
        return queryset.annotate(n_clusters=Count("clusters")).order_by("name", "-version")

    def _row(self, t: ClusterTemplate) -> dict[str, Any]:
        return template_row(self.get_queryset().get(pk=t.pk))

    @extend_schema(
        parameters=[OpenApiParameter("provider", OpenApiTypes.STR, enum=InfraProvider.values),
                    OpenApiParameter("archived", OpenApiTypes.BOOL,
                                     description="true: archived only; false: current only; absent: all")],
        responses={200: ClusterTemplateSerializer(many=True)}, summary="Cluster templates (a plain array)")
    def list(self, request: Request) -> Response:
        qs = self.get_queryset()
        provider = request.query_params.get("provider", "")
        if provider:
            if provider not in InfraProvider.values:
                raise errors.Invalid(f"Invalid input: provider: one of {', '.join(InfraProvider.values)}.",
                                     errors={"provider": [f"One of: {', '.join(InfraProvider.values)}."]})
            qs = qs.filter(provider=provider)
        archived = request.query_params.get("archived", "").lower()
        if archived:
            if archived not in TRUE + FALSE:
                raise errors.Invalid("Invalid input: archived: true or false.", errors={"archived": ["true or false."]})
            qs = qs.filter(archived=archived in TRUE)
        return Response([template_row(t) for t in qs])

    @extend_schema(responses={200: ClusterTemplateDetailSerializer, **ERRORS},
                   summary="A template version with its files, schema, defaults and the wizard's form")
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(template_detail(self.get_object()))

    @extend_schema(request=ClusterTemplateCreateSerializer, responses={201: ClusterTemplateDetailSerializer, **ERRORS},
                   summary="Create a template (version 1, or the next version of that name)")
    def create(self, request: Request) -> Response:
        self.require("manage", ClusterTemplate())
        data = ClusterTemplateCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check_name(data.validated_data["name"])
        t = actions.create_template(data=dict(data.validated_data), actor=request.user, request=request._request)
        return Response(template_detail(self.get_queryset().get(pk=t.pk)), status=status.HTTP_201_CREATED)

    @extend_schema(request=ClusterTemplateVersionSerializer, responses={201: ClusterTemplateDetailSerializer, **ERRORS},
                   summary="Add a version of the template (a change is always a new version)")
    @action(detail=True, methods=["post"])
    def versions(self, request: Request, pk: str) -> Response:
        t = self.get_object()
        self.require("manage", t)
        data = ClusterTemplateVersionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = actions.new_template_version(template=t, data=dict(data.validated_data), actor=request.user,
                                           request=request._request)
        return Response(template_detail(self.get_queryset().get(pk=new.pk)), status=status.HTTP_201_CREATED)

    @extend_schema(request=ClusterTemplateUpdateSerializer, responses={200: ClusterTemplateSerializer, **ERRORS},
                   summary="Change a version's display name or description, archive or unarchive it")
    def partial_update(self, request: Request, pk: str) -> Response:
        t = self.get_object()
        self.require("manage", t)
        data = ClusterTemplateUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        t = actions.update_template(template=t, changes=dict(data.validated_data), actor=request.user,
                                    request=request._request)
        return Response(self._row(t))

    @extend_schema(responses={204: None, **ERRORS},
                   summary="Delete a template version (refused for builtin ones and those clusters were made from)")
    def destroy(self, request: Request, pk: str) -> Response:
        t = self.get_object()
        self.require("manage", t)
        actions.delete_template(template=t, actor=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=TemplateRenderRequestSerializer, responses={200: TemplateRenderResultSerializer, **ERRORS},
                   summary="Render the template for a cluster name and parameters (nothing is applied)")
    @action(detail=True, methods=["post"])
    def render(self, request: Request, pk: str) -> Response:
        t = self.get_object()
        data = TemplateRenderRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name = check_name(data.validated_data["name"])
        try:
            objects = templates.render(t.files, template_name=t.name, template_version=t.version, name=name,
                                       namespace=templates.SAMPLE_NAMESPACE,
                                       parameters=data.validated_data["parameters"])
        except templates.TemplateError as exc:
            raise errors.Invalid(exc.message, code=exc.code, errors=exc.errors) from exc
        return Response({"objects": templates.summary(objects), "manifest": templates.manifest(objects)})
