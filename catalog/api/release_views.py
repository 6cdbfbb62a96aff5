"""Views of releases and rollouts (docs/catalog-api.md). Scoped once: releases and rollouts of
workspaces the caller may see (:func:`workspaces.access.visible_workspaces`); foreign ids 404.
Grants are checked by :mod:`catalog.releases` and :mod:`catalog.rollouts`, or here with
:func:`workspaces.access.require_grant` before a body is read. A plan and a drift check never ask
the cluster here: they answer 202 with a cluster intent (:mod:`catalog.planning`) whose result
arrives as an ``intent.updated`` event and at ``GET /api/catalog/intents/{id}/``."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from catalog import deploy, planning, releases, rollouts, rows, strategies
from catalog.api import release_serializers as s
from catalog.api.intent_serializers import IntentSerializer, accepted
from catalog.models import PackageVersion, Release, ReleaseStatus, Revision, Rollout
from clusters.api.pagination import KeysetPagination
from portal import errors
from portal.api.params import bool_param, id_param
from workspaces import access as ws_access
from workspaces.models import Grant, ServiceMap, Workspace

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field (values by path, objects by name)"),
    403: OpenApiResponse(description="Your role lacks the grant"),
    404: OpenApiResponse(description="No such object (or not visible to you)"),
    409: OpenApiResponse(description="Conflicts with the current state (a deploy in progress, a name taken)"),
}


def _invalid(field: str, message: str) -> errors.Invalid:
    """A 400 naming the field, worded as the API words every field error."""
    return errors.Invalid(f"Invalid input: {field}: {message}", errors={field: [message]})


def _service_map(user: Any, pk: Any) -> ServiceMap:
    sm = ws_access.visible_service_maps(user).select_related("workspace", "cluster").filter(pk=pk).first() \
        if isinstance(pk, int) else None
    if sm is None:
        raise _invalid("service_map", f"No service map {pk!r} that you can see.")
    return sm


REVEAL = OpenApiParameter("reveal", OpenApiTypes.BOOL, description=(
    "show Secret values in clear (grant secrets.reveal, else 403); without it every Secret value is "
    "`<redacted>`, or `<redacted: changed>` where it changes"))


def _reveal(request: Request, release: Release) -> bool:
    """``?reveal=true`` asks for Secret values in clear: only with ``secrets.reveal`` (403 otherwise)."""
    if not bool_param(request, "reveal"):  # a typo such as reveal=ture is a 400, not "redacted"
        return False
    ws_access.require_grant(request.user, release.service_map.workspace, Grant.SECRETS_REVEAL)
    return True


def _version(user: Any, pk: Any, sm: ServiceMap | None) -> PackageVersion:
    visible = ws_access.visible_workspaces(user).values("pk")
    version = (PackageVersion.objects.select_related("package__source")
               .filter(Q(package__source__workspace__isnull=True) | Q(package__source__workspace__in=visible))
               .filter(pk=pk).first()) if isinstance(pk, int) else None
    if version is None:
        raise _invalid("package_version", f"No package version {pk!r} that you can see.")
    owner = version.package.source.workspace_id
    if sm is not None and owner is not None and owner != sm.workspace_id:
        raise _invalid("package_version", "That package is in another workspace's catalog; deploy packages of this "
                       "workspace or shared ones.")
    return version


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("workspace", OpenApiTypes.INT), OpenApiParameter("service_map", OpenApiTypes.INT),
    OpenApiParameter("cluster", OpenApiTypes.INT), OpenApiParameter("q", OpenApiTypes.STR),
    OpenApiParameter("status", OpenApiTypes.STR, enum=list(ReleaseStatus.values))]))
class ReleaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Release]):
    queryset = Release.objects.none()
    serializer_class = s.ReleaseSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "id"), "updated": ("updated", "id"),
                                                       "status": ("status", "name", "id")}
    default_ordering = "name"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "delete", "head", "options"]  # type: ignore[misc]

    def get_queryset(self) -> QuerySet[Release]:
        queryset = Release.objects.filter(workspace__in=ws_access.visible_workspaces(self.request.user).values("pk"))
        params = self.request.query_params
        for name, field in (("workspace", "workspace_id"), ("service_map", "service_map_id"),
                            ("cluster", "service_map__cluster_id")):
            value = id_param(self.request, name)
            if value is not None:
                queryset = queryset.filter(**{field: value})
        if params.get("q"):
            queryset = queryset.filter(name__icontains=params["q"])
        if params.get("status"):
            if params["status"] not in ReleaseStatus.values:
                raise _invalid("status", f"Give one of: {', '.join(ReleaseStatus.values)}.")
            queryset = queryset.filter(status=params["status"])
        current = Revision.objects.filter(release=OuterRef("pk"), number=OuterRef("revision")).values("manifest")[:1]
        return rows.light_versions(queryset.select_related(
            "workspace", "service_map__cluster", "package_version__package", "created_by"),
        ).annotate(current_manifest=Subquery(current))

    def get_serializer_class(self) -> type[Any]:
        return s.ReleaseDetailSerializer if self.action == "retrieve" else s.ReleaseSerializer

    @extend_schema(request=s.ReleaseCreateSerializer, responses={202: s.ReleaseSerializer, **ERRORS},
                   summary="Install a package version into a service map (revision 1 is deployed by a task)")
    def create(self, request: Request) -> Response:
        data = s.ReleaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sm = _service_map(request.user, data.validated_data["service_map"])
        version = _version(request.user, data.validated_data["package_version"], sm)
        release = releases.create_release(sm=sm, name=data.validated_data["name"], version=version,
                                          values=data.validated_data["values"],
                                          strategy=data.validated_data["strategy"], user=request.user,
                                          request=request._request)
        return Response(s.release_row(release), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.ReleasePlanSerializer, responses={202: IntentSerializer, **ERRORS},
                   summary="Validate, render, preflight, dry-run and diff a deploy without applying anything; "
                           "the intent's result is the plan (PlanSerializer)")
    @action(detail=False, methods=["post"], pagination_class=None)
    def plan(self, request: Request) -> Response:
        data = s.ReleasePlanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sm = _service_map(request.user, data.validated_data["service_map"])
        version = _version(request.user, data.validated_data["package_version"], sm)
        return accepted(planning.request_plan(
            sm=sm, name=data.validated_data["name"], version=version, values=data.validated_data["values"],
            strategy=data.validated_data.get("strategy"), user=request.user, request=request._request))

    @extend_schema(request=s.ReleaseUpgradeSerializer, responses={202: s.ReleaseSerializer, **ERRORS})
    @action(detail=True, methods=["post"], pagination_class=None)
    def upgrade(self, request: Request, pk: str) -> Response:
        release = self.get_object()
        data = s.ReleaseUpgradeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = (_version(request.user, data.validated_data["package_version"], release.service_map)
                   if "package_version" in data.validated_data else None)
        release = releases.upgrade_release(release=release, version=version, values=data.validated_data.get("values"),
                                           strategy=data.validated_data.get("strategy"), user=request.user,
                                           request=request._request)
        return Response(s.release_row(release), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.ReleaseRollbackSerializer, responses={202: s.ReleaseSerializer, **ERRORS})
    @action(detail=True, methods=["post"], pagination_class=None)
    def rollback(self, request: Request, pk: str) -> Response:
        release = self.get_object()
        # the grant before the body
        ws_access.require_grant(request.user, release.service_map.workspace, Grant.WORKLOADS_ROLLBACK)
        data = s.ReleaseRollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        release = releases.rollback_release(release=release, to=data.validated_data["revision"], user=request.user,
                                            request=request._request)
        return Response(s.release_row(release), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.ReleaseSerializer, **ERRORS},
                   summary="Blue/green: switch the Services to the new color; canary: roll the new template out")
    @action(detail=True, methods=["post"], pagination_class=None)
    def promote(self, request: Request, pk: str) -> Response:
        release = releases.promote_release(release=self.get_object(), user=request.user, request=request._request)
        return Response(s.release_row(release), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.ReleaseSerializer, **ERRORS},
                   summary="Blue/green after promote: delete the old color")
    @action(detail=True, methods=["post"], pagination_class=None)
    def confirm(self, request: Request, pk: str) -> Response:
        release = releases.confirm_release(release=self.get_object(), user=request.user, request=request._request)
        return Response(s.release_row(release), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.ReleaseSerializer, **ERRORS},
                   summary="Back to the revision a blue/green or canary upgrade started from (instant rollback)")
    @action(detail=True, methods=["post"], pagination_class=None)
    def abort(self, request: Request, pk: str) -> Response:
        release = releases.abort_release(release=self.get_object(), user=request.user, request=request._request)
        return Response(s.release_row(release), status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: s.ReleasePodsSerializer, **ERRORS},
                   summary="The release's pods from the read model: old, new and canary")
    @action(detail=True, methods=["get"], pagination_class=None)
    def pods(self, request: Request, pk: str) -> Response:
        release = self.get_object()
        revision = Revision.objects.filter(release=release, number=release.revision).first()
        groups = strategies.pod_groups(cluster_id=release.service_map.cluster_id,
                                       namespace=release.service_map.namespace,
                                       objects=deploy.load(revision.manifest) if revision else [],
                                       state=release.strategy_state or {})
        return Response({**groups, "strategy_state": release.strategy_state or {}})

    @extend_schema(responses={202: s.ReleaseSerializer, **ERRORS})
    def destroy(self, request: Request, pk: str) -> Response:
        release = releases.delete_release(release=self.get_object(), user=request.user, request=request._request)
        # Serialized from the instance: the delete task may already have removed the row.
        return Response(s.ReleaseSerializer(release).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH), REVEAL],
                   responses={200: s.RevisionDetailSerializer, **ERRORS})
    @action(detail=True, methods=["get"], url_path=r"revisions/(?P<number>[0-9]+)", pagination_class=None)
    def revision(self, request: Request, pk: str, number: str) -> Response:
        release = self.get_object()
        revision = get_object_or_404(rows.light_versions(Revision.objects.select_related("package_version", "created_by")),
                                     release=release, number=int(number))
        return Response(s.RevisionDetailSerializer(revision, context={"reveal": _reveal(request, release)}).data)

    @extend_schema(parameters=[OpenApiParameter("from", OpenApiTypes.INT), OpenApiParameter("to", OpenApiTypes.INT),
                               REVEAL], responses={200: s.DiffSerializer, **ERRORS})
    @action(detail=True, methods=["get"], pagination_class=None)
    def diff(self, request: Request, pk: str) -> Response:
        release = self.get_object()
        numbers = []
        for name in ("from", "to"):
            value = request.query_params.get(name, "")
            if not value.isdigit():
                raise _invalid(name, f"Give {name}=<revision number>.")
            numbers.append(int(value))
        found = {r.number: r for r in Revision.objects.filter(release=release, number__in=numbers)}
        for name, number in zip(("from", "to"), numbers, strict=True):
            if number not in found:
                raise _invalid(name, f"{release.name} has no revision {number}.")
        a, b = found[numbers[0]], found[numbers[1]]
        return Response({"diff": deploy.revision_diff(a.manifest, b.manifest, label_a=f"revision {a.number}",
                                                      label_b=f"revision {b.number}",
                                                      reveal=_reveal(request, release))})

    @extend_schema(parameters=[REVEAL], responses={202: IntentSerializer, **ERRORS},
                   summary="Objects changed in the cluster since the last apply (a task asks the cluster); the "
                           "intent's result is the drift (DriftSerializer)")
    @action(detail=True, methods=["get"], pagination_class=None)
    def drift(self, request: Request, pk: str) -> Response:
        release = self.get_object()
        return accepted(planning.request_drift(release=release, reveal=_reveal(request, release), user=request.user,
                                               request=request._request))


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("workspace", OpenApiTypes.INT)]))
class RolloutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Rollout]):
    queryset = Rollout.objects.none()
    serializer_class = s.RolloutSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"created": ("created", "id")}
    default_ordering = "-created"
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Rollout]:
        queryset = Rollout.objects.filter(workspace__in=ws_access.visible_workspaces(self.request.user).values("pk"))
        value = id_param(self.request, "workspace")
        if value is not None:
            queryset = queryset.filter(workspace_id=value)
        return rows.with_shown_targets(rows.light_versions(queryset.select_related("package_version")))

    @extend_schema(request=s.RolloutCreateSerializer, responses={202: s.RolloutSerializer, **ERRORS},
                   summary="Deploy one package version to service maps on many clusters, in waves")
    def create(self, request: Request) -> Response:
        data = s.RolloutCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        workspace = ws_access.visible_workspaces(request.user).filter(pk=v["workspace"]).first()
        if workspace is None:
            raise _invalid("workspace", f"No workspace {v['workspace']} that you can see.")
        ws_access.require_grant(request.user, workspace, Grant.WORKLOADS_DEPLOY)
        version = _version(request.user, v["package_version"], None)
        owner = version.package.source.workspace_id
        if owner is not None and owner != workspace.pk:
            raise _invalid("package_version", "That package is in another workspace's catalog.")
        rollout = rollouts.create_rollout(
            workspace=workspace, release_name=v["release_name"], version=version, values=v["values"],
            targets=[dict(t) for t in v["targets"]], canary=v["canary"], batch_size=v["batch_size"],
            max_failures=v["max_failures"], user=request.user, request=request._request)
        return Response(s.rollout_row(rollout), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: s.RolloutSerializer, **ERRORS})
    @action(detail=True, methods=["post"], pagination_class=None)
    def cancel(self, request: Request, pk: str) -> Response:
        rollout = self.get_object()
        workspace = Workspace.objects.get(pk=rollout.workspace_id)
        ws_access.require_grant(request.user, workspace, Grant.WORKLOADS_DEPLOY)
        return Response(s.rollout_row(rollouts.cancel(rollout=rollout, request=request._request)))

    @extend_schema(request=None, responses={204: None, **ERRORS},
                   summary="Delete a finished rollout's record (its releases stay); 409 while it runs")
    def destroy(self, request: Request, pk: str) -> Response:
        rollout = self.get_object()
        workspace = Workspace.objects.get(pk=rollout.workspace_id)
        ws_access.require_grant(request.user, workspace, Grant.WORKLOADS_DEPLOY)
        rollouts.delete_rollout(rollout=rollout, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
