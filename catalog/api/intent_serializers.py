"""The body every cluster intent is shown with (docs/catalog-api.md, "Cluster intents"): the 202
of a config or autoscaler change, a plan and a drift check, and ``GET /intents/{id}/``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, status
from rest_framework.response import Response

from catalog import intents
from catalog.models import ClusterIntent, IntentKind, IntentStatus


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


