"""Short pauses from the cyclic garbage collector in the long-running processes.

A full collection walks every container the process holds, with the GIL held. A Celery worker
holds about 200,000 once Django, DRF, Celery and the Kubernetes client are imported and its
tasks have run once; its full collections took 120-145 ms each (measured in bench/fanout.py), and
every task thread stood still meanwhile. What is alive when a process has set itself up lives as
long as the process: :func:`freeze_setup` moves it out of collection for good, so a full
collection walks only what came after (44 ms in the same run). :func:`log_long_collections` logs
the full collections that still take long.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from typing import Any

logger = logging.getLogger("portal.gc")

LONG_COLLECTION_SECONDS = 0.1

_started = threading.local()
_logged: set[str] = set()


def freeze_setup() -> None:
    """Collect once, then freeze every object alive now out of the collector's walks."""
    gc.collect()
    gc.freeze()


def log_long_collections(process: str, seconds: float = LONG_COLLECTION_SECONDS) -> None:
    """Log (warning) each full collection of this process that takes longer than ``seconds``;
    registered once per ``process`` name."""
    if process in _logged:
        return
    _logged.add(process)

    def timed(phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            _started.at = time.perf_counter()
            return
        took = time.perf_counter() - getattr(_started, "at", time.perf_counter())
        if took > seconds:
            logger.warning("%s garbage collection paused the process", process,
                           extra={"seconds": round(took, 3), "collected": info.get("collected")})

    gc.callbacks.append(timed)
