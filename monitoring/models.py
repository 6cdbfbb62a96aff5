"""Models of monitoring (issue 14): metric series and samples, alert rules with a lifecycle,
silences, notification channels and their outbox, retained cluster events, price sheets.

Samples themselves live in day-partitioned PostgreSQL tables that Django does not manage (see
``migrations/0002_sample_tables.py`` and :mod:`monitoring.store`): a model per row would cost more
than the rows; they are written with ``COPY`` and read with SQL. Everything else is an ordinary
model here.

* :class:`MetricSeries` names what a sample row measures: one cluster, node, namespace, workload,
  pod or container of one cluster (``level``), with the service map and workspace that owned its
  namespace when the series was first seen (metering charges the owner of the time).
* :class:`RollupState` is the watermark of each roll-up (raw → 5 min → 1 h): everything before
  ``done_until`` has been aggregated, so a roll-up that dies mid-run starts again from there.
* :class:`AlertRule` (built-in by ``builtin`` key, or custom on a stored metric), :class:`Alert`
  (one open alert per ``fingerprint``: pending → firing → acknowledged → resolved),
  :class:`AlertTransition` (the history), :class:`Silence`.
* :class:`NotificationChannel` (e-mail, Slack, Teams, generic webhook; per workspace or global),
  :class:`Notification` (the outbox: one row per (alert transition, channel), unique
  ``idempotency_key``) and :class:`DeliveryAttempt` (the delivery log).
* :class:`EventRecord`: cluster events kept past the cluster's own TTL for ``PORTAL_EVENT_RETENTION_DAYS``.
* :class:`PriceSheet`: the price of a core-hour and a GiB-hour for a cluster or a provider.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from clusters.models import Cluster
from portal import crypto
from workspaces.models import ServiceMap, Workspace

# ---------------------------------------------------------------------------- metrics


class Level(models.TextChoices):
    CLUSTER = "cluster", "Cluster"
    NODE = "node", "Node"
    NAMESPACE = "namespace", "Namespace"
    WORKLOAD = "workload", "Workload"
    POD = "pod", "Pod"
    CONTAINER = "container", "Container"


class MetricSeries(models.Model):
    """What a sample row measures. ``name`` is the node, namespace, workload, pod or container's pod
    name (``""`` for the cluster); ``container`` only at the container level; ``workload_kind`` and
    ``workload_name`` the top owner (a Deployment rather than its ReplicaSet) for workload, pod and
    container series; ``node`` the pod's node when first seen."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    level = models.CharField(max_length=12, choices=Level.choices)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253, blank=True)
    container = models.CharField(max_length=63, blank=True)
    workload_kind = models.CharField(max_length=40, blank=True)
    workload_name = models.CharField(max_length=253, blank=True)
    node = models.CharField(max_length=253, blank=True)
    service_map = models.ForeignKey(ServiceMap, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["cluster", "level", "namespace", "name", "container"],
                                    name="metricseries_unique"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["workspace", "level"], name="metricseries_workspace"),
            models.Index(fields=["service_map", "level"], name="metricseries_servicemap"),
            models.Index(fields=["cluster", "level", "namespace", "workload_kind", "workload_name"],
                         name="metricseries_workload"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.level}/{self.namespace}/{self.name}/{self.container}"


class RollupState(models.Model):
    """How far a roll-up has aggregated: ``target`` is ``5m`` or ``1h``."""

    target = models.CharField(max_length=8, unique=True)
    done_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.target} until {self.done_until:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------- alerts


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class AlertRule(models.Model):
    """A rule the evaluator runs. A built-in rule has a ``builtin`` key (``cluster_unreachable``,
    ``node_not_ready`` …, :mod:`monitoring.rules`) and its thresholds in ``params``; a custom rule
    compares ``metric`` aggregated by ``aggregation`` over ``window_seconds`` with ``threshold``
    and fires when that held for ``for_seconds``. The scope narrows what a rule looks at: a
    workspace, a cluster, a service map or one workload (cluster + namespace + kind + name);
    nothing set is the whole fleet (admins only)."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    builtin = models.CharField(max_length=40, blank=True)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    params = models.JSONField(default=dict, blank=True)
    metric = models.CharField(max_length=64, blank=True)
    aggregation = models.CharField(max_length=8, blank=True)  # avg | max | min | last
    operator = models.CharField(max_length=2, blank=True)  # > >= < <=
    threshold = models.FloatField(null=True, blank=True)
    window_seconds = models.PositiveIntegerField(default=300)
    for_seconds = models.PositiveIntegerField(default=0)
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    service_map = models.ForeignKey(ServiceMap, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    workload_namespace = models.CharField(max_length=63, blank=True)
    workload_kind = models.CharField(max_length=40, blank=True)
    workload_name = models.CharField(max_length=253, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["builtin"], condition=~Q(builtin=""), name="alertrule_builtin_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class AlertState(models.TextChoices):
    PENDING = "pending", "Pending"  # the condition holds, not yet for the rule's for-duration
    FIRING = "firing", "Firing"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)


class Alert(models.Model):
    """One occurrence of a rule's condition on one subject. At most one alert per ``fingerprint``
    is open (not resolved): the partial unique constraint makes two evaluators that race insert
    one row. ``subject`` names what it is about; cluster, workspace and service map place it for
    access and routing."""

    rule = models.ForeignKey(AlertRule, null=True, on_delete=models.SET_NULL, related_name="alerts")
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=14, choices=AlertState.choices, default=AlertState.PENDING)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    service_map = models.ForeignKey(ServiceMap, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    namespace = models.CharField(max_length=63, blank=True)
    subject_kind = models.CharField(max_length=40, blank=True)
    subject_name = models.CharField(max_length=253, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    value = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()  # the condition first held
    fired_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField()  # the last evaluation that found it true
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledge_note = models.TextField(blank=True, max_length=2000)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")  # null: resolved by the evaluator
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-started_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["fingerprint"], condition=~Q(state="resolved"),
                                    name="alert_one_open_per_fingerprint"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["state", "-started_at"], name="alert_state_started"),
            models.Index(fields=["cluster", "-started_at"], name="alert_cluster_started"),
            models.Index(fields=["workspace", "-started_at"], name="alert_workspace_started"),
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint[:12]} {self.state}"


class AlertTransition(models.Model):
    """One step of an alert's life: ``from_state`` → ``to_state``, by ``actor`` (null: the evaluator)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=14, blank=True)
    to_state = models.CharField(max_length=14)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    note = models.TextField(blank=True, max_length=2000)
    at = models.DateTimeField()

    class Meta:
        ordering: ClassVar[list[str]] = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id}: {self.from_state} -> {self.to_state}"


class Silence(models.Model):
    """Mutes notifications (not evaluation) of matching alerts until ``ends_at``. Every matcher set
    must match: a rule, a cluster, a workspace, a service map, one fingerprint."""

    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    service_map = models.ForeignKey(ServiceMap, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64, blank=True)
    reason = models.TextField(max_length=2000)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    expired_early_at = models.DateTimeField(null=True, blank=True)  # ended by hand before ends_at

    class Meta:
        ordering: ClassVar[list[str]] = ["-ends_at", "-id"]

    def __str__(self) -> str:
        return f"silence {self.pk} until {self.ends_at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------- notifications


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams (Workflows)"
    WEBHOOK = "webhook", "Generic JSON webhook"


class NotificationChannel(models.Model):
    """Where notifications go. ``workspace`` null: a global channel (admins), which receives every
    alert at or above ``min_severity``; otherwise only that workspace's alerts. E-mail channels keep
    their recipients in ``recipients``; webhook kinds their URL encrypted (a Slack or Teams URL is a
    credential), shown as its host only, and an optional HMAC secret, encrypted too."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    min_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    notify_resolved = models.BooleanField(default=True)
    recipients = models.JSONField(default=list, blank=True)
    url_encrypted = models.TextField(blank=True)
    url_host = models.CharField(max_length=253, blank=True)
    secret_encrypted = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def _context(self, what: str) -> str:
        if self.pk is None:
            raise ValueError("save the channel before storing its secrets: they are bound to its id")
        return f"monitoring.channel:{self.pk}:{what}"

    def set_url(self, url: str) -> None:
        self.url_encrypted = crypto.encrypt_text(url, context=self._context("url"))

    def get_url(self) -> str:
        return crypto.decrypt_text(self.url_encrypted, context=self._context("url"))

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = crypto.encrypt_text(secret, context=self._context("secret"))

    def get_secret(self) -> str:
        return crypto.decrypt_text(self.secret_encrypted, context=self._context("secret"))


class NotificationState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"  # claimed by a worker until lease_until
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"  # gave up after the last retry


class Notification(models.Model):
    """The outbox: one row per (alert, event, channel), ``idempotency_key`` =
    ``alert:<id>:<event>:<n>:channel:<id>``. Written in the same transaction as the alert
    transition that caused it; sent by a task that claims it (``sending`` with a lease), so a killed
    worker's claim runs out and another worker resumes; the key also travels with the delivery
    (``Message-ID``, ``Idempotency-Key``) for receivers that de-duplicate."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=14)  # firing | acknowledged | resolved
    idempotency_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=NotificationState.choices, default=NotificationState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created", "-id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["state", "next_attempt_at"], name="notification_due"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key


class DeliveryAttempt(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar[list[str]] = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.notification_id} {'ok' if self.ok else 'failed'}"


# ---------------------------------------------------------------------------- events


class EventRecord(models.Model):
    """A cluster event as last seen, kept after the cluster dropped it (retention in days)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    uid = models.CharField(max_length=64)
    namespace = models.CharField(max_length=63, blank=True)
    type = models.CharField(max_length=16, blank=True)  # Normal | Warning
    reason = models.CharField(max_length=128, blank=True)
    message = models.TextField(blank=True)
    object_kind = models.CharField(max_length=40, blank=True)
    object_name = models.CharField(max_length=253, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField()
    source = models.CharField(max_length=253, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-last_seen", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["cluster", "uid"], name="eventrecord_unique"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["cluster", "-last_seen", "-id"], name="eventrecord_cluster_seen"),
            models.Index(fields=["cluster", "namespace", "-last_seen"], name="eventrecord_ns_seen"),
            models.Index(fields=["last_seen"], name="eventrecord_last_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.object_kind}/{self.object_name}"


# ---------------------------------------------------------------------------- metering


class Currency(models.TextChoices):
    KRW = "KRW", "Korean won"
    USD = "USD", "US dollar"
    EUR = "EUR", "Euro"
    JPY = "JPY", "Japanese yen"


class PriceSheet(models.Model):
    """Prices of one cluster (``cluster`` set) or of every cluster of a provider (``provider`` set,
    ``cluster`` null): a core-hour and a GiB-hour, from ``effective_from``. The most specific sheet
    in force applies: the cluster's, else its provider's."""

    name = models.CharField(max_length=100)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=16, blank=True)
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.KRW)
    cpu_core_hour = models.DecimalField(max_digits=14, decimal_places=6)
    memory_gib_hour = models.DecimalField(max_digits=14, decimal_places=6)
    effective_from = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(cluster__isnull=False) | ~Q(provider=""),
                                   name="pricesheet_cluster_or_provider"),
        ]

    def __str__(self) -> str:
        return self.name
