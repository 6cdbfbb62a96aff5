"""Records changes to objects seen by the watcher, with the field manager that made them, and
tells the browsers following the object's namespace about those made outside the portal.

A listener of :mod:`clusters.watcher.hooks` (registered from ``ActivityConfig.ready``), called in
the watcher's hook executor after a batch committed. For every upserted object of the kinds whose
spec people edit, the read-model row's ``changed_by`` (the newest ``managedFields`` entry that is
not a status write, projected by the watcher) names who last wrote it: a new (manager, time) is one
:class:`~activity.models.ObjectChange` row with the object's spec-side snapshot. The row is on the
timeline (``outside``) when its manager is neither the portal (``portal:<username>``, the catalog's
``cluster-portal``) nor a controller (``PORTAL_ACTIVITY_INTERNAL_MANAGERS``).

Cheap by construction: an in-process memory of each object's last (manager, time) skips the rows
whose writer did not change (status updates, most of a busy cluster's changes) before any query;
the rest go in one ``INSERT ... ON CONFLICT DO NOTHING`` per batch, so running twice (a relist, a
second watcher replica, a restarted process) records and announces nothing twice.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from activity.models import ObjectChange
from activity.timeline import manager_matches, snapshot
from clusters.watcher import hooks
from clusters.watcher.projection import EDITED_KINDS
from clusters.watcher.writer import Changes
from portal import events

logger = logging.getLogger("activity")

# Field managers that are the portal itself or the cluster's own machinery: their writes are
# recorded (the previous snapshot of a later diff) but are not "changed outside the portal".
INTERNAL_MANAGERS: tuple[str, ...] = (
    "portal:*", "cluster-portal*",
    "kube-controller-manager", "kube-scheduler", "kubelet", "kube-apiserver*", "cloud-controller-manager",
    "kube-proxy", "deployment-controller", "replicaset-controller", "statefulset-controller",
    "daemon-set-controller", "job-controller", "cronjob-controller", "horizontal-pod-autoscaler",
)
# Changes older than this when first seen (a new cluster's first list) are kept as history but not
# sent to browsers as news.
LIVE_WINDOW = datetime.timedelta(minutes=10)
MEMORY = 200_000  # objects whose last writer is remembered in this process
MAX_LIVE_ENTRIES = 50  # per group and batch

_seen: OrderedDict[tuple[int, str, str, str], tuple[str, str]] = OrderedDict()
_lock = threading.Lock()


def internal_managers() -> tuple[str, ...]:
    configured = getattr(settings, "PORTAL_ACTIVITY_INTERNAL_MANAGERS", None)
    return tuple(configured) if configured is not None else INTERNAL_MANAGERS


def is_outside(manager: str) -> bool:
    return not manager_matches(manager, internal_managers())


def _time(text: str) -> datetime.datetime | None:
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _remember(keys: Iterable[tuple[tuple[int, str, str, str], tuple[str, str]]]) -> None:
    with _lock:
        for key, seen in keys:
            _seen[key] = seen
            _seen.move_to_end(key)
        while len(_seen) > MEMORY:
            _seen.popitem(last=False)


def forget() -> None:
    """Drop the memory of last writers (tests; a process that wants to re-record)."""
    with _lock:
        _seen.clear()


def record_changes(changes: Changes) -> list[ObjectChange]:
    """Record the new writers of ``changes``' objects; returns the rows that were new."""
    rows: list[ObjectChange] = []
    seen: list[tuple[tuple[int, str, str, str], tuple[str, str]]] = []
    now = timezone.now()
    for (cluster_id, kind), upserts in changes.upserts.items():
        if kind not in EDITED_KINDS:
            continue
        for (namespace, name), row in upserts.items():
            by = row["data"].get("changed_by")
            if not isinstance(by, dict) or not by.get("manager") or not by.get("time"):
                continue
            key, writer = (cluster_id, kind, namespace, name), (str(by["manager"]), str(by["time"]))
            with _lock:
                if _seen.get(key) == writer:
                    continue
            at = _time(writer[1])
            if at is None:
                continue
            rows.append(ObjectChange(
                cluster_id=cluster_id, kind=kind, namespace=namespace, name=name, manager=writer[0][:128],
                operation=str(by.get("operation") or "")[:16], time=at,
                resource_version=row["resource_version"][:64],
                snapshot=snapshot(kind, row["labels"], row["data"]), outside=is_outside(writer[0]), recorded=now))
            seen.append((key, writer))
    if not rows:
        return rows
    inserted = _insert(rows)
    _remember(seen)
    _announce([r for r in inserted if r.outside and now - r.time <= LIVE_WINDOW])
    return inserted


_INSERT = """
INSERT INTO activity_objectchange
  (cluster_id, kind, namespace, name, manager, operation, time, resource_version, snapshot, outside, recorded)
VALUES {values}
ON CONFLICT (cluster_id, kind, namespace, name, manager, time) DO NOTHING
RETURNING cluster_id, kind, namespace, name, manager, time
"""


def _insert(rows: list[ObjectChange]) -> list[ObjectChange]:
    """Insert ``rows``, skipping those recorded already; returns the ones that were new."""
    new: list[ObjectChange] = []
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        params: list[Any] = []
        for r in chunk:
            params += [r.cluster_id, r.kind, r.namespace, r.name, r.manager, r.operation, r.time, r.resource_version,
                       json.dumps(r.snapshot), r.outside, r.recorded]
        sql = _INSERT.replace("{values}", ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)"] * len(chunk)))
        with connection.cursor() as cursor:  # placeholders only; values are parameters
            cursor.execute(sql, params)
            created = {tuple(row) for row in cursor.fetchall()}
        new += [r for r in chunk if (r.cluster_id, r.kind, r.namespace, r.name, r.manager, r.time) in created]
    return new


def _announce(rows: list[ObjectChange]) -> None:
    """``activity.entry`` to the object's namespace group and its cluster's group."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        entry = {"cluster": r.cluster_id, "namespace": r.namespace, "kind": r.kind, "name": r.name,
                 "manager": r.manager, "time": r.time.isoformat(), "source": "outside"}
        groups = [f"cluster.{r.cluster_id}"] + ([f"cluster.{r.cluster_id}.ns.{r.namespace}"] if r.namespace else [])
        for group in groups:
            by_group.setdefault(group, []).append(entry)
    for group, entries in by_group.items():
        events.publish(group, "activity.entry", {"entries": entries[:MAX_LIVE_ENTRIES],
                                                 "truncated": len(entries) > MAX_LIVE_ENTRIES})


def _listener(changes: Changes) -> None:
    record_changes(changes)


def install() -> None:
    hooks.register(EDITED_KINDS, _listener)
