"""Scan policies and their exceptions, image scans, and "deploy this image" (docs/image-policy.md).

* ``GET|PUT /scan-policies/{workspace_id}/``, ``POST /scan-policies/{workspace_id}/exceptions/``,
  ``DELETE /scan-policies/{workspace_id}/exceptions/{id}/``: members of the workspace read its
  policy (and those who see every workspace); admins and the workspace's managers change it
  (:func:`builds.access.require_change_policy`, checked by :mod:`builds.policy_actions`).
* ``GET /scans/?registry=&repository=&digest=``: one image's findings, for whoever sees the
  repository (:func:`builds.access.require_repository`; 404 otherwise, as for no scan).
* ``POST /deploy-image/``: upgrade a release with an image from a registry, pinned by digest,
  through the catalog's release path (grant ``workloads.deploy``; the scan policy applies).
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import access, deploy_step, policy_actions
from builds.models import (
    BuildDefinition,
    ImageFormat,
    ImageScan,
    Registry,
    ScanException,
    ScanPolicy,
    Severity,
)
from catalog.models import Release
from portal import errors
from portal.access import visible
from portal.api.serializers import StrictCharField, StrictSerializer
from portal.limits import DESCRIPTION_MAX_LENGTH
from workspaces import access as ws_access
from workspaces.models import Workspace
from workspaces.rows import WorkspaceRefSerializer

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field (image_blocked_by_scan: `errors.images`)"),
    403: OpenApiResponse(description="Your role lacks the grant"),
    404: OpenApiResponse(description="No such object (or not visible to you)"),
    409: OpenApiResponse(description="Conflicts with the current state"),
}


def _invalid(field: str, message: str) -> errors.Invalid:
    return errors.Invalid(f"Invalid input: {field}: {message}", errors={field: [message]})


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# ---------------------------------------------------------------------------- shapes


class ExceptionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    vulnerability = StrictCharField()
    reason = StrictCharField()
    expires = serializers.DateTimeField()
    expired = serializers.BooleanField()
    created = serializers.DateTimeField()
    created_by = StrictCharField(allow_null=True)


class PolicyPermissionsSerializer(serializers.Serializer[Any]):
    change = serializers.BooleanField()


class PolicySerializer(serializers.Serializer[Any]):
    workspace = WorkspaceRefSerializer()
    block_severity = StrictCharField()
    require_scan = serializers.BooleanField()
    exceptions = ExceptionSerializer(many=True)
    updated = serializers.DateTimeField(allow_null=True)
    permissions = PolicyPermissionsSerializer()


class PolicyWriteSerializer(StrictSerializer):
    block_severity = serializers.ChoiceField(choices=["", *Severity.values], allow_blank=True)
    require_scan = serializers.BooleanField(required=False, default=False)


class ExceptionWriteSerializer(StrictSerializer):
    vulnerability = StrictCharField(max_length=64)
    reason = StrictCharField(max_length=DESCRIPTION_MAX_LENGTH)
    expires = serializers.DateTimeField()


class FindingSerializer(serializers.Serializer[Any]):
    id = StrictCharField()
    package = StrictCharField()
    version = StrictCharField()
    fixed_version = StrictCharField()
    severity = StrictCharField()
    title = StrictCharField()


class ScanSerializer(serializers.Serializer[Any]):
    registry = serializers.IntegerField()
    repository = StrictCharField()
    digest = StrictCharField()
    scanner = StrictCharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    findings = FindingSerializer(many=True)
    scanned = serializers.DateTimeField()
    run = serializers.IntegerField(allow_null=True)


class DeployImageSerializer(StrictSerializer):
    registry = serializers.IntegerField()
    repository = StrictCharField(max_length=255)
    digest = serializers.RegexField(r"^sha256:[a-f0-9]{64}$", max_length=71)
    tag = serializers.RegexField(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$", max_length=128, required=False,
                                 allow_blank=True, default="")
    release = serializers.IntegerField()
    image_path = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    image_format = serializers.ChoiceField(choices=ImageFormat.values, required=False, allow_blank=True, default="")


DeployedSerializer = inline_serializer("ImageDeployed", fields={
    "release": inline_serializer("DeployedReleaseRef", fields={"id": serializers.IntegerField(),
                                                               "name": StrictCharField()}),
    "revision": serializers.IntegerField()})


# ---------------------------------------------------------------------------- rows


def exception_row(exception: ScanException, now: Any) -> dict[str, Any]:
    return {"id": exception.pk, "vulnerability": exception.vulnerability, "reason": exception.reason,
            "expires": _iso(exception.expires), "expired": exception.expires <= now, "created": _iso(exception.created),
            "created_by": exception.created_by.get_username() if exception.created_by else None}


def policy_row(workspace: Workspace, user: Any) -> dict[str, Any]:
    from django.utils import timezone

    policy = (ScanPolicy.objects.filter(workspace=workspace)
              .prefetch_related("exceptions__created_by").first())
    now = timezone.now()
    return {
        "workspace": {"id": workspace.pk, "name": workspace.name, "display_name": workspace.display_name},
        "block_severity": policy.block_severity if policy else "",
        "require_scan": policy.require_scan if policy else False,
        "exceptions": [exception_row(e, now) for e in policy.exceptions.all()] if policy else [],
        "updated": _iso(policy.updated) if policy else None,
        "permissions": {"change": access.may_change_policy(user, workspace)},
    }


def _workspace(request: Request, workspace_id: int) -> Workspace:
    return get_object_or_404(ws_access.visible_workspaces(request.user), pk=workspace_id)


# ---------------------------------------------------------------------------- views


class ScanPolicyView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: PolicySerializer, 404: ERRORS[404]}, operation_id="builds_scan_policies_retrieve")
    def get(self, request: Request, workspace_id: int) -> Response:
        return Response(policy_row(_workspace(request, workspace_id), request.user))

    @extend_schema(request=PolicyWriteSerializer, responses={200: PolicySerializer, **ERRORS},
                   operation_id="builds_scan_policies_update")
    def put(self, request: Request, workspace_id: int) -> Response:
        workspace = _workspace(request, workspace_id)
        access.require_change_policy(request.user, workspace)  # before the body is read
        body = PolicyWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        policy_actions.set_policy(workspace=workspace, block_severity=body.validated_data["block_severity"],
                                  require_scan=body.validated_data["require_scan"], user=request.user,
                                  request=request._request)
        return Response(policy_row(workspace, request.user))


class ScanExceptionsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ExceptionWriteSerializer, responses={201: ExceptionSerializer, **ERRORS},
                   operation_id="builds_scan_policies_exceptions_create")
    def post(self, request: Request, workspace_id: int) -> Response:
        from django.utils import timezone

        workspace = _workspace(request, workspace_id)
        access.require_change_policy(request.user, workspace)
        body = ExceptionWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        exception = policy_actions.add_exception(workspace=workspace, user=request.user, request=request._request,
                                                 **body.validated_data)
        return Response(exception_row(exception, timezone.now()), status=status.HTTP_201_CREATED)


class ScanExceptionView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 403: ERRORS[403], 404: ERRORS[404]},
                   operation_id="builds_scan_policies_exceptions_destroy")
    def delete(self, request: Request, workspace_id: int, pk: int) -> Response:
        workspace = _workspace(request, workspace_id)
        policy_actions.remove_exception(workspace=workspace, exception_id=pk, user=request.user,
                                        request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _id_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "")
    if not raw.isdigit() or len(raw) > 18:
        raise _invalid(name, "Give the id as a number.")
    return int(raw)


class ScanView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[
        OpenApiParameter("registry", OpenApiTypes.INT, required=True),
        OpenApiParameter("repository", OpenApiTypes.STR, required=True),
        OpenApiParameter("digest", OpenApiTypes.STR, required=True, description="sha256:<64 hex>")],
        responses={200: ScanSerializer, 400: ERRORS[400], 404: ERRORS[404]}, operation_id="builds_scans_retrieve")
    def get(self, request: Request) -> Response:
        registry_id = _id_param(request, "registry")
        repository = request.query_params.get("repository", "")[:256]
        digest = request.query_params.get("digest", "")[:72]
        if not repository:
            raise _invalid("repository", "Name the repository.")
        if not digest:
            raise _invalid("digest", "Give the image's digest (sha256:…).")
        not_found = errors.NotFound("This image has no scan (or you cannot see it).", code="scan_not_found")
        registry = visible(request.user, Registry).filter(pk=registry_id).first()
        if registry is None or not access.may_see_repository(request.user, registry, repository):
            raise not_found
        scan = ImageScan.objects.filter(registry=registry, repository=repository, digest=digest).first()
        if scan is None:
            raise not_found
        return Response({"registry": registry.pk, "repository": scan.repository, "digest": scan.digest,
                         "scanner": scan.scanner, "counts": scan.counts, "findings": scan.findings,
                         "scanned": _iso(scan.scanned), "run": scan.run_id})


class DeployImageView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=DeployImageSerializer, responses={202: DeployedSerializer, **ERRORS},
                   operation_id="builds_deploy_image_create")
    def post(self, request: Request) -> Response:
        body = DeployImageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        registry = visible(request.user, Registry).filter(pk=data["registry"]).first()
        if registry is None:
            raise _invalid("registry", f"No registry {data['registry']} that you can see.")
        release = (Release.objects.select_related("service_map__workspace", "service_map__cluster", "workspace")
                   .filter(pk=data["release"], workspace__in=ws_access.visible_workspaces(request.user)).first())
        if release is None:
            raise _invalid("release", f"No release {data['release']} that you can see.")
        if not access.may_see_repository(request.user, registry, data["repository"]):
            raise _invalid("repository", f"No repository {data['repository']} that you can see in {registry.name}.")
        # the chart's image path: as given, else as a definition deploying to this release says, else "image"
        definition = BuildDefinition.objects.filter(deploy_release=release).order_by("pk").first()
        path = data["image_path"] or (definition.deploy_image_path if definition else "image")
        image_format = data["image_format"] or (definition.deploy_image_format if definition else ImageFormat.SPLIT)
        upgraded = deploy_step.deploy_image(
            user=request.user, registry=registry, repository=data["repository"], digest=data["digest"],
            tag=data["tag"], release=release, image_path=path, image_format=image_format, request=request._request)
        return Response({"release": {"id": upgraded.pk, "name": upgraded.name}, "revision": upgraded.revision},
                        status=status.HTTP_202_ACCEPTED)
