"""Celery tasks of service map moves: thin wrappers over :mod:`catalog.moving` that take ids.

``catalog.advance_move`` runs one short step and sends itself again (at once after a finished
step, after :func:`catalog.moving.poll_seconds` while a step waits for a cluster); no worker waits.
``catalog.reconcile_moves`` (beat) sends the moves whose chain stopped (a killed worker, a lost
message) again. Every step converges when run twice (docs/moves.md).
"""

from __future__ import annotations

from celery import shared_task

from catalog import moving

STALE_SECONDS = 30.0


@shared_task(name="catalog.advance_move", ignore_result=True, acks_late=True)
def advance_move(move_id: int) -> str:
    result = moving.advance(move_id)
    if result == "next":
        advance_move.apply_async((move_id,))
    elif result == "waiting":
        advance_move.apply_async((move_id,), countdown=moving.poll_seconds())
    return result  # "busy": the pass holding the move goes on; final states end the chain


@shared_task(name="catalog.reconcile_moves", ignore_result=True)
def reconcile_moves() -> int:
    """Periodic (beat): send again the moves no pass has touched lately."""
    due = moving.due(stale_after=STALE_SECONDS)
    for move_id in due:
        advance_move.delay(move_id)
    return len(due)
