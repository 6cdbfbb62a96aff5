#!/usr/bin/env python3
"""A loopback SMTP sink for ``make run``: e-mail notification channels have somewhere to deliver to
on a developer's machine without a real mail server (the development profile's ``EMAIL_HOST`` /
``EMAIL_PORT`` default to localhost:1025).

Usage: ``scripts/mailsink.py [--host 127.0.0.1] [--port 1025] [--dir var/mail]``. It prints one line
per message (recipients, subject, idempotency key) and, with ``--dir``, keeps each one as an
``.eml`` file named after its ``Message-ID`` (so a notification delivered twice shows as one file
written twice, never two files). It only listens on loopback unless told otherwise.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import signal
import sys
import threading
from pathlib import Path
from typing import Any


class Sink:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        key = str(message.get("X-Portal-Idempotency-Key", "")).strip()
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {str(message.get('Subject', '')).strip()} "
              f"[{key or 'no key'}]", flush=True)
        if self.directory is not None:
            name = hashlib.sha256(str(message.get("Message-ID", key)).encode()).hexdigest()[:32]
            (self.directory / f"{name}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=None, help="keep each message as an .eml file here")
    args = parser.parse_args()
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        print("mailsink needs aiosmtpd (requirements-dev.txt)", file=sys.stderr)
        return 1
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(Sink(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"listening on smtp://{args.host}:{args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
