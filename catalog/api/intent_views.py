"""Cluster intents through the API: where the outcome of a config or autoscaler change, a plan or
a drift check is read (``GET /intents/{id}/``, besides the ``intent.updated`` event on the
workspace's group); the 202 those answer is built in :mod:`catalog.api.intent_serializers`.

An intent is read back only by who asked for it: its result may hold Secret values (a revealed
drift) that others in the workspace must not see. Anyone else gets 404.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import intents
from catalog.api import release_serializers as rs
from catalog.api.config_views import AutoscalerRowSerializer, ConfigSavedSerializer
from catalog.api.intent_serializers import IntentSerializer
from catalog.models import ClusterIntent
from portal import errors


class DeletedSerializer(serializers.Serializer[object]):
    kind = serializers.CharField(required=False)
    name = serializers.CharField()


RESULT = PolymorphicProxySerializer(
    component_name="IntentResult", resource_type_field_name=None, many=False,
    serializers=[ConfigSavedSerializer, AutoscalerRowSerializer, DeletedSerializer, rs.PlanSerializer,
                 rs.DriftSerializer])


@extend_schema_field(RESULT)
class ResultField(serializers.JSONField):
    """The intent's result, documented as what each kind of intent stores."""


class IntentDetailSerializer(IntentSerializer):
    """The intent with its result: {version, restarted} of a config save, the autoscaler row, what
    was deleted, the plan (Plan) or the drift (Drift), by ``kind``; null until it succeeded."""

    result = ResultField(allow_null=True)


class IntentView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: IntentDetailSerializer,
                              404: OpenApiResponse(description="No such intent, or not one you asked for")},
                   summary="A cluster intent you asked for: its status and, once finished, its result")
    def get(self, request: Request, intent_id: int) -> Response:
        intent = ClusterIntent.objects.filter(pk=intent_id, created_by_id=request.user.pk).first()
        if intent is None:
            raise errors.NotFound("No such intent of yours.", code="intent_not_found")
        return Response(intents.row(intent, result=True))
