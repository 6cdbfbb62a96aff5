"""The one database writer of the watcher: applies batches of stream operations in a transaction.

Stream threads and the engine produce :class:`Op` values (an object upserted or deleted, a
bookmark, a list started or finished, a sync or cluster state change); the engine hands them in
order, in batches, to :func:`apply_batch`, which runs on the database thread of the cluster's
writer shard (one ordered path per cluster).
A batch is one transaction: rows, the resourceVersion to resume from and the sync state move
together, so after a crash the stored resourceVersion never runs ahead of the stored rows.
What changed is returned so the publisher can tell browsers after the commit.

Rows are written with one ``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT (cluster, kind,
namespace, name) DO UPDATE`` per batch; within a batch only the last operation on a key counts (an
object created and deleted in the same 50 ms is simply deleted).

The hot statements (rows, deletions, resume points) bypass the ORM and send their values as
binary arrays on a server-side-bound cursor (:func:`_cursor`): the ORM's ``bulk_create`` built a
model instance per row and quoted every value in Python (psycopg's client-side binding escapes
each quote of each JSON document with a regular expression), which cost about 120-200 us of the
watcher's CPU per row; the arrays cost about 15 us (``bench/results/sync_scale*.json``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, ClusterStatus, KindSync, KubeObject, RelistReason, SyncState
from clusters.watcher.projection import Row
from portal import fastjson

logger = logging.getLogger("clusters.watcher")
T = TypeVar("T")

UPSERT, DELETE, BOOKMARK, LIST_START, LISTED, KIND_STATE, CLUSTER_STATE = (
    "upsert", "delete", "bookmark", "list_start", "listed", "kind_state", "cluster_state")

Key = tuple[int, str, str, str]  # cluster, kind, namespace, name
Pair = tuple[int, str]  # cluster, kind

# Every value is a bound parameter (``%b``: sent in binary); nothing is formatted into these.
_SYNC_UPDATE = """
UPDATE clusters_kindsync AS k SET
  resource_version = coalesce(v.rv, k.resource_version),
  last_event = greatest(coalesce(v.at, k.last_event), k.last_event),
  state = CASE WHEN k.state = 'stale' AND v.at IS NOT NULL THEN 'synced' ELSE k.state END,
  message = CASE WHEN k.state = 'stale' AND v.at IS NOT NULL THEN '' ELSE k.message END
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::timestamptz[]) AS v(cluster_id, kind, rv, at),
     clusters_kindsync AS o
WHERE k.cluster_id = v.cluster_id AND k.kind = v.kind AND o.id = k.id
RETURNING k.cluster_id, o.state, k.state
"""
_DELETE_KEYS = """
DELETE FROM clusters_kubeobject AS o USING unnest(%b::text[], %b::text[]) AS d(namespace, name)
WHERE o.cluster_id = %b AND o.kind = %b AND o.namespace = d.namespace AND o.name = d.name
"""
_UPSERT_ROWS = """
INSERT INTO clusters_kubeobject (cluster_id, kind, namespace, name, uid, resource_version, labels, node_name,
                                 phase, created, updated, data)
SELECT u.cluster_id, u.kind, u.namespace, u.name, u.uid, u.rv, u.labels, u.node_name, u.phase, u.created, %b, u.data
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::jsonb[], %b::text[],
            %b::text[], %b::timestamptz[], %b::jsonb[])
     AS u(cluster_id, kind, namespace, name, uid, rv, labels, node_name, phase, created, data)
ON CONFLICT (cluster_id, kind, namespace, name) DO UPDATE SET
  uid = EXCLUDED.uid, resource_version = EXCLUDED.resource_version, labels = EXCLUDED.labels,
  node_name = EXCLUDED.node_name, phase = EXCLUDED.phase, created = EXCLUDED.created,
  updated = EXCLUDED.updated, data = EXCLUDED.data
"""
_EXISTING_VERSIONS = """
SELECT o.namespace, o.name, o.resource_version FROM clusters_kubeobject AS o
JOIN unnest(%b::text[], %b::text[]) AS k(namespace, name) ON o.namespace = k.namespace AND o.name = k.name
WHERE o.cluster_id = %b AND o.kind = %b
"""


def ensure_autocommit() -> None:
    """Start over on a new connection when the last transaction ended without autocommit back on.

    Django turns autocommit off for an ``atomic()`` block and on again after its COMMIT. If that
    second step fails (the connection broke, or database access was refused right then), the
    connection keeps autocommit off outside any block, and Django then takes every later
    ``atomic()`` for a nested one: a savepoint inside a transaction nobody commits, whose locks
    are held until the process ends. A watcher thread lives for days, so it checks before each
    unit of work (three attribute reads) instead of trusting that it never happens.
    """
    if connection.connection is not None and not connection.in_atomic_block and not connection.autocommit:
        logger.warning("watcher database connection left outside autocommit; reconnecting")
        connection.close()


class DatabaseThread(concurrent.futures.ThreadPoolExecutor):
    """One thread of the watcher that uses the database on its own connection (a writer shard,
    the control loop's, the summaries', the hooks'): :func:`ensure_autocommit` runs before each
    call it is given, so no unit of work starts on a connection stuck in a transaction."""

    def __init__(self, name: str) -> None:
        super().__init__(1, thread_name_prefix=name)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        return super().submit(_checked, fn, *args, **kwargs)


def _checked(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    ensure_autocommit()
    return fn(*args, **kwargs)


@contextlib.contextmanager
def _cursor() -> Iterator[psycopg.Cursor[Any]]:
    """A server-side-bound cursor on Django's connection (inside its transaction), its errors
    turned into Django's (``IntegrityError``, ``OperationalError``) like the ORM's."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor



@dataclass(slots=True)
class Op:
    """One thing to write. ``rv`` is the resourceVersion to resume from after this op (None: keep)."""

    type: str
    cluster_id: int
    kind: str = ""
    row: Row | None = None
    rv: str | None = None
    at: datetime.datetime | None = None
    keys: set[tuple[str, str]] | None = None  # LISTED: every (namespace, name) the list returned
    state: str = ""  # KIND_STATE / CLUSTER_STATE; LIST_START: why it lists (RelistReason)
    message: str = ""
    code: str = ""  # stable code of ``message`` (clusters.kube.messages)


@dataclass
class Changes:
    """What a committed batch changed, for the publisher and the summary refresher."""

    upserts: dict[Pair, dict[tuple[str, str], Row]] = field(default_factory=dict)
    deletes: dict[Pair, set[tuple[str, str]]] = field(default_factory=dict)
    relisted: set[Pair] = field(default_factory=set)  # too many changes to list: clients refetch
    clusters: set[int] = field(default_factory=set)  # clusters whose rows changed
    status_changed: set[int] = field(default_factory=set)  # sync/cluster state changed
    counts_dirty: set[Pair] = field(default_factory=set)


def ensure_kindsyncs(cluster_id: int) -> dict[str, tuple[str, str]]:
    """Create the cluster's KindSync rows; return ``{kind: (resource_version, state)}`` to resume from."""
    KindSync.objects.bulk_create(
        [KindSync(cluster_id=cluster_id, kind=k.kind) for k in WATCHED_KINDS], ignore_conflicts=True)
    return {s.kind: (s.resource_version if s.last_list is not None else "", s.state)
            for s in KindSync.objects.filter(cluster_id=cluster_id)}


class _Batch:
    def __init__(self, changes: Changes, now: datetime.datetime) -> None:
        self.changes = changes
        self.now = now
        self.objects: dict[Key, Op] = {}
        self.sync_updates: dict[Pair, list[Any]] = {}  # pair -> [rv or None, last_event]

    # -- objects

    def add_object(self, op: Op) -> None:
        assert op.row is not None
        self.objects[(op.cluster_id, op.kind, op.row["namespace"], op.row["name"])] = op
        if op.rv is not None or op.at is not None:
            self.note_event(op)

    def note_event(self, op: Op) -> None:
        current = self.sync_updates.setdefault((op.cluster_id, op.kind), [None, None])
        if op.rv:
            current[0] = op.rv
        if op.at is not None:
            current[1] = op.at

    def flush_objects(self) -> None:
        if not self.objects:
            return
        upserts = [op for op in self.objects.values() if op.type == UPSERT]
        deletes = [op for op in self.objects.values() if op.type == DELETE]
        self.objects = {}
        upserts = skip_unchanged(upserts)
        if upserts:
            upsert_rows(upserts, self.now)
            for op in upserts:
                assert op.row is not None
                pair = (op.cluster_id, op.kind)
                key = (op.row["namespace"], op.row["name"])
                self.changes.upserts.setdefault(pair, {})[key] = op.row
                self.changes.deletes.get(pair, set()).discard(key)
                self.changes.clusters.add(op.cluster_id)
                self.changes.counts_dirty.add(pair)
        by_pair: dict[Pair, set[tuple[str, str]]] = {}
        for op in deletes:
            assert op.row is not None
            by_pair.setdefault((op.cluster_id, op.kind), set()).add((op.row["namespace"], op.row["name"]))
        for pair, keys in by_pair.items():
            delete_keys(pair, keys)
            self._note_deletes(pair, keys)

    def _note_deletes(self, pair: Pair, keys: set[tuple[str, str]]) -> None:
        if not keys:
            return
        self.changes.deletes.setdefault(pair, set()).update(keys)
        ups = self.changes.upserts.get(pair)
        if ups:
            for key in keys:
                ups.pop(key, None)
        self.changes.clusters.add(pair[0])
        self.changes.counts_dirty.add(pair)

    # -- sync state

    def flush_syncs(self) -> None:
        if not self.sync_updates:
            return
        columns: tuple[list[Any], ...] = ([], [], [], [])
        for (cluster_id, kind), (rv, at) in self.sync_updates.items():
            for column, value in zip(columns, (cluster_id, kind, rv, at), strict=True):
                column.append(value)
        self.sync_updates = {}
        with _cursor() as cursor:
            cursor.execute(_SYNC_UPDATE, columns)
            # ``o`` is the row before the update: a stale kind heard from again is a state change.
            for cluster_id, before, after in cursor.fetchall():
                if before != after:
                    self.changes.status_changed.add(cluster_id)

    def flush(self) -> None:
        self.flush_objects()
        self.flush_syncs()

    # -- list boundaries and states

    def list_start(self, op: Op) -> None:
        """A list begins: ``syncing`` (a forbidden kind trying again stays forbidden until its list
        succeeds; an unreachable one stays unreachable); a list after the first is counted, with
        its reason and time."""
        self.flush()
        syncs = KindSync.objects.filter(cluster_id=op.cluster_id, kind=op.kind)
        syncs.exclude(state__in=[SyncState.UNREACHABLE, SyncState.FORBIDDEN]).update(
            state=SyncState.SYNCING, message="", code="")
        if op.state and op.state != RelistReason.FIRST:
            syncs.filter(last_list__isnull=False).update(relists=F("relists") + 1, last_relist_reason=op.state,
                                                         last_relist_at=self.now)
        self.changes.status_changed.add(op.cluster_id)

    def listed(self, op: Op) -> None:
        """A full list finished: rows not in it are gone (deleted while we were not watching)."""
        self.flush()
        pair = (op.cluster_id, op.kind)
        keys = op.keys or set()
        existing = set(KubeObject.objects.filter(cluster_id=op.cluster_id, kind=op.kind)
                       .values_list("namespace", "name"))
        stale = existing - keys
        if stale:
            delete_keys(pair, stale)
            self._note_deletes(pair, stale)
        KindSync.objects.filter(cluster_id=op.cluster_id, kind=op.kind).update(
            state=SyncState.SYNCED, resource_version=op.rv or "", last_list=op.at or self.now,
            last_event=op.at or self.now, object_count=len(keys), message="", code="")
        self.changes.relisted.add(pair)
        self.changes.clusters.add(op.cluster_id)
        self.changes.status_changed.add(op.cluster_id)

    def kind_state(self, op: Op) -> None:
        self.flush()
        qs = KindSync.objects.filter(cluster_id=op.cluster_id)
        if op.kind:
            qs = qs.filter(kind=op.kind)
        if qs.exclude(state=op.state, message=op.message[:2000], code=op.code).update(
                state=op.state, message=op.message[:2000], code=op.code):
            self.changes.status_changed.add(op.cluster_id)

    def cluster_state(self, op: Op) -> None:
        """The cluster became reachable again (``connected``), or ``unreachable``/``unauthorized``."""
        self.flush()
        syncs = KindSync.objects.filter(cluster_id=op.cluster_id)
        if op.state == "connected":
            # Kinds we had listed go back to synced; their streams resume (or relist on 410).
            syncs.filter(state__in=[SyncState.UNREACHABLE, SyncState.UNAUTHORIZED],
                         last_list__isnull=False).update(state=SyncState.SYNCED, message="", code="")
            syncs.filter(state__in=[SyncState.UNREACHABLE, SyncState.UNAUTHORIZED],
                         last_list__isnull=True).update(state=SyncState.SYNCING, message="", code="")
            fields: dict[str, Any] = {"status": ClusterStatus.CONNECTED, "last_checked": self.now}
            if op.message:
                fields["kubernetes_version"] = op.message[:64]
            cluster = Cluster.objects.filter(pk=op.cluster_id).values("status", "status_code").first()
            if cluster is not None and cluster["status"] != ClusterStatus.CONNECTED:
                # Back from an outage: the outage's message goes. Connected already: the check's
                # message (what is missing, which namespaces) stands.
                fields.update(status_message=f"Connected: Kubernetes {op.message[:64]}." if op.message
                              else "Connected.", status_code="connected")
            Cluster.objects.filter(pk=op.cluster_id).update(**fields)
        else:
            # unreachable / unauthorized / error: last-known rows stay, marked through the sync state.
            # A forbidden kind stays forbidden: the outage does not change what the identity may read.
            sync_state = SyncState.STALE if op.state == ClusterStatus.ERROR else op.state
            syncs.exclude(state=SyncState.FORBIDDEN).update(state=sync_state, message=op.message[:2000],
                                                             code=op.code)
            fields = {"status": op.state, "last_checked": self.now, "status_code": op.code}
            if op.message:  # never overwrite a useful message with nothing
                fields["status_message"] = op.message[:2000]
            Cluster.objects.filter(pk=op.cluster_id).update(**fields)
        self.changes.status_changed.add(op.cluster_id)


def skip_unchanged(upserts: list[Op]) -> list[Op]:
    """Drop list rows whose stored row has the same resourceVersion: a relist (after 410 Gone, or
    a restart that could not resume) then rewrites only what changed. Watch events are changes
    by definition and are always written."""
    listed: dict[Pair, list[Op]] = {}
    for op in upserts:
        if op.rv is None and op.at is None and op.row is not None and op.row["resource_version"]:
            listed.setdefault((op.cluster_id, op.kind), []).append(op)
    if not listed:
        return upserts
    unchanged: set[int] = set()
    for pair, ops in listed.items():
        rows = [op.row for op in ops if op.row is not None]
        with _cursor() as cursor:
            cursor.execute(_EXISTING_VERSIONS, ([r["namespace"] for r in rows], [r["name"] for r in rows],
                                                pair[0], pair[1]))
            stored = {(ns, name): rv for ns, name, rv in cursor.fetchall()}
        for op in ops:
            assert op.row is not None
            if stored.get((op.row["namespace"], op.row["name"])) == op.row["resource_version"]:
                unchanged.add(id(op))
    return [op for op in upserts if id(op) not in unchanged]


def upsert_rows(upserts: Sequence[Op], now: datetime.datetime) -> None:
    """Insert or update the rows of ``upserts`` (distinct keys) in one statement, ``updated`` = ``now``."""
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [], [], [], [])
    dumps = fastjson.dumps
    for op in upserts:
        row = op.row
        assert row is not None
        # Kept on the row: the publisher sends the same JSON to browsers instead of encoding it again.
        labels = row["labels_json"] = dumps(row["labels"])
        data = row["data_json"] = dumps(row["data"])
        for column, value in zip(columns, (
                op.cluster_id, op.kind, row["namespace"], row["name"], row["uid"], row["resource_version"],
                labels, row["node_name"], row["phase"], row["created"], data),
                strict=True):
            column.append(value)
    with _cursor() as cursor:
        cursor.execute(_UPSERT_ROWS, (now, *columns))


def delete_keys(pair: Pair, keys: Iterable[tuple[str, str]]) -> None:
    keys = list(keys)
    if not keys:
        return
    with _cursor() as cursor:
        cursor.execute(_DELETE_KEYS, ([ns for ns, _ in keys], [name for _, name in keys], pair[0], pair[1]))


def _apply(ops: Sequence[Op], changes: Changes, now: datetime.datetime) -> None:
    batch = _Batch(changes, now)
    with transaction.atomic():
        # The read model is a cache of the clusters: a crash may lose the last moments of writes,
        # and then loses the stored resourceVersion with them (same transaction), so the watch
        # resumes from before them and they are delivered again. Not waiting for the WAL flush
        # at every commit is what keeps change -> row latency low under load.
        with _cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")
        for op in ops:
            if op.type in (UPSERT, DELETE):
                batch.add_object(op)
            elif op.type == BOOKMARK:
                batch.note_event(op)
            elif op.type == LIST_START:
                batch.list_start(op)
            elif op.type == LISTED:
                batch.listed(op)
            elif op.type == KIND_STATE:
                batch.kind_state(op)
            elif op.type == CLUSTER_STATE:
                batch.cluster_state(op)
            else:  # pragma: no cover - a programming error
                raise ValueError(f"unknown op {op.type}")
        batch.flush()


def apply_batch(ops: Sequence[Op]) -> Changes:
    """Write ``ops`` (in order) in one transaction and return what changed.

    A cluster deleted while its events were in flight makes the insert fail on the foreign key;
    its ops are then dropped and the rest written.
    """
    now = timezone.now()
    changes = Changes()
    try:
        _apply(ops, changes, now)
    except IntegrityError:
        alive = set(Cluster.objects.filter(pk__in={op.cluster_id for op in ops}).values_list("pk", flat=True))
        kept = [op for op in ops if op.cluster_id in alive]
        logger.info("dropped watcher writes of deleted clusters", extra={"dropped": len(ops) - len(kept)})
        changes = Changes()
        _apply(kept, changes, now)
    return changes


# The rows the writer is changing right now are skipped, not waited for: the writer's statements
# lock KindSync rows too, in their own order, and two multi-row updates that wait for each other
# deadlock (PostgreSQL found one after a second of waiting, and the read model stalled for two).
# The skipped pairs are returned, and counted at the next refresh.
_REFRESH_COUNTS = """
WITH p AS MATERIALIZED (
  SELECT k.id, k.cluster_id, k.kind FROM clusters_kindsync AS k
  JOIN unnest(%b::bigint[], %b::text[]) AS w(cluster_id, kind) ON k.cluster_id = w.cluster_id AND k.kind = w.kind
  FOR UPDATE OF k SKIP LOCKED
), counted AS (
  UPDATE clusters_kindsync AS k SET object_count = v.n
  FROM (SELECT p.id, (SELECT count(*) FROM clusters_kubeobject AS o
                      WHERE o.cluster_id = p.cluster_id AND o.kind = p.kind) AS n FROM p) AS v
  WHERE k.id = v.id AND k.object_count <> v.n
  RETURNING k.id
)
SELECT w.cluster_id, w.kind FROM unnest(%b::bigint[], %b::text[]) AS w(cluster_id, kind)
WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.cluster_id = w.cluster_id AND p.kind = w.kind)
  AND EXISTS (SELECT 1 FROM clusters_kindsync AS k WHERE k.cluster_id = w.cluster_id AND k.kind = w.kind)
"""


def refresh_counts(pairs: Iterable[Pair]) -> set[Pair]:
    """Set ``KindSync.object_count`` of the given (cluster, kind) pairs from the rows (one
    statement that waits for no lock); returns the pairs it skipped because a write held their
    row, to be counted at the next refresh (a pair without a row is not returned)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return set()
    with _cursor() as cursor:
        clusters, kinds = [c for c, _ in pairs], [k for _, k in pairs]
        cursor.execute(_REFRESH_COUNTS, (clusters, kinds, clusters, kinds))
        return {(int(cluster_id), str(kind)) for cluster_id, kind in cursor.fetchall()}
