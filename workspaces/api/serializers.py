"""Shapes of the workspaces API (docs/workspaces-api.md is the contract with the console).

The rows the API answers with (workspaces, allocations, service maps) are built in bulk by the
``*_rows`` functions of :mod:`workspaces.rows`, shared with the events the actions publish, and
are re-exported here for the views. Input serializers are strict (unknown fields are 400); quota
values are checked by :mod:`workspaces.quota` in the actions, so their messages name
``quota.<key>``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from clusters.models import DNS1123_LABEL
from portal.api.serializers import StrictSerializer
from portal.limits import DESCRIPTION_MAX_LENGTH
from workspaces.models import Membership, RegistryAllocation, Role
from workspaces.rows import AllocationSerializer as AllocationSerializer
from workspaces.rows import ClusterRefSerializer, WorkspaceRefSerializer, quantities
from workspaces.rows import ServiceMapSerializer as ServiceMapSerializer
from workspaces.rows import WorkspaceSerializer as WorkspaceSerializer
from workspaces.rows import allocation_rows as allocation_rows
from workspaces.rows import service_map_rows as service_map_rows
from workspaces.rows import workspace_rows as workspace_rows

# ---------------------------------------------------------------------------- roles


class RoleSerializer(serializers.ModelSerializer[Role]):
    grants = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Role
        fields = ("id", "key", "name", "description", "grants", "builtin")
        read_only_fields = fields


class RoleWriteSerializer(StrictSerializer):
    key = serializers.CharField(max_length=40, validators=[DNS1123_LABEL])
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=DESCRIPTION_MAX_LENGTH)
    grants = serializers.JSONField(required=False, default=list)  # type: ignore[arg-type]


class GrantSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    description = serializers.CharField()


# ---------------------------------------------------------------------------- workspaces


class WorkspaceCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=40, validators=[DNS1123_LABEL])
    display_name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=DESCRIPTION_MAX_LENGTH)


class WorkspaceUpdateSerializer(StrictSerializer):
    display_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    description = serializers.CharField(allow_blank=True, required=False, max_length=DESCRIPTION_MAX_LENGTH)


# ---------------------------------------------------------------------------- members


class MemberUserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()


def _user_ref(user: Any) -> dict[str, Any]:
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


class MemberSerializer(serializers.ModelSerializer[Membership]):
    user = serializers.SerializerMethodField()
    role = serializers.CharField(source="role.key")

    class Meta:
        model = Membership
        fields = ("id", "user", "role", "created")
        read_only_fields = fields

    def get_user(self, obj: Membership) -> MemberUserSerializer:
        return _user_ref(obj.user)  # type: ignore[return-value]


class MemberCreateSerializer(StrictSerializer):
    user = serializers.CharField(max_length=150)
    role = serializers.CharField(max_length=40)


class MemberUpdateSerializer(StrictSerializer):
    role = serializers.CharField(max_length=40)


# ---------------------------------------------------------------------------- allocations


class AllocationCreateSerializer(StrictSerializer):
    cluster = serializers.IntegerField()
    quota = serializers.JSONField(required=False, default=dict)
    storage_classes = serializers.JSONField(required=False, default=list)  # type: ignore[arg-type]


class AllocationUpdateSerializer(StrictSerializer):
    quota = serializers.JSONField(required=False)
    storage_classes = serializers.JSONField(required=False)
    force = serializers.BooleanField(required=False, default=False)


class QuotaOverviewSerializer(serializers.Serializer[Any]):
    workspace = WorkspaceRefSerializer()
    cluster = ClusterRefSerializer()
    quota = quantities()
    shared = quantities()
    used = quantities()
    status = serializers.CharField()


# ---------------------------------------------------------------------------- registries


class RegistrySerializer(serializers.ModelSerializer[RegistryAllocation]):
    class Meta:
        model = RegistryAllocation
        fields = ("id", "registry", "description", "created")
        read_only_fields = fields


class RegistryCreateSerializer(StrictSerializer):
    registry = serializers.CharField(max_length=300)
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=DESCRIPTION_MAX_LENGTH)


# ---------------------------------------------------------------------------- service maps


class ServiceMapCreateSerializer(StrictSerializer):
    cluster = serializers.IntegerField()
    namespace = serializers.CharField(max_length=63, validators=[DNS1123_LABEL])
    display_name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=DESCRIPTION_MAX_LENGTH)
    quota = serializers.JSONField(required=False, default=dict)
    limits = serializers.JSONField(required=False, default=dict)


class ServiceMapUpdateSerializer(StrictSerializer):
    display_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    description = serializers.CharField(allow_blank=True, required=False, max_length=DESCRIPTION_MAX_LENGTH)
    quota = serializers.JSONField(required=False)
    limits = serializers.JSONField(required=False)
    force = serializers.BooleanField(required=False, default=False)


# ---------------------------------------------------------------------------- preflight


class PreflightSerializer(StrictSerializer):
    manifests = serializers.ListField(child=serializers.DictField(), required=False, max_length=500)
    yaml = serializers.CharField(required=False, max_length=2_000_000, trim_whitespace=False)


class PreflightResourceSerializer(serializers.Serializer[Any]):
    resource = serializers.CharField()
    requested = serializers.CharField()
    used = serializers.CharField()
    hard = serializers.CharField()
    remaining = serializers.CharField()
    fits = serializers.BooleanField()


class PreflightResultSerializer(serializers.Serializer[Any]):
    fits = serializers.BooleanField()
    resources = PreflightResourceSerializer(many=True)
    problems = serializers.ListField(child=serializers.CharField())
