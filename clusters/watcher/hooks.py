"""Listeners for committed read-model changes of some kinds, for apps that react to what the
watcher sees (the workspaces app restores a ResourceQuota someone edited or deleted).

A listener runs in the watcher's executor after the batch committed, never on its event loop,
and its failure is logged, never propagated: the read model must keep flowing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from clusters.watcher.writer import Changes

logger = logging.getLogger("clusters.watcher")

Listener = Callable[[Changes], None]

_listeners: list[tuple[frozenset[str], Listener]] = []


def register(kinds: set[str] | frozenset[str], listener: Listener) -> None:
    if not any(fn is listener for _, fn in _listeners):
        _listeners.append((frozenset(kinds), listener))


def wanted(changes: Changes) -> bool:
    if not _listeners:
        return False
    kinds = {kind for _, kind in (*changes.upserts, *changes.deletes, *changes.relisted)}
    return any(k & kinds for k, _ in _listeners)


def notify(changes: Changes) -> None:
    kinds = {kind for _, kind in (*changes.upserts, *changes.deletes, *changes.relisted)}
    for listened, listener in list(_listeners):
        if listened & kinds:
            try:
                listener(changes)
            except Exception:
                logger.exception("watcher change listener failed", extra={"listener": getattr(listener, "__name__", "")})
