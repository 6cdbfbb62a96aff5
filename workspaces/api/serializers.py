"""Shapes of the workspaces API (docs/workspaces-api.md is the contract with the console).

Rows are built in bulk by the ``*_rows`` functions: they compute the aggregates a page needs
(counts, shares, usage from the read model) in a few queries, hang them on the instances and
serialise. Input serializers are strict (unknown fields are 400); quota values are checked by
:mod:`workspaces.quota` in the actions, so their messages name ``quota.<key>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django.db.models import Count
from rest_framework import serializers

from clusters.models import DNS1123_LABEL, Cluster
from portal.api.serializers import StrictSerializer
from portal.limits import DESCRIPTION_MAX_LENGTH
from workspaces import access, services
from workspaces import quota as q
from workspaces.models import ClusterAllocation, Membership, RegistryAllocation, Role, ServiceMap, Workspace


def _quantities(**kwargs: Any) -> serializers.DictField:
    return serializers.DictField(child=serializers.CharField(), **kwargs)


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


# ---------------------------------------------------------------------------- shared bits


class ClusterRefSerializer(serializers.ModelSerializer[Cluster]):
    class Meta:
        model = Cluster
        fields = ("id", "name", "display_name", "status")
        read_only_fields = fields


class WorkspaceRefSerializer(serializers.ModelSerializer[Workspace]):
    class Meta:
        model = Workspace
        fields = ("id", "name", "display_name")
        read_only_fields = fields


class QuotaUseSerializer(serializers.Serializer[Any]):
    resource = serializers.CharField()
    allocated = serializers.CharField()
    used = serializers.CharField()


class UsageSerializer(serializers.Serializer[Any]):
    hard = serializers.CharField()
    used = serializers.CharField()


# ---------------------------------------------------------------------------- workspaces


class WorkspaceSerializer(serializers.ModelSerializer[Workspace]):
    cluster_count = serializers.IntegerField(source="o_cluster_count")
    member_count = serializers.IntegerField(source="o_member_count")
    service_map_count = serializers.IntegerField(source="o_service_map_count")
    my_role = serializers.CharField(source="o_my_role", allow_null=True)
    my_grants = serializers.ListField(child=serializers.CharField(), source="o_my_grants")
    quota_use = QuotaUseSerializer(many=True, source="o_quota_use")

    class Meta:
        model = Workspace
        fields = ("id", "name", "display_name", "description", "created", "cluster_count", "member_count",
                  "service_map_count", "my_role", "my_grants", "quota_use")
        read_only_fields = fields


class WorkspaceCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=40, validators=[DNS1123_LABEL])
    display_name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=DESCRIPTION_MAX_LENGTH)


class WorkspaceUpdateSerializer(StrictSerializer):
    display_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    description = serializers.CharField(allow_blank=True, required=False, max_length=DESCRIPTION_MAX_LENGTH)


def workspace_rows(workspaces: Sequence[Workspace], user: Any) -> list[dict[str, Any]]:
    ids = [w.pk for w in workspaces]
    members = dict(Membership.objects.filter(workspace_id__in=ids).values("workspace_id")
                   .annotate(n=Count("id")).values_list("workspace_id", "n"))
    clusters = dict(ClusterAllocation.objects.filter(workspace_id__in=ids).values("workspace_id")
                    .annotate(n=Count("id")).values_list("workspace_id", "n"))
    allocated: dict[int, q.Quota] = {}
    for allocation in ClusterAllocation.objects.filter(workspace_id__in=ids).only("workspace_id", "quota"):
        allocated[allocation.workspace_id] = q.add(allocated.get(allocation.workspace_id, {}), q.load(allocation.quota))
    maps = list(ServiceMap.objects.filter(workspace_id__in=ids).only("workspace_id", "cluster_id", "namespace", "quota"))
    rows = services.quota_rows((sm.cluster_id, sm.namespace) for sm in maps)
    used: dict[int, q.Quota] = {}
    map_counts: dict[int, int] = {}
    for sm in maps:
        used[sm.workspace_id] = q.add(used.get(sm.workspace_id, {}), services.used_of(rows, [sm]))
        map_counts[sm.workspace_id] = map_counts.get(sm.workspace_id, 0) + 1
    mine = {}
    if user is not None and user.is_authenticated:
        mine = {m.workspace_id: m.role for m in Membership.objects.filter(workspace_id__in=ids, user=user)
                .select_related("role")}
    admin = access.is_admin(user)
    for w in workspaces:
        w.o_cluster_count = clusters.get(w.pk, 0)  # type: ignore[attr-defined]
        w.o_member_count = members.get(w.pk, 0)  # type: ignore[attr-defined]
        w.o_service_map_count = map_counts.get(w.pk, 0)  # type: ignore[attr-defined]
        role = mine.get(w.pk)
        w.o_my_role = role.key if role is not None else None  # type: ignore[attr-defined]
        w.o_my_grants = sorted(access.ALL_GRANTS if admin else (role.grants if role else []))  # type: ignore[attr-defined]
        total, use = allocated.get(w.pk, {}), used.get(w.pk, {})
        w.o_quota_use = [{"resource": key, "allocated": q.fmt(key, value),  # type: ignore[attr-defined]
                          "used": q.fmt(key, use.get(key, Decimal(0)))} for key, value in sorted(total.items())]
    return list(WorkspaceSerializer(workspaces, many=True).data)


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


class AllocationSerializer(serializers.ModelSerializer[ClusterAllocation]):
    cluster = ClusterRefSerializer()
    quota = _quantities()
    storage_classes = serializers.ListField(child=serializers.CharField())
    shared = _quantities(source="o_shared")
    used = _quantities(source="o_used")
    remaining = _quantities(source="o_remaining")
    service_map_count = serializers.IntegerField(source="o_service_map_count")
    warnings = serializers.ListField(child=serializers.CharField(), source="o_warnings")

    class Meta:
        model = ClusterAllocation
        fields = ("id", "cluster", "quota", "storage_classes", "status", "message", "shared", "used", "remaining",
                  "service_map_count", "warnings")
        read_only_fields = fields


class AllocationCreateSerializer(StrictSerializer):
    cluster = serializers.IntegerField()
    quota = serializers.JSONField(required=False, default=dict)
    storage_classes = serializers.JSONField(required=False, default=list)  # type: ignore[arg-type]


class AllocationUpdateSerializer(StrictSerializer):
    quota = serializers.JSONField(required=False)
    storage_classes = serializers.JSONField(required=False)
    force = serializers.BooleanField(required=False, default=False)


def allocation_rows(allocations: Sequence[ClusterAllocation], warnings: list[str] | None = None
                    ) -> list[dict[str, Any]]:
    pairs = {(a.workspace_id, a.cluster_id) for a in allocations}
    maps: dict[tuple[int, int], list[ServiceMap]] = {}
    if pairs:
        for sm in ServiceMap.objects.filter(workspace_id__in={p[0] for p in pairs},
                                            cluster_id__in={p[1] for p in pairs}):
            maps.setdefault((sm.workspace_id, sm.cluster_id), []).append(sm)
    rows = services.quota_rows((sm.cluster_id, sm.namespace) for group in maps.values() for sm in group)
    for a in allocations:
        group = maps.get((a.workspace_id, a.cluster_id), [])
        allocated = q.load(a.quota)
        shared = q.add(*(q.load(sm.quota) for sm in group))
        a.o_shared = q.dump({k: shared.get(k, Decimal(0)) for k in allocated})  # type: ignore[attr-defined]
        a.o_used = q.dump({k: v for k, v in services.used_of(rows, group).items()})  # type: ignore[attr-defined]
        remaining = q.subtract(allocated, shared)
        a.o_remaining = {k: q.human(k, v) for k, v in sorted(remaining.items())}  # type: ignore[attr-defined]
        a.o_service_map_count = len(group)  # type: ignore[attr-defined]
        a.o_warnings = list(warnings or [])  # type: ignore[attr-defined]
    return list(AllocationSerializer(allocations, many=True).data)


class QuotaOverviewSerializer(serializers.Serializer[Any]):
    workspace = WorkspaceRefSerializer()
    cluster = ClusterRefSerializer()
    quota = _quantities()
    shared = _quantities()
    used = _quantities()
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


class CountsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    ready = serializers.IntegerField()


class PodCountsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    running = serializers.IntegerField()
    failed = serializers.IntegerField()


class LimitsSerializer(serializers.Serializer[Any]):
    default_request = _quantities(required=False)
    default = _quantities(required=False)


class ServiceMapSerializer(serializers.ModelSerializer[ServiceMap]):
    workspace = WorkspaceRefSerializer()
    cluster = ClusterRefSerializer()
    quota = _quantities()
    limits = LimitsSerializer(source="o_limits")
    in_sync = serializers.BooleanField(source="o_in_sync")
    usage = serializers.DictField(child=UsageSerializer(), source="o_usage")
    workloads = CountsSerializer(source="o_workloads")
    pods = PodCountsSerializer(source="o_pods")
    warnings = serializers.ListField(child=serializers.CharField(), source="o_warnings")

    class Meta:
        model = ServiceMap
        fields = ("id", "workspace", "cluster", "namespace", "display_name", "description", "quota", "limits",
                  "status", "message", "in_sync", "last_applied", "created", "usage", "workloads", "pods", "warnings",
                  "deleting_since", "deletion_stuck")
        read_only_fields = fields
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            "deleting_since": {"help_text": "When deletion was asked (null unless status is deleting); the row stays "
                                            "until the namespace is gone from the cluster."},
            "deletion_stuck": {"help_text": "The namespace has been Terminating past the deadline; message says what "
                                            "holds it (for example finalizers)."},
        }


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


def service_map_rows(maps: Sequence[ServiceMap], warnings: list[str] | None = None) -> list[dict[str, Any]]:
    pairs = [(sm.cluster_id, sm.namespace) for sm in maps]
    rows = services.quota_rows(pairs)
    figures = services.workload_figures(pairs)
    for sm in maps:
        sm.o_limits = services.effective_limits(sm)  # type: ignore[attr-defined]
        sm.o_in_sync = sm.applied_generation == sm.generation and sm.status == "ready"  # type: ignore[attr-defined]
        sm.o_usage = services.usage_of(rows, sm)  # type: ignore[attr-defined]
        sm.o_workloads = figures[(sm.cluster_id, sm.namespace)]["workloads"]  # type: ignore[attr-defined]
        sm.o_pods = figures[(sm.cluster_id, sm.namespace)]["pods"]  # type: ignore[attr-defined]
        sm.o_warnings = list(warnings or [])  # type: ignore[attr-defined]
    return list(ServiceMapSerializer(maps, many=True).data)


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
