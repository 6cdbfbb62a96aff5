"""Loaded into the benchmark's Celery worker by ``bench/fanout.py --extra-deploy-cpu-ms MS``
(``celery worker --include fanout_burn``), never by the portal: before every
``catalog.deploy_revision`` it spends ``FANOUT_BURN_MS`` milliseconds of the thread's CPU in
Python (holding the GIL, as the deploy's own Python does). A sensitivity probe: how much one more
millisecond of worker CPU per deploy costs the fan-out ratio on this machine, so the report can
say how far the portal's work per target must shrink, not guess it."""

from __future__ import annotations

import os
import time
from typing import Any

from celery.signals import task_prerun

BURN_SECONDS = float(os.environ.get("FANOUT_BURN_MS") or 0) / 1000


@task_prerun.connect
def _burn(sender: Any = None, **_: Any) -> None:
    if BURN_SECONDS <= 0 or getattr(sender, "name", "") != "catalog.deploy_revision":
        return
    end = time.thread_time() + BURN_SECONDS
    while time.thread_time() < end:
        sum(range(200))
