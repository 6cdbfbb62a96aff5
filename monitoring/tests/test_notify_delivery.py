"""Delivering the outbox (monitoring.deliver) to real receivers on loopback: an SMTP server
(aiosmtpd) and an HTTP receiver; the bodies and headers of e-mail, Slack, Teams and generic
webhooks; retries with back-off; 4xx that are final; claims and leases; secrets kept out of logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from monitoring import deliver, outbox, payloads
from monitoring.models import DeliveryAttempt, Notification
from monitoring.testing import HttpReceiver, SmtpSink, seed_alert, seed_channel, smtp_sink  # noqa: F401
from portal.testing import unique
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db
BASE = "https://portal.example.com"


@pytest.fixture(autouse=True)
def _settings() -> Iterator[None]:
    with override_settings(PORTAL_BASE_URL=BASE, PORTAL_NOTIFY_BACKOFF_SECONDS=30, PORTAL_NOTIFY_MAX_ATTEMPTS=8,
                           PORTAL_NOTIFY_LEASE_SECONDS=30, PORTAL_NOTIFY_TIMEOUT_SECONDS=2):
        yield


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as r:
        yield r


def _ws() -> Workspace:
    return Workspace.objects.create(name=unique("team"))


def _one(alert_id: int) -> Notification:
    return Notification.objects.get(alert_id=alert_id)


def _log(n: Notification) -> list[tuple[bool, int | None]]:
    return [(a.ok, a.status_code) for a in DeliveryAttempt.objects.filter(notification=n).order_by("id")]


def test_email_is_delivered_to_the_smtp_server(smtp_sink: SmtpSink) -> None:  # noqa: F811
    team = _ws()
    seed_channel(kind="email", workspace=team, recipients=["ops@example.com", "dev@example.com"])
    alert = seed_alert(workspace=team, severity="critical")
    assert outbox.record(alert, "firing") == 1
    n = _one(alert.pk)
    with override_settings(EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp_sink.port, EMAIL_USE_TLS=False,
                           DEFAULT_FROM_EMAIL="Portal <alerts@portal.example.com>"):
        assert deliver.deliver(n.pk) == "delivered"
    [mail] = smtp_sink.messages
    assert sorted(mail.rcpt_tos) == ["dev@example.com", "ops@example.com"]
    assert mail.subject == "[FIRING] critical: Pod web-1 is crash-looping"
    assert mail.idempotency_key == n.idempotency_key
    assert mail.message_id == payloads.message_id(n.idempotency_key, "portal.example.com")
    text = mail.text()
    assert "Severity: critical" in text
    assert "Subject: Pod shop/web-1" in text
    assert f"workspace {team.name}" in text
    assert f"{BASE}/alerts/{alert.pk}" in text
    assert f'href="{BASE}/alerts/{alert.pk}"' in mail.html()
    n.refresh_from_db()
    assert (n.state, n.attempts, n.lease_until) == ("delivered", 1, None)
    assert n.delivered_at is not None
    assert _log(n) == [(True, 250)]
    assert deliver.deliver(n.pk) == "skipped"  # delivered: never again
    assert len(smtp_sink.messages) == 1


def test_email_to_a_server_that_is_down_is_retried() -> None:
    team = _ws()
    seed_channel(kind="email", workspace=team, recipients=["ops@example.com"])
    alert = seed_alert(workspace=team)
    outbox.record(alert, "firing")
    n = _one(alert.pk)
    closed = SmtpSink().port  # a free port nobody listens on
    with override_settings(EMAIL_HOST="127.0.0.1", EMAIL_PORT=closed):
        assert deliver.deliver(n.pk) == "pending"
    n.refresh_from_db()
    assert n.attempts == 1
    assert "SMTP 127.0.0.1" in n.last_error
    assert n.next_attempt_at > timezone.now() + timedelta(seconds=25)


def test_the_smtp_password_stays_out_of_errors_and_logs(smtp_sink: SmtpSink,  # noqa: F811
                                                       caplog: pytest.LogCaptureFixture) -> None:
    team = _ws()
    seed_channel(kind="email", workspace=team, recipients=["ops@example.com"])
    alert = seed_alert(workspace=team)
    outbox.record(alert, "firing")
    n = _one(alert.pk)
    password = "smtp-" + unique("password")
    # The sink offers no AUTH without TLS, so the login fails: the error names the server, not the password.
    with override_settings(EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp_sink.port, EMAIL_HOST_USER="portal",
                           EMAIL_HOST_PASSWORD=password), caplog.at_level(logging.DEBUG):
        assert deliver.deliver(n.pk) == "pending"
    n.refresh_from_db()
    assert n.last_error.startswith(f"SMTP 127.0.0.1:{smtp_sink.port}")
    assert password not in n.last_error
    assert password not in caplog.text
    assert smtp_sink.messages == []


def test_generic_webhook_body_headers_and_signature(receiver: HttpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    team = _ws()
    secret = "s3cr3t-" + unique("hmac")
    url = receiver.url("/hook/T0KEN-" + unique("path"))
    channel = seed_channel(workspace=team, url=url, secret=secret)
    alert = seed_alert(workspace=team, severity="warning")
    outbox.record(alert, "firing")
    n = _one(alert.pk)
    with caplog.at_level(logging.DEBUG):
        assert deliver.deliver(n.pk) == "delivered"
    [req] = receiver.accepted
    assert req.path == url.split(str(receiver.port))[1]
    assert req.headers["idempotency-key"] == n.idempotency_key
    assert req.headers["content-type"].startswith("application/json")
    expected = "sha256=" + hmac.new(secret.encode(), req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-portal-signature"] == expected
    body = req.json()
    assert body["idempotency_key"] == n.idempotency_key
    assert body["event"] == "firing"
    assert body["alert"]["id"] == alert.pk
    assert body["alert"]["severity"] == "warning"
    assert body["alert"]["state"] == "firing"
    assert body["alert"]["workspace"] == {"id": team.pk, "name": team.name}
    assert body["alert"]["subject"] == {"kind": "Pod", "name": "web-1", "namespace": "shop"}
    assert body["alert"]["url"] == f"{BASE}/alerts/{alert.pk}"
    raw = req.body.decode() + json.dumps(req.headers)
    assert secret not in raw
    assert "T0KEN" not in req.body.decode()
    assert secret not in caplog.text
    assert "T0KEN" not in caplog.text
    assert channel.url_host == "127.0.0.1"


def test_slack_and_teams_bodies(receiver: HttpReceiver) -> None:
    team = _ws()
    seed_channel(kind="slack", workspace=team, url=receiver.url("/slack"))
    seed_channel(kind="teams", workspace=team, url=receiver.url("/teams"))
    alert = seed_alert(workspace=team, severity="critical")
    assert outbox.record(alert, "firing") == 2
    for n in Notification.objects.filter(alert=alert):
        assert deliver.deliver(n.pk) == "delivered"
    by_path = {r.path: r for r in receiver.accepted}
    slack = by_path["/slack"].json()
    assert slack["text"].startswith("[FIRING] critical: Pod web-1 is crash-looping")
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "actions"]
    assert slack["blocks"][2]["elements"][0]["url"] == f"{BASE}/alerts/{alert.pk}"
    assert "x-portal-signature" not in by_path["/slack"].headers  # no secret: no signature
    teams = by_path["/teams"].json()
    assert teams["type"] == "message"
    [attachment] = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"][0]["text"].startswith("[FIRING] critical")
    assert card["body"][0]["color"] == "attention"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Severity"] == "critical"
    assert facts["Subject"] == "Pod shop/web-1"
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "Open in the portal",
                                  "url": f"{BASE}/alerts/{alert.pk}"}


def test_a_500_is_retried_with_backoff_then_delivered_once() -> None:
    team = _ws()
    with HttpReceiver(fail_first=2, fail_status=500) as receiver:
        seed_channel(workspace=team, url=receiver.url())
        alert = seed_alert(workspace=team)
        outbox.record(alert, "firing")
        n = _one(alert.pk)
        assert deliver.deliver(n.pk) == "pending"
        n.refresh_from_db()
        first_due = n.next_attempt_at
        assert n.attempts == 1
        assert n.last_error.endswith("answered HTTP 500.")
        assert timezone.now() + timedelta(seconds=25) < first_due <= timezone.now() + timedelta(seconds=31)
        assert deliver.deliver(n.pk) == "skipped"  # not due yet
        assert deliver.due() == [] or n.pk not in deliver.due()

        Notification.objects.filter(pk=n.pk).update(next_attempt_at=timezone.now())
        assert n.pk in deliver.due()
        before = timezone.now()
        assert deliver.deliver(n.pk) == "pending"
        n.refresh_from_db()
        assert before + timedelta(seconds=59) < n.next_attempt_at <= timezone.now() + timedelta(seconds=61)  # 30 s then 60 s

        Notification.objects.filter(pk=n.pk).update(next_attempt_at=timezone.now())
        assert deliver.deliver(n.pk) == "delivered"
        assert deliver.deliver(n.pk) == "skipped"
        assert receiver.by_key() == {n.idempotency_key: 1}
        assert len(receiver.requests) == 3
        assert {r.idempotency_key for r in receiver.requests} == {n.idempotency_key}  # the same key every time
        n.refresh_from_db()
        assert (n.state, n.attempts, n.last_error) == ("delivered", 3, "")
        assert _log(n) == [(False, 500), (False, 500), (True, 200)]


@pytest.mark.parametrize(("status", "outcome"), [(404, "failed"), (400, "failed"), (410, "failed"),
                                                  (429, "pending"), (408, "pending"), (503, "pending")])
def test_4xx_are_final_but_408_and_429(status: int, outcome: str) -> None:
    team = _ws()
    with HttpReceiver(fail_first=1, fail_status=status) as receiver:
        seed_channel(workspace=team, url=receiver.url())
        alert = seed_alert(workspace=team)
        outbox.record(alert, "firing")
        n = _one(alert.pk)
        assert deliver.deliver(n.pk) == outcome
        n.refresh_from_db()
        assert n.state == outcome
        assert n.last_error == f"127.0.0.1 answered HTTP {status}."
        assert _log(n) == [(False, status)]


def test_gives_up_after_the_last_attempt(receiver: HttpReceiver) -> None:
    team = _ws()
    with HttpReceiver(fail_first=100, fail_status=502) as failing, override_settings(PORTAL_NOTIFY_MAX_ATTEMPTS=3):
        seed_channel(workspace=team, url=failing.url())
        alert = seed_alert(workspace=team)
        outbox.record(alert, "firing")
        n = _one(alert.pk)
        for expected in ("pending", "pending", "failed"):
            Notification.objects.filter(pk=n.pk).update(next_attempt_at=timezone.now())
            assert deliver.deliver(n.pk) == expected
        assert deliver.deliver(n.pk) == "skipped"
        assert len(failing.requests) == 3


def test_a_receiver_that_hangs_times_out_and_is_retried() -> None:
    team = _ws()
    with HttpReceiver(hang_first=1, hang_seconds=10) as receiver, override_settings(PORTAL_NOTIFY_TIMEOUT_SECONDS=0.5):
        seed_channel(workspace=team, url=receiver.url())
        alert = seed_alert(workspace=team)
        outbox.record(alert, "firing")
        n = _one(alert.pk)
        assert deliver.deliver(n.pk) == "pending"
        n.refresh_from_db()
        assert "did not answer within 0.5 s" in n.last_error
        receiver.release()
        Notification.objects.filter(pk=n.pk).update(next_attempt_at=timezone.now())
        assert deliver.deliver(n.pk) == "delivered"
        assert receiver.by_key() == {n.idempotency_key: 1}


def test_a_receiver_that_is_down_is_retried_and_the_url_path_stays_out_of_logs(
        caplog: pytest.LogCaptureFixture) -> None:
    team = _ws()
    closed = SmtpSink().port  # a free port nobody listens on
    seed_channel(workspace=team, url=f"http://127.0.0.1:{closed}/services/T0KEN/B0T/XyZ")
    alert = seed_alert(workspace=team)
    outbox.record(alert, "firing")
    n = _one(alert.pk)
    with caplog.at_level(logging.DEBUG):
        assert deliver.deliver(n.pk) == "pending"
    n.refresh_from_db()
    assert n.last_error == "Could not connect to 127.0.0.1."
    assert "T0KEN" not in caplog.text


def test_an_address_the_policy_forbids_fails_without_connecting() -> None:
    team = _ws()
    seed_channel(workspace=team, url="http://169.254.169.254/latest/meta-data")  # written past the API's check
    alert = seed_alert(workspace=team)
    outbox.record(alert, "firing")
    n = _one(alert.pk)
    assert deliver.deliver(n.pk) == "failed"
    n.refresh_from_db()
    assert n.last_error.startswith("The address is not allowed")


def test_claims_and_leases(receiver: HttpReceiver) -> None:
    team = _ws()
    seed_channel(workspace=team, url=receiver.url())
    alert = seed_alert(workspace=team)
    outbox.record(alert, "firing")
    n = _one(alert.pk)
    now = timezone.now()
    lease = deliver.claim(n.pk, now)
    assert lease is not None
    assert deliver.claim(n.pk, now) is None  # one claim at a time
    assert deliver.deliver(n.pk) == "skipped"  # claimed by a live worker
    assert n.pk not in deliver.due(now)
    later = lease + timedelta(seconds=1)  # that worker died: its lease ran out
    assert n.pk in deliver.due(later)
    newer = deliver.claim(n.pk, later)
    assert newer is not None
    assert newer > lease
    # The first worker comes back and reports: its claim was replaced, so it changes nothing.
    outcome = deliver.Outcome(ok=True, status_code=200)
    assert deliver._finish(n.pk, lease, outcome, now, 5) == "lost"
    n.refresh_from_db()
    assert n.state == "sending"
    assert n.lease_until == newer
    assert deliver._finish(n.pk, newer, outcome, now, 5) == "delivered"
    n.refresh_from_db()
    assert n.attempts == 2  # the lost claim counts
    assert _log(n) == [(False, None), (True, 200), (True, 200)]
    assert DeliveryAttempt.objects.filter(notification=n).order_by("id")[0].error == deliver.LOST_ATTEMPT


def test_sweep_enqueues_due_rows_only(receiver: HttpReceiver) -> None:
    team = _ws()
    seed_channel(workspace=team, url=receiver.url())
    due_alert, later_alert = seed_alert(workspace=team), seed_alert(workspace=team)
    outbox.record(due_alert, "firing")
    outbox.record(later_alert, "firing")
    Notification.objects.filter(alert=later_alert).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert deliver.due() == [_one(due_alert.pk).pk]
    assert deliver.outbox_depth() == 2


def test_payloads_for_acknowledged_and_resolved() -> None:
    alert = seed_alert(severity="warning")
    alert.acknowledge_note = "looking"
    info = payloads.describe(alert)
    mail = payloads.email(info, "acknowledged", base_url="")
    assert mail.subject.startswith("[ACKNOWLEDGED] warning")
    assert "Note: looking" in mail.text
    assert f"/alerts/{alert.pk}" in mail.text
    slack = payloads.slack(info, "resolved", base_url="")
    assert slack["blocks"][-1]["type"] == "context"  # no absolute link without a base URL
    teams = payloads.teams(info, "resolved", base_url="")
    assert teams["attachments"][0]["content"]["body"][0]["color"] == "good"
    assert "actions" not in teams["attachments"][0]["content"]
