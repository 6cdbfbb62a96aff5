"""``manage.py runwatchers``: the long-running watcher service.

It will keep the read model of every registered cluster in PostgreSQL (list + watch per kind,
resume from resourceVersion, relist on 410, sharded by lease); that arrives with the clusters
issue. For now the process runs the asyncio loop it will live in, reports a heartbeat, and stops
cleanly on SIGINT/SIGTERM so `make run`, honcho and docker-compose can manage it already.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger("clusters.watcher")


class Command(BaseCommand):
    help = "Run the cluster watcher service until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--heartbeat", type=float, default=60.0, help="Seconds between heartbeat logs.")
        parser.add_argument("--once", action="store_true", help="Start, log one heartbeat and exit (smoke test).")

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._run(heartbeat=options["heartbeat"], once=options["once"]))

    async def _run(self, *, heartbeat: float, once: bool) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        logger.info("watcher started; no cluster watching is implemented yet (clusters issue)")
        while not stop.is_set():
            logger.info("watcher heartbeat", extra={"clusters": 0})
            if once:
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=heartbeat)
            except TimeoutError:
                continue
        logger.info("watcher stopped")
