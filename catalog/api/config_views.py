"""ConfigMaps, Secrets and autoscalers of a service map (docs/catalog-api.md, "Config").

The service map is resolved through :func:`workspaces.access.visible_service_maps` (404 for
anyone who may not see it); the grant is checked here when the intent is created
(:func:`workspaces.access.require_grant`). Reads ask the cluster through
:mod:`clusters.gateway` (one strict time budget): no answer in time is a 503 ``cluster_timeout``,
an unreachable cluster a 503 ``cluster_unreachable``, a refusal a 502, each with the cluster's
message. Changes never call the cluster here: they answer 202 with a cluster intent (:mod:`catalog.intents`) whose outcome arrives as an
``intent.updated`` event and at ``GET /api/catalog/intents/{id}/``.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import config
from catalog.api.intent_serializers import IntentSerializer, accepted
from clusters import gateway
from portal.api.params import bool_param
from portal.api.serializers import StrictSerializer
from portal.limits import DESCRIPTION_MAX_LENGTH, MESSAGE_MAX_LENGTH
from workspaces import access as ws_access
from workspaces.models import Grant, ServiceMap

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field"),
    403: OpenApiResponse(description="Your role lacks the grant"),
    404: OpenApiResponse(description="No such service map or object (or not visible to you)"),
    502: OpenApiResponse(description="The cluster refused"),
    503: OpenApiResponse(description="cluster_unreachable, or cluster_timeout: no answer within the view's read "
                                     "budget (clusters.gateway)"),
}
CHANGE_ERRORS = {k: v for k, v in ERRORS.items() if k < 500}  # a change never waits for the cluster


def _service_map(request: Request, servicemap_id: int) -> ServiceMap:
    return get_object_or_404(ws_access.visible_service_maps(request.user).select_related("workspace", "cluster"),
                             pk=servicemap_id)


class ConfigRowSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    name = serializers.CharField()
    keys = serializers.ListField(child=serializers.CharField())
    type = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    created = serializers.CharField(allow_null=True)
    managed_by = serializers.CharField()


class ConfigDetailSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    data = serializers.DictField(child=serializers.CharField(allow_null=True))  # type: ignore[assignment]
    revealed = serializers.BooleanField()
    version = serializers.IntegerField(allow_null=True)
    used_by = serializers.ListField(child=serializers.CharField())


class ConfigCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=["ConfigMap", "Secret"])
    name = serializers.CharField(max_length=253)
    data = serializers.JSONField()  # type: ignore[assignment]
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=MESSAGE_MAX_LENGTH)


class ConfigUpdateSerializer(StrictSerializer):
    data = serializers.JSONField()  # type: ignore[assignment]
    restart = serializers.BooleanField(required=False, default=False)
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=MESSAGE_MAX_LENGTH)


class ConfigSavedSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()
    restarted = serializers.ListField(child=serializers.CharField())


class ConfigVersionSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()
    keys = serializers.ListField(child=serializers.CharField())
    message = serializers.CharField()
    restarted = serializers.ListField(child=serializers.CharField())
    created = serializers.CharField()
    created_by = serializers.CharField(allow_null=True)


class RestoreSerializer(StrictSerializer):
    version = serializers.IntegerField(min_value=1)
    restart = serializers.BooleanField(required=False, default=False)


class AutoscalerSerializer(StrictSerializer):
    min_replicas = serializers.IntegerField(required=False, default=1)
    max_replicas = serializers.IntegerField()
    cpu_percent = serializers.IntegerField(required=False, allow_null=True, default=None)
    memory_percent = serializers.IntegerField(required=False, allow_null=True, default=None)


class AutoscalerRowSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    name = serializers.CharField()
    min_replicas = serializers.IntegerField()
    max_replicas = serializers.IntegerField()
    cpu_percent = serializers.IntegerField(allow_null=True)
    memory_percent = serializers.IntegerField(allow_null=True)


class ConfigListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: ConfigRowSerializer(many=True), **ERRORS},
                   summary="The service map's ConfigMaps and Secrets (asks the cluster)")
    def get(self, request: Request, servicemap_id: int) -> Response:
        sm = _service_map(request, servicemap_id)
        with gateway.live_read(sm.cluster, f"listing the ConfigMaps and Secrets of {sm.namespace}") as read:
            return Response(config.list_configs(sm, read.client))

    @extend_schema(request=ConfigCreateSerializer, responses={202: IntentSerializer, **CHANGE_ERRORS},
                   summary="Create a ConfigMap or Secret (version 1); the intent's result is {version, restarted}")
    def post(self, request: Request, servicemap_id: int) -> Response:
        sm = _service_map(request, servicemap_id)
        # the grant before the body: no hints to outsiders
        ws_access.require_grant(request.user, sm.workspace, Grant.CONFIG_EDIT)
        data = ConfigCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        values = config.validate_config(kind=v["kind"], name=v["name"], data=v["data"], create=True)
        return accepted(config.request_save(sm=sm, kind=v["kind"], name=v["name"], data=values,
                                            restart_workloads=False, message=v["message"], user=request.user,
                                            request=request._request, create=True))


class ConfigDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("reveal", bool, description="secret values (grant secrets.reveal)")],
                   responses={200: ConfigDetailSerializer, **ERRORS})
    def get(self, request: Request, servicemap_id: int, kind: str, name: str) -> Response:
        sm = _service_map(request, servicemap_id)
        reveal = bool_param(request, "reveal")
        with gateway.live_read(sm.cluster, f"reading {kind} {name}") as read:
            return Response(config.get_config(sm, kind, name, client=read.client, user=request.user, reveal=reveal))

    @extend_schema(request=ConfigUpdateSerializer, responses={202: IntentSerializer, **CHANGE_ERRORS},
                   summary="Save new data (a new version); null keeps a secret value; restart its users if asked. "
                           "The intent's result is {version, restarted}")
    def put(self, request: Request, servicemap_id: int, kind: str, name: str) -> Response:
        sm = _service_map(request, servicemap_id)
        ws_access.require_grant(request.user, sm.workspace, Grant.CONFIG_EDIT)
        data = ConfigUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        values = config.validate_config(kind=kind, name=name, data=v["data"], create=False)
        return accepted(config.request_save(sm=sm, kind=kind, name=name, data=values, restart_workloads=v["restart"],
                                            message=v["message"], user=request.user, request=request._request))

    @extend_schema(responses={202: IntentSerializer, **CHANGE_ERRORS})
    def delete(self, request: Request, servicemap_id: int, kind: str, name: str) -> Response:
        sm = _service_map(request, servicemap_id)
        ws_access.require_grant(request.user, sm.workspace, Grant.CONFIG_EDIT)
        return accepted(config.request_delete(sm=sm, kind=kind, name=name, user=request.user,
                                              request=request._request))


class ConfigVersionsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: ConfigVersionSerializer(many=True), **ERRORS})
    def get(self, request: Request, servicemap_id: int, kind: str, name: str) -> Response:
        return Response(config.versions(_service_map(request, servicemap_id), kind, name))

    @extend_schema(request=RestoreSerializer, responses={202: IntentSerializer, **CHANGE_ERRORS},
                   summary="Restore a saved version (saved again as a new version); the intent's result is "
                           "{version, restarted}")
    def post(self, request: Request, servicemap_id: int, kind: str, name: str) -> Response:
        sm = _service_map(request, servicemap_id)
        ws_access.require_grant(request.user, sm.workspace, Grant.CONFIG_EDIT)
        data = RestoreSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return accepted(config.request_restore(sm=sm, kind=kind, name=name, number=data.validated_data["version"],
                                               restart_workloads=data.validated_data["restart"], user=request.user,
                                               request=request._request))


class AutoscalerView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=AutoscalerSerializer, responses={202: IntentSerializer, **CHANGE_ERRORS},
                   summary="Create or change the workload's HorizontalPodAutoscaler; the intent's result is the "
                           "autoscaler row")
    def put(self, request: Request, servicemap_id: int, kind: str, name: str) -> Response:
        sm = _service_map(request, servicemap_id)
        ws_access.require_grant(request.user, sm.workspace, Grant.WORKLOADS_SCALE)
        data = AutoscalerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settings = config.validate_autoscaler(kind=kind, name=name, settings=dict(data.validated_data))
        return accepted(config.request_autoscaler(sm=sm, settings=settings, user=request.user,
                                                  request=request._request))

    @extend_schema(responses={202: IntentSerializer, **CHANGE_ERRORS})
    def delete(self, request: Request, servicemap_id: int, kind: str, name: str) -> Response:
        sm = _service_map(request, servicemap_id)
        ws_access.require_grant(request.user, sm.workspace, Grant.WORKLOADS_SCALE)
        return accepted(config.request_autoscaler_delete(sm=sm, kind=kind, name=name, user=request.user,
                                                         request=request._request))


class SaveServiceMapSerializer(StrictSerializer):
    name = serializers.RegexField(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    version = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=DESCRIPTION_MAX_LENGTH)


class SavedPackageSerializer(serializers.Serializer[Any]):
    package = serializers.IntegerField()
    version = serializers.IntegerField()
    source = serializers.IntegerField()  # type: ignore[assignment]


class SaveServiceMapView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=SaveServiceMapSerializer, responses={201: SavedPackageSerializer, **ERRORS},
                   summary="Save the service map's workloads, services and config maps as a package version")
    def post(self, request: Request, servicemap_id: int) -> Response:
        from catalog import saved

        sm = _service_map(request, servicemap_id)
        data = SaveServiceMapSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with gateway.live_read(sm.cluster, f"reading what {sm.namespace} holds") as read:
            version = saved.save_service_map(sm=sm, client=read.client, name=data.validated_data["name"],
                                             version=data.validated_data["version"],
                                             description=data.validated_data["description"], user=request.user,
                                             request=request._request)
        return Response({"package": version.package_id, "version": version.pk, "source": version.package.source_id},
                        status=status.HTTP_201_CREATED)
