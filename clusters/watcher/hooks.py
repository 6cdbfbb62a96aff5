"""Listeners for committed read-model changes of some kinds, for apps that react to what the
watcher sees (the workspaces app restores a ResourceQuota someone edited or deleted; the catalog
learns that a release's workloads moved).

Two shapes, both registered by the reacting app's ``AppConfig.ready`` so this package never
imports an app above it:

* :func:`register`: a function called with the committed :class:`Changes`;
* :func:`on_label`: for upserted objects of some kinds carrying a label, send the task *named*
  (:func:`portal.enqueue.send`) with the label's value. A change after a quiet ``window`` sends
  it at once (the batch is committed: the task sees it), and opens a window; the first change
  inside the window sends it once more with a countdown to the window's end, which sees every
  change of the window. So a lone change costs no wait, a burst at most two runs per window,
  and coalescing never loses the last state. With ``significant``, a change whose signature
  (what the task would read of the object) equals the last one sent for that object sends
  nothing: a Deployment's status moves several times in a rollout, and only some of those moves
  change what a deploy's look records. With ``urgent``, a change that must not wait for the
  window's end (a workload that finished its rollout, or failed it) is sent at once even inside
  a window; the window stays, and its closing send, which the urgent one makes needless, is
  dropped (a change after it queues a new one). With ``quiet``, a change that
  tells the task nothing it has not already learned elsewhere (a workload just applied, whose
  controller has not yet seen it: the deploy that applied it has recorded exactly that) is not
  sent at once after a quiet window: it opens the window with its send queued for the window's
  end, which sees what came after it.

A window's closing send is held here, in the watcher, until the window ends (one timer thread;
:func:`pending` lists them), not handed to the broker with a countdown, so an urgent send inside
the window, which sees every change the held one would have, can cancel it: a rollout that
finishes inside the window its start opened costs one task, not two. Held sends die with the
process; the tasks that rely on them have a slower safety net of their own (a deploy's chained
looks and the beat task).

A listener runs in the watcher's executor after the batch committed, never on its event loop,
and its failure is logged, never propagated: the read model must keep flowing.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from clusters.watcher.projection import Row
from clusters.watcher.writer import Changes

logger = logging.getLogger("clusters.watcher")

Listener = Callable[[Changes], None]
Signature = Callable[[Row], Hashable]
Urgency = Callable[[Row], bool]

_listeners: list[tuple[frozenset[str], Listener]] = []


@dataclass(frozen=True)
class LabelHook:
    """Send task ``task`` (by name) with ``label``'s value when an object of ``kinds`` carrying it changes."""

    label: str
    task: str
    kinds: frozenset[str]
    window: float
    significant: Signature | None = None
    urgent: Urgency | None = None
    quiet: Urgency | None = None


_label_hooks: list[LabelHook] = []

ObjectKey = tuple[str, int, str, str, str]  # (task, cluster, kind, namespace, name)
_sent_signatures: dict[ObjectKey, Hashable] = {}  # what the last send for each object saw
MAX_SIGNATURES = 100_000  # then forgotten at once: every object's next change sends again


@dataclass(eq=False)
class _Held:
    """A window's closing send, held until ``due``: sends ``task(value)``."""

    task: str
    value: str
    due: float  # monotonic
    objects: dict[ObjectKey, Hashable]  # the changes it covers (their signatures are forgotten if it fails)
    covered: int = 0  # changes it took on after it was queued
    cancelled: bool = False


@dataclass
class _Window:
    ends: float  # monotonic time the window of the last immediate send ends
    trailing: bool = False  # a send at ``ends`` is queued: it will see every change until then
    held: _Held | None = None  # that send, while it waits


_windows: dict[tuple[str, str], _Window] = {}  # (task, value) -> its window
_windows_lock = threading.Lock()
_held_ready = threading.Condition(_windows_lock)  # the timer thread waits on it for the next due send
_held: list[tuple[float, int, _Held]] = []  # heap by due time
_held_order = itertools.count()
_timer: threading.Thread | None = None


def register(kinds: set[str] | frozenset[str], listener: Listener) -> None:
    if not any(fn is listener for _, fn in _listeners):
        _listeners.append((frozenset(kinds), listener))


def on_label(label: str, task: str, *, kinds: set[str] | frozenset[str], window: float = 1.0,
             significant: Signature | None = None, urgent: Urgency | None = None,
             quiet: Urgency | None = None) -> None:
    """Send ``task(value)`` when an object of ``kinds`` labelled ``label=value`` is written
    (coalesced per value within ``window`` seconds). ``significant(row)``, when given, is what the
    task reads of the object: a change that leaves it (and the label's value, compared here) as
    last sent sends nothing. It must cover everything else the task's answer depends on.
    ``urgent(row)``, when given, says a (significant) change is to be sent at once even inside a
    window. ``quiet(row)``, when given, says a change need not be sent before the window's end:
    when every changed object of a value is quiet, the value's send after a quiet window is
    queued for the end of the window it opens, not sent at once. They run on the watcher's
    executor for every such change, so they must be cheap and must not raise."""
    hook = LabelHook(label, task, frozenset(kinds), float(window), significant, urgent, quiet)
    if hook not in _label_hooks:
        _label_hooks.append(hook)


def _kinds(changes: Changes) -> set[str]:
    return {kind for _, kind in (*changes.upserts, *changes.deletes, *changes.relisted)}


def wanted(changes: Changes) -> bool:
    if not _listeners and not _label_hooks:
        return False
    kinds = _kinds(changes)
    return any(k & kinds for k, _ in _listeners) or any(
        h.kinds & {kind for _, kind in changes.upserts} for h in _label_hooks)


def labelled(changes: Changes, hook: LabelHook) -> dict[str, dict[ObjectKey, Hashable]]:
    """The values of ``hook.label`` on the objects of its kinds this batch upserted, each with
    the objects that carry it and their signatures; with ``hook.significant``, only the objects
    whose signature differs from the one last sent. Call with ``_windows_lock`` held."""
    values: dict[str, dict[ObjectKey, Hashable]] = {}
    for (cluster_id, kind), rows in changes.upserts.items():
        if kind not in hook.kinds:
            continue
        for (namespace, name), row in rows.items():
            value = row["labels"].get(hook.label)
            if not value:
                continue
            key = (hook.task, cluster_id, kind, namespace, name)
            # the label's value is part of what was sent: an object moved to another value is news
            signature = (value, hook.significant(row)) if hook.significant is not None else None
            if hook.significant is not None and key in _sent_signatures and _sent_signatures[key] == signature:
                continue
            values.setdefault(value, {})[key] = signature
    return values


def urgent_values(changes: Changes, hook: LabelHook, values: dict[str, dict[ObjectKey, Hashable]]) -> set[str]:
    """The values among ``values`` (:func:`labelled`) one of whose changed objects ``hook.urgent`` says
    must be sent at once."""
    if hook.urgent is None:
        return set()
    found: set[str] = set()
    for value, objects in values.items():
        for _, cluster_id, kind, namespace, name in objects:
            if hook.urgent(changes.upserts[(cluster_id, kind)][(namespace, name)]):
                found.add(value)
                break
    return found


def quiet_values(changes: Changes, hook: LabelHook, values: dict[str, dict[ObjectKey, Hashable]]) -> set[str]:
    """The values among ``values`` (:func:`labelled`) every changed object of which ``hook.quiet``
    says need not be sent before the window's end."""
    if hook.quiet is None:
        return set()
    return {value for value, objects in values.items()
            if all(hook.quiet(changes.upserts[(cluster_id, kind)][(namespace, name)])
                   for _, cluster_id, kind, namespace, name in objects)}


def _send_labelled(changes: Changes) -> None:
    from portal import enqueue

    for hook in list(_label_hooks):
        now = time.monotonic()
        # (value, the window it opened, and for an urgent send inside a window the closing send it
        # makes needless: (that window, the held send, its ``covered`` when decided))
        sends: list[tuple[str, _Window | None, tuple[_Window, _Held, int] | None]] = []
        with _windows_lock:
            values = labelled(changes, hook)
            if not values:
                continue
            urgent = urgent_values(changes, hook, values)
            quiet = quiet_values(changes, hook, values) - urgent
            if len(_windows) > 10_000:  # forget windows long past
                for key in [k for k, w in _windows.items() if w.ends < now]:
                    del _windows[key]
            if hook.significant is not None:
                if len(_sent_signatures) > MAX_SIGNATURES:
                    _sent_signatures.clear()
                for objects in values.values():  # sent now, or seen by the window's queued send
                    _sent_signatures.update(objects)
            for value in sorted(values):
                key = (hook.task, value)
                window = _windows.get(key)
                if window is None or now >= window.ends:
                    _windows[key] = fresh = _Window(now + hook.window)
                    if value in quiet:
                        _hold(fresh, hook.task, value, values[value])
                    else:
                        sends.append((value, fresh, None))
                elif value in urgent:
                    held = window.held
                    sends.append((value, None, (window, held, held.covered) if held is not None else None))
                elif not window.trailing:
                    _hold(window, hook.task, value, values[value])
                elif window.held is not None:  # the closing send, held, will see this change
                    window.held.objects.update(values[value])
                    window.held.covered += 1
                # else: the closing send has left already and will see this change
        for value, opened, cancels in sends:
            if enqueue.send(hook.task, value):
                if cancels is not None:
                    _cancel(*cancels)
                continue
            with _windows_lock:  # not sent (the broker is away): the next change tries again
                key = (hook.task, value)
                if opened is not None and _windows.get(key) is opened:
                    del _windows[key]
                for object_key in values[value]:
                    _sent_signatures.pop(object_key, None)


def _hold(window: _Window, task: str, value: str, objects: dict[ObjectKey, Hashable]) -> None:
    """Queue ``window``'s closing send for its end. Call with ``_windows_lock`` held."""
    global _timer
    window.trailing = True
    window.held = held = _Held(task, value, window.ends, dict(objects))
    heapq.heappush(_held, (held.due, next(_held_order), held))
    if _timer is None or not _timer.is_alive():
        _timer = threading.Thread(target=_send_held, name="watcher-hook-timer", daemon=True)
        _timer.start()
    _held_ready.notify()


def _cancel(window: _Window, held: _Held, covered: int) -> None:
    """An urgent send left inside ``window``: it saw every change ``held`` was queued for, so
    ``held`` is dropped, unless a change came after the urgent one was decided (``covered``
    moved): the held send stays, for that change."""
    with _windows_lock:
        if window.held is held and held.covered == covered and not held.cancelled:
            held.cancelled = True
            window.held, window.trailing = None, False


def pending() -> list[tuple[str, str, float]]:
    """The closing sends held now: (task, value, seconds until sent)."""
    with _windows_lock:
        now = time.monotonic()
        return sorted((h.task, h.value, max(h.due - now, 0.0)) for _, _, h in _held if not h.cancelled)


def _send_held() -> None:
    """The timer thread: send each held closing send at its window's end."""
    from portal import enqueue

    while True:
        with _held_ready:
            while True:
                while _held and _held[0][2].cancelled:
                    heapq.heappop(_held)
                wait = (_held[0][0] - time.monotonic()) if _held else None
                if wait is not None and wait <= 0:
                    break
                _held_ready.wait(wait)
            held = heapq.heappop(_held)[2]
            window = _windows.get((held.task, held.value))
            if window is not None and window.held is held:
                window.held = None  # on its way: a change until the window's end is seen by it
        try:
            sent = enqueue.send(held.task, held.value)
        except Exception:  # never let the timer thread die
            logger.exception("watcher label hook failed")
            sent = False
        if not sent:
            with _windows_lock:  # not sent (the broker is away): the next change tries again
                if window is not None and _windows.get((held.task, held.value)) is window:
                    window.trailing = False
                for object_key in held.objects:
                    _sent_signatures.pop(object_key, None)


def notify(changes: Changes) -> None:
    kinds = _kinds(changes)
    for listened, listener in list(_listeners):
        if listened & kinds:
            try:
                listener(changes)
            except Exception:
                logger.exception("watcher change listener failed", extra={"listener": getattr(listener, "__name__", "")})
    if _label_hooks:
        try:
            _send_labelled(changes)
        except Exception:
            logger.exception("watcher label hook failed")
