"""Celery tasks of build runs: thin wrappers that take ids and call :mod:`builds.runner` under the
run's lease.

Following a run never holds a worker while it waits: each task makes one pass
(:func:`builds.runner.advance`) and, while the run is active, sends itself again after
``PORTAL_BUILD_POLL_SECONDS`` with the lease's token, so the chain keeps the run and nobody else
advances it meanwhile. A worker killed mid-pass loses nothing: its lease
(``PORTAL_BUILD_LEASE_SECONDS``) runs out and the beat's :func:`reconcile_runs` sends the run again;
every step of a pass converges when repeated (server-side apply of the same manifests, a log
cursor, writers that ignore a finished step or run), so no build is lost or run twice.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from builds import run_actions, runner
from portal import enqueue

logger = logging.getLogger("builds")

ADVANCE = "builds.advance_run"


def poll_seconds() -> float:
    return float(getattr(settings, "PORTAL_BUILD_POLL_SECONDS", 1.0))


def lease_seconds() -> float:
    return float(getattr(settings, "PORTAL_BUILD_LEASE_SECONDS", 90.0))


def _deployer() -> Any:
    """DEPLOY's deploy step (:func:`builds.deploy_step.deploy`), when this portal has it."""
    try:
        from builds import deploy_step
    except ImportError:
        return None
    return getattr(deploy_step, "deploy", None)


def follow(run_id: int, token: str = "") -> str:
    """One pass under the lease; the next one is sent while the run is active."""
    claimed = run_actions.claim(run_id, seconds=lease_seconds(), token=token)
    if claimed is None:
        return "busy-or-finished"
    try:
        outcome = runner.advance(run_id, deployer=_deployer())
    except Exception:
        # A fault of the portal's own: the lease runs out and the beat tries again; the
        # no-progress timeout ends a run that keeps failing this way.
        logger.exception("build pass failed", extra={"run_id": run_id})
        raise
    if outcome.active:
        delay = poll_seconds()
        next_token = run_actions.hand_over(run_id, seconds=delay + lease_seconds())
        if not enqueue.send(ADVANCE, run_id, next_token, countdown=delay):
            run_actions.release(run_id)  # the beat's reconcile picks it up
    return str(outcome.status)


@shared_task(name="builds.start_run", ignore_result=True, acks_late=True)
def start_run(run_id: int) -> str:
    """Apply a queued run's objects and Job, then follow it (``builds.actions.create_run`` sends it)."""
    return follow(run_id)


@shared_task(name="builds.advance_run", ignore_result=True, acks_late=True)
def advance_run(run_id: int, token: str = "") -> str:
    """One look at a run (its chain's next pass, or the beat's pick-up of a lapsed lease)."""
    return follow(run_id, token)


@shared_task(name="builds.cancel_run", ignore_result=True, acks_late=True)
def cancel_run(run_id: int) -> str:
    """Delete a cancelling run's Jobs now; when a chain holds the run, its next pass does it."""
    return follow(run_id)


@shared_task(name="builds.reconcile_runs", ignore_result=True)
def reconcile_runs() -> int:
    """Periodic (beat): send again the active runs whose lease ran out (their worker died or their
    task was lost): nothing stays ``running`` for ever."""
    due = run_actions.lapsed()
    for run_id in due:
        enqueue.send(ADVANCE, run_id)
    return len(due)


@shared_task(name="builds.prune_runs", ignore_result=True)
def prune_runs() -> int:
    """Periodic (beat, daily): finished runs beyond each definition's ``keep_runs`` go."""
    return run_actions.prune()
