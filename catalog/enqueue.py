"""Enqueueing the catalog's release and rollout tasks by name, after commit.

The modules that write releases and rollouts (:mod:`catalog.releases`, :mod:`catalog.rollouts`)
sit below the tasks that run them (:mod:`catalog.tasks_deploy`, which calls back into them): they
name the task instead of importing it, so nothing imports upward (issue 12).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from portal.celery import app

DEPLOY_REVISION = "catalog.deploy_revision"
DELETE_RELEASE = "catalog.delete_release"
ADVANCE_ROLLOUT = "catalog.advance_rollout"


def send(name: str, *args: Any) -> None:
    """Send task ``name`` with ``args`` now (the catalog's tasks ignore their results)."""
    app.send_task(name, args=list(args), ignore_result=True)


def on_commit(name: str, *args: Any) -> None:
    """Send task ``name`` with ``args`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send(name, *args))
