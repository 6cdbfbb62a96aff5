"""Real receivers of notifications for tests (and ``scripts/mailsink.py``), on loopback only:

* :class:`SmtpSink`: an SMTP server (``aiosmtpd``'s ``Controller``) on 127.0.0.1 and a free port,
  keeping every message it accepted (:class:`ReceivedMail`). ``hold_first`` holds the DATA answer of
  the first N messages until :meth:`SmtpSink.release` (or ``hold_seconds``), as a slow mail server
  would; a message whose client went away before the answer is not accepted (a real MTA accepts a
  message only when it answers the final ``250``).
* :class:`HttpReceiver`: an HTTP server (``http.server`` in a thread) recording every POST
  (:class:`ReceivedRequest`); ``fail_first`` answers the first N with ``fail_status``; ``hang_first``
  holds the first N unanswered until :meth:`HttpReceiver.release`. ``accepted`` are the requests it
  answered 2xx to and whose answer was written: what a receiver would have committed.

Pytest fixtures: :func:`smtp_sink` and :func:`http_receiver` (import them into a test module or a
conftest: ``from monitoring.testing import smtp_sink, http_receiver  # noqa: F401``).
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- SMTP


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message.get("Message-ID", "")).strip()

    @property
    def idempotency_key(self) -> str:
        return str(self.message.get("X-Portal-Idempotency-Key", "")).strip()

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", "")).strip()

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        sink = self.sink
        with sink.lock:
            sink.seen += 1
            hold = sink.seen <= sink.hold_first
        if hold:
            deadline = time.monotonic() + sink.hold_seconds
            while not sink.released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            transport = getattr(server, "transport", None)
            if transport is None or transport.is_closing():
                return "421 client went away"
        raw = bytes(envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode())
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with sink.lock:
            sink.messages.append(ReceivedMail(mail_from=str(envelope.mail_from),
                                              rcpt_tos=[str(r) for r in envelope.rcpt_tos], data=raw,
                                              message=parsed))
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 (``start``/``stop``, or ``with``)."""

    def __init__(self, *, port: int | None = None, hold_first: int = 0, hold_seconds: float = 30.0) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.hold_first = hold_first
        self.hold_seconds = hold_seconds
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.seen = 0
        self.messages: list[ReceivedMail] = []
        self._controller: Any = None

    def start(self) -> SmtpSink:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # every SMTP command at INFO otherwise
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self.released.set()
            self._controller.stop()
            self._controller = None

    def release(self) -> None:
        self.released.set()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def by_key(self) -> dict[str, int]:
        """How many accepted messages carry each idempotency key."""
        out: dict[str, int] = {}
        with self.lock:
            for m in self.messages:
                out[m.idempotency_key] = out.get(m.idempotency_key, 0) + 1
        return out


# ---------------------------------------------------------------------------- HTTP


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    answered: bool = False
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def idempotency_key(self) -> str:
        return self.headers.get("idempotency-key", "")


class HttpReceiver:
    """A real HTTP server on 127.0.0.1 recording POSTs; ``url(path)`` for a channel's address."""

    def __init__(self, *, fail_first: int = 0, fail_status: int = 500, hang_first: int = 0,
                 hang_seconds: float = 30.0) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.hang_first = hang_first
        self.hang_seconds = hang_seconds
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.requests: list[ReceivedRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                entry = ReceivedRequest(path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                                        body=body)
                with receiver.lock:
                    receiver.requests.append(entry)
                    n = len(receiver.requests)
                if n <= receiver.hang_first:
                    # Held unanswered; once let go it answers an error: a hung request is never accepted.
                    receiver.released.wait(receiver.hang_seconds)
                    status = 503
                elif n <= receiver.hang_first + receiver.fail_first:
                    status = receiver.fail_status
                else:
                    status = 200
                payload = b'{"ok":true}' if status < 300 else b'{"ok":false}'
                entry.status = status
                # Marked answered before the answer is written: the client may act on it (and the test
                # look at the receiver) the moment it arrives, before this thread runs again.
                entry.answered = True
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                except OSError:
                    entry.answered = False

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> HttpReceiver:
        self._thread = threading.Thread(target=self.server.serve_forever, name="http-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self.released.set()

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def accepted(self) -> list[ReceivedRequest]:
        with self.lock:
            return [r for r in self.requests if r.answered and 200 <= r.status < 300]

    def by_key(self) -> dict[str, int]:
        """How many accepted requests carry each ``Idempotency-Key``."""
        out: dict[str, int] = {}
        for r in self.accepted:
            out[r.idempotency_key] = out.get(r.idempotency_key, 0) + 1
        return out


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback for one test; point ``EMAIL_HOST``/``EMAIL_PORT`` at it."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    """A real HTTP receiver on loopback for one test (``http_receiver.url()``)."""
    with HttpReceiver() as receiver:
        yield receiver


# ---------------------------------------------------------------------------- seeds


def seed_alert(*, workspace: Any = None, severity: str = "warning", state: str = "firing", rule: Any = None,
               cluster: Any = None, service_map: Any = None, fingerprint: str = "", message: str = "Pod web-1 is "
               "crash-looping") -> Any:
    """An alert in ``state`` with a transition to it, as the alerts part writes them (for tests of
    routing and delivery that do not run the evaluator)."""
    import hashlib
    import uuid

    from django.utils import timezone

    from monitoring.models import Alert, AlertTransition

    now = timezone.now()
    alert = Alert.objects.create(
        rule=rule, fingerprint=fingerprint or hashlib.sha256(uuid.uuid4().bytes).hexdigest(), state=state,
        severity=severity, workspace=workspace, cluster=cluster, service_map=service_map, namespace="shop",
        subject_kind="Pod", subject_name="web-1", message=message, message_code="pod_crash_looping",
        started_at=now, fired_at=now, last_seen_at=now, labels={"namespace": "shop", "pod": "web-1"})
    AlertTransition.objects.create(alert=alert, from_state="pending", to_state=state, at=now)
    return alert


def seed_channel(*, kind: str = "webhook", workspace: Any = None, url: str = "", secret: str = "",
                 recipients: list[str] | None = None, min_severity: str = "info", notify_resolved: bool = True,
                 enabled: bool = True, name: str = "") -> Any:
    """A channel written directly (the API tests go through the writers)."""
    from monitoring.models import NotificationChannel

    channel = NotificationChannel.objects.create(
        name=name or f"{kind}-channel", kind=kind, workspace=workspace, enabled=enabled, min_severity=min_severity,
        notify_resolved=notify_resolved, recipients=recipients or [],
        url_host=url.split("/")[2].split(":")[0] if url else "")
    if url:
        channel.set_url(url)
    if secret:
        channel.set_secret(secret)
    channel.save()
    return channel
