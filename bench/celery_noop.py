"""A task that does nothing, loaded into ``bench/celery_task_cost.py``'s worker only
(``celery worker --include celery_noop``): what a worker spends on a task apart from its work."""

from __future__ import annotations

from portal.celery import app


@app.task(name="bench.noop", ignore_result=True)
def noop(*args: object) -> None:
    return None
