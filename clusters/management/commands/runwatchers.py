"""``manage.py runwatchers``: the long-running watcher service (see ``docs/watcher.md``).

Runs :class:`clusters.watcher.engine.Engine` on an asyncio loop until SIGINT or SIGTERM, then
stops cleanly: streams are abandoned, what was read is written, leases are released so another
replica takes the clusters at once. Start as many as you like against one PostgreSQL and Redis;
leases split the clusters between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.watcher.config import WatcherConfig
from clusters.watcher.engine import Engine
from portal import gcpause

logger = logging.getLogger("clusters.watcher")

# Young-generation threshold of the watcher's garbage collector (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Keep the cyclic garbage collector from stalling the watcher's loop.

    Every event allocates a few dozen containers (its JSON, the projected row, the op), and the
    ones that wait for the writer or the publisher live long enough to be promoted; the
    collector then ran a full collection every few seconds over everything the process holds
    (Django, the client libraries, 1,700 watches' tasks): measured at 100 clusters, 300-400 ms
    each with the GIL held. Tuned as below, change -> database p99 went from 580 to 258 ms, the
    first sync of 100,000 pods from 52 to 27-31 s and the CPU per change down 8 %. The
    objects alive once the process is set up are frozen out of collection for good (they live
    as long as the process), and collections run after 50,000 allocations instead of 700; the
    little cyclic garbage the watcher makes (psycopg's array dumpers) waits a little longer."""
    gcpause.freeze_setup()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)
    gcpause.log_long_collections("watcher")


def freeze_after_lists(done: int, running: int, seen: int) -> int:
    """Once lists have finished and none runs, move what they left alive out of collection.

    A first sync (or a relist) leaves the process holding much more than at start-up: per kind,
    the keys it listed and the state of every stream. Left to the collector, the next full
    collection walks all of it with the GIL held (measured: 2 s at 100 clusters x 1,000 pods,
    taking change -> database p99 from 90 ms to 1.9 s in that window). Collected and frozen
    once, right after the lists, that pause is spent while nothing waits on the watcher yet.
    ``done``: lists finished so far, ``running``: lists running now, ``seen``: ``done`` at the last
    freeze. Returns the new ``seen``."""
    if done == seen or running:
        return seen
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    logger.info("watcher froze what its lists left", extra={"seconds": round(time.perf_counter() - started, 3),
                                                           "frozen": gc.get_freeze_count()})
    return done


class Command(BaseCommand):
    help = "Run the cluster watcher service until interrupted (SIGINT/SIGTERM)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--holder", default=None,
                            help="Lease holder id (default: host:pid:random). Must differ between replicas.")
        parser.add_argument("--max-clusters", type=int, default=None,
                            help="Watch at most this many clusters (default PORTAL_WATCHER_MAX_CLUSTERS; 0: "
                                 "a fair share of the live watchers).")
        parser.add_argument("--writer-threads", type=int, default=None,
                            help="Database writer shards (default PORTAL_WATCHER_WRITER_THREADS, 2).")
        parser.add_argument("--cluster", type=int, action="append", default=None, dest="clusters",
                            help="Only watch this cluster id (repeatable; for debugging).")
        parser.add_argument("--heartbeat", type=float, default=60.0, help="Seconds between status log lines.")

    def handle(self, *args: Any, **options: Any) -> None:
        overrides: dict[str, Any] = {}
        if options["max_clusters"] is not None:
            overrides["max_clusters"] = options["max_clusters"]
        if options["writer_threads"] is not None:
            overrides["writer_threads"] = max(1, options["writer_threads"])
        try:
            config = WatcherConfig.from_settings(**overrides).check()
        except ValueError as exc:  # a setting that is not a number, or one that cannot work
            raise CommandError(str(exc)) from exc
        engine = Engine(config=config, holder=options["holder"], cluster_ids=options["clusters"])
        tune_gc()
        asyncio.run(self._run(engine, heartbeat=options["heartbeat"]))

    async def _run(self, engine: Engine, *, heartbeat: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        beat = asyncio.create_task(self._heartbeat(engine, stop, heartbeat))
        freezer = asyncio.create_task(self._freezer(engine, stop))
        try:
            await engine.run(stop)
        finally:
            beat.cancel()
            freezer.cancel()

    async def _freezer(self, engine: Engine, stop: asyncio.Event) -> None:
        frozen_at = 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=engine.config.poll_interval)
            frozen_at = freeze_after_lists(engine.lists_done, engine.lists_running, frozen_at)

    async def _heartbeat(self, engine: Engine, stop: asyncio.Event, every: float) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except TimeoutError:
                states: dict[str, int] = {}
                for watch in list(engine.clusters.values()):
                    states[watch.state] = states.get(watch.state, 0) + 1
                logger.info("watcher heartbeat", extra={"holder": engine.holder, "clusters": len(engine.clusters),
                                                        "states": states, "batches": engine.batches,
                                                        "queued": engine.queued,
                                                        "read_to_commit_ms": engine.lag_percentiles(),
                                                        "events_sent": engine.publisher.sent})
