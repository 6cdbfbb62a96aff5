"""How fresh the read model is: one rule for the cluster row, every inventory list and the
watcher's ``cluster.updated`` events.

Fresh means "we would know if it changed": the kind's watch stream is connected and healthy and
the cluster answers its probe. It does not mean "something happened lately": on a real API server
an empty kind (no StatefulSets, no Jobs …) gets no watch events and no bookmarks at all, for
hours. So a synced kind is fresh while

* the watcher holds the cluster's lease (a live process is watching and probing it; a dead one
  stops renewing and the lease lapses within ``PORTAL_WATCHER_LEASE_SECONDS``),
* its KindSync row says ``synced`` (the watcher writes ``stale`` the moment a stream fails and
  ``syncing`` while it lists, ``unreachable``/``unauthorized`` when the probe says so, and
  ``synced`` again when a watch is open), and
* it was heard from within the freshness limit: an event, a bookmark, or the reopening of its
  watch, which a healthy stream does every ``watch_timeout`` seconds when the server ends the
  request (``timeoutSeconds``). A stream that hangs silently is therefore stale after at most the
  limit, even if no error ever reaches the watcher.

A kind the identity may not list or watch is ``forbidden`` (terminal until the credentials or RBAC
change): it is left out of every verdict as long as one permitted kind is in it, so a cluster the
portal may only partly see is fresh when what it may see is; a list spanning only forbidden kinds
(nodes for a namespace-scoped identity) says ``forbidden`` ("not permitted"), never empty-and-fresh.

The state of a list is the worst state of the kinds it shows; the cluster's word is the worst over
all its kinds (``synced`` → ``fresh``). Pure: callers fetch rows and pass ``now``, so a cluster
row and a list computed at the same moment from the same rows cannot disagree.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from clusters.models import ClusterStatus, SyncState

# Worst first.
SEVERITY: list[str] = [str(s) for s in (SyncState.UNREACHABLE, SyncState.UNAUTHORIZED, SyncState.STALE,
                                         SyncState.SYNCING, SyncState.SYNCED, SyncState.FORBIDDEN)]
CLUSTER_WORDS = {
    str(SyncState.SYNCED): "fresh",
    str(SyncState.SYNCING): "syncing",
    str(SyncState.STALE): "stale",
    str(SyncState.UNAUTHORIZED): "stale",
    str(SyncState.UNREACHABLE): "unreachable",
    str(SyncState.FORBIDDEN): "stale",  # the identity may see no kind at all
}


def kind_state(state: str, last_heard: datetime.datetime | None, *, now: datetime.datetime, limit: float,
               watched: bool) -> str:
    """The effective state of one kind: a ``synced`` kind nobody watches, or not heard from within
    ``limit`` seconds, is ``stale``; every other state stands."""
    if state == SyncState.SYNCED and (
            not watched or last_heard is None or (now - last_heard).total_seconds() > limit):
        return str(SyncState.STALE)
    return str(state)


def list_state(
    syncs: Iterable[tuple[str, datetime.datetime | None]], *, missing: bool, cluster_status: str, enabled: bool,
    watched: bool, now: datetime.datetime, limit: float,
) -> str:
    """The state of a list spanning the kinds whose ``(state, last_heard)`` are given: the worst of
    the permitted ones (``forbidden`` when none is); ``syncing`` for a kind the watcher has no row for yet (``missing``), ``unreachable`` when
    the cluster is, ``stale`` when it is disabled."""
    states = [kind_state(state, last, now=now, limit=limit, watched=watched) for state, last in syncs]
    permitted = [s for s in states if s != SyncState.FORBIDDEN]
    if states and not permitted and not missing:
        return str(SyncState.UNREACHABLE if cluster_status == ClusterStatus.UNREACHABLE else SyncState.FORBIDDEN)
    states = permitted
    if missing or not states:
        states.append(str(SyncState.SYNCING))
    if cluster_status == ClusterStatus.UNREACHABLE:
        states.append(str(SyncState.UNREACHABLE))
    if not enabled:
        states.append(str(SyncState.STALE))
    return min(states, key=SEVERITY.index)


def cluster_word(state: str) -> str:
    """``fresh`` | ``syncing`` | ``stale`` | ``unreachable`` for the cluster row, from :func:`list_state`
    over all its kinds."""
    return CLUSTER_WORDS.get(state, "stale")
