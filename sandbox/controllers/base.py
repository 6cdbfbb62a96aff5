"""Work queues and small helpers shared by every simulated controller.

Controllers here work like client-go controllers: store change notifications
only *enqueue keys*; a single worker per cluster drains the queues and calls
each controller's ``sync(key)``.  Keys are deduplicated while pending, so a
burst of 1,000 pod events for one ReplicaSet costs one sync, and delayed
re-checks (a pod becoming Ready in 0.6 s, a crash back-off) are timers on the
event loop rather than periodic scans.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import logging
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from sandbox.selectors import LabelSelector, selector_from_match

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

log = logging.getLogger("sandbox.controllers")

Key = Hashable


class WorkQueue:
    """A deduplicating queue of keys with delayed adds, drained by the manager's worker."""

    def __init__(self, manager: ControllerManager, name: str, handler: Callable[[Any], None]) -> None:
        self.manager = manager
        self.name = name
        self.handler = handler
        self.pending: dict[Key, None] = {}
        self._timers: dict[Key, tuple[float, asyncio.TimerHandle]] = {}
        self.failures: dict[Key, int] = {}

    def add(self, key: Key) -> None:
        if key not in self.pending:
            self.pending[key] = None
            self.manager.wake()

    def add_after(self, key: Key, delay: float) -> None:
        """Enqueue ``key`` after ``delay`` seconds (an earlier pending timer wins)."""
        if delay <= 0:
            self.add(key)
            return
        loop = self.manager.loop
        if loop is None:
            self.add(key)
            return
        due = loop.time() + delay
        cur = self._timers.get(key)
        if cur is not None:
            if cur[0] <= due:
                return
            cur[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def forget(self, key: Key) -> None:
        t = self._timers.pop(key, None)
        if t is not None:
            t[1].cancel()
        self.failures.pop(key, None)

    def drain(self, budget: int) -> int:
        """Process up to ``budget`` keys; returns how many were processed."""
        n = 0
        while self.pending and n < budget:
            key = next(iter(self.pending))
            del self.pending[key]
            n += 1
            try:
                self.handler(key)
                self.failures.pop(key, None)
            except Exception:
                fails = self.failures.get(key, 0) + 1
                self.failures[key] = fails
                log.exception("%s: sync of %r failed (attempt %d)", self.name, key, fails)
                if fails < 8:
                    self.add_after(key, min(0.05 * 2 ** fails, 10.0))
        return n

    def close(self) -> None:
        for _, h in self._timers.values():
            h.cancel()
        self._timers.clear()
        self.pending.clear()

    @property
    def idle(self) -> bool:
        return not self.pending


class SpecChanges:
    """Remembers each object's ``metadata.generation`` so a controller re-syncs on spec changes only.

    Controllers write their objects' status themselves; re-syncing on those writes is wasted work and,
    when a status message changes on every attempt (a quota error naming a fresh pod name), a busy loop.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[Any, bool]] = {}

    def changed(self, etype: str, obj: dict[str, Any]) -> bool:
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        if etype == "DELETED":
            self._seen.pop(key, None)
            return False
        now = (md.get("generation"), bool(md.get("deletionTimestamp")))
        if self._seen.get(key) == now:
            return False
        self._seen[key] = now
        return True


# ---------------------------------------------------------------- time


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_iso(text: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 UTC timestamp ("2026-11-21T22:40:44Z", fractions ignored)."""
    if not text or len(text) < 19:
        return None
    try:
        return float(calendar.timegm((int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                                      int(text[14:16]), int(text[17:19]), 0, 0, 0)))
    except ValueError:
        return None


# ---------------------------------------------------------------- objects


def owner_ref(obj: dict[str, Any], *, controller: bool = True) -> dict[str, Any]:
    md = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": md["name"], "uid": md["uid"],
            "controller": controller, "blockOwnerDeletion": True}


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def object_ref(obj: dict[str, Any], field_path: str = "") -> dict[str, Any]:
    md = obj["metadata"]
    ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": md.get("name", ""),
           "uid": md.get("uid", ""), "resourceVersion": md.get("resourceVersion", "")}
    if md.get("namespace"):
        ref["namespace"] = md["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def set_condition(conds: list[dict[str, Any]], ctype: str, status: str, reason: str = "", message: str = "",
                  *, now: str | None = None, probe_times: bool = False, update_time: bool = False) -> bool:
    """Set a condition in place, keeping ``lastTransitionTime`` unless the status flips.  True if changed."""
    now = now or now_iso()
    for c in conds:
        if c.get("type") == ctype:
            changed = c.get("status") != status or c.get("reason", "") != reason or c.get("message", "") != message
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            c["status"] = status
            if reason:
                c["reason"] = reason
            else:
                c.pop("reason", None)
            if message:
                c["message"] = message
            else:
                c.pop("message", None)
            if update_time and changed:
                c["lastUpdateTime"] = now
            return changed
    c = {"type": ctype, "status": status, "lastTransitionTime": now}
    if probe_times:
        c["lastProbeTime"] = None
    if update_time:
        c["lastUpdateTime"] = now
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    conds.append(c)
    return True


def get_condition(conds: list[dict[str, Any]] | None, ctype: str) -> dict[str, Any] | None:
    for c in conds or ():
        if c.get("type") == ctype:
            return c
    return None


def label_selector(sel: dict[str, Any] | None) -> LabelSelector | None:
    """A matcher for a metav1.LabelSelector; None (matches nothing) when absent or empty."""
    if not sel or (not sel.get("matchLabels") and not sel.get("matchExpressions")):
        return None
    return selector_from_match(sel)


_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(text: str) -> str:
    """apimachinery's ``rand.SafeEncodeString``: no vowels, no look-alike characters."""
    return "".join(_SAFE[b % len(_SAFE)] for b in text.encode())


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    """Stable pod-template hash (FNV-32a of the canonical template, encoded like controller.ComputeHash)."""
    import json

    tmpl = json.loads(json.dumps(template))
    labels = (tmpl.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop("pod-template-hash", None)
        labels.pop("controller-revision-hash", None)
    data = json.dumps(tmpl, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def stable_unit(*parts: str) -> float:
    """A deterministic number in [0, 1) from strings (seeding per object)."""
    h = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        try:
            pct = int(s[:-1])
        except ValueError:
            return 0
        v = pct * total
        return -(-v // 100) if round_up else v // 100
    try:
        return int(s)
    except ValueError:
        return 0
