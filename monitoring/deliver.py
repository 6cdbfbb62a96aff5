"""Operation: deliver one notification of the outbox, at most once per acceptance (NOTIFY, issue 14).

The steps, each its own short transaction:

1. **Claim** (:func:`claim`): one conditional ``UPDATE`` turns a due ``pending`` row (or a
   ``sending`` row whose lease ran out: its worker died) into ``sending`` with
   ``lease_until = now + PORTAL_NOTIFY_LEASE_SECONDS``, and commits before anything is sent. Two
   workers racing for one row: one ``UPDATE`` matches, the other does nothing.
2. **Send** (no transaction open, no row lock held): SMTP through :mod:`django.core.mail` with an
   explicit connection from the ``EMAIL_*`` settings, or an HTTP POST through
   :func:`portal.outbound.session` (address policy, pinned connection) with an ``Idempotency-Key``
   header and, when the channel has a secret, ``X-Portal-Signature: sha256=<HMAC of the body>``.
   Each send has a timeout well under the lease, so a claim never runs out while its worker is
   still sending.
3. **Record** (:func:`_finish`): under the row's lock, only if the row still carries *our* lease
   (a fencing token: a worker whose lease ran out cannot overwrite a newer claim), write the
   outcome and one :class:`DeliveryAttempt`: ``delivered``; or ``pending`` again with a back-off
   (``BACKOFF * 2^(attempts-1)``, capped) for 5xx, 408, 429, timeouts and connection failures;
   or ``failed`` at once for other 4xx and for a channel that cannot send (no URL, no recipients),
   and after ``PORTAL_NOTIFY_MAX_ATTEMPTS``.

Once a receiver accepted a notification the row becomes ``delivered`` in one short transaction
and is never claimed again. The one window no sender can close: the process dies after the
receiver accepted and before that commit. The lease then runs out and the notification is sent
again, with the same ``Idempotency-Key`` header / ``Message-ID`` / ``idempotency_key`` field, so a
receiver that de-duplicates on it keeps one copy (docs/notifications.md).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from monitoring import payloads
from monitoring.models import ChannelKind, DeliveryAttempt, Notification, NotificationState
from portal import enqueue, outbound
from portal.addresses import AddressError
from portal.crypto import DecryptionError

logger = logging.getLogger(__name__)

USER_AGENT = "kubernetes-portal-notifications/1"
RETRY_STATUSES = frozenset({408, 429})
ERROR_MAX = 500
DELIVER_TASK = "monitoring.deliver_notification"
LOST_ATTEMPT = ("The worker sending this stopped before recording the outcome (its claim expired); "
                "sending again with the same idempotency key.")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    retry: bool = False  # a failure worth trying again


# ---------------------------------------------------------------------------- logs without secrets

# A Slack or Teams URL's path is its credential, and urllib3 logs the path of every request at
# DEBUG. While a webhook is being sent (this context only: threads and tasks have their own), the
# filter below blanks the path in urllib3's request lines.
_sending_webhook: contextvars.ContextVar[bool] = contextvars.ContextVar("sending_webhook", default=False)


class _RedactWebhookPaths(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _sending_webhook.get() and isinstance(record.args, tuple) and len(record.args) >= 5:
            args = list(record.args)
            args[4] = "/<redacted>"
            record.args = tuple(args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactWebhookPaths())


# ---------------------------------------------------------------------------- timing


def lease_seconds() -> float:
    return float(settings.PORTAL_NOTIFY_LEASE_SECONDS)


def send_timeout() -> float:
    """Each send's timeout: the setting, but never more than a third of the lease."""
    return max(0.5, min(float(settings.PORTAL_NOTIFY_TIMEOUT_SECONDS), lease_seconds() / 3))


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1`` after ``attempts`` failed ones."""
    base = float(settings.PORTAL_NOTIFY_BACKOFF_SECONDS)
    return min(float(settings.PORTAL_NOTIFY_BACKOFF_MAX_SECONDS), base * (2 ** max(0, attempts - 1)))


# ---------------------------------------------------------------------------- claim


def claim(notification_id: int, now: datetime | None = None) -> datetime | None:
    """Claim a due notification for one delivery; its new ``lease_until`` (our fencing token), or
    None when it is not due, delivered, failed or claimed by a live worker. Commits at once.

    Taking over a claim whose lease ran out also logs the lost attempt (its worker died or hung
    before recording an outcome) and counts it, so the delivery log shows every try."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=lease_seconds())
    with transaction.atomic():
        if Notification.objects.filter(pk=notification_id, state=NotificationState.PENDING,
                                       next_attempt_at__lte=now).update(state=NotificationState.SENDING,
                                                                        lease_until=lease):
            return lease
        row = (Notification.objects.select_for_update(skip_locked=True)
               .filter(pk=notification_id, state=NotificationState.SENDING, lease_until__lt=now).first())
        if row is None:
            return None
        DeliveryAttempt.objects.create(notification=row, at=now, ok=False, error=LOST_ATTEMPT)
        Notification.objects.filter(pk=row.pk).update(state=NotificationState.SENDING, lease_until=lease,
                                                      attempts=row.attempts + 1, last_error=LOST_ATTEMPT)
    return lease


# ---------------------------------------------------------------------------- sending


def _error_text(text: str) -> str:
    return " ".join(text.split())[:ERROR_MAX]


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "portal.invalid"


def send_email(notification: Notification, info: payloads.AlertInfo) -> Outcome:
    channel = notification.channel
    recipients = [str(r) for r in (channel.recipients or []) if str(r).strip()]
    if not recipients:
        return Outcome(ok=False, error="The channel has no recipients.")
    body = payloads.email(info, notification.event, base_url=settings.PORTAL_BASE_URL)
    sender = settings.DEFAULT_FROM_EMAIL
    message = EmailMultiAlternatives(
        subject=body.subject, body=body.text, from_email=sender, to=recipients,
        headers={"Message-ID": payloads.message_id(notification.idempotency_key, _domain(sender)),
                 "X-Portal-Idempotency-Key": notification.idempotency_key,
                 "X-Portal-Alert": str(info.id), "Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(body.html, "text/html")
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host=settings.EMAIL_HOST, port=settings.EMAIL_PORT,
        username=settings.EMAIL_HOST_USER or None, password=settings.EMAIL_HOST_PASSWORD or None,
        use_tls=settings.EMAIL_USE_TLS, use_ssl=settings.EMAIL_USE_SSL,
        timeout=min(float(settings.EMAIL_TIMEOUT), send_timeout()), fail_silently=False)
    try:
        connection.send_messages([message])
    except Exception as exc:  # smtplib.SMTPException, OSError, socket.timeout, ssl errors: all worth a retry
        code = getattr(exc, "smtp_code", None)
        permanent = isinstance(code, int) and 500 <= code < 600
        logger.info("e-mail notification %s failed: %s", notification.pk, type(exc).__name__)
        return Outcome(ok=False, status_code=code if isinstance(code, int) else None,
                       error=_error_text(f"SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}: {type(exc).__name__}: "
                                         f"{exc}"), retry=not permanent)
    return Outcome(ok=True, status_code=250)


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body with the channel's secret>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(notification: Notification, info: payloads.AlertInfo) -> Outcome:
    channel = notification.channel
    try:
        url = channel.get_url() if channel.url_encrypted else ""
        secret = channel.get_secret() if channel.secret_encrypted else ""
    except DecryptionError:
        return Outcome(ok=False, error="The channel's address or secret cannot be decrypted; set them again.")
    if not url:
        return Outcome(ok=False, error="The channel has no address.")
    body = json.dumps(payloads.webhook_body(channel.kind, info, notification.event,
                                            idempotency_key=notification.idempotency_key,
                                            base_url=settings.PORTAL_BASE_URL),
                      separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "Idempotency-Key": notification.idempotency_key}
    if secret:
        headers["X-Portal-Signature"] = signature(secret, body)
    host = outbound.host_of(url)
    token = _sending_webhook.set(True)
    try:
        with outbound.session() as session:
            response = session.post(url, data=body, headers=headers, timeout=send_timeout(), allow_redirects=False)
    except AddressError as exc:
        return Outcome(ok=False, error=_error_text(f"The address is not allowed: {exc}"))
    except requests.exceptions.Timeout:
        return Outcome(ok=False, error=f"{host} did not answer within {send_timeout():g} s.", retry=True)
    except requests.exceptions.SSLError:
        return Outcome(ok=False, error=f"The TLS handshake with {host} failed (is its certificate trusted?).",
                       retry=True)
    except requests.exceptions.RequestException as exc:
        # Not the exception's text: it quotes the URL, whose path is the credential.
        logger.info("webhook notification %s to %s failed: %s", notification.pk, host, type(exc).__name__)
        return Outcome(ok=False, error=f"Could not connect to {host}.", retry=True)
    finally:
        _sending_webhook.reset(token)
    status = response.status_code
    response.close()
    if 200 <= status < 300:
        return Outcome(ok=True, status_code=status)
    retry = status >= 500 or status in RETRY_STATUSES
    return Outcome(ok=False, status_code=status, error=f"{host} answered HTTP {status}.", retry=retry)


def send(notification: Notification) -> Outcome:
    info = payloads.describe(notification.alert)
    if notification.channel.kind == ChannelKind.EMAIL:
        return send_email(notification, info)
    return send_webhook(notification, info)


# ---------------------------------------------------------------------------- record the outcome


def _finish(notification_id: int, lease: datetime, outcome: Outcome, started: datetime, duration_ms: int) -> str:
    """Write the outcome if our claim still stands; the row's new state (or ``lost`` when another
    worker's claim replaced ours: the attempt is logged, the row left to that worker)."""
    now = timezone.now()
    with transaction.atomic():
        row = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if row is None:  # its channel or alert was deleted while it was being sent
            return "gone"
        DeliveryAttempt.objects.create(notification=row, at=started, ok=outcome.ok, status_code=outcome.status_code,
                                       error=outcome.error, duration_ms=duration_ms)
        if row.state != NotificationState.SENDING or row.lease_until != lease:
            logger.warning("notification %s: claim lost before the outcome was recorded", notification_id)
            return "lost"
        attempts = row.attempts + 1
        fields: dict[str, object] = {"attempts": attempts, "lease_until": None}
        if outcome.ok:
            fields.update(state=NotificationState.DELIVERED, delivered_at=now, last_error="")
        elif outcome.retry and attempts < int(settings.PORTAL_NOTIFY_MAX_ATTEMPTS):
            delay = backoff(attempts)
            fields.update(state=NotificationState.PENDING, last_error=outcome.error,
                          next_attempt_at=now + timedelta(seconds=delay))
            if delay <= 300:
                enqueue.on_commit(DELIVER_TASK, notification_id, countdown=delay)
        else:
            fields.update(state=NotificationState.FAILED, last_error=outcome.error)
        Notification.objects.filter(pk=notification_id).update(**fields)
        return str(fields["state"])


def deliver(notification_id: int) -> str:
    """Claim, send and record one notification; what happened: ``delivered``, ``pending`` (retry
    later), ``failed``, ``lost`` (another worker took the claim over), ``gone`` (deleted meanwhile),
    or ``skipped`` (not due, done, or claimed by a live worker)."""
    lease = claim(notification_id)
    if lease is None:
        return "skipped"
    notification = Notification.objects.select_related(
        "channel", "alert", "alert__rule", "alert__cluster", "alert__workspace", "alert__service_map",
        "alert__acknowledged_by").filter(pk=notification_id).first()
    if notification is None:
        return "gone"
    started = timezone.now()
    clock = time.monotonic()
    if not notification.channel.enabled and notification.event != "test":
        outcome = Outcome(ok=False, error="The channel was disabled before the notification was sent.")
    else:
        try:
            outcome = send(notification)
        except Exception as exc:  # a bug must not leave the row claimed until the lease ends
            logger.exception("notification %s: sending failed unexpectedly", notification_id)
            outcome = Outcome(ok=False, error=_error_text(f"Internal error: {type(exc).__name__}"), retry=True)
    return _finish(notification_id, lease, outcome, started, int((time.monotonic() - clock) * 1000))


# ---------------------------------------------------------------------------- sweep


def due(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Notifications to (re)send: pending and due, or claimed by a worker whose lease ran out."""
    now = now or timezone.now()
    return list(Notification.objects.filter(
        Q(state=NotificationState.PENDING, next_attempt_at__lte=now)
        | Q(state=NotificationState.SENDING, lease_until__lt=now)).order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit])


def sweep(now: datetime | None = None) -> int:
    """Enqueue every due notification (the beat task); the number enqueued."""
    ids = due(now)
    for notification_id in ids:
        enqueue.send(DELIVER_TASK, notification_id)
    return len(ids)


def outbox_depth() -> int:
    """Notifications not yet delivered nor given up (for /metrics)."""
    return Notification.objects.filter(state__in=(NotificationState.PENDING, NotificationState.SENDING)).count()

