"""One e-mail and one webhook delivered exactly once across a killed worker (issue 14, "Done when").

A real Celery worker takes both notifications from the outbox; the SMTP server holds its answer to
DATA and the HTTP receiver holds its answer, so both sends are in flight when the worker is killed
(SIGKILL). Neither receiver accepted anything (a mail server accepts a message with its final
``250``; the receiver never answered). The claims' leases run out, the sweep hands the rows to a
second worker, and each receiver accepts each notification exactly once, by idempotency key; the
delivery log shows the lost attempt and the one that succeeded.

The second test shows the one window no sender can close, and how the idempotency key closes it
for receivers that de-duplicate: a process killed after the receiver accepted and before the row
was marked delivered sends again, with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from monitoring import deliver, outbox
from monitoring.models import DeliveryAttempt, Notification
from monitoring.testing import HttpReceiver, SmtpSink, seed_alert, seed_channel
from portal.testing import backend_env, unique, wait_for
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
LEASE = 9.0
TIMEOUT = 3.0


def _env(sink: SmtpSink) -> dict[str, str]:
    return backend_env(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(sink.port), EMAIL_USE_TLS="false",
                       PORTAL_NOTIFY_LEASE_SECONDS=str(LEASE), PORTAL_NOTIFY_TIMEOUT_SECONDS=str(TIMEOUT),
                       PORTAL_BASE_URL="https://portal.example.com")


def _start_worker(name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A real Celery worker (threads: both notifications in flight at once), answering pings."""
    from portal.celery import app

    node = f"{name}-{os.getpid()}@{socket.gethostname()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=threads", "--concurrency=4",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "-n", node],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("celery worker exited during startup")
        if app.control.ping(destination=[node], timeout=0.5):
            return proc
    proc.kill()
    raise RuntimeError("celery worker did not answer within 60 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def _session_worker_paused() -> Iterator[None]:
    """The session's Celery worker (conftest ``celery_worker_process``), when a test before this one
    started it, serves the same queues but sends e-mail to another SMTP server: it stops consuming
    for these tests (Celery's ``cancel_consumer``) and resumes after."""
    from portal.celery import app
    from portal.enqueue import QUEUES

    node = f"pytest-{os.getpid()}@{socket.gethostname()}"  # as conftest names it
    paused = [q for q in QUEUES if app.control.cancel_consumer(q, destination=[node], reply=True, timeout=1.0)]
    try:
        yield
    finally:
        for queue in paused:
            app.control.add_consumer(queue, destination=[node], reply=True, timeout=1.0)


@pytest.fixture
def receivers() -> Iterator[tuple[SmtpSink, HttpReceiver]]:
    with SmtpSink(hold_first=1, hold_seconds=60) as sink, HttpReceiver(hang_first=1, hang_seconds=60) as receiver:
        yield sink, receiver


def test_one_email_and_one_webhook_exactly_once_across_a_killed_worker(
        receivers: tuple[SmtpSink, HttpReceiver]) -> None:
    sink, receiver = receivers
    team = Workspace.objects.create(name=unique("notify"))
    seed_channel(kind="email", workspace=team, recipients=["oncall@example.com"], name="mail")
    seed_channel(kind="webhook", workspace=team, url=receiver.url("/hook"), secret="hmac-key", name="hook")
    env = _env(sink)
    first = _start_worker("notify-a", env)
    second: subprocess.Popen[bytes] | None = None
    try:
        with transaction.atomic():  # as the alerts part does: the transition and its outbox rows together
            alert = seed_alert(workspace=team, severity="critical")
            assert outbox.record(alert, "firing") == 2
        mail_row = Notification.objects.get(alert=alert, channel__kind="email")
        hook_row = Notification.objects.get(alert=alert, channel__kind="webhook")

        # Both sends in flight (the receivers hold their answers), then the worker dies.
        wait_for(lambda: sink.seen >= 1 and len(receiver.requests) >= 1, timeout=30, what="both sends in flight")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        sink.release()
        receiver.release()
        assert sink.messages == []
        assert receiver.accepted == []
        for row in (mail_row, hook_row):
            row.refresh_from_db()
            assert row.state == "sending"
            assert row.lease_until is not None
            assert not DeliveryAttempt.objects.filter(notification=row).exists()
        assert deliver.due() == []  # a live-looking claim is left alone until its lease runs out

        second = _start_worker("notify-b", env)
        latest = max(r.lease_until for r in (mail_row, hook_row) if r.lease_until is not None)
        wait_for(lambda: timezone.now() > latest, timeout=LEASE + 5, what="the dead worker's leases to run out")
        from portal import enqueue

        assert enqueue.send("monitoring.sweep_notifications")  # what beat sends every 30 s

        def delivered() -> bool:
            return set(Notification.objects.filter(alert=alert).values_list("state", flat=True)) == {"delivered"}

        wait_for(delivered, timeout=60, what="both notifications delivered by the second worker")
        time.sleep(1)  # anything sent twice would have arrived by now
        assert sink.by_key() == {mail_row.idempotency_key: 1}
        assert receiver.by_key() == {hook_row.idempotency_key: 1}
        assert len(receiver.requests) == 2  # the one the dead worker was sending, then the delivery
        [mail] = sink.messages
        assert mail.rcpt_tos == ["oncall@example.com"]
        assert mail.subject.startswith("[FIRING] critical")
        for row in (mail_row, hook_row):
            row.refresh_from_db()
            assert (row.state, row.attempts) == ("delivered", 2)
            log = list(DeliveryAttempt.objects.filter(notification=row).order_by("id"))
            assert [(a.ok, a.error == deliver.LOST_ATTEMPT) for a in log] == [(False, True), (True, False)]
        # More sweeps and duplicate tasks change nothing.
        assert deliver.sweep() == 0
        assert deliver.deliver(mail_row.pk) == deliver.deliver(hook_row.pk) == "skipped"
    finally:
        _stop(first)
        if second is not None:
            _stop(second)


def test_killed_after_the_receiver_accepted_resends_with_the_same_key() -> None:
    """The window no sender can close: the receiver accepted, the process died before recording
    it. The row's lease runs out and it is sent again with the same Idempotency-Key, which a
    de-duplicating receiver uses to keep one copy (docs/notifications.md)."""
    with HttpReceiver() as receiver:
        team = Workspace.objects.create(name=unique("notify"))
        seed_channel(workspace=team, url=receiver.url("/hook"))
        alert = seed_alert(workspace=team)
        outbox.record(alert, "firing")
        row = Notification.objects.get(alert=alert)
        code = f"""
import os, signal
import django
django.setup()
from monitoring import deliver
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
deliver._finish = die
deliver.deliver({row.pk})
"""
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False, timeout=120,
                              env=backend_env(PORTAL_NOTIFY_LEASE_SECONDS="2"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
        assert receiver.by_key() == {row.idempotency_key: 1}  # accepted once
        row.refresh_from_db()
        assert row.state == "sending"
        wait_for(lambda: row.lease_until is not None and timezone.now() > row.lease_until, timeout=10,
                 what="the lease to run out")
        assert deliver.due() == [row.pk]
        assert deliver.deliver(row.pk) == "delivered"
        # Sent twice, with one key: a receiver that de-duplicates on it keeps one copy.
        assert [r.idempotency_key for r in receiver.accepted] == [row.idempotency_key] * 2
        assert receiver.accepted[0].body == receiver.accepted[1].body
        assert deliver.deliver(row.pk) == "skipped"  # and once recorded, never again
