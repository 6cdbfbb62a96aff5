"""Celery tasks of alert evaluation (ALERTS).

``monitoring.evaluate_alerts`` runs every ``PORTAL_ALERT_EVAL_SECONDS`` (beat, settings section
"monitoring: ALERTS"). It converges when run twice and when two workers run it at once: the run
holds an advisory lock (:func:`monitoring.evaluate.run`), so the second returns at once.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from monitoring import evaluate


@shared_task(name="monitoring.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> dict[str, Any] | None:
    """Evaluate every enabled alert rule once; the counts (None: another evaluator was running)."""
    return evaluate.run()
