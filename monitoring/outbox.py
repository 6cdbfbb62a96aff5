"""Writer: route an alert transition to its channels and record one :class:`Notification` per
channel — the outbox (NOTIFY, issue 14).

:func:`record` runs inside the transaction that changes the alert (the alerts part calls it next to
the :class:`~monitoring.models.AlertTransition` it writes), so a transition and its notifications
commit together or not at all: an evaluator killed mid-run leaves neither. Delivery happens later,
in a task enqueued after commit (:mod:`monitoring.deliver`); the beat sweep finds any row whose
task never arrived.

Routing: the enabled channels of the alert's workspace plus the global channels (no workspace),
whose ``min_severity`` is at or below the alert's severity; a ``resolved`` event only to channels
with ``notify_resolved``; nothing while an active :class:`~monitoring.models.Silence` matches the
alert (every matcher the silence sets must match). One row per channel with the idempotency key
``alert:<alert id>:<event>:<transition id>:channel:<channel id>``; ``get_or_create`` on that key
makes a repeated call record nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from monitoring.models import (
    SEVERITY_RANK,
    Alert,
    AlertTransition,
    Notification,
    NotificationChannel,
    NotificationState,
    Silence,
)
from portal import enqueue

EVENTS = ("firing", "acknowledged", "resolved")
TEST_EVENT = "test"
DELIVER_TASK = "monitoring.deliver_notification"


def idempotency_key(alert_id: int, event: str, transition_id: int, channel_id: int) -> str:
    return f"alert:{alert_id}:{event}:{transition_id}:channel:{channel_id}"


def active_silences(now: datetime) -> QuerySet[Silence]:
    return Silence.objects.filter(starts_at__lte=now, ends_at__gt=now, expired_early_at__isnull=True)


def silenced(alert: Alert, now: datetime | None = None) -> bool:
    """Whether an active silence matches ``alert``: each matcher a silence sets (rule, cluster,
    workspace, service map, fingerprint) must equal the alert's; a silence that sets none matches nothing."""
    now = now or timezone.now()
    for s in active_silences(now):
        matchers = (
            (s.rule_id, alert.rule_id),
            (s.cluster_id, alert.cluster_id),
            (s.workspace_id, alert.workspace_id),
            (s.service_map_id, alert.service_map_id),
            (s.fingerprint or None, alert.fingerprint),
        )
        set_matchers = [(want, have) for want, have in matchers if want is not None]
        if set_matchers and all(want == have for want, have in set_matchers):
            return True
    return False


def channels_for(alert: Alert, event: str) -> list[NotificationChannel]:
    """The enabled channels that take ``event`` of ``alert`` (silences aside)."""
    rank = SEVERITY_RANK.get(str(alert.severity), 0)
    where = Q(workspace__isnull=True)
    if alert.workspace_id is not None:
        where |= Q(workspace_id=alert.workspace_id)
    qs = NotificationChannel.objects.filter(where, enabled=True).order_by("id")
    if event == "resolved":
        qs = qs.filter(notify_resolved=True)
    return [c for c in qs if SEVERITY_RANK.get(str(c.min_severity), 0) <= rank]


def _latest_transition_id(alert: Alert) -> int:
    tid = (AlertTransition.objects.filter(alert_id=alert.pk).order_by("-id").values_list("id", flat=True).first())
    return int(tid or 0)


def _create(alert: Alert, channel: NotificationChannel, event: str, key: str, now: datetime) -> bool:
    row, created = Notification.objects.get_or_create(
        idempotency_key=key,
        defaults={"alert": alert, "channel": channel, "event": event, "state": NotificationState.PENDING,
                  "next_attempt_at": now},
    )
    if created:
        enqueue.on_commit(DELIVER_TASK, row.pk)
    return created


def record(alert: Alert, event: str) -> int:
    """Record the notifications of ``alert``'s transition ``event`` (``firing``, ``acknowledged``
    or ``resolved``) inside the caller's transaction; the number of rows newly recorded (0 when
    silenced, when no channel takes it, or when this transition was already recorded)."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    now = timezone.now()
    if silenced(alert, now):
        return 0
    channels = channels_for(alert, event)
    if not channels:
        return 0
    transition_id = _latest_transition_id(alert)
    count = 0
    for channel in channels:
        if _create(alert, channel, event, idempotency_key(alert.pk, event, transition_id, channel.pk), now):
            count += 1
    return count


def record_test(alert: Alert, channel: NotificationChannel, nonce: str) -> Notification:
    """A test notification of ``channel`` about ``alert`` (a synthetic alert the channel test made),
    through the same outbox path: same row, same task, same delivery log. Ignores routing and silences."""
    now = timezone.now()
    key = f"alert:{alert.pk}:{TEST_EVENT}:{nonce}:channel:{channel.pk}"
    _create(alert, channel, TEST_EVENT, key, now)
    return Notification.objects.get(idempotency_key=key)
