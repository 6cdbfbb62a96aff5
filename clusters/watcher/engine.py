"""The watcher engine: list+watch streams per (cluster, kind), coordinated on one asyncio loop.

Why it is built this way:

* Watches are sockets on the loop (:mod:`clusters.kube.watchstream`): each read's events are
  projected and handed to the writer right there, with no thread per watch and no queue between.
  List pages and probes use the official client, which blocks, in thread pools. The asyncio side
  decides when a stream lists, watches, backs off or waits for its cluster.
* One writer path per cluster: every change becomes an :class:`~clusters.watcher.writer.Op` in
  the ordered buffer of the cluster's writer shard, which one task writes in batches on that
  shard's database thread (shards, spread by cluster id, commit in parallel). Events are
  published only after the batch committed.
* A slow or dead cluster never delays another: each cluster has its own probe (``/version``),
  a circuit breaker (streams of an unreachable cluster stop and wait for the probe to succeed,
  their in-flight watches are abandoned), per-request timeouts, and at most
  ``max_relists_per_cluster`` of the ``max_relists`` list slots.
* Streams resume from the stored resourceVersion after a restart or an outage; only a 410 Gone
  makes that one (cluster, kind) list again.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import os
import random
import socket
import sys
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone

from clusters.kube.client import KubeClient
from clusters.kube.errors import (
    Forbidden,
    Gone,
    InvalidConnection,
    KubeError,
    NotFound,
    TLSVerificationFailed,
    Unauthorized,
)
from clusters.kube.kinds import WATCHED_KINDS, Kind
from clusters.kube.messages import explain
from clusters.kube.watchstream import open_watch
from clusters.models import Cluster, RelistReason, SyncState
from clusters.watcher import hooks, leases
from clusters.watcher.config import WatcherConfig
from clusters.watcher.projection import project
from clusters.watcher.publisher import Publisher, Sender
from clusters.watcher.summary import cluster_row, refresh_clusters
from clusters.watcher.writer import (
    BOOKMARK,
    CLUSTER_STATE,
    DELETE,
    KIND_STATE,
    LIST_START,
    LISTED,
    UPSERT,
    Changes,
    DatabaseThread,
    Op,
    apply_batch,
    ensure_kindsyncs,
    refresh_counts,
)

logger = logging.getLogger("clusters.watcher")
T = TypeVar("T")


QUICK_ENDS_BEFORE_RELIST = 5
LEASE_EXPIRY_MARGIN = 0.05  # poll this long after another holder's lease runs out (it must be past)


class Abandoned(Exception):
    """The stream's cluster became unreachable (or is stopping) while a request was in flight."""


class Backoff:
    """Jittered exponential backoff: base, 2*base, 4*base ... up to ``maximum``, each x0.5-1.5."""

    def __init__(self, base: float, maximum: float) -> None:
        self.base, self.maximum, self.attempt = base, maximum, 0

    def next(self) -> float:
        delay = min(self.maximum, self.base * 2 ** self.attempt)
        self.attempt += 1
        return delay * (0.5 + random.random())  # noqa: S311 - jitter, not crypto

    def reset(self) -> None:
        self.attempt = 0


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again those still running.

    Python 3.11's ``asyncio.wait_for`` drops a cancellation that arrives as the awaited future
    completes (gh-86296, fixed in 3.12): a loop around ``wait_for(event.wait(), ...)`` whose event
    is set at that moment carries on as if never cancelled, and a single cancel-then-gather waited
    for it forever (a stopped engine that never ended, seen in CI)."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=0.5)
        for task in pending:
            task.cancel()
    for task in tasks:  # what they raised was theirs to log (as gather(return_exceptions=True) did)
        if not task.cancelled():
            task.exception()


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a future nobody may await any more (its stream was abandoned or
    stopped, or its deadline passed): the caller already reported the failure once, at its level."""
    if not future.cancelled() and future.exception() is not None:
        logger.debug("abandoned cluster request ended: %r", future.exception())


@dataclass
class ClusterInfo:
    name: str
    client: KubeClient | None
    resume: dict[str, tuple[str, str]]  # kind -> (resource_version, state)
    error: str = ""
    code: str = ""
    plan: dict[str, Any] | None = None  # kind -> {"scope": cluster|namespaces|none, "namespaces", "message"}


class Engine:
    """Watches every cluster this process holds a lease on. ``await run(stop)`` until ``stop`` is set."""

    def __init__(
        self, *, config: WatcherConfig | None = None, holder: str | None = None,
        cluster_ids: Iterable[int] | None = None, sender: Sender | None = None,
    ) -> None:
        self.config = (config or WatcherConfig.from_settings()).check()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.only = set(cluster_ids) if cluster_ids is not None else None
        self.sender = sender  # None: publish to the Channels layer (tests may pass portal.events.send_now)
        self.shards: list[WriterShard] = []
        self.clusters: dict[int, ClusterWatch] = {}
        self.fingerprints: dict[int, str] = {}
        self.dirty: dict[int, float] = {}  # cluster -> monotonic time its rows first changed since refresh
        self.status_dirty: set[int] = set()
        self.counts_dirty: set[tuple[int, str]] = set()
        self.last_refresh: dict[int, float] = {}
        self.published_rows: dict[int, dict[str, Any]] = {}
        self.batches = 0
        self.rows_written = 0
        self.lag_ms: collections.deque[float] = collections.deque(maxlen=2000)  # event read -> committed
        self.ready = threading.Event()  # set once the first lease poll is done (tests, benchmarks)

    # ------------------------------------------------------------------ plumbing

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the watcher's control database thread (leases, loading clusters)."""
        return await self.loop.run_in_executor(self.db_executor, lambda: fn(*args, **kwargs))

    async def io(self, fn: Callable[..., T], *args: Any, timeout: float, probe: bool = False, **kwargs: Any) -> T:
        """Run blocking client work in a thread, giving up after ``timeout`` (the request has its own)."""
        executor = self.probe_executor if probe else self.io_executor
        future = self.loop.run_in_executor(executor, lambda: fn(*args, **kwargs))
        future.add_done_callback(_consume)  # an abandoned request's late failure is not an error to print
        return await asyncio.wait_for(future, timeout)

    @property
    def queued(self) -> int:
        """Ops read but not yet written."""
        return sum(len(shard.pending) for shard in self.shards)

    def shard_for(self, cluster_id: int) -> WriterShard:
        return self.shards[cluster_id % len(self.shards)]

    def enqueue(self, op: Op) -> None:
        """Add an op from the loop side (lists, states)."""
        self.shard_for(op.cluster_id).add(op)

    def accept(self, stream: Stream, op: Op) -> None:
        """An op read from ``stream``'s open watch: the stream resumes after it, and it is written."""
        if op.rv:
            stream.rv = op.rv
        if op.type == BOOKMARK and stream.errors:
            stream.errors = 0
        if op.at is not None and stream.state_note == SyncState.STALE:
            stream.state_note = ""  # heard from again: the writer turns the kind synced
        self.shard_for(op.cluster_id).add(op)

    # ------------------------------------------------------------------ tasks

    def _note(self, changes: Changes) -> None:
        now = time.monotonic()
        for cluster_id in changes.clusters:
            self.dirty.setdefault(cluster_id, now)
        self.status_dirty |= changes.status_changed
        self.counts_dirty |= changes.counts_dirty - changes.relisted
        if changes.status_changed:
            self.refresh_ready.set()

    async def _refresher(self) -> None:
        """Recompute summaries of changed clusters (at most every ``summary_interval`` each, and at
        most ``summary_rate`` a second in all: with more busy clusters than that, each one's figures
        wait longer) and publish ``cluster.updated`` when a row changed; state changes go out at once."""
        cfg = self.config
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.refresh_ready.wait(), timeout=cfg.summary_interval / 2)
            self.refresh_ready.clear()
            now = time.monotonic()
            due = set(self.status_dirty)
            # A refresh costs ~4 ms of this process's CPU and an aggregate over the cluster's rows in
            # PostgreSQL: at 100 busy clusters every 2 s that was a sixth of a core each.
            interval = max(cfg.summary_interval, len(self.dirty) / cfg.summary_rate)
            due |= {c for c in self.dirty if now - self.last_refresh.get(c, 0.0) >= interval}
            # Freshness turns stale with time alone (a stream that hangs without an error): look at
            # every cluster several times per freshness limit.
            every = max(cfg.summary_interval, min(30.0, cfg.fresh_limit / 4))
            due |= {c for c in self.clusters if now - self.last_refresh.get(c, 0.0) >= every}
            if not due:
                continue
            self.status_dirty -= due
            for c in due:
                self.dirty.pop(c, None)
                self.last_refresh[c] = now
            counts = {p for p in self.counts_dirty if p[0] in due}
            self.counts_dirty -= counts
            try:
                rows, skipped = await self.loop.run_in_executor(self.summary_executor, _refresh, due, counts,
                                                                {c for c in due if c in self.clusters})
            except Exception:
                logger.exception("watcher summary refresh failed")
                continue
            self.counts_dirty |= skipped  # a write held their rows: counted at the clusters' next refresh
            for cluster_id, _ in skipped:
                self.dirty.setdefault(cluster_id, now)
            for cluster_id, row in rows.items():
                comparable = {k: v for k, v in row.items() if k not in ("last_sync", "last_checked")}
                if self.published_rows.get(cluster_id) != comparable:
                    self.published_rows[cluster_id] = comparable
                    self.publisher.cluster_updated(cluster_id, row)

    def lag_percentiles(self) -> dict[str, float]:
        """p50/p99 of the delay from reading an event to committing it (recent events)."""
        values = sorted(self.lag_ms)
        if not values:
            return {}
        return {"p50": round(values[len(values) // 2], 1), "p99": round(values[int(len(values) * 0.99)], 1)}

    async def _control(self, stop: asyncio.Event) -> None:
        """Renew leases, follow the cluster table (new, disabled, deleted, changed credentials)."""
        cfg = self.config
        while not stop.is_set():
            wait = cfg.poll_interval
            try:
                view = await self.db(leases.sync_leases, self.holder, ttl=cfg.lease_seconds,
                                     max_clusters=cfg.max_clusters, only=self.only)
            except Exception:
                logger.exception("watcher lease poll failed")
                await self.db(close_old_connections)
            else:
                await self._apply_view(view)
                self.ready.set()
                if view.next_change is not None:  # a stopped process's clusters are free then: take them at once
                    wait = min(wait, max(LEASE_EXPIRY_MARGIN, view.next_change + LEASE_EXPIRY_MARGIN))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def _apply_view(self, view: leases.LeaseView) -> None:
        for cluster_id in list(self.clusters):
            if cluster_id not in view.clusters or view.clusters[cluster_id] != self.fingerprints.get(cluster_id):
                await self.stop_cluster(cluster_id)
        if view.surplus:
            for cluster_id in view.surplus:
                await self.stop_cluster(cluster_id)
            await self.db(leases.release, self.holder, view.surplus)
            logger.info("watcher handed over clusters", extra={"clusters": view.surplus,
                                                               "live_holders": view.live_holders})
        for cluster_id, fp in view.clusters.items():
            if cluster_id not in self.clusters:
                self.fingerprints[cluster_id] = fp
                watch = ClusterWatch(self, cluster_id)
                self.clusters[cluster_id] = watch
                watch.start()

    async def stop_cluster(self, cluster_id: int) -> None:
        watch = self.clusters.pop(cluster_id, None)
        self.fingerprints.pop(cluster_id, None)
        if watch is not None:
            await watch.stop()

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        self.loop = asyncio.get_running_loop()
        self.db_executor = DatabaseThread("watcher-db")
        # Summaries are read-mostly and slow-ish (aggregates over every pod of a cluster): their
        # own connection, so they never hold up the writer.
        self.summary_executor = DatabaseThread("watcher-summary")
        self.hook_executor = DatabaseThread("watcher-hooks")
        self.io_executor = concurrent.futures.ThreadPoolExecutor(cfg.io_threads, thread_name_prefix="watcher-io")
        self.probe_executor = concurrent.futures.ThreadPoolExecutor(
            max(4, cfg.io_threads // 2), thread_name_prefix="watcher-probe")
        self.pub_executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="watcher-pub")
        self.relists = asyncio.Semaphore(cfg.max_relists)
        self.lists_running = 0  # kinds being listed now
        self.lists_done = 0  # lists finished since the start (runwatchers freezes the heap after them)
        self.shards = [WriterShard(self, i) for i in range(max(1, cfg.writer_threads))]
        self.refresh_ready = asyncio.Event()
        self.publisher = Publisher(cfg, self.pub_executor, self.sender)
        logger.info("watcher starting", extra={"holder": self.holder})
        tasks = [asyncio.create_task(shard.run(), name=f"writer-{shard.index}") for shard in self.shards]
        tasks += [asyncio.create_task(coro, name=name) for name, coro in (
            ("refresher", self._refresher()),
            ("publisher", self.publisher.run()), ("control", self._control(stop)))]
        try:
            stopped = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            await self._shutdown(tasks)

    async def _shutdown(self, tasks: list[asyncio.Task[Any]]) -> None:
        control = tasks[-1]
        control.cancel()
        for cluster_id in list(self.clusters):
            await self.stop_cluster(cluster_id)
        try:
            for shard in self.shards:
                failures = 0
                while shard.pending and failures < 3:  # what was read is written before we go
                    failures += 0 if await shard.write_once() else 1
            await self.publisher.flush(force=True)
        except Exception:
            logger.exception("watcher final flush failed")
        await cancel_all(tasks)
        try:
            await self.db(leases.release, self.holder)
            await self.db(leases.retire, self.holder)
        except Exception:
            logger.exception("watcher could not release its leases; they expire by themselves")
        for executor in (self.db_executor, self.summary_executor, self.hook_executor,
                         *(shard.executor for shard in self.shards)):
            with contextlib.suppress(Exception):  # each thread's own connection, not the loop thread's
                await self.loop.run_in_executor(executor, lambda: connection.close())
            executor.shutdown(wait=True)
        self.pub_executor.shutdown(wait=True)
        self.io_executor.shutdown(wait=False, cancel_futures=True)
        self.probe_executor.shutdown(wait=False, cancel_futures=True)
        logger.info("watcher stopped", extra={"holder": self.holder, "batches": self.batches})


class WriterShard:
    """One writer: an ordered buffer of ops and the database thread that writes it in batches.

    Clusters are spread over ``writer_threads`` shards by id, so every op of a cluster goes
    through the same shard in the order it was read (one write path per cluster), while the
    shards' transactions run in parallel on their own connections.
    """

    def __init__(self, engine: Engine, index: int) -> None:
        self.engine = engine
        self.index = index
        self.pending: list[Op] = []
        self.ready = asyncio.Event()
        self.executor = DatabaseThread(f"watcher-writer-{index}")
        self._hook_calls: set[asyncio.Future[None]] = set()

    def add(self, op: Op) -> None:
        self.pending.append(op)
        self.ready.set()

    async def run(self) -> None:
        cfg = self.engine.config
        while True:
            await self.ready.wait()
            if not self.pending:
                self.ready.clear()
                continue
            if len(self.pending) < cfg.batch_size:
                await asyncio.sleep(cfg.flush_interval)  # linger to fill the batch
            await self.write_once()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def write_once(self) -> bool:
        """Write one batch; False if the database refused it (it is kept and retried)."""
        engine = self.engine
        batch = self.pending[: engine.config.batch_size]
        del self.pending[: len(batch)]
        if not self.pending:
            self.ready.clear()
        try:
            changes = await self._call(apply_batch, batch)
        except (OperationalError, InterfaceError):
            # The database is away: keep everything, in order, and try again.
            logger.exception("watcher batch write failed; retrying", extra={"ops": len(batch)})
            self.pending[:0] = batch
            self.ready.set()
            await asyncio.sleep(1.0)
            await self._call(close_old_connections)
            return False
        except Exception:
            # Something in the batch is refused (a bug or an object we cannot store): write the
            # ops one by one and drop only what fails, rather than stall every cluster on it.
            logger.exception("watcher batch refused; writing it op by op", extra={"ops": len(batch)})
            changes = await self._call(_apply_each, batch)
        engine.batches += 1
        engine.rows_written += sum(len(v) for v in changes.upserts.values())
        committed = timezone.now()
        engine.lag_ms.extend((committed - op.at).total_seconds() * 1000 for op in batch
                             if op.at is not None and op.type in (UPSERT, DELETE))
        engine.publisher.add(changes, committed.isoformat())
        engine._note(changes)
        if hooks.wanted(changes):
            # Not awaited: listeners must never hold up the next batch.
            task = asyncio.get_running_loop().run_in_executor(engine.hook_executor, hooks.notify, changes)
            self._hook_calls.add(task)
            task.add_done_callback(self._hook_calls.discard)
        return True


def _apply_each(ops: list[Op]) -> Changes:
    merged = Changes()
    for op in ops:
        try:
            one = apply_batch([op])
        except Exception:
            logger.exception("watcher dropped an operation it cannot write",
                             extra={"cluster_id": op.cluster_id, "kind": op.kind, "op": op.type})
            continue
        for pair, rows in one.upserts.items():
            merged.upserts.setdefault(pair, {}).update(rows)
        for pair, keys in one.deletes.items():
            merged.deletes.setdefault(pair, set()).update(keys)
        merged.relisted |= one.relisted
        merged.clusters |= one.clusters
        merged.status_changed |= one.status_changed
        merged.counts_dirty |= one.counts_dirty
    return merged


def _refresh(cluster_ids: set[int], counts: set[tuple[int, str]],
             held: set[int]) -> tuple[dict[int, dict[str, Any]], set[tuple[int, str]]]:
    """Counts, then the clusters' figures and rows: three reads for the batch, and an update per
    cluster whose figures changed. A cluster in ``held`` (this process watches it under its lease)
    is ``watched`` without asking the lease table. Also returns the counts skipped because a write
    held their row (:func:`refresh_counts`), for the next refresh."""
    skipped = refresh_counts(counts)
    return {cluster_id: cluster_row(cluster, syncs, watched=True if cluster_id in held else None)
            for cluster_id, (cluster, syncs) in sorted(refresh_clusters(cluster_ids).items())}, skipped


def _load_cluster(cluster_id: int, config: WatcherConfig) -> ClusterInfo | None:
    """Read the cluster and build its client (DNS resolution and address policy happen here)."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return None
    resume = ensure_kindsyncs(cluster_id)
    try:
        spec = cluster.connection_spec()
        client = KubeClient(spec, read_timeout=config.request_timeout,
                            connect_timeout=min(5.0, config.probe_timeout), pool_maxsize=len(WATCHED_KINDS) + 8)
    except KubeError as exc:
        explained = explain(exc)
        return ClusterInfo(cluster.name, None, resume, explained.message, explained.code)
    except Exception as exc:  # undecryptable credentials and the like: say so, never print them
        return ClusterInfo(cluster.name, None, resume, f"Cannot use the stored connection ({type(exc).__name__}). "
                                                       "Replace the credentials under Credentials.", "undecryptable")
    return ClusterInfo(cluster.name, client, resume, plan=(cluster.permissions or {}).get("kinds") or None)


class ClusterWatch:
    """One cluster: its client, health probe, circuit breaker and one :class:`Stream` per kind."""

    def __init__(self, engine: Engine, cluster_id: int) -> None:
        self.engine = engine
        self.config = engine.config
        self.cluster_id = cluster_id
        self.name = str(cluster_id)
        self.client: KubeClient | None = None
        self.state = "starting"  # starting | connected | unreachable | unauthorized | error
        self.healthy = asyncio.Event()  # breaker closed: streams may talk to the cluster
        self.broken = asyncio.Event()  # breaker open: in-flight requests are abandoned
        self.probe_now = asyncio.Event()
        self.relists = asyncio.Semaphore(self.config.max_relists_per_cluster)
        self.streams: dict[str, Stream] = {}
        self.tasks: list[asyncio.Task[Any]] = []
        self.stopped = False
        self.failures = 0

    def start(self) -> None:
        self.tasks.append(asyncio.create_task(self._main(), name=f"cluster-{self.cluster_id}"))

    async def stop(self) -> None:
        self.stopped = True
        for stream in self.streams.values():
            stream.gen += 1
        await cancel_all(self.tasks)
        if self.client is not None:
            client, self.client = self.client, None
            self.engine.io_executor.submit(client.close)

    def _log(self, message: str, **extra: Any) -> None:
        logger.info(message, extra={"cluster": self.name, "cluster_id": self.cluster_id, **extra})

    async def _main(self) -> None:
        backoff = Backoff(self.config.backoff_base * 5, self.config.backoff_max)
        while True:
            info = await self.engine.db(_load_cluster, self.cluster_id, self.config)
            if info is None:
                return
            self.name = info.name
            if info.client is not None:
                self.client = info.client
                break
            self._log("watcher cannot connect", error=info.error)
            self.set_state("error", info.error, info.code)
            await asyncio.sleep(backoff.next())
        for kind in WATCHED_KINDS:
            rv, _state = info.resume.get(kind.kind, ("", ""))
            plan = (info.plan or {}).get(kind.kind) or {"scope": "cluster"}
            stream = Stream(self, kind, rv, plan)
            self.streams[kind.kind] = stream
            self.tasks.append(asyncio.create_task(stream.run(), name=f"stream-{self.cluster_id}-{kind.kind}"))
        await self._probe_loop()

    # ------------------------------------------------------------------ health

    async def _probe_loop(self) -> None:
        cfg = self.config
        assert self.client is not None
        client = self.client
        while True:
            self.probe_now.clear()
            try:
                version = await self.engine.io(
                    lambda: client.version(attempts=1, timeout=cfg.probe_timeout),
                    timeout=cfg.probe_timeout + 2, probe=True)
            except (Unauthorized, Forbidden) as exc:
                self.failures = 0
                if self.state != "unauthorized":
                    explained = explain(exc)
                    self.set_state("unauthorized", explained.message, explained.code)
            except (KubeError, TimeoutError, OSError) as exc:
                self.failures += 1
                if self.failures >= cfg.probe_failures and self.state != "unreachable":
                    explained = explain(exc, timeout=cfg.probe_timeout + 2)
                    self.set_state("unreachable", explained.message, explained.code)
            else:
                self.failures = 0
                if self.state != "connected":
                    self.set_state("connected", str(version.get("gitVersion") or ""))
            # After a failure, check again soon: two failures in a row make the cluster unreachable.
            interval = cfg.probe_interval if self.failures == 0 or self.state == "unreachable" else min(
                1.0, cfg.probe_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.probe_now.wait(), timeout=interval)

    def set_state(self, state: str, message: str, code: str = "") -> None:
        previous, self.state = self.state, state
        log = logger.warning if state in ("unreachable", "unauthorized", "error") else logger.info
        log("watcher cluster state", extra={"cluster": self.name, "cluster_id": self.cluster_id, "state": state,
                                            "previous": previous, "code": code, "detail": message[:300]})
        if state == "connected":
            self.broken.clear()
            self.healthy.set()
            for stream in self.streams.values():
                if stream.state_note != SyncState.FORBIDDEN:
                    stream.state_note = ""  # the writer resets kind states; streams report afresh
            self.engine.enqueue(Op(CLUSTER_STATE, self.cluster_id, state="connected", message=message))
            return
        self.healthy.clear()
        self.broken.set()
        for stream in self.streams.values():
            stream.gen += 1  # abandon in-flight watches; they resume from the last stored version
        self.engine.enqueue(Op(CLUSTER_STATE, self.cluster_id, state=state, message=message, code=code))

    def report_failure(self, error: BaseException) -> None:
        """A stream failed to reach the cluster: let the probe decide now."""
        if isinstance(error, Unauthorized):
            if self.state != "unauthorized":
                explained = explain(error)
                self.set_state("unauthorized", explained.message, explained.code)
            return
        self.probe_now.set()


class Stream:
    """List then watch one kind of one cluster, forever: resume, relist on 410, back off on errors.

    ``plan`` (from the cluster's permission check) says how: across the cluster (``cluster``), per
    namespace for an identity that may read only some (``namespaces``: one list per namespace, one
    watch thread per namespace, all written as one kind), or not at all (``none``: the kind is
    ``forbidden`` and tried again every ``forbidden_recheck`` seconds). A 403 from the cluster makes
    the kind ``forbidden`` the same way, whatever the plan said.
    """

    def __init__(self, cluster: ClusterWatch, kind: Kind, rv: str, plan: dict[str, Any] | None = None) -> None:
        self.cluster = cluster
        self.engine = cluster.engine
        self.config = cluster.config
        self.kind = kind
        self.plan = plan or {"scope": "cluster"}
        self.namespaces: list[str] = ([str(ns) for ns in self.plan.get("namespaces") or []]
                                      if self.plan.get("scope") == "namespaces" and kind.namespaced else [])
        self.rv = rv
        self.ns_rv: dict[str, str] = {}  # per-namespace resume points (namespaced plan)
        self.gen = 0
        self.errors = 0
        self.listed = bool(rv)
        self.state_note = ""  # the KIND_STATE we last reported ("" = none)
        self.quick_ends = 0  # watches in a row the server ended within a second
        self.relist_reason = str(RelistReason.FIRST if not rv else RelistReason.ERROR)

    @property
    def client(self) -> KubeClient:
        if self.cluster.client is None:
            raise Abandoned()
        return self.cluster.client

    async def run(self) -> None:
        cfg = self.config
        backoff = Backoff(cfg.backoff_base, cfg.backoff_max)
        if self.plan.get("scope") == "none":
            self._note_state(SyncState.FORBIDDEN, str(self.plan.get("message") or f"Not permitted: the identity may "
                                                      f"not list and watch {self.kind.resource}."), "forbidden")
            await asyncio.sleep(cfg.forbidden_recheck)
        while True:
            await self.cluster.healthy.wait()
            try:
                if not self.rv:
                    await self.relist()
                started = time.monotonic()
                await self.watch()
                self.errors = 0
                if time.monotonic() - started < 1.0:
                    # A watch the server ends at once (a proxy, a bug) must not become a busy loop;
                    # one it keeps ending at once may not like our resourceVersion: list afresh.
                    self.quick_ends += 1
                    if self.quick_ends >= QUICK_ENDS_BEFORE_RELIST:
                        self.quick_ends = 0
                        self.rv = ""
                        self.relist_reason = str(RelistReason.WATCH_ENDED)
                    await self._sleep_unless_broken(backoff.next())
                else:
                    self.quick_ends = 0
                    backoff.reset()
            except Gone:
                logger.info("watcher relisting after 410 Gone",
                            extra={"cluster_id": self.cluster.cluster_id, "kind": self.kind.kind})
                self.rv = ""
                self.relist_reason = str(RelistReason.GONE)
            except Abandoned:
                continue
            except Unauthorized as exc:
                self.cluster.report_failure(exc)
                await asyncio.sleep(cfg.unauthorized_retry)
            except Forbidden as exc:
                # Terminal until credentials or RBAC change: the kind stays forbidden (never back to
                # syncing) and is tried again rarely; a grant is picked up then, or at once when the
                # cluster's check records new permissions (the watch restarts on a new plan).
                explained = explain(exc)
                self._note_state(SyncState.FORBIDDEN, explained.message, explained.code)
                await asyncio.sleep(cfg.forbidden_recheck)
                if self.listed:
                    self.relist_reason = str(RelistReason.PERMISSION)
            except (NotFound, TLSVerificationFailed, InvalidConnection) as exc:
                explained = explain(exc)
                self._note_state(SyncState.STALE, explained.message, explained.code)
                await asyncio.sleep(cfg.unauthorized_retry)
            except (KubeError, TimeoutError, OSError) as exc:
                self.errors += 1
                self.cluster.report_failure(exc)
                if self.listed and not self.cluster.broken.is_set():
                    # The stream is down: we would not know if something changed. Stale until a
                    # watch is open again (its opening is recorded like a bookmark). Not once the
                    # breaker is open: the cluster is unreachable, every kind with it, and a stale
                    # noted after that would leave one kind looking merely stale.
                    explained = explain(exc, timeout=self.config.request_timeout + 5)
                    self._note_state(SyncState.STALE, explained.message, explained.code)
                await self._sleep_unless_broken(backoff.next())

    def _note_state(self, state: str, message: str, code: str = "") -> None:
        if self.state_note != state:
            self.state_note = state
            level = logging.INFO if state in (SyncState.STALE, SyncState.FORBIDDEN) else logging.DEBUG
            logger.log(level, "watcher kind state", extra={"cluster_id": self.cluster.cluster_id,
                                                            "kind": self.kind.kind, "state": state, "code": code,
                                                            "detail": message[:300]})
            self.engine.enqueue(Op(KIND_STATE, self.cluster.cluster_id, self.kind.kind, state=state,
                                   message=message[:2000], code=code))

    async def _sleep_unless_broken(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.cluster.broken.wait(), timeout=delay)

    async def _abandonable(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the cluster's breaker opens first."""
        task = asyncio.ensure_future(awaitable)
        broken = asyncio.ensure_future(self.cluster.broken.wait())
        try:
            done, _ = await asyncio.wait({task, broken}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the stream itself is cancelled (its cluster stops): nobody awaits the task
            task.add_done_callback(_consume)
            task.cancel()
            raise
        finally:
            broken.cancel()
        if task in done:
            return task.result()
        task.add_done_callback(_consume)  # it may still fail: consumed, not printed as never retrieved
        task.cancel()
        raise Abandoned()

    # ------------------------------------------------------------------ list

    def _list_page(self, cont: str | None, namespace: str = "") -> tuple[list[Any], str, str | None]:
        client = self.client
        kwargs: dict[str, Any] = {"limit": self.config.page_size, "attempts": 1,
                                  "timeout": self.config.request_timeout}
        if cont:
            kwargs["_continue"] = cont
        body = client.get_json(self.kind.lister(client, namespace), **kwargs)
        meta = body.get("metadata") or {}
        rows = [project(self.kind.kind, item) for item in body.get("items") or []]
        return rows, str(meta.get("resourceVersion") or ""), meta.get("continue") or None

    async def relist(self) -> None:
        self.gen += 1
        cluster = self.cluster
        async with cluster.relists, self.engine.relists:
            if not cluster.healthy.is_set():
                raise Abandoned()
            self.engine.lists_running += 1
            try:
                keys, rv = await self._list_all()
            finally:
                self.engine.lists_running -= 1
        self.engine.lists_done += 1
        self.engine.enqueue(Op(LISTED, cluster.cluster_id, self.kind.kind, rv=rv, keys=keys, at=timezone.now()))
        self.rv = rv
        self.listed = True
        self.state_note = ""
        self.relist_reason = str(RelistReason.ERROR)  # unless a 410 or a watch end says otherwise

    async def _list_all(self) -> tuple[set[tuple[str, str]], str]:
        """List every page of the kind (per namespace when limited to some); the keys listed and the
        list's resourceVersion."""
        cluster = self.cluster
        self.engine.enqueue(Op(LIST_START, cluster.cluster_id, self.kind.kind,
                               state=self.relist_reason if self.listed else str(RelistReason.FIRST),
                               at=None))
        keys: set[tuple[str, str]] = set()
        rv = ""
        timeout = self.config.request_timeout + 5
        for namespace in self.namespaces or [""]:
            cont: str | None = None
            while True:
                rows, rv, cont = await self._abandonable(
                    self.engine.io(self._list_page, cont, namespace, timeout=timeout))
                for row in rows:
                    keys.add((row["namespace"], row["name"]))
                    self.engine.enqueue(Op(UPSERT, cluster.cluster_id, self.kind.kind, row=row))
                if not cont:
                    break
            if namespace:
                self.ns_rv[namespace] = rv
        return keys, rv

    # ------------------------------------------------------------------ watch

    async def watch(self) -> None:
        self.gen += 1
        gen = self.gen
        tasks = [asyncio.ensure_future(self._watch_one(gen, namespace)) for namespace in self.namespaces or [""]]
        # One namespace's watch ending (its timeoutSeconds) or failing ends this round for all: the
        # next round reopens each from where it was.
        waiting: Awaitable[Any] = tasks[0] if len(tasks) == 1 else asyncio.wait(
            tasks, return_when=asyncio.FIRST_COMPLETED)
        try:
            await self._abandonable(waiting)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        except (Abandoned, asyncio.CancelledError):
            self.gen += 1
            raise
        finally:
            if len(tasks) > 1:
                self.gen += 1  # the other namespaces' watches stop
            for task in tasks:
                if not task.done():
                    task.add_done_callback(_consume)
                    task.cancel()  # closes its socket
                else:
                    _consume(task)

    async def _watch_one(self, gen: int, namespace: str = "") -> None:
        """One watch request (one namespace's, for a namespaced plan) until the server ends it."""
        engine, kind, cluster_id, cfg = self.engine, self.kind.kind, self.cluster.cluster_id, self.config
        many = bool(namespace)  # per-namespace versions: the stored one is the list's, not an event's
        client = self.client
        # The server ends a healthy watch after timeoutSeconds even if it sent nothing; only a
        # stream silent past that (plus a grace) is dead. Never cut silent streams sooner.
        stream = await open_watch(client.spec, self.kind.path(namespace),
                                  resource_version=self.ns_rv.get(namespace) or self.rv,
                                  timeout_seconds=cfg.watch_timeout, idle_timeout=cfg.read_timeout,
                                  connect_timeout=client.connect_timeout, read_timeout=cfg.request_timeout,
                                  endpoint=client.endpoint)
        if self.gen != gen:
            await stream.close()
            return
        # The server accepted the watch: the stream is live again. Recorded as a bookmark
        # without a version, so a silent kind (no events, no bookmarks: an empty kind on a
        # real API server) is confirmed fresh at every renewal, every watch_timeout seconds.
        engine.accept(self, Op(BOOKMARK, cluster_id, kind, at=timezone.now()))

        def deliver(events: list[dict[str, Any]]) -> None:
            """Called on the loop with each read's events, as they land."""
            if self.gen != gen or self.cluster.stopped:
                stream.abort()
                return
            at = timezone.now()
            for event in events:
                etype = event.get("type")
                obj = event.get("object") or {}
                if etype in ("ADDED", "MODIFIED", "DELETED"):
                    row = project(kind, obj)
                    if many and row["resource_version"]:
                        self.ns_rv[namespace] = row["resource_version"]
                    op = Op(UPSERT if etype != "DELETED" else DELETE, cluster_id, kind, row=row,
                            rv=None if many else (row["resource_version"] or None), at=at)
                elif etype == "BOOKMARK":
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or "") or None
                    if many and version:
                        self.ns_rv[namespace] = version
                    op = Op(BOOKMARK, cluster_id, kind, rv=None if many else version, at=at)
                else:
                    logger.warning("watcher skipped an unknown watch event", extra={"type": etype, "kind": kind})
                    continue
                engine.accept(self, op)
            if engine.queued > cfg.queue_size and stream.pause():
                # Back-pressure: the writer is behind; stop reading (TCP holds the server back).
                engine.loop.call_later(cfg.flush_interval, resume_when_written)

        def resume_when_written() -> None:
            if stream.closed:
                return
            if engine.queued > cfg.queue_size:
                engine.loop.call_later(cfg.flush_interval, resume_when_written)
            else:
                stream.resume()

        try:
            await stream.run(deliver)
        finally:
            await stream.close()


class EngineThread:
    """Run an :class:`Engine` in a background thread with its own loop (tests, benchmarks)."""

    _started: ClassVar[weakref.WeakSet[EngineThread]] = weakref.WeakSet()

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._main, name=f"engine-{engine.holder}", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.engine.run(self._stop))
        except BaseException as exc:
            self.error = exc
            logger.exception("engine thread failed")
        finally:
            self._loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @classmethod
    def running(cls) -> list[EngineThread]:
        """Engines started in this process whose thread has not ended."""
        return [runner for runner in list(cls._started) if runner.alive]

    def start(self, *, wait: float = 30.0) -> EngineThread:
        EngineThread._started.add(self)
        self._thread.start()
        if not self.engine.ready.wait(wait):
            raise RuntimeError(f"the watcher engine did not start within {wait} s: {self.error!r}")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the engine and wait for its thread; an engine that outlives this is an error.

        One left running keeps its leases, takes clusters from the next engine and holds database
        connections (it may even be refused database access half way through a transaction): it
        must fail here, with where it is stuck, rather than break whatever runs after it.
        """
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the watcher engine {self.engine.holder!r} did not stop within {timeout} s; "
                                   f"where its tasks are:\n{_task_stacks(self._loop)}\n"
                                   f"where its threads are:\n{_thread_stacks()}")
        if self.error is not None:
            raise self.error

    def __enter__(self) -> EngineThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _thread_stacks() -> str:
    """The stacks of the engine threads and the watcher's pool threads (to explain a hang)."""
    frames = sys._current_frames()
    out = []
    for thread in threading.enumerate():
        if thread.ident in frames and thread.name.startswith(("engine-", "watcher-")):
            out.append(f"--- {thread.name}\n" + "".join(traceback.format_stack(frames[thread.ident])[-8:]))
    return "\n".join(out)


def _task_stacks(loop: asyncio.AbstractEventLoop) -> str:
    """The engine's asyncio tasks and where each waits (read from another thread: diagnostics only)."""
    for _ in range(3):
        try:
            tasks = list(asyncio.all_tasks(loop))
            break
        except RuntimeError:  # the set changed while it was read
            continue
    else:
        return "(could not list the tasks)"
    out = []
    for task in tasks:
        frames = task.get_stack(limit=6)
        where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames)) or "(no frame)"
        out.append(f"--- task {task.get_name()}: {where}")
    return "\n".join(sorted(out))
