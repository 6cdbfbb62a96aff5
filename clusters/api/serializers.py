"""Shapes of the clusters API (see docs/clusters-api.md, the contract with the console).

Credentials are write-only everywhere: no serializer here has a field that reads them back.
Read-model rows are serialised straight from :class:`KubeObject`; figures that need aggregation
(node requests, freshness) come in through the serializer context, computed once per page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clusters.filtersets import label_key_error, label_value_error
from clusters.models import (
    DNS1123_LABEL,
    Cluster,
    KindSync,
    KubeObject,
    NodeOperation,
    Provider,
    Stage,
)
from clusters.rows import cluster_row, node_operation_row, progress_row
from clusters.rows import iso as _iso
from portal import outbound
from portal.addresses import AddressError
from portal.api.serializers import StrictModelSerializer, StrictSerializer
from portal.limits import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH

# ---------------------------------------------------------------------------- clusters


class LabelsField(serializers.DictField):
    """Kubernetes-style labels: an object of string keys and string values, both valid as labels."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(allow_blank=True, max_length=63), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Labels must be an object of strings, like {\"team\": \"core\"}.")
        if len(data) > 64:
            raise serializers.ValidationError("At most 64 labels.")
        errors = []
        for key, value in data.items():
            if not isinstance(value, str):
                errors.append(f"The value of '{key}' must be a string.")
                continue
            error = label_key_error(str(key)) or label_value_error(value)
            if error:
                errors.append(error)
        if errors:
            raise serializers.ValidationError(errors)
        return {str(k): str(v) for k, v in data.items()}


class CpuFiguresSerializer(serializers.Serializer):
    capacity = serializers.FloatField()
    allocatable = serializers.FloatField()
    requested = serializers.FloatField()


class MemoryFiguresSerializer(serializers.Serializer):
    capacity = serializers.IntegerField()
    allocatable = serializers.IntegerField()
    requested = serializers.IntegerField()


class DiskFiguresSerializer(serializers.Serializer):
    capacity = serializers.IntegerField()
    allocatable = serializers.IntegerField()


class PodFiguresSerializer(serializers.Serializer):
    running = serializers.IntegerField()
    total = serializers.IntegerField()
    capacity = serializers.IntegerField()


class HealthFiguresSerializer(serializers.Serializer):
    nodes_not_ready = serializers.IntegerField()
    pods_crashlooping = serializers.IntegerField(help_text="Pods in CrashLoopBackOff (the pod or a container).")
    pods_pending = serializers.IntegerField()


class ClusterSummarySerializer(serializers.Serializer):
    """Figures of the status table, kept by the watcher; keys may be missing before its first sync."""

    nodes_ready = serializers.IntegerField(required=False)
    nodes_total = serializers.IntegerField(required=False)
    services = serializers.IntegerField(required=False)
    workloads = serializers.IntegerField(required=False)
    cpu = CpuFiguresSerializer(required=False)
    memory = MemoryFiguresSerializer(required=False)
    disk = DiskFiguresSerializer(required=False)
    pods = PodFiguresSerializer(required=False)
    health = HealthFiguresSerializer(required=False)


@extend_schema_field(ClusterSummarySerializer)
class SummaryField(serializers.JSONField):
    pass


class ClusterSerializer(serializers.ModelSerializer[Cluster]):
    """A cluster row of the list (and the ``cluster.updated`` payload). Needs ``freshness`` in
    the context: ``{cluster_id: {"freshness", "last_sync"}}`` (see clusters.readmodel)."""

    freshness = serializers.SerializerMethodField()
    last_sync = serializers.SerializerMethodField()
    summary = SummaryField(read_only=True)
    labels = serializers.DictField(child=serializers.CharField(), read_only=True)
    missing_permissions = serializers.ListField(child=serializers.CharField(), read_only=True)
    namespaces = serializers.ListField(child=serializers.CharField(), read_only=True,
                                       help_text="Namespaces the admin listed for a namespace-scoped identity.")

    class Meta:
        model = Cluster
        fields: tuple[str, ...] = (
            "id", "name", "display_name", "description", "provider", "region", "stage", "labels", "server",
            "auth_method", "enabled", "status", "status_message", "status_code", "message_code", "message_params",
            "kubernetes_version", "missing_permissions", "namespaces", "last_checked", "last_sync", "freshness", "summary", "created",
        )
        read_only_fields = fields

    def _fresh(self, cluster: Cluster) -> dict[str, Any]:
        return dict(self.context.get("freshness", {}).get(cluster.pk) or {})

    @extend_schema_field(serializers.ChoiceField(choices=["fresh", "syncing", "stale", "unreachable"]))
    def get_freshness(self, cluster: Cluster) -> str:
        return str(self._fresh(cluster).get("freshness") or "syncing")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_sync(self, cluster: Cluster) -> str | None:
        value = self._fresh(cluster).get("last_sync") or cluster.last_sync
        return _iso(value)

    def to_representation(self, instance: Cluster) -> dict[str, Any]:
        """Written out by hand (:func:`clusters.rows.cluster_row`, also the ``cluster.updated``
        payload): the list serialises 100 rows per request, and the generic path costs several
        times more than the dict it builds (same fields and formats)."""
        if type(self) is not ClusterSerializer:
            return dict(super().to_representation(instance))
        return cluster_row(instance, self._fresh(instance))


class KindSyncSerializer(serializers.ModelSerializer[KindSync]):
    last_relist_reason = serializers.CharField(
        read_only=True, help_text="Why the kind was last listed again: gone (410), watch_ended, error, permission "
                                  "(a forbidden kind became readable); \"\" before the first relist.")

    class Meta:
        model = KindSync
        fields = ("kind", "state", "last_event", "object_count", "message", "code", "relists", "last_relist_reason",
                  "last_relist_at")
        read_only_fields = fields


class PermissionRowSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="The watched kind this permission reads (\"\" for node operations).")
    group = serializers.CharField()
    resource = serializers.CharField()
    subresource = serializers.CharField()
    scope = serializers.ChoiceField(choices=["cluster", "namespace"])
    namespace = serializers.CharField()
    allowed = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField())
    fix = serializers.CharField(help_text="RBAC YAML (Role or ClusterRole and its binding) granting the missing "
                                          "verbs; \"\" when nothing is missing.")


class KindPlanSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["cluster", "namespaces", "none"])
    namespaces = serializers.ListField(child=serializers.CharField())
    message = serializers.CharField(required=False)


class PermissionsSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["cluster", "namespaces"])
    namespaces = serializers.ListField(child=serializers.CharField())
    subject = serializers.DictField(child=serializers.CharField())
    kinds = serializers.DictField(child=KindPlanSerializer())
    rows = PermissionRowSerializer(many=True)
    checked = serializers.DateTimeField()


class ClusterDetailSerializer(ClusterSerializer):
    syncs = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()

    @extend_schema_field(PermissionsSerializer(allow_null=True))
    def get_permissions(self, cluster: Cluster) -> dict[str, Any] | None:
        """The last permission check ({} before the first): what the portal can and cannot do."""
        return dict(cluster.permissions) if cluster.permissions else None

    @extend_schema_field(KindSyncSerializer(many=True))
    def get_syncs(self, cluster: Cluster) -> list[dict[str, Any]]:
        """Each kind's row with its effective state, by the rule and at the moment the cluster's
        ``freshness`` was computed (a synced kind not heard from in time, or watched by nobody,
        is ``stale`` here as in the lists)."""
        from clusters.freshness import kind_state

        rule = self._fresh(cluster).get("rule")
        rows = []
        for sync in cluster.syncs.all():
            row = dict(KindSyncSerializer(sync).data)
            if rule is not None:
                row["state"] = kind_state(sync.state, sync.last_event, now=rule["now"], limit=rule["limit"],
                                          watched=rule["watched"])
            rows.append(row)
        return rows

    class Meta(ClusterSerializer.Meta):
        fields = (*ClusterSerializer.Meta.fields, "syncs", "permissions", "prometheus_url", "prometheus_ca_pem")
        read_only_fields = fields


class ConnectionSerializer(StrictSerializer):
    """The connection part of a registration: a kubeconfig (and context), or explicit fields.
    Everything secret is write-only; the view validates it with the client layer."""

    kubeconfig = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, write_only=True,
                                       max_length=256 * 1024, help_text="A kubeconfig file's text (one document).")
    context = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=NAME_MAX_LENGTH,  # type: ignore[assignment]
                                    help_text="Context of the kubeconfig to use; default its current-context.")
    server = serializers.CharField(required=False, allow_blank=True, max_length=500, write_only=True,
                                   help_text="API server URL (https://...).")
    ca_pem = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, write_only=True,
                                   max_length=64 * 1024, help_text="PEM of the CA that signed the API server certificate.")
    token = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=16 * 1024,
                                  style={"input_type": "password"}, help_text="Bearer token (never returned).")
    client_certificate = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                               write_only=True, max_length=64 * 1024)
    client_key = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, write_only=True,
                                       max_length=64 * 1024, style={"input_type": "password"})
    insecure_skip_tls_verify = serializers.BooleanField(required=False, default=False, write_only=True)
    allow_insecure = serializers.BooleanField(
        required=False, default=False, write_only=True,
        help_text="Must be true (and the caller a system admin) for insecure_skip_tls_verify to be accepted.",
    )


def namespaces_field(**kwargs: Any) -> serializers.ListField:
    """The namespaces a namespace-scoped identity may read (empty: cluster-wide, or discovered)."""
    return serializers.ListField(
        child=serializers.CharField(max_length=63, validators=[DNS1123_LABEL]), max_length=100, allow_empty=True,
        help_text="Namespaces the portal watches when the credentials may not read the whole cluster; empty: the "
                  "whole cluster, or the namespaces the check discovers.", **kwargs)


# ---------------------------------------------------------------------------- Prometheus (issue 14, METRICS)


def prometheus_url_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        allow_blank=True, max_length=500, trim_whitespace=True,
        help_text="Optional Prometheus HTTP API base URL (http:// or https://, a path prefix allowed) for this "
                  "cluster's network, disk, restart and volume metrics; empty: metrics.k8s.io only. Reached "
                  "through the address policy like the cluster itself.", **kwargs)


def prometheus_ca_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        allow_blank=True, max_length=64 * 1024, trim_whitespace=False,
        help_text="PEM of the CA that signed the Prometheus server certificate (empty: the system CAs).", **kwargs)


def check_prometheus_url(value: str) -> str:
    """A Prometheus base URL the portal may fetch (the address policy; http or https; no query,
    fragment or credentials), without a trailing slash; "" clears it."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        outbound.validate_url(value, schemes=("http", "https"))
    except AddressError as exc:
        raise serializers.ValidationError(str(exc), code=exc.code) from exc
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise serializers.ValidationError("Give the Prometheus base address without a query or fragment "
                                          "(e.g. https://prometheus.example.com or https://host/prometheus).",
                                          code="prometheus_url_invalid")
    return value.rstrip("/")


def check_prometheus_ca(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        certificates = x509.load_pem_x509_certificates(value.encode())
    except ValueError as exc:
        raise serializers.ValidationError("Give the CA certificate(s) in PEM form (-----BEGIN CERTIFICATE-----).",
                                          code="prometheus_ca_invalid") from exc
    if not certificates:
        raise serializers.ValidationError("Give at least one certificate.", code="prometheus_ca_invalid")
    return value + "\n"


class ClusterRegisterSerializer(ConnectionSerializer):
    name = serializers.CharField(max_length=63, validators=[DNS1123_LABEL],
                                 help_text="DNS-1123 label, unique: lower-case letters, digits and '-'.")
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=DESCRIPTION_MAX_LENGTH)
    provider = serializers.ChoiceField(choices=Provider.choices, required=False, default=Provider.OTHER)
    region = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    stage = serializers.ChoiceField(choices=Stage.choices, required=False, default=Stage.DEV)
    labels = LabelsField(required=False, default=dict)
    namespaces = namespaces_field(required=False, default=list)
    prometheus_url = prometheus_url_field(required=False)
    prometheus_ca_pem = prometheus_ca_field(required=False)

    def validate_name(self, value: str) -> str:
        if Cluster.objects.filter(name=value).exists():
            raise serializers.ValidationError(f"A cluster named '{value}' is already registered.")
        return value

    def validate_prometheus_url(self, value: str) -> str:
        return check_prometheus_url(value)

    def validate_prometheus_ca_pem(self, value: str) -> str:
        return check_prometheus_ca(value)


class ClusterUpdateSerializer(StrictModelSerializer):
    labels = LabelsField(required=False)
    namespaces = namespaces_field(required=False)
    prometheus_url = prometheus_url_field(required=False)
    prometheus_ca_pem = prometheus_ca_field(required=False)

    class Meta:
        model = Cluster
        fields = ("display_name", "description", "provider", "region", "stage", "labels", "enabled", "namespaces",
                  "prometheus_url", "prometheus_ca_pem")

    def validate_prometheus_url(self, value: str) -> str:
        return check_prometheus_url(value)

    def validate_prometheus_ca_pem(self, value: str) -> str:
        return check_prometheus_ca(value)


class KubeconfigSerializer(StrictSerializer):
    kubeconfig = serializers.CharField(trim_whitespace=False, max_length=256 * 1024)


class KubeconfigContextSerializer(serializers.Serializer):
    name = serializers.CharField()
    cluster = serializers.CharField()
    server = serializers.CharField()
    user = serializers.CharField()


class KubeconfigContextsSerializer(serializers.Serializer):
    current = serializers.CharField(allow_null=True)
    contexts = KubeconfigContextSerializer(many=True)


# ---------------------------------------------------------------------------- read model


class KubeObjectSerializer(serializers.ModelSerializer[KubeObject]):
    cluster = serializers.IntegerField(source="cluster_id", read_only=True)
    labels = serializers.DictField(child=serializers.CharField(), read_only=True)
    data = serializers.DictField(  # type: ignore[assignment]  # a field named data, as the contract says
        read_only=True, help_text="The kind's projection (docs/clusters-api.md)."
    )

    class Meta:
        model = KubeObject
        fields: tuple[str, ...] = ("cluster", "kind", "namespace", "name", "uid", "labels", "node_name", "phase",
                                   "created", "updated", "data")
        read_only_fields = fields

    def to_representation(self, instance: KubeObject) -> dict[str, Any]:
        """The row written out by hand (pages of 100-500 rows); subclasses add their fields to it."""
        o = instance
        row: dict[str, Any] = {
            "cluster": o.cluster_id, "kind": o.kind, "namespace": o.namespace, "name": o.name, "uid": o.uid,
            "labels": o.labels, "node_name": o.node_name, "phase": o.phase, "created": _iso(o.created),
            "updated": _iso(o.updated), "data": o.data,
        }
        for name, field in self.fields.items():
            if name not in row:
                row[name] = field.to_representation(field.get_attribute(o))
        return row


class NodeRequestsSerializer(serializers.Serializer):
    cpu = serializers.FloatField(help_text="Cores requested by the node's pods.")
    memory = serializers.IntegerField(help_text="Bytes requested by the node's pods.")


class NodeSerializer(KubeObjectSerializer):
    """A node row plus ``requests`` and ``pod_count`` of its non-terminated pods (from the
    ``node_figures`` context, one query per page)."""

    requests = serializers.SerializerMethodField()
    pod_count = serializers.SerializerMethodField()

    class Meta(KubeObjectSerializer.Meta):
        fields = (*KubeObjectSerializer.Meta.fields, "requests", "pod_count")
        read_only_fields = fields

    def _figures(self, node: KubeObject) -> dict[str, Any]:
        return dict(self.context.get("node_figures", {}).get(node.name) or {})

    @extend_schema_field(NodeRequestsSerializer)
    def get_requests(self, node: KubeObject) -> dict[str, Any]:
        return dict(self._figures(node).get("requests") or {"cpu": 0.0, "memory": 0})

    def get_pod_count(self, node: KubeObject) -> int:
        return int(self._figures(node).get("pod_count") or 0)


class NodeDetailSerializer(NodeSerializer):
    pods = serializers.SerializerMethodField()

    class Meta(NodeSerializer.Meta):
        fields = (*NodeSerializer.Meta.fields, "pods")
        read_only_fields = fields

    @extend_schema_field(KubeObjectSerializer(many=True))
    def get_pods(self, node: KubeObject) -> list[dict[str, Any]]:
        rows: Any = KubeObjectSerializer(self.context.get("pods", []), many=True).data
        return list(rows)


class PodDetailSerializer(KubeObjectSerializer):
    object = serializers.SerializerMethodField()

    class Meta(KubeObjectSerializer.Meta):
        fields = (*KubeObjectSerializer.Meta.fields, "object")
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(help_text="The full object, fetched live (without managedFields)."))
    def get_object(self, pod: KubeObject) -> dict[str, Any]:
        return dict(self.context.get("object") or {})


class SearchResultSerializer(KubeObjectSerializer):
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)

    class Meta(KubeObjectSerializer.Meta):
        fields = (*KubeObjectSerializer.Meta.fields, "cluster_name")
        read_only_fields = fields


class FreshnessSerializer(serializers.Serializer):
    state = serializers.CharField()
    last_event = serializers.DateTimeField(allow_null=True)


# ---------------------------------------------------------------------------- node operations


class FailedEvictionSerializer(serializers.Serializer):
    pod = serializers.CharField()
    reason = serializers.CharField()


class DrainOptionsSerializer(StrictSerializer):
    """Options of a drain, as ``kubectl drain`` has them; both off by default."""

    force = serializers.BooleanField(required=False, default=False, help_text=(
        "Also evict pods that declare no controller (kubectl --force): they are gone for good."))
    delete_emptydir_data = serializers.BooleanField(required=False, default=False, help_text=(
        "Also evict pods with emptyDir volumes (kubectl --delete-emptydir-data): that data is lost."))


class NodeOperationProgressSerializer(serializers.Serializer):
    evicted = serializers.ListField(child=serializers.CharField(), help_text="namespace/name of evicted pods")
    failed = FailedEvictionSerializer(many=True)
    skipped = FailedEvictionSerializer(many=True, help_text="DaemonSet and mirror pods left in place")
    blocked = FailedEvictionSerializer(many=True, required=False, help_text=(
        "Pods that need an option the drain was not given; when any, nothing was evicted and the operation failed"))
    options = DrainOptionsSerializer(required=False, help_text="The drain's options as requested")
    remaining = serializers.IntegerField()


class DrainPlanPodSerializer(serializers.Serializer):
    pod = serializers.CharField(help_text="namespace/name")
    controller = serializers.CharField(help_text="Kind/name of the controller, empty when it declares none")
    action = serializers.ChoiceField(choices=["evict", "skip", "terminating", "blocked"])
    needs = serializers.ListField(child=serializers.ChoiceField(choices=["force", "delete_emptydir_data"]),
                                  help_text="Options evicting this pod needs")
    reasons = serializers.ListField(child=serializers.CharField())


class DrainPreviewSerializer(serializers.Serializer):
    node = serializers.CharField()
    options = DrainOptionsSerializer()
    pods = DrainPlanPodSerializer(many=True)
    blocked = serializers.IntegerField(help_text="Pods that would stop this drain")
    lost = serializers.ListField(child=serializers.CharField(), help_text=(
        "Pods this drain would evict although no controller recreates them or their emptyDir data is lost"))


@extend_schema_field(NodeOperationProgressSerializer)
class ProgressField(serializers.JSONField):
    """The documented keys are always there (a pending operation has recorded nothing yet, and
    rows written before a key existed lack it); whatever else the task recorded is kept."""

    def to_representation(self, value: Any) -> Any:
        return super().to_representation(progress_row(value))


class NodeOperationSerializer(serializers.ModelSerializer[NodeOperation]):
    cluster = serializers.IntegerField(source="cluster_id", read_only=True)
    progress = ProgressField(read_only=True)

    class Meta:
        model = NodeOperation
        fields = ("id", "cluster", "node", "kind", "status", "progress", "message", "message_code", "message_params",
                  "created", "started", "finished", "deadline")
        read_only_fields = fields

    def to_representation(self, instance: NodeOperation) -> dict[str, Any]:
        """:func:`clusters.rows.node_operation_row`, the ``node_operation.updated`` payload too
        (same fields and formats as the declared ones, which document it)."""
        return node_operation_row(instance)
