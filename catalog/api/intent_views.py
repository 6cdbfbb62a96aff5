"""Cluster intents through the API: what a change of a config or an autoscaler, a plan or a drift
check answers (202 with the intent), and where its outcome is read (``GET /intents/{id}/``,
besides the ``intent.updated`` event on the workspace's group).

An intent is read back only by who asked for it: its result may hold Secret values (a revealed
drift) that others in the workspace must not see. Anyone else gets 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import intents
from catalog.models import ClusterIntent, IntentKind, IntentStatus
from portal import errors


class IntentSerializer(serializers.Serializer[Any]):
    """A cluster intent (docs/catalog-api.md, "Cluster intents"); ``result`` once it succeeded."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=IntentKind.choices)
    status = serializers.ChoiceField(choices=IntentStatus.choices)
    workspace = serializers.IntegerField()
    service_map = serializers.IntegerField()
    release = serializers.IntegerField(allow_null=True)
    target = serializers.CharField()
    message = serializers.CharField()
    message_code = serializers.CharField()
    message_params = serializers.DictField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]
    created = serializers.CharField()
    finished = serializers.CharField(allow_null=True)
    result = serializers.JSONField(allow_null=True, required=False)


def accepted(intent: ClusterIntent) -> Response:
    """The 202 every change answers: the intent as stored, still pending."""
    return Response(intents.row(intent, result=True), status=status.HTTP_202_ACCEPTED,
                    headers={"Location": f"/api/catalog/intents/{intent.pk}/"})


class IntentView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: IntentSerializer,
                              404: OpenApiResponse(description="No such intent, or not one you asked for")},
                   summary="A cluster intent you asked for: its status and, once finished, its result")
    def get(self, request: Request, intent_id: int) -> Response:
        intent = ClusterIntent.objects.filter(pk=intent_id, created_by_id=request.user.pk).first()
        if intent is None:
            raise errors.NotFound("No such intent of yours.", code="intent_not_found")
        return Response(intents.row(intent, result=True))
