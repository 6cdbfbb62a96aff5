"""Clusters and the inventory read model.

* :class:`Cluster`: a registered cluster: where it is (endpoint, CA), how to authenticate
  (credentials encrypted with :mod:`portal.crypto`, bound to the row), what it is (provider,
  region, stage, labels) and how it is doing (status, version, summary figures).
* :class:`KindSync`: per (cluster, kind) sync state of the watcher: the resourceVersion to resume
  from and when an event was last seen, so every list can say how fresh it is; how often and why
  the kind was listed again.
* :class:`KubeObject`: the read model: one row per object the product shows, a slim projection
  in ``data`` (never ``managedFields``) plus indexed columns for filtering and sorting.
* :class:`WatcherLease`: which watcher process owns a cluster, so replicas split the fleet.
* :class:`ObjectAction`: the intent row of every change the portal makes to an object (apply,
  create, scale, restart, rollback, delete ...): written before its task is enqueued, followed by
  the console, and the portal's side of an object's timeline.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from clusters.kube.connection import ConnectionSpec, Credentials
from portal import crypto
from portal.limits import DESCRIPTION_MAX_LENGTH

DNS1123_LABEL = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "Use lower-case letters, digits and '-', starting and ending with a letter or digit (DNS-1123 label).",
)
# Kubernetes object names as the API server checks them: a namespace or container name (a DNS-1123
# label, at most 63) and a pod name (a DNS-1123 subdomain, at most 253).
LABEL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SUBDOMAIN_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class Provider(models.TextChoices):
    ON_PREMISE = "onprem", "On-premise"
    EKS = "eks", "AWS EKS"
    GKE = "gke", "GCP GKE"
    AKS = "aks", "Azure AKS"
    NCP = "ncp", "NCP"
    OTHER = "other", "Other"


class Stage(models.TextChoices):
    DEV = "dev", "Development"
    STAGE = "stage", "Staging"
    PROD = "prod", "Production"


class ClusterStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # registered, first check not done yet
    CONNECTED = "connected", "Connected"
    UNREACHABLE = "unreachable", "Unreachable"
    UNAUTHORIZED = "unauthorized", "Unauthorized"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"


class Cluster(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[DNS1123_LABEL])
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.OTHER)
    region = models.CharField(max_length=64, blank=True)
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.DEV)
    labels = models.JSONField(default=dict, blank=True)

    # Connection. The CA and server are not secret; credentials are, and are encrypted.
    server = models.CharField(max_length=500)
    ca_pem = models.TextField(blank=True)
    tls_server_name = models.CharField(max_length=253, blank=True)
    insecure_skip_tls_verify = models.BooleanField(default=False)
    auth_method = models.CharField(max_length=24, default="token")
    credentials_encrypted = models.TextField(blank=True)

    prometheus_url = models.CharField(
        max_length=500, blank=True,
        help_text="Optional Prometheus HTTP API base URL for this cluster's extra metrics (network, disk, "
                  "restarts, custom rules), reached through the address policy like the cluster itself.")
    prometheus_ca_pem = models.TextField(blank=True)
    api_cert_not_after = models.DateTimeField(
        null=True, blank=True, help_text="When the API server's serving certificate expires, as the last check saw it.")

    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=ClusterStatus.choices, default=ClusterStatus.PENDING)
    status_message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    kubernetes_version = models.CharField(max_length=64, blank=True)
    status_code = models.CharField(max_length=40, blank=True,
                                   help_text="Stable code of the status message (connection_refused, forbidden ...).")
    missing_permissions = models.JSONField(default=list, blank=True)
    namespaces = models.JSONField(
        default=list, blank=True,
        help_text="Namespaces the portal watches when its identity may not read the whole cluster. Empty: "
                  "cluster-wide access, or the namespaces the check discovers.")
    permissions = models.JSONField(
        default=dict, blank=True,
        help_text="The last permission check: scope, watched namespaces and, per permission, allowed or not.")
    last_checked = models.DateTimeField(null=True, blank=True)
    last_sync = models.DateTimeField(null=True, blank=True, help_text="Last event seen from any watched kind.")
    summary = models.JSONField(default=dict, blank=True, help_text="Figures for the cluster list, kept by the watcher.")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def _crypto_context(self) -> str:
        if self.pk is None:
            raise ValueError("save the cluster before storing credentials: they are bound to its id")
        return f"clusters.cluster:{self.pk}:credentials"

    def set_credentials(self, credentials: Credentials) -> None:
        self.credentials_encrypted = crypto.encrypt_json(credentials.as_dict(), context=self._crypto_context())
        self.auth_method = credentials.method

    def get_credentials(self) -> Credentials:
        return Credentials.from_dict(crypto.decrypt_json(self.credentials_encrypted, context=self._crypto_context()))

    def connection_spec(self) -> ConnectionSpec:
        return ConnectionSpec(
            server=self.server, credentials=self.get_credentials(), ca_pem=self.ca_pem,
            insecure_skip_tls_verify=self.insecure_skip_tls_verify, tls_server_name=self.tls_server_name,
        )


class SyncState(models.TextChoices):
    SYNCING = "syncing", "Syncing"
    SYNCED = "synced", "Synced"
    STALE = "stale", "Stale"
    UNREACHABLE = "unreachable", "Unreachable"
    UNAUTHORIZED = "unauthorized", "Unauthorized"
    # The identity may not list/watch this kind (403): terminal until the credentials or RBAC
    # change (re-checked on a slow schedule); not counted in the cluster's freshness.
    FORBIDDEN = "forbidden", "Not permitted"


class RelistReason(models.TextChoices):
    FIRST = "first", "First list"
    GONE = "gone", "410 Gone"
    WATCH_ENDED = "watch_ended", "Watch ended"
    ERROR = "error", "Error"
    PERMISSION = "permission", "Permission granted"


class KindSync(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="syncs")
    kind = models.CharField(max_length=40)
    state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.SYNCING)
    resource_version = models.CharField(max_length=64, blank=True)
    last_event = models.DateTimeField(null=True, blank=True)
    last_list = models.DateTimeField(null=True, blank=True)
    object_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    code = models.CharField(max_length=40, blank=True, help_text="Stable code of the message.")
    relists = models.PositiveIntegerField(default=0, help_text="Lists after the first one.")
    last_relist_reason = models.CharField(max_length=16, choices=RelistReason.choices, blank=True)
    last_relist_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["cluster", "kind"], name="kindsync_unique_cluster_kind")
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.kind}: {self.state}"


class KubeObject(models.Model):
    """One Kubernetes object in the read model. ``data`` is the projection the product shows."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="kube_objects", db_index=False)
    kind = models.CharField(max_length=40)
    namespace = models.CharField(max_length=253, blank=True)  # "" for cluster-scoped kinds
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=64)
    resource_version = models.CharField(max_length=64)
    labels = models.JSONField(default=dict)
    node_name = models.CharField(max_length=253, blank=True)  # pods
    phase = models.CharField(max_length=40, blank=True)  # pods: phase; others: a status word
    created = models.DateTimeField(null=True)  # metadata.creationTimestamp
    updated = models.DateTimeField(default=timezone.now)  # when the watcher last wrote the row
    data = models.JSONField(default=dict)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["cluster", "kind", "namespace", "name"], name="kubeobject_unique_key")
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["kind", "cluster", "namespace", "name"], name="kubeobject_kind_ns_name"),
            models.Index(fields=["kind", "name"], name="kubeobject_kind_name"),
            GinIndex(fields=["labels"], name="kubeobject_labels", opclasses=["jsonb_path_ops"]),
            # Keyset pagination of inventory lists: each ordering ends in a unique tie-breaker and
            # has an index starting (cluster, kind, ...), so a page of 100 out of 100k rows starts
            # where the cursor points instead of counting rows. (namespace, name) uses the unique
            # key; these replace the (cluster, kind, phase|node_name) indexes of 0001.
            models.Index(fields=["cluster", "kind", "name", "namespace"], name="kubeobject_page_name"),
            models.Index(fields=["cluster", "kind", "created", "id"], name="kubeobject_page_created"),
            models.Index(fields=["cluster", "kind", "phase", "id"], name="kubeobject_page_phase"),
            models.Index(fields=["cluster", "kind", "node_name", "id"], name="kubeobject_page_node"),
            models.Index("cluster", "kind", Cast(KeyTextTransform("restarts", "data"), models.IntegerField()),
                         "id", name="kubeobject_page_restarts"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


class WatcherLease(models.Model):
    """A cluster is watched by the process holding its unexpired lease."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, primary_key=True, related_name="lease")
    holder = models.CharField(max_length=200)
    acquired = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.cluster_id} held by {self.holder} until {self.expires:%H:%M:%S}"


class NodeOperationKind(models.TextChoices):
    CORDON = "cordon", "Cordon"
    UNCORDON = "uncordon", "Uncordon"
    DRAIN = "drain", "Drain"


class NodeOperationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class NodeOperation(models.Model):
    """A cordon, uncordon or drain someone asked for: written before its task is enqueued, so the
    request is never lost and progress has a row to land in; the task converges when run twice."""

    ACTIVE: ClassVar[tuple[str, ...]] = (NodeOperationStatus.PENDING, NodeOperationStatus.RUNNING)

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="node_operations")
    node = models.CharField(max_length=253)
    kind = models.CharField(max_length=16, choices=NodeOperationKind.choices)
    status = models.CharField(max_length=16, choices=NodeOperationStatus.choices, default=NodeOperationStatus.PENDING)
    progress = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # A drain runs as short steps, each re-enqueuing the next (never a worker held while a
    # PodDisruptionBudget refuses): it fails once ``deadline`` passes; ``step`` numbers the chain
    # (a step whose number is not the row's exits, so a rescued chain never runs twice) and
    # ``next_step_at`` is when the next step is due (the beat rescues a chain overdue by long).
    deadline = models.DateTimeField(null=True, blank=True)
    step = models.PositiveIntegerField(default=0)
    next_step_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["cluster", "node", "status"], name="nodeop_cluster_node_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.node} ({self.status})"


class ObjectActionKind(models.TextChoices):
    APPLY = "apply", "Apply (edit YAML)"
    CREATE = "create", "Create from YAML"
    SCALE = "scale", "Scale"
    RESTART = "restart", "Restart"
    PAUSE = "pause", "Pause rollout"
    RESUME = "resume", "Resume rollout"
    ROLLBACK = "rollback", "Roll back"
    DELETE = "delete", "Delete"


class ObjectActionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CONFLICT = "conflict", "Conflict"  # server-side apply met another field manager; resubmit with force


class ObjectAction(models.Model):
    """A change someone asked the portal to make to an object of a cluster, written before its
    task (``clusters.run_object_action``) is enqueued, so the request is never lost and the
    console has a row to follow; the task converges when run twice.

    ``manifest`` is the submitted YAML; one holding a Secret is stored encrypted with
    :mod:`portal.crypto`, bound to the row (``manifest_encrypted``), and ``diff`` never carries a
    Secret's values."""

    ACTIVE: ClassVar[tuple[str, ...]] = (ObjectActionStatus.PENDING, ObjectActionStatus.RUNNING)

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="object_actions")
    group = models.CharField(max_length=253, blank=True)  # "" for the core group
    version = models.CharField(max_length=64, blank=True)
    plural = models.CharField(max_length=253, blank=True)
    kind = models.CharField(max_length=100, blank=True)  # "" for a create of many documents
    namespace = models.CharField(max_length=253, blank=True)  # "" for cluster-scoped objects
    name = models.CharField(max_length=253, blank=True)
    action = models.CharField(max_length=16, choices=ObjectActionKind.choices)
    params = models.JSONField(default=dict, blank=True)
    manifest = models.TextField(blank=True)
    manifest_encrypted = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=ObjectActionStatus.choices, default=ObjectActionStatus.PENDING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    result = models.JSONField(default=dict, blank=True)
    diff = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_username = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            # an object's actions, newest first (the object page, the timeline)
            models.Index(fields=["cluster", "namespace", "kind", "name", "-created", "-id"],
                         name="objaction_object"),
            # a cluster's actions, newest first (keyset pages)
            models.Index(fields=["cluster", "-created", "-id"], name="objaction_cluster_created"),
        ]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.action} {self.kind} {where}{self.name} ({self.status})"

    def _manifest_context(self) -> str:
        if self.pk is None:
            raise ValueError("save the action before storing its manifest: it is bound to the row id")
        return f"clusters.objectaction:{self.pk}:manifest"

    def set_manifest(self, text: str, *, encrypt: bool) -> None:
        """Keep the submitted YAML; ``encrypt`` (a Secret is in it) seals it to this row."""
        self.manifest_encrypted = bool(encrypt and text)
        self.manifest = crypto.encrypt(text.encode(), context=self._manifest_context()) if self.manifest_encrypted \
            else text

    def get_manifest(self) -> str:
        if not self.manifest_encrypted:
            return self.manifest
        return crypto.decrypt(self.manifest, context=self._manifest_context()).decode()
