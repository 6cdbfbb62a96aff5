"""``GET /api/dashboard/``: the signed-in user's role dashboards (docs/dashboards.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboards.board import build

TileSerializer = inline_serializer("DashboardTile", fields={
    "key": serializers.CharField(), "role": serializers.ChoiceField(choices=["admin", "operator", "developer"]),
    "attention": serializers.IntegerField(min_value=0, max_value=3),
    "as_of": serializers.DateTimeField(allow_null=True), "link": serializers.CharField(),
    "data": serializers.DictField(),
})
DashboardSerializer = inline_serializer("Dashboard", fields={
    "generated_at": serializers.DateTimeField(),
    "roles": serializers.ListField(child=serializers.CharField()),
    "groups": serializers.ListField(child=serializers.CharField()),
    "tiles": serializers.ListField(child=TileSerializer),
})


class DashboardView(APIView):
    """The tiles of every dashboard role the caller holds, what needs action first. Every figure
    is what the caller may see (the apps' access modules decide)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=DashboardSerializer, summary="The caller's role dashboards")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(build(request.user))
