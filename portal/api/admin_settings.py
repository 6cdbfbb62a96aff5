"""``GET /api/admin/settings/``: the portal's effective configuration, without secrets (system
admins only; auditors and operators read no settings anywhere else, so they get 403 here too).
What is shown and how secrets stay out: :mod:`portal.effective_settings`, docs/settings.md."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsSystemAdmin
from portal.effective_settings import effective_settings


class SettingEntrySerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="The setting's name.")
    value = serializers.JSONField(help_text="Its value now (a secret: only whether it is set).")
    default = serializers.JSONField(allow_null=True, help_text="The built-in default (null: none).")
    is_default = serializers.BooleanField()
    env = serializers.CharField(allow_null=True, help_text="The environment variable that sets it (null: none).")
    from_env = serializers.BooleanField(help_text="Whether that variable is set in this process.")
    unit = serializers.CharField(allow_null=True)
    secret = serializers.BooleanField()


class SettingsSectionSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    entries = SettingEntrySerializer(many=True)


class EffectiveSettingsSerializer(serializers.Serializer[Any]):
    generated_at = serializers.DateTimeField()
    environment = serializers.CharField()
    version = serializers.CharField()
    sections = SettingsSectionSerializer(many=True)


class AdminSettingsView(APIView):
    """The effective configuration, grouped in sections, without secrets."""

    permission_classes = [IsSystemAdmin]

    @extend_schema(responses=EffectiveSettingsSerializer, operation_id="admin_settings")
    def get(self, request: Request) -> Response:
        body: dict[str, Any] = effective_settings()
        response = Response(body)
        response["Cache-Control"] = "no-store"
        return response


urlpatterns: list[URLPattern] = [
    path("admin/settings/", AdminSettingsView.as_view(), name="admin-settings"),
]
