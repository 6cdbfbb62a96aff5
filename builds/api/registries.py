"""Views of registries and their images, under /api/builds/registries/ (docs/registries.md).

Scoping happens in :mod:`builds.access` (through :class:`portal.api.viewsets.AccessMixin`): a
member sees the registries their workspaces hold allocations in and, inside, only the
repositories under those allocations' prefixes; anything else answers 404. Writes to registry
records are admins' (``RegistryAccess``); deleting a tag needs ``builds.run`` in a workspace that
owns the repository. The registry itself is read live through :mod:`builds.registry_ops`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from builds import access, registry_actions, registry_ops
from builds.models import ImageScan, Registry, RegistryKind
from portal import audit, errors, oci
from portal.api.serializers import StrictCharField, StrictSerializer
from portal.api.viewsets import AccessMixin
from portal.limits import DESCRIPTION_MAX_LENGTH
from workspaces.models import RegistryAllocation

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field"),
    403: OpenApiResponse(description="Only system admins manage registries"),
    404: OpenApiResponse(description="No such registry, allocation or repository (or not visible to you)"),
    409: OpenApiResponse(description="Conflicts with the current state (`registry_in_use`, `registry_builtin`, "
                                     "`registry_delete_unsupported`)"),
}
REGISTRY_ERRORS = {
    502: OpenApiResponse(description="The registry answered with an error (`registry_refused`, "
                                     "`registry_error`)"),
    503: OpenApiResponse(description="The registry cannot be reached (`registry_unavailable`)"),
}
REPOSITORY_LIMIT = 1000
HOST_HELP = ("host[:port] as image references name it (docker.io for Docker Hub), without a scheme or path. It must "
             "pass the address policy (no link-local, cloud-metadata, unspecified or multicast address; loopback and "
             "denied networks as configured): otherwise 400 on host.")


class RegistryWorkspaceRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()


class RegistryPrefixAllocationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    workspace = RegistryWorkspaceRefSerializer()
    prefix = StrictCharField(help_text="repository prefix in the registry; empty: the whole registry")


class ImageRegistrySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()
    kind = serializers.ChoiceField(choices=RegistryKind.choices)
    host = StrictCharField()
    plain_http = serializers.BooleanField()
    has_ca = serializers.BooleanField()
    username = StrictCharField()
    has_password = serializers.BooleanField()
    builtin = serializers.BooleanField()
    allow_delete = serializers.BooleanField()
    description = StrictCharField()
    status = StrictCharField()
    message = StrictCharField()
    message_code = StrictCharField()
    message_params = serializers.DictField()
    checked = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()
    prefixes = serializers.ListField(child=StrictCharField(), allow_null=True,
                                     help_text="the repository prefixes you see; null: every repository")
    allocations = RegistryPrefixAllocationSerializer(many=True, help_text="only for those who see every registry; else empty")


class ImageRegistryCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=63)
    kind = serializers.ChoiceField(choices=RegistryKind.choices, required=False, default=RegistryKind.GENERIC,
                                   help_text="builtin is the portal's own (manage.py builtin_registry): refused here")
    host = StrictCharField(max_length=255, help_text=HOST_HELP)
    plain_http = serializers.BooleanField(required=False, default=False)
    ca_pem = StrictCharField(max_length=50_000, allow_blank=True, required=False, default="")
    username = StrictCharField(max_length=200, allow_blank=True, required=False, default="")
    password = StrictCharField(max_length=1000, allow_blank=True, required=False, default="",
                                     trim_whitespace=False, style={"input_type": "password"}, write_only=True)
    allow_delete = serializers.BooleanField(required=False, default=True)
    description = StrictCharField(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False,
                                        default="")


class ImageRegistryUpdateSerializer(StrictSerializer):
    name = StrictCharField(max_length=63, required=False)
    kind = serializers.ChoiceField(choices=RegistryKind.choices, required=False)
    host = StrictCharField(max_length=255, required=False, help_text=HOST_HELP)
    plain_http = serializers.BooleanField(required=False)
    ca_pem = StrictCharField(max_length=50_000, allow_blank=True, required=False)
    username = StrictCharField(max_length=200, allow_blank=True, required=False)
    password = StrictCharField(max_length=1000, allow_blank=True, required=False, trim_whitespace=False,
                                     style={"input_type": "password"}, write_only=True,
                                     help_text="a new password rotates it: every pull secret made from it is renewed")
    allow_delete = serializers.BooleanField(required=False)
    description = StrictCharField(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False)


class RegistryPrefixAllocationCreateSerializer(StrictSerializer):
    workspace = serializers.IntegerField()
    prefix = StrictCharField(max_length=200, allow_blank=True, required=False, default="",
                                   help_text="repository prefix (team-a owns team-a and team-a/…); empty: all")


RepositoriesSerializer = inline_serializer("RegistryRepositories", fields={
    "results": inline_serializer("RegistryRepository", fields={"name": StrictCharField()}, many=True),
    "truncated": serializers.BooleanField(),
})
ScanSummarySerializer = inline_serializer("ImageScanSummary", fields={
    "counts": serializers.DictField(child=serializers.IntegerField()), "scanned": serializers.DateTimeField()},
    allow_null=True)
TagsSerializer = inline_serializer("RegistryTags", fields={
    "repository": StrictCharField(),
    "image": StrictCharField(help_text="host/repository, as image references write it"),
    "results": inline_serializer("RegistryTag", fields={
        "tag": StrictCharField(), "digest": StrictCharField(), "size": serializers.IntegerField(),
        "media_type": StrictCharField(), "platforms": inline_serializer("ImagePlatform", fields={
            "os": StrictCharField(), "architecture": StrictCharField(),
            "variant": StrictCharField()}, many=True),
        "created": serializers.DateTimeField(allow_null=True), "scan": ScanSummarySerializer}, many=True),
    "truncated": serializers.BooleanField(),
})


def _allocation_rows(registries: list[Registry]) -> dict[int, list[dict[str, Any]]]:
    """Every allocation inside each registry, in one query."""
    out: dict[int, list[dict[str, Any]]] = {r.pk: [] for r in registries}
    allocations = list(RegistryAllocation.objects.select_related("workspace").order_by("registry", "pk"))
    for registry in registries:
        for allocation in allocations:
            prefix = access.allocation_prefix(allocation.registry, registry.host)
            if prefix is not None:
                out[registry.pk].append(_allocation_row(allocation, prefix))
    return out


def _allocation_row(allocation: RegistryAllocation, prefix: str) -> dict[str, Any]:
    return {"id": allocation.pk, "workspace": {"id": allocation.workspace_id, "name": allocation.workspace.name},
            "prefix": prefix}


def registry_rows(user: Any, registries: list[Registry]) -> list[dict[str, Any]]:
    prefixes = access.prefixes_by_registry(user, registries)
    allocations = _allocation_rows(registries) if access.sees_allocations(user) else {}
    return [{
        "id": r.pk, "name": r.name, "kind": r.kind, "host": r.host, "plain_http": r.plain_http,
        "has_ca": bool(r.ca_pem.strip()), "username": r.username, "has_password": bool(r.password_encrypted),
        "builtin": r.builtin, "allow_delete": r.allow_delete, "description": r.description, "status": r.status,
        "message": r.message, "message_code": r.message_code, "message_params": r.message_params,
        "checked": r.checked, "created": r.created, "prefixes": prefixes[r.pk],
        "allocations": allocations.get(r.pk, []),
    } for r in registries]


def _repository(request: Request) -> str:
    repository = str(request.query_params.get("repository", "")).strip().strip("/")
    if not repository or len(repository) > 255 or not oci.NAME.match(repository):
        raise errors.Invalid("Invalid input: repository: Give the repository's name (lowercase letters, digits, "
                             "'.', '_', '-' and '/').", errors={"repository": ["Give a valid repository name."]})
    return repository


class RegistryViewSet(AccessMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Registry]):
    """Registries: the built-in one and external ones (admins manage them); members see those
    their workspaces hold allocations in."""

    queryset = Registry.objects.none()
    access_model = Registry
    serializer_class = ImageRegistrySerializer
    pagination_class = None
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def _row(self, registry: Registry) -> dict[str, Any]:
        registry.refresh_from_db()
        return registry_rows(self.request.user, [registry])[0]

    @extend_schema(responses={200: ImageRegistrySerializer(many=True)},
                   summary="Registries you see (a plain array: there are few)")
    def list(self, request: Request) -> Response:
        return Response(registry_rows(request.user, list(self.get_queryset())))

    @extend_schema(responses={200: ImageRegistrySerializer, **ERRORS})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(registry_rows(request.user, [self.get_object()])[0])

    @extend_schema(request=ImageRegistryCreateSerializer, responses={201: ImageRegistrySerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        self.require("create", Registry())
        data = ImageRegistryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registry = registry_actions.create_registry(data=dict(data.validated_data), actor=request.user,
                                                    request=request._request)
        return Response(self._row(registry), status=status.HTTP_201_CREATED)

    @extend_schema(request=ImageRegistryUpdateSerializer, responses={200: ImageRegistrySerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        registry = self.get_object()
        self.require("change", registry)
        data = ImageRegistryUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        registry = registry_actions.update_registry(registry=registry, data=dict(data.validated_data),
                                                    actor=request.user, request=request._request)
        return Response(self._row(registry))

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str) -> Response:
        registry = self.get_object()
        self.require("delete", registry)
        registry_actions.delete_registry(registry=registry, actor=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: ImageRegistrySerializer, **ERRORS}, summary="Check the registry again")
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str) -> Response:
        registry = self.get_object()
        self.require("change", registry)
        registry_actions.mark_checking(registry, request=request._request)
        return Response(self._row(registry), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RegistryPrefixAllocationCreateSerializer, responses={201: RegistryPrefixAllocationSerializer, **ERRORS},
                   summary="Allocate a repository prefix of the registry to a workspace")
    @action(detail=True, methods=["post"])
    def allocations(self, request: Request, pk: str) -> Response:
        registry = self.get_object()
        self.require("allocate", registry)
        data = RegistryPrefixAllocationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        allocation, prefix = registry_actions.allocate(registry=registry, data=dict(data.validated_data),
                                                       actor=request.user, request=request._request)
        return Response(_allocation_row(allocation, prefix), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None, **ERRORS}, summary="Remove a workspace's allocation")
    @action(detail=True, methods=["delete"], url_path=r"allocations/(?P<allocation_id>[0-9]+)")
    def remove_allocation(self, request: Request, pk: str, allocation_id: str) -> Response:
        registry = self.get_object()
        self.require("allocate", registry)
        registry_actions.unallocate(registry=registry, allocation_id=int(allocation_id), actor=request.user,
                                    request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[OpenApiParameter("search", OpenApiTypes.STR, description="name contains")],
        responses={200: RepositoriesSerializer, **ERRORS, **REGISTRY_ERRORS},
        summary="Repositories you see in the registry (your workspaces' prefixes)")
    @action(detail=True, methods=["get"])
    def repositories(self, request: Request, pk: str) -> Response:
        registry = self.get_object()
        names = registry_ops.repositories(registry, access.user_prefixes(request.user, registry))
        search = str(request.query_params.get("search", "")).strip().lower()[:255]
        if search:
            names = [n for n in names if search in n]
        return Response({"results": [{"name": n} for n in names[:REPOSITORY_LIMIT]],
                         "truncated": len(names) > REPOSITORY_LIMIT})

    @extend_schema(
        methods=["GET"],
        parameters=[OpenApiParameter("repository", OpenApiTypes.STR, required=True)],
        responses={200: TagsSerializer, **ERRORS, **REGISTRY_ERRORS},
        summary="Tags of a repository with digest, size, platforms, creation time and scan summary (newest first)")
    @extend_schema(
        methods=["DELETE"],
        parameters=[OpenApiParameter("repository", OpenApiTypes.STR, required=True),
                    OpenApiParameter("tag", OpenApiTypes.STR, required=True)],
        request=None, responses={204: None, **ERRORS, **REGISTRY_ERRORS},
        summary="Delete a tag (its manifest, by digest: every tag on the same digest goes too)")
    @action(detail=True, methods=["get", "delete"])
    def tags(self, request: Request, pk: str) -> Response:
        registry = self.get_object()
        if request.method == "DELETE":
            access.require_delete_tags_in(request.user, registry)
            repository = _repository(request)
            tag = str(request.query_params.get("tag", "")).strip()
            access.require_delete_tag(request.user, registry, repository)
            registry_ops.delete_tag(registry, repository, tag)
            audit.describe(request, action="builds.registry_tag_delete", target=registry,
                           detail={"repository": repository, "tag": tag})
            return Response(status=status.HTTP_204_NO_CONTENT)
        repository = _repository(request)
        access.require_repository(request.user, registry, repository)
        found, truncated = registry_ops.tags(registry, repository)
        scans = {s.digest: s for s in ImageScan.objects.filter(
            registry=registry, repository=repository, digest__in=[t.image.digest for t in found])}
        results = []
        for t in found:
            scan = scans.get(t.image.digest)
            results.append({
                "tag": t.tag, "digest": t.image.digest, "size": t.image.size, "media_type": t.image.media_type,
                "platforms": t.image.platforms, "created": t.image.created,
                "scan": {"counts": scan.counts, "scanned": scan.scanned} if scan else None})
        return Response({"repository": repository, "image": f"{registry.host}/{repository}", "results": results,
                         "truncated": truncated})
