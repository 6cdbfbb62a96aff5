"""core/v1 Events written the way kubelet, the scheduler and controllers write them.

Repeats of the same (object, reason, message, source) are aggregated into one
Event whose ``count`` and ``lastTimestamp`` grow, as client-go's event
correlator does, so a crash loop does not create unbounded objects; and, like
its EventAggregator, more than 10 *similar* events (same object, reason and
source, different messages) within 10 minutes are combined into one Event
whose message starts with ``(combined from similar events): ``.  The
number of Events per cluster is capped (oldest deleted first) and old ones
expire after a TTL (the real apiserver keeps one hour), which keeps memory
bounded for a fleet of 100 clusters.
"""

from __future__ import annotations

import collections
import contextlib
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import now_iso
from sandbox.errors import ApiError
from sandbox.resources import EVENTS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

_EventKey = tuple[str, str, str, str, str]


class EventRecorder:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.store = manager.store
        # aggregation key -> (namespace, name, first_seen_monotonic)
        self._by_key: collections.OrderedDict[_EventKey, tuple[str, str]] = collections.OrderedDict()
        self._created: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()
        self._seq = 0
        self._similar: collections.OrderedDict[tuple[str, ...], tuple[float, set[str]]] = collections.OrderedDict()

    def forget(self, ns: str, name: str) -> None:
        """An Event was deleted by someone else (namespace deletion, kubectl)."""
        self._created.pop((ns, name), None)

    def record(self, involved: dict[str, Any], etype: str, reason: str, message: str, component: str,
               *, host: str = "", field_path: str = "") -> None:
        if not self.m.config.record_events:
            return
        ref = dict(involved)
        if field_path:
            ref["fieldPath"] = field_path
        ns = ref.get("namespace") or "default"
        similar_key = (ref.get("uid", ""), ref.get("fieldPath", ""), reason, component, etype)
        first, messages = self._similar.get(similar_key, (0.0, set()))
        mono = time.monotonic()
        if mono - first > 600:
            first, messages = mono, set()
        combined = len(messages) >= 10 and message not in messages
        if not combined:
            messages.add(message)
        self._similar[similar_key] = (first, messages)
        self._similar.move_to_end(similar_key)
        while len(self._similar) > self.m.config.max_events * 2:
            self._similar.popitem(last=False)
        if combined:
            message = "(combined from similar events): " + message
        key: _EventKey = (ref.get("uid", ""), ref.get("fieldPath", ""), reason,
                          "(combined)" if combined else message, component)
        now = now_iso()
        existing = self._by_key.get(key)
        if existing is not None and existing in self._created:
            def bump(ev: dict[str, Any]) -> None:
                ev["count"] = int(ev.get("count") or 1) + 1
                ev["lastTimestamp"] = now
                ev["involvedObject"] = ref
                ev["message"] = message

            with contextlib.suppress(ApiError):
                self.store.mutate(EVENTS, existing[0], existing[1], bump)
                self._by_key.move_to_end(key)
                return
        self._seq += 1
        name = f"{ref.get('name', 'unknown')}.{time.time_ns() + self._seq:x}"
        source: dict[str, str] = {"component": component}
        if host:
            source["host"] = host
        ev = {
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": etype,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        try:
            self.store.create(EVENTS, ev)
        except ApiError:
            return  # namespace gone or being deleted: a real recorder drops the event too
        self._by_key[key] = (ns, name)
        self._created[(ns, name)] = time.monotonic()
        while len(self._by_key) > self.m.config.max_events * 2:
            self._by_key.popitem(last=False)
        while len(self._created) > self.m.config.max_events:
            (ons, oname), _ = self._created.popitem(last=False)
            with contextlib.suppress(ApiError):
                self.store.delete(EVENTS, ons, oname)

    def expire(self) -> None:
        """Delete events older than the TTL (called from the manager's housekeeping timer)."""
        cutoff = time.monotonic() - self.m.config.event_ttl_seconds
        while self._created:
            (ns, name), created = next(iter(self._created.items()))
            if created > cutoff:
                break
            self._created.popitem(last=False)
            with contextlib.suppress(ApiError):
                self.store.delete(EVENTS, ns, name)
