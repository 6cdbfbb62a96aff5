"""Views of build definitions and language presets (docs/builds.md, "Definitions").

Scoped once: definitions of workspaces the caller may see (:class:`builds.access.BuildDefinitionAccess`),
so a foreign id answers 404. Creating, changing, deleting, running and rotating the webhook secret
need ``builds.run`` in the definition's workspace (403 ``grant_missing``), asked of the access class
before a body is read where the object is in the URL. The writes and every check of the input are
:mod:`builds.actions`; this module shapes rows (:func:`definition_rows`, a fixed number of queries
per page) and never returns a secret except the webhook secret in the one answer that made it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import OuterRef, QuerySet, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import access, actions, presets, rows
from builds.models import BuildDefinition, Builder, BuildRun, ImageFormat, Preset, RunStatus, TagScheme
from clusters.models import DNS1123_LABEL
from portal import errors
from portal.api.pagination import KeysetPagination
from portal.api.params import id_param
from portal.api.serializers import StrictCharField, StrictSerializer
from portal.api.viewsets import AccessMixin
from portal.limits import DESCRIPTION_MAX_LENGTH
from workspaces import access as ws_access

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field and `code` says what is wrong"),
    403: OpenApiResponse(description="Your role lacks builds.run (or workloads.deploy for a deploy step)"),
    404: OpenApiResponse(description="No such definition (or not visible to you)"),
    409: OpenApiResponse(description="Conflicts with the current state (a run in progress, no webhook)"),
}


# ---------------------------------------------------------------------------- shapes


class DefinitionRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()


class DefinitionRegistryRefSerializer(DefinitionRefSerializer):
    host = StrictCharField()


class DefinitionServiceMapRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    namespace = StrictCharField()


class DefinitionReleaseRefSerializer(DefinitionRefSerializer):
    service_map_id = serializers.IntegerField()


class RunRowSerializer(serializers.Serializer[Any]):
    """RUN_ROW (:func:`builds.rows.run_row`)."""

    id = serializers.IntegerField()
    definition = DefinitionRefSerializer()
    workspace = DefinitionRefSerializer()
    number = serializers.IntegerField()
    status = StrictCharField()
    trigger = StrictCharField()
    git_ref = StrictCharField()
    git_commit = StrictCharField()
    image_repository = StrictCharField()
    image_tag = StrictCharField()
    image_digest = StrictCharField()
    image_size = serializers.IntegerField(allow_null=True)
    steps_done = serializers.IntegerField()
    steps_total = serializers.IntegerField()
    failed_step = serializers.IntegerField(allow_null=True)
    message = StrictCharField()
    message_code = StrictCharField()
    message_params = serializers.DictField()
    requested_username = StrictCharField()
    created = serializers.DateTimeField()
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)
    deployed_release = DefinitionRefSerializer(allow_null=True)
    deployed_revision = serializers.IntegerField(allow_null=True)


class DefinitionPermissionsSerializer(serializers.Serializer[Any]):
    change = serializers.BooleanField()
    run = serializers.BooleanField()


class DefinitionSerializer(serializers.Serializer[Any]):
    """A definition as the API shows it: secrets only as ``has_git_password``; the webhook secret
    never (``webhook_secret`` appears once, in the answer that made it)."""

    id = serializers.IntegerField()
    workspace = DefinitionRefSerializer()
    name = StrictCharField()
    description = StrictCharField()
    git_url = StrictCharField()
    git_ref = StrictCharField()
    git_username = StrictCharField()
    has_git_password = serializers.BooleanField()
    context_dir = StrictCharField()
    dockerfile_path = StrictCharField()
    preset = serializers.ChoiceField(choices=Preset.choices)
    build_args = serializers.DictField(child=StrictCharField())
    registry = DefinitionRegistryRefSerializer()
    repository = StrictCharField()
    image = StrictCharField(help_text="<registry host>/<repository>")
    tag_scheme = serializers.ChoiceField(choices=TagScheme.choices)
    version = StrictCharField()
    next_build_number = serializers.IntegerField()
    cluster = DefinitionRefSerializer()
    service_map = DefinitionServiceMapRefSerializer()
    builder = serializers.ChoiceField(choices=Builder.choices)
    resources = serializers.DictField(child=serializers.DictField(child=StrictCharField()))
    cache_size = StrictCharField()
    timeout_seconds = serializers.IntegerField()
    keep_runs = serializers.IntegerField()
    scan = serializers.BooleanField()
    deploy_release = DefinitionReleaseRefSerializer(allow_null=True)
    deploy_image_path = StrictCharField()
    deploy_image_format = serializers.ChoiceField(choices=ImageFormat.choices)
    webhook_enabled = serializers.BooleanField()
    webhook_url = StrictCharField(help_text="where the git host posts pushes (signed with the webhook secret)")
    trigger_refs = serializers.ListField(child=StrictCharField())
    last_run = RunRowSerializer(allow_null=True)
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()
    permissions = DefinitionPermissionsSerializer()


class DefinitionCreatedSerializer(DefinitionSerializer):
    webhook_secret = StrictCharField(
        required=False, help_text="only in the answer that created the secret (creation with webhook_enabled, "
                                  "turning the webhook on); keep it, it is never shown again")


class WebhookSecretSerializer(serializers.Serializer[Any]):
    webhook_secret = StrictCharField()


class PresetSerializer(serializers.Serializer[Any]):
    key = StrictCharField(help_text="the definition's preset value: java-maven, java-gradle, nodejs, python, go")
    name = StrictCharField()
    dockerfile = StrictCharField()
    build_args = serializers.DictField(child=StrictCharField(), help_text="NAME -> default")


class ResourceValuesSerializer(StrictSerializer):
    cpu = StrictCharField(max_length=32, required=False)
    memory = StrictCharField(max_length=32, required=False)


class ResourcesSerializer(StrictSerializer):
    requests = ResourceValuesSerializer(required=False)
    limits = ResourceValuesSerializer(required=False)


class DefinitionWriteSerializer(StrictSerializer):
    """What a definition takes (PATCH: any subset). Strings are checked further by
    :mod:`builds.actions` (paths, names, addresses)."""

    name = StrictCharField(max_length=63, validators=[DNS1123_LABEL])
    description = StrictCharField(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False,
                                        default="")
    git_url = StrictCharField(max_length=500, help_text="http(s) address of the repository")
    git_ref = StrictCharField(max_length=255, required=False, default="main")
    git_username = StrictCharField(max_length=200, allow_blank=True, required=False, default="")
    git_password = StrictCharField(max_length=actions.GIT_SECRET_MAX, allow_blank=True, required=False,
                                         write_only=True, trim_whitespace=False,
                                         help_text="stored encrypted, never shown; \"\" removes it")
    context_dir = StrictCharField(max_length=255, allow_blank=True, required=False, default=".")
    dockerfile_path = StrictCharField(max_length=255, allow_blank=True, required=False, default="Dockerfile")
    preset = serializers.ChoiceField(choices=Preset.choices, allow_blank=True, required=False, default="")
    build_args = serializers.DictField(child=StrictCharField(max_length=actions.BUILD_ARG_VALUE_MAX,
                                                                   allow_blank=True, trim_whitespace=False),
                                       required=False,
                                       help_text="NAME -> value; a preset's defaults when not given")
    registry = serializers.IntegerField()
    repository = StrictCharField(max_length=255)
    tag_scheme = serializers.ChoiceField(choices=TagScheme.choices, required=False, default=TagScheme.VERSION_BUILD)
    version = StrictCharField(max_length=64, required=False, default="1.0")
    cluster = serializers.IntegerField()
    service_map = serializers.IntegerField()
    builder = serializers.ChoiceField(choices=Builder.choices, required=False, default=Builder.BUILDKIT)
    resources = ResourcesSerializer(required=False, default=dict)
    cache_size = StrictCharField(max_length=32, required=False, default="2Gi")
    timeout_seconds = serializers.IntegerField(min_value=60, max_value=86400, required=False, default=1800)
    keep_runs = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=20)
    scan = serializers.BooleanField(required=False, default=True)
    deploy_release = serializers.IntegerField(allow_null=True, required=False, default=None)
    deploy_image_path = StrictCharField(max_length=200, required=False, default="image")
    deploy_image_format = serializers.ChoiceField(choices=ImageFormat.choices, required=False,
                                                  default=ImageFormat.SPLIT)
    webhook_enabled = serializers.BooleanField(required=False, default=False)
    trigger_refs = serializers.ListField(child=StrictCharField(max_length=255), max_length=20, required=False,
                                         default=list)


class DefinitionCreateSerializer(DefinitionWriteSerializer):
    workspace = serializers.IntegerField()


class RunRequestSerializer(StrictSerializer):
    ref = StrictCharField(max_length=255, required=False, allow_blank=True, default="",
                                help_text="branch, tag or commit to build instead of the definition's git_ref")


# ---------------------------------------------------------------------------- rows


def _last_runs(definition_ids: list[int]) -> dict[int, BuildRun]:
    """The newest run of each definition, in a fixed number of queries (DISTINCT ON)."""
    if not definition_ids:
        return {}
    latest = (BuildRun.objects.filter(definition_id__in=definition_ids).order_by("definition_id", "-created", "-pk")
              .distinct("definition_id").values("pk"))
    found = (BuildRun.objects.filter(pk__in=latest).select_related(*rows.RUN_RELATED)
             .prefetch_related(rows.steps_prefetch()))
    return {run.definition_id: run for run in found}


def definition_rows(definitions: list[BuildDefinition], user: Any, request: Any = None) -> list[dict[str, Any]]:
    """Rows of ``definitions`` (loaded with :data:`RELATED`) as ``user`` sees them."""
    last = _last_runs([d.pk for d in definitions])
    may_run: dict[int, bool] = {}
    out = []
    for d in definitions:
        if d.workspace_id not in may_run:
            may_run[d.workspace_id] = access.may_run(user, d.workspace)
        release = d.deploy_release
        run = last.get(d.pk)
        out.append({
            "id": d.pk, "workspace": {"id": d.workspace_id, "name": d.workspace.name}, "name": d.name,
            "description": d.description, "git_url": d.git_url, "git_ref": d.git_ref, "git_username": d.git_username,
            "has_git_password": bool(d.git_password_encrypted), "context_dir": d.context_dir,
            "dockerfile_path": d.dockerfile_path, "preset": d.preset, "build_args": dict(d.build_args or {}),
            "registry": {"id": d.registry_id, "name": d.registry.name, "host": d.registry.host},
            "repository": d.repository, "image": f"{d.registry.host}/{d.repository}", "tag_scheme": d.tag_scheme,
            "version": d.version, "next_build_number": d.next_build_number,
            "cluster": {"id": d.cluster_id, "name": d.cluster.name},
            "service_map": {"id": d.service_map_id, "namespace": d.service_map.namespace},
            "builder": d.builder, "resources": dict(d.resources or {}), "cache_size": d.cache_size,
            "timeout_seconds": d.timeout_seconds, "keep_runs": d.keep_runs, "scan": d.scan,
            "deploy_release": ({"id": release.pk, "name": release.name, "service_map_id": release.service_map_id}
                               if release is not None else None),
            "deploy_image_path": d.deploy_image_path, "deploy_image_format": d.deploy_image_format,
            "webhook_enabled": d.webhook_enabled, "webhook_url": actions.webhook_url(d, request),
            "trigger_refs": list(d.trigger_refs or []),
            "last_run": rows.run_row(run) if run is not None else None,
            "created": rows.iso(d.created), "updated": rows.iso(d.updated),
            "permissions": {"change": may_run[d.workspace_id], "run": may_run[d.workspace_id]},
        })
    return out


RELATED = ("workspace", "registry", "cluster", "service_map", "deploy_release")


def _row(definition: BuildDefinition, request: Request) -> dict[str, Any]:
    fresh = BuildDefinition.objects.select_related(*RELATED).get(pk=definition.pk)
    return definition_rows([fresh], request.user, request)[0]


# ---------------------------------------------------------------------------- views


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("workspace", OpenApiTypes.INT, description="only this workspace's definitions"),
    OpenApiParameter("q", OpenApiTypes.STR, description="name contains"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=[*RunStatus.values, "never"],
                     description="only definitions whose newest run has this status (`never`: not run yet)")]))
class DefinitionViewSet(AccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet[BuildDefinition]):
    """Build definitions of the workspaces the caller sees (paginated, by name)."""

    queryset = BuildDefinition.objects.none()
    access_model = BuildDefinition
    serializer_class = DefinitionSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "id"), "updated": ("updated", "id")}
    default_ordering = "name"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def scope_queryset(self, queryset: QuerySet[BuildDefinition]) -> QuerySet[BuildDefinition]:
        workspace = id_param(self.request, "workspace")
        if workspace is not None:
            queryset = queryset.filter(workspace_id=workspace)
        text = self.request.query_params.get("q")
        if text:
            queryset = queryset.filter(name__icontains=text[:63])
        wanted = self.request.query_params.get("status")
        if wanted:
            choices = [*RunStatus.values, "never"]
            if wanted not in choices:
                raise errors.Invalid(f"Invalid input: status: Give one of: {', '.join(choices)}.",
                                     errors={"status": [f"status is one of: {', '.join(choices)}."]})
            newest = BuildRun.objects.filter(definition=OuterRef("pk")).order_by("-created", "-pk").values("status")[:1]
            queryset = queryset.annotate(last_status=Subquery(newest))
            queryset = (queryset.filter(last_status__isnull=True) if wanted == "never"
                        else queryset.filter(last_status=wanted))
        return queryset.select_related(*RELATED)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response(definition_rows(list(page), request.user, request))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(definition_rows([self.get_object()], request.user, request)[0])

    @extend_schema(request=DefinitionCreateSerializer, responses={201: DefinitionCreatedSerializer, **ERRORS},
                   summary="Create a build definition (builds.run in its workspace)")
    def create(self, request: Request) -> Response:
        data = DefinitionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        workspace = ws_access.visible_workspaces(request.user).filter(pk=values.pop("workspace")).first()
        if workspace is None:
            raise errors.Invalid("Invalid input: workspace: No workspace that you can see has this id.",
                                 code="invalid", errors={"workspace": ["No workspace that you can see has this id."]})
        access.require_run(request.user, workspace)
        definition, secret = actions.create_definition(workspace=workspace, data=values, user=request.user,
                                                       request=request._request)
        row = _row(definition, request)
        if secret:
            row["webhook_secret"] = secret
        return Response(row, status=status.HTTP_201_CREATED)

    @extend_schema(request=DefinitionWriteSerializer, responses={200: DefinitionCreatedSerializer, **ERRORS},
                   summary="Change a build definition (the fields given); webhook_secret only when this turned "
                           "the webhook on")
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        self.require("change", definition)
        data = DefinitionWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        definition, secret = actions.update_definition(definition=definition, data=dict(data.validated_data),
                                                       user=request.user, request=request._request)
        row = _row(definition, request)
        if secret:
            row["webhook_secret"] = secret
        return Response(row)

    @extend_schema(responses={204: None, **ERRORS}, summary="Delete a definition and its run history (409 while a "
                                                             "run is queued, running or cancelling)")
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        self.require("delete", definition)
        actions.delete_definition(definition=definition, user=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RunRequestSerializer, responses={202: RunRowSerializer, **ERRORS},
                   summary="Start a build now (queued; the runner takes it)")
    @action(detail=True, methods=["post"], pagination_class=None)
    def run(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        self.require("run", definition)
        data = RunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = actions.create_run(definition, trigger="manual", user=request.user, ref=data.validated_data["ref"],
                                 request=request._request)
        return Response(rows.run_row(run), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: WebhookSecretSerializer, **ERRORS},
                   summary="Rotate the webhook secret (the old one stops working); shown this once")
    @action(detail=True, methods=["post"], url_path="webhook-secret", pagination_class=None)
    def webhook_secret(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        self.require("change", definition)
        secret = actions.rotate_webhook_secret(definition, user=request.user, request=request._request)
        return Response({"webhook_secret": secret})


class PresetsView(APIView):
    """The language presets (a plain list: five entries)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(responses={200: PresetSerializer(many=True)}, summary="Dockerfile templates with their build "
                                                                         "arguments and defaults")
    def get(self, request: Request) -> Response:
        return Response([p.as_dict() for p in presets.PRESETS])
