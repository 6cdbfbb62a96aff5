"""Sending Celery tasks by name, after commit, robustly: the one way every app enqueues work.

Writers (``actions.py``) sit below the tasks that run their intents, so they name a task instead
of importing it. The message is sent once the transaction commits (at once outside one), and a
broker failure at that moment is logged, not raised: the intent row is already stored in
PostgreSQL (the state of record), so a committed write never turns into a 500, and each app's
periodic reconcile task picks up intents whose task never arrived.

Queues: quick control work (``control``: checks, applies, advances), deploys (``deploys``),
long operations (``long``: drains, later builds) and periodic work (``beat``). Routing is by
task name in :data:`ROUTES`, so callers never name a queue; every worker command lists the
queues it serves (``Procfile``, the Helm chart, the test worker).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

CONTROL = "control"
DEPLOYS = "deploys"
LONG = "long"
BEAT = "beat"
QUEUES = (CONTROL, DEPLOYS, LONG, BEAT)

# First match wins; anything unnamed runs on the control queue.
ROUTES: tuple[tuple[str, str], ...] = (
    ("catalog.deploy_revision", DEPLOYS),
    ("catalog.watch_revision", DEPLOYS),
    ("catalog.delete_release", DEPLOYS),
    ("catalog.advance_rollout", DEPLOYS),
    ("clusters.drain_node*", LONG),
    ("clusters.drain_step*", LONG),
    ("builds.*", LONG),
    ("*.reconcile*", BEAT),
    ("*.recheck_*", BEAT),
    ("*.refresh_due", BEAT),
    ("*.sweep_*", BEAT),
    ("*.prune_*", BEAT),
)


def queue_for(name: str) -> str:
    for pattern, queue in ROUTES:
        if fnmatch.fnmatchcase(name, pattern):
            return queue
    return CONTROL


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str]:
    """Celery ``task_routes`` hook: every task, sent by name or called with ``.delay``, lands on its queue."""
    return {"queue": queue_for(name)}


def send(name: str, *args: Any, countdown: float | None = None, **kwargs: Any) -> bool:
    """Send task ``name`` now. Returns False (and logs) when the broker refused it."""
    from portal.celery import app

    try:
        app.send_task(name, args=list(args), kwargs=kwargs or None, countdown=countdown, ignore_result=True)
    except Exception:  # the broker's errors are many (redis, kombu, OSError); the intent row stays
        logger.warning("could not enqueue %s; the reconcile task will pick the intent up", name, exc_info=True)
        return False
    return True


def on_commit(name: str, *args: Any, countdown: float | None = None, coalesce: str | None = None,
              **kwargs: Any) -> None:
    """Send task ``name`` once the current transaction commits (at once outside one), robustly.

    ``coalesce``: a key naming what the task will look at (``catalog:advance-rollout:7``). While a
    message sent with that key waits in the queue, another is not sent: the waiting one has not
    started, so it will see this commit too. The task calls :func:`started` with the key before
    it reads anything, so a change after that sends again. The key expires after
    :data:`COALESCE_SECONDS` in case the message is lost; Redis unreachable: sent anyway.
    """
    if coalesce is None:
        transaction.on_commit(lambda: send(name, *args, countdown=countdown, **kwargs))
        return

    def _send() -> None:
        if not _claim(coalesce):
            return
        if not send(name, *args, countdown=countdown, **kwargs):
            started(coalesce)

    transaction.on_commit(_send)


COALESCE_SECONDS = 60


def _coalesce_key(key: str) -> str:
    return f"portal:queued:{key}"


def _claim(key: str) -> bool:
    from portal.redis import client

    try:
        return bool(client().set(_coalesce_key(key), 1, nx=True, ex=COALESCE_SECONDS))
    except Exception:  # Redis away: a duplicate message is harmless, a missing one is not
        logger.warning("could not coalesce %s; sending anyway", key, exc_info=True)
        return True


def started(key: str) -> None:
    """Called by a task sent with ``coalesce=key`` before it reads: later commits send it again."""
    from portal.redis import client

    try:
        client().delete(_coalesce_key(key))
    except Exception:  # the key expires by itself
        logger.warning("could not clear the coalescing key %s", key, exc_info=True)


def note(key: str, members: Iterable[str | int]) -> bool:
    """Add ``members`` to the Redis set ``key``: the things a coalesced task (sent with
    ``coalesce=key``) is to look at, all of them in one run (:func:`take`). False (logged) when
    Redis is away: the caller does the work itself or leaves it to its reconcile."""
    from portal.redis import client

    found = [str(m) for m in members]
    if not found:
        return True
    try:
        client().sadd(key, *found)
    except Exception:  # redis, OSError
        logger.warning("could not note %d member(s) of %s", len(found), key, exc_info=True)
        return False
    return True


def take(key: str) -> list[str]:
    """What a task sent with ``coalesce=key`` runs first: :func:`started`, then every member noted
    in the set ``key`` until now (:func:`note`), removed from it, sorted. A member noted from now
    on sends the task again."""
    from portal.redis import client

    started(key)
    with client().pipeline(transaction=True) as pipe:
        pipe.smembers(key)
        pipe.delete(key)
        members, _ = pipe.execute()
    return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
