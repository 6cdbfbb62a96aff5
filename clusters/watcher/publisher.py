"""Coalesced live events of the read model, sent after the writer's transaction committed.

Browsers subscribe to ``cluster.<id>``, ``cluster.<id>.ns.<namespace>`` and ``fleet``. A busy
cluster changes hundreds of objects a second, so changes are gathered per group and sent at most
once per ``publish_interval`` (75 ms) per group as one ``objects.changed`` message (shape in
``docs/clusters-api.md``); a group whose pending changes are only namespace digests (a cluster's
group: counts that tell a browser to refetch) at most once per ``digest_interval`` (1 s). Each
group is sent the moment it is due, not on a timer's tick; ``cluster.updated`` carries a cluster row when its status, figures or
freshness changed. A whole flush is numbered and added to the event stream in one Redis round
trip (:func:`portal.events.send_many_sync`), on the publisher's own thread: a slow Redis delays
events, never database writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clusters.kube.kinds import KINDS_BY_NAME
from clusters.watcher.config import WatcherConfig
from clusters.watcher.projection import Row
from clusters.watcher.writer import Changes
from portal import fastjson
from portal.events import RawJSON

logger = logging.getLogger("clusters.watcher")

Sender = Callable[[str, str, Any], Any]
_dumps = fastjson.dumps


def api_row(cluster_id: int, row: Row, updated: str) -> str:
    """A projection as the inventory API serves it, as JSON. Its labels and data, the bulk of it,
    are the text the writer encoded for PostgreSQL (encoded here only for a row that has none)."""
    head = _dumps({"cluster": cluster_id, "kind": row["kind"], "namespace": row["namespace"], "name": row["name"],
                   "uid": row["uid"], "node_name": row["node_name"], "phase": row["phase"],
                   "created": row["created"].isoformat() if row["created"] else None, "updated": updated})
    labels = row.get("labels_json") or _dumps(row["labels"])
    data = row.get("data_json") or _dumps(row["data"])
    return f'{head[:-1]}, "labels": {labels}, "data": {data}}}'


@dataclass
class _KindChanges:
    upserts: dict[tuple[str, str], str] = field(default_factory=dict)  # rows as JSON (api_row)
    deletes: set[tuple[str, str]] = field(default_factory=set)
    truncated: bool = False
    relisted: bool = False
    digest: dict[str, dict[str, int]] = field(default_factory=dict)  # namespace -> counts

    def entry(self, kind: str, *, digest: bool) -> str:
        """The kind's entry of an ``objects.changed`` message, as JSON."""
        if digest or self.truncated:
            out: dict[str, Any] = {"kind": kind, "namespaces": self.digest} if digest else \
                {"kind": kind, "truncated": True}
            if self.relisted:
                out["relisted"] = True
            return _dumps(out)
        deletes = _dumps([{"namespace": ns, "name": name} for ns, name in sorted(self.deletes)])
        relisted = ', "relisted": true' if self.relisted else ""
        return f'{{"kind": {_dumps(kind)}, "upserts": [{", ".join(self.upserts.values())}], ' \
               f'"deletes": {deletes}{relisted}}}'


class Publisher:
    def __init__(self, config: WatcherConfig, executor: concurrent.futures.Executor,
                 send: Sender | None = None) -> None:
        self.config = config
        self.send = send  # None: the batched Channels path below
        self.executor = executor
        self.pending: dict[str, dict[str, _KindChanges]] = {}  # group -> kind -> changes
        self.digest_groups: set[str] = set()
        self.with_rows: set[str] = set()  # pending groups with more than digests: due at publish_interval
        self.cluster_rows: dict[int, dict[str, Any]] = {}
        self.last_sent: dict[str, float] = {}
        self.wake = asyncio.Event()
        self.sent = 0
        self.failures = 0

    # -------------------------------------------------------------- gathering (on the loop)

    def _kind(self, group: str, kind: str) -> _KindChanges:
        return self.pending.setdefault(group, {}).setdefault(kind, _KindChanges())

    def add(self, changes: Changes, updated: str) -> None:
        limit = self.config.publish_rows
        pairs = set(changes.upserts) | set(changes.deletes) | changes.relisted
        for cluster_id, kind in pairs:
            namespaced = KINDS_BY_NAME[kind].namespaced if kind in KINDS_BY_NAME else True
            cluster_group = f"cluster.{cluster_id}"
            ups = changes.upserts.get((cluster_id, kind), {})
            dels = changes.deletes.get((cluster_id, kind), set())
            targets: list[tuple[str, dict[tuple[str, str], Row], set[tuple[str, str]]]] = []
            if namespaced:
                digest = self._kind(cluster_group, kind)
                self.digest_groups.add(cluster_group)
                for (ns, _name) in ups:
                    digest.digest.setdefault(ns, {"upserted": 0, "deleted": 0})["upserted"] += 1
                for (ns, _name) in dels:
                    digest.digest.setdefault(ns, {"upserted": 0, "deleted": 0})["deleted"] += 1
                if (cluster_id, kind) in changes.relisted:
                    digest.relisted = True
                by_ns: dict[str, tuple[dict[tuple[str, str], Row], set[tuple[str, str]]]] = {}
                for key, row in ups.items():
                    by_ns.setdefault(key[0], ({}, set()))[0][key] = row
                for key in dels:
                    by_ns.setdefault(key[0], ({}, set()))[1].add(key)
                for ns, (u, d) in by_ns.items():
                    if ns:
                        targets.append((f"{cluster_group}.ns.{ns}", u, d))
            else:
                targets.append((cluster_group, ups, dels))
                if (cluster_id, kind) in changes.relisted:
                    self._kind(cluster_group, kind).relisted = True
                    self.with_rows.add(cluster_group)
            for group, u, d in targets:
                self.with_rows.add(group)
                entry = self._kind(group, kind)
                if entry.truncated:
                    continue
                for key, row in u.items():
                    entry.upserts[key] = api_row(cluster_id, row, updated)
                    entry.deletes.discard(key)
                for key in d:
                    entry.upserts.pop(key, None)
                    entry.deletes.add(key)
                if len(entry.upserts) + len(entry.deletes) > limit:
                    entry.truncated = True
                    entry.upserts.clear()
                    entry.deletes.clear()
        if pairs:
            self.wake.set()

    def cluster_updated(self, cluster_id: int, row: dict[str, Any]) -> None:
        self.cluster_rows[cluster_id] = row
        self.wake.set()

    # -------------------------------------------------------------- sending

    def _interval(self, group: str) -> float:
        return self.config.publish_interval if group in self.with_rows else self.config.digest_interval

    def _wait(self, now: float) -> float | None:
        """Seconds until the next pending message is due (0: now), or None when nothing is pending."""
        if self.cluster_rows:
            return 0.0
        if not self.pending:
            return None
        last = self.last_sent
        return max(0.0, min(last.get(g, 0.0) + self._interval(g) for g in self.pending) - now)

    def _due(self, now: float) -> list[tuple[str, str, Any]]:
        out: list[tuple[str, str, Any]] = []
        for group in list(self.pending):
            if self.last_sent.get(group, 0.0) + self._interval(group) > now:  # as _wait reckons it
                continue
            kinds = self.pending.pop(group)
            self.with_rows.discard(group)
            digest = group in self.digest_groups
            entries = []
            for kind, changes in sorted(kinds.items()):
                is_digest = digest and (KINDS_BY_NAME[kind].namespaced if kind in KINDS_BY_NAME else True)
                entries.append(changes.entry(kind, digest=is_digest))
            self.last_sent[group] = now
            out.append((group, "objects.changed", RawJSON(f'{{"changes": [{", ".join(entries)}]}}')))
        for cluster_id, row in self.cluster_rows.items():
            out.append(("fleet", "cluster.updated", row))
            out.append((f"cluster.{cluster_id}", "cluster.updated", row))
        self.cluster_rows = {}
        return out

    def _send_all(self, messages: list[tuple[str, str, Any]]) -> None:
        """Runs on the publisher thread: the whole flush in one Redis round trip."""
        if self.send is None:
            from portal.events import send_many_sync

            for (group, _t, _d), result in zip(messages, send_many_sync(messages), strict=True):
                if result is not None:  # Redis trouble must not stop the watcher; clients refetch on the gap
                    self.failures += 1
                    logger.error("watcher event publish failed", extra={"group": group, "error": repr(result)})
                else:
                    self.sent += 1
            return
        for group, event_type, data in messages:
            try:
                self.send(group, event_type, data)
                self.sent += 1
            except Exception:  # Redis trouble must not stop the watcher; clients refetch on the gap
                self.failures += 1
                logger.exception("watcher event publish failed", extra={"group": group})

    async def flush(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force:
            self.last_sent.clear()
        messages = self._due(now)
        if messages:
            await asyncio.get_running_loop().run_in_executor(self.executor, self._send_all, messages)

    async def run(self) -> None:
        """Send each group the moment it is due: sleep until the earliest one is, or until new
        changes arrive (a group that was quiet is due at once)."""
        while True:
            wait = self._wait(time.monotonic())
            if wait is None:
                await self.wake.wait()
            elif wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), wait)
            self.wake.clear()
            await self.flush()
