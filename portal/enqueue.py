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


def on_commit(name: str, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Send task ``name`` once the current transaction commits (at once outside one), robustly."""
    transaction.on_commit(lambda: send(name, *args, countdown=countdown, **kwargs))
