"""Rows of the workspaces app: the shapes the API answers with and the events carry.

Why here: :mod:`workspaces.actions` publishes ``workspace.updated``, ``servicemap.updated`` and
``allocation.updated`` with the same rows the API returns, and the API (``workspaces/api``) sits
above the actions. Both take their rows from this module, so the actions never import the API
(nor the cluster operations in :mod:`workspaces.services`) and the app keeps one direction.

Rows are built in bulk by the ``*_rows`` functions: they compute the aggregates a page needs
(counts, shares, usage from the read model) in a few queries, hang them on the instances and
serialise. Reads of the database only; no cluster I/O, no writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django.db.models import Count, Q
from rest_framework import serializers

from clusters.models import Cluster, KubeObject
from clusters.watcher.projection import quantity
from workspaces import access
from workspaces import quota as q
from workspaces.models import ClusterAllocation, Membership, ServiceMap, Workspace

QUOTA_NAME = "portal-quota"
DEFAULT_REQUEST = {"cpu": "100m", "memory": "128Mi"}
DEFAULT_LIMIT = {"cpu": "500m", "memory": "512Mi"}


# ---------------------------------------------------------------------------- limits and usage


def effective_limits(sm: ServiceMap) -> dict[str, dict[str, str]]:
    """The LimitRange container defaults: what the user set, else the portal's defaults for the
    resources the quota constrains (so pods without resources are admitted and counted)."""
    given = sm.limits or {}
    constrained = {key.split(".", 1)[1] for key in sm.quota if key in (*q.CPU_KEYS, *q.MEMORY_KEYS)}
    requests = dict(given.get("default_request") or {})
    limits = dict(given.get("default") or {})
    for resource in sorted(constrained):
        # A filled-in default never contradicts a given one (the apiserver refuses a LimitRange
        # whose default request exceeds its default limit): the given value wins.
        if resource not in limits:
            limits[resource] = max(DEFAULT_LIMIT[resource], requests.get(resource, "0"), key=_quantity)
        if resource not in requests:
            requests[resource] = min(DEFAULT_REQUEST[resource], limits[resource], key=_quantity)
    out: dict[str, dict[str, str]] = {}
    if requests:
        out["default_request"] = requests
    if limits:
        out["default"] = limits
    return out


def _quantity(text: str) -> Decimal:
    return quantity(text) or Decimal(0)


def quota_rows(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], KubeObject]:
    """The read-model rows of our ResourceQuota in the given (cluster, namespace) pairs."""
    pairs = list(pairs)
    if not pairs:
        return {}
    condition = Q(pk__in=[])
    by_cluster: dict[int, list[str]] = {}
    for cluster_id, namespace in pairs:
        by_cluster.setdefault(cluster_id, []).append(namespace)
    for cluster_id, namespaces in by_cluster.items():
        condition |= Q(cluster_id=cluster_id, namespace__in=namespaces)
    rows = KubeObject.objects.filter(condition, kind="ResourceQuota", name=QUOTA_NAME)
    return {(row.cluster_id, row.namespace): row for row in rows}


def usage_of(rows: Mapping[tuple[int, str], KubeObject], sm: ServiceMap) -> dict[str, dict[str, str]]:
    """``{key: {"hard", "used"}}`` for the service map's quota keys, from its ResourceQuota row."""
    row = rows.get((sm.cluster_id, sm.namespace))
    used = q.load(((row.data or {}).get("used") or {}) if row is not None else {})
    out: dict[str, dict[str, str]] = {}
    for key, hard in sorted(q.load(sm.quota).items()):
        out[key] = {"hard": q.fmt(key, hard), "used": q.fmt(key, used.get(key, Decimal(0)))}
    return out


def used_of(rows: dict[tuple[int, str], KubeObject], maps: Iterable[ServiceMap]) -> q.Quota:
    total: q.Quota = {}
    for sm in maps:
        row = rows.get((sm.cluster_id, sm.namespace))
        if row is not None:
            used = q.load((row.data or {}).get("used") or {})
            total = q.add(total, {k: v for k, v in used.items() if k in sm.quota})
    return total


def workload_figures(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], dict[str, dict[str, int]]]:
    """Per (cluster, namespace): workload and pod counts from the read model, one query each."""
    from clusters.filtersets import WORKLOAD_KINDS

    pairs = list(pairs)
    out: dict[tuple[int, str], dict[str, dict[str, int]]] = {
        p: {"workloads": {"total": 0, "ready": 0}, "pods": {"total": 0, "running": 0, "failed": 0}} for p in pairs}
    if not pairs:
        return out
    condition = Q(pk__in=[])
    for cluster_id, namespace in pairs:
        condition |= Q(cluster_id=cluster_id, namespace=namespace)
    for row in (KubeObject.objects.filter(condition, kind="Pod").values("cluster_id", "namespace", "phase")
                .annotate(n=Count("id")).order_by()):
        figures = out.get((row["cluster_id"], row["namespace"]))
        if figures is not None:
            figures["pods"]["total"] += row["n"]
            if row["phase"] == "Running":
                figures["pods"]["running"] += row["n"]
            elif row["phase"] == "Failed":
                figures["pods"]["failed"] += row["n"]
    workloads = (KubeObject.objects.filter(condition, kind__in=[k for k in WORKLOAD_KINDS if k != "ReplicaSet"])
                 .values("cluster_id", "namespace", "phase").annotate(n=Count("id")).order_by())
    for row in workloads:
        figures = out.get((row["cluster_id"], row["namespace"]))
        if figures is not None:
            figures["workloads"]["total"] += row["n"]
            if row["phase"] in ("Available", "Complete"):
                figures["workloads"]["ready"] += row["n"]
    return out


# ---------------------------------------------------------------------------- shared bits


def quantities(**kwargs: Any) -> serializers.DictField:
    """A map of quota keys to quantity strings."""
    return serializers.DictField(child=serializers.CharField(), **kwargs)


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
    rows = quota_rows((sm.cluster_id, sm.namespace) for sm in maps)
    used: dict[int, q.Quota] = {}
    map_counts: dict[int, int] = {}
    for sm in maps:
        used[sm.workspace_id] = q.add(used.get(sm.workspace_id, {}), used_of(rows, [sm]))
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


# ---------------------------------------------------------------------------- allocations


class AllocationSerializer(serializers.ModelSerializer[ClusterAllocation]):
    cluster = ClusterRefSerializer()
    quota = quantities()
    storage_classes = serializers.ListField(child=serializers.CharField())
    shared = quantities(source="o_shared")
    used = quantities(source="o_used")
    remaining = quantities(source="o_remaining")
    service_map_count = serializers.IntegerField(source="o_service_map_count")
    warnings = serializers.ListField(child=serializers.CharField(), source="o_warnings")

    class Meta:
        model = ClusterAllocation
        fields = ("id", "cluster", "quota", "storage_classes", "status", "message", "message_code", "message_params",
                  "shared", "used", "remaining", "service_map_count", "warnings")
        read_only_fields = fields


def allocation_rows(allocations: Sequence[ClusterAllocation], warnings: list[str] | None = None
                    ) -> list[dict[str, Any]]:
    pairs = {(a.workspace_id, a.cluster_id) for a in allocations}
    maps: dict[tuple[int, int], list[ServiceMap]] = {}
    if pairs:
        for sm in ServiceMap.objects.filter(workspace_id__in={p[0] for p in pairs},
                                            cluster_id__in={p[1] for p in pairs}):
            maps.setdefault((sm.workspace_id, sm.cluster_id), []).append(sm)
    rows = quota_rows((sm.cluster_id, sm.namespace) for group in maps.values() for sm in group)
    for a in allocations:
        group = maps.get((a.workspace_id, a.cluster_id), [])
        allocated = q.load(a.quota)
        shared = q.add(*(q.load(sm.quota) for sm in group))
        a.o_shared = q.dump({k: shared.get(k, Decimal(0)) for k in allocated})  # type: ignore[attr-defined]
        a.o_used = q.dump({k: v for k, v in used_of(rows, group).items()})  # type: ignore[attr-defined]
        remaining = q.subtract(allocated, shared)
        a.o_remaining = {k: q.human(k, v) for k, v in sorted(remaining.items())}  # type: ignore[attr-defined]
        a.o_service_map_count = len(group)  # type: ignore[attr-defined]
        a.o_warnings = list(warnings or [])  # type: ignore[attr-defined]
    return list(AllocationSerializer(allocations, many=True).data)


# ---------------------------------------------------------------------------- service maps


class CountsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    ready = serializers.IntegerField()


class PodCountsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    running = serializers.IntegerField()
    failed = serializers.IntegerField()


class LimitsSerializer(serializers.Serializer[Any]):
    default_request = quantities(required=False)
    default = quantities(required=False)


class ServiceMapSerializer(serializers.ModelSerializer[ServiceMap]):
    workspace = WorkspaceRefSerializer()
    cluster = ClusterRefSerializer()
    quota = quantities()
    limits = LimitsSerializer(source="o_limits")
    in_sync = serializers.BooleanField(source="o_in_sync")
    usage = serializers.DictField(child=UsageSerializer(), source="o_usage")
    workloads = CountsSerializer(source="o_workloads")
    pods = PodCountsSerializer(source="o_pods")
    warnings = serializers.ListField(child=serializers.CharField(), source="o_warnings")

    class Meta:
        model = ServiceMap
        fields = ("id", "workspace", "cluster", "namespace", "display_name", "description", "quota", "limits",
                  "status", "message", "message_code", "message_params", "in_sync", "last_applied", "created", "usage",
                  "workloads", "pods", "warnings", "deleting_since", "deletion_stuck")
        read_only_fields = fields
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            "deleting_since": {"help_text": "When deletion was asked (null unless status is deleting); the row stays "
                                            "until the namespace is gone from the cluster."},
            "deletion_stuck": {"help_text": "The namespace has been Terminating past the deadline; message says what "
                                            "holds it (for example finalizers)."},
        }


def service_map_rows(maps: Sequence[ServiceMap], warnings: list[str] | None = None, *,
                     quotas: Mapping[tuple[int, str], KubeObject] | None = None) -> list[dict[str, Any]]:
    """The maps' rows as the API answers them. ``quotas``: :func:`quota_rows` of (at least) these
    maps, when the caller has just read them (not read again)."""
    pairs = [(sm.cluster_id, sm.namespace) for sm in maps]
    rows = quota_rows(pairs) if quotas is None else quotas
    figures = workload_figures(pairs)
    for sm in maps:
        sm.o_limits = effective_limits(sm)  # type: ignore[attr-defined]
        sm.o_in_sync = sm.applied_generation == sm.generation and sm.status == "ready"  # type: ignore[attr-defined]
        sm.o_usage = usage_of(rows, sm)  # type: ignore[attr-defined]
        sm.o_workloads = figures[(sm.cluster_id, sm.namespace)]["workloads"]  # type: ignore[attr-defined]
        sm.o_pods = figures[(sm.cluster_id, sm.namespace)]["pods"]  # type: ignore[attr-defined]
        sm.o_warnings = list(warnings or [])  # type: ignore[attr-defined]
    return list(ServiceMapSerializer(maps, many=True).data)
