"""Celery worker heartbeats, so the admin dashboard can tell which workers are alive without a
broadcast ping (``/readyz`` pings with a one-second wait; a dashboard answers at once).

Each worker process, once ready (Celery's ``worker_ready`` signal), writes
``{"at": <epoch seconds>, "queues": [...]}`` under its node name into the Redis hash
:data:`KEY` every :data:`INTERVAL` seconds from a daemon thread, and removes it on a clean
shutdown. A worker is alive while its beat is younger than :data:`ALIVE_SECONDS`; a killed worker
stops beating and shows as lost until its entry is older than :data:`FORGET_SECONDS`.
:func:`install` connects the signals (from the app config; harmless in processes that run no worker).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)

KEY = "portal:dashboard:workers"
INTERVAL = 10.0
ALIVE_SECONDS = 3 * INTERVAL
FORGET_SECONDS = 24 * 3600.0

_stop = threading.Event()
_installed = False


def _queues(sender: Any) -> list[str]:
    try:
        return sorted(q.name for q in sender.app.amqp.queues.consume_from.values())
    except Exception:
        return []


def beat(name: str, queues: list[str], *, at: float | None = None) -> None:
    from portal.redis import client

    try:
        client().hset(KEY, name, json.dumps({"at": time.time() if at is None else at, "queues": queues}))
    except Exception:
        logger.warning("worker heartbeat not written", extra={"worker": name}, exc_info=True)


def _run(name: str, queues: list[str]) -> None:
    while not _stop.is_set():
        beat(name, queues)
        _stop.wait(INTERVAL)


def _ready(sender: Any = None, **_: Any) -> None:
    name = str(getattr(sender, "hostname", "") or "worker")
    queues = _queues(sender)
    _stop.clear()
    threading.Thread(target=_run, args=(name, queues), name="dashboard-heartbeat", daemon=True).start()


def _shutdown(sender: Any = None, **_: Any) -> None:
    from portal.redis import client

    _stop.set()
    name = str(getattr(sender, "hostname", "") or "")
    if name:
        try:
            client().hdel(KEY, name)
        except Exception:
            logger.debug("worker heartbeat not removed", exc_info=True)


def workers(now: float | None = None) -> list[dict[str, Any]]:
    """Every worker heard from in the last day: ``{name, queues, last_beat, age, alive}``, one
    Redis call. Entries older than a day are dropped from the answer (and the hash)."""
    from portal.redis import client

    now = time.time() if now is None else now
    redis = client()
    raw: dict[Any, Any] = redis.hgetall(KEY) or {}  # type: ignore[assignment]
    out, forget = [], []
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        try:
            entry = json.loads(value)
            at = float(entry.get("at", 0))
        except (ValueError, TypeError, AttributeError):
            forget.append(name)
            continue
        age = max(0.0, now - at)
        if age > FORGET_SECONDS:
            forget.append(name)
            continue
        out.append({"name": name, "queues": [str(q) for q in entry.get("queues") or []], "last_beat": at,
                    "age": round(age, 1), "alive": age <= ALIVE_SECONDS})
    if forget:
        redis.hdel(KEY, *forget)
    return sorted(out, key=lambda w: (w["alive"], w["name"]))


def install() -> None:
    global _installed
    if _installed:
        return
    from celery.signals import worker_ready, worker_shutdown

    worker_ready.connect(_ready, weak=False, dispatch_uid="dashboards.heartbeat.ready")
    worker_shutdown.connect(_shutdown, weak=False, dispatch_uid="dashboards.heartbeat.shutdown")
    _installed = True
