"""ReplicaSet controller: keeps ``spec.replicas`` active pods and reports their readiness.

Pods are named ``<rs>-<5 random chars>`` (generateName).  Creation goes through
the store's admission, so a ResourceQuota can refuse a pod; then, like the real
controller, the ReplicaSet gets a ``FailedCreate`` Warning event with the
apiserver's message and a ``ReplicaFailure`` condition, and the create is
retried with back-off.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import SpecChanges, now_iso, object_ref, set_condition
from sandbox.controllers.cache import PodInfo
from sandbox.controllers.podtemplate import deletion_rank, pod_from_template
from sandbox.errors import ApiError
from sandbox.resources import PODS, REPLICASETS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

COMPONENT = "replicaset-controller"
BURST = 500


def pod_signature(p: PodInfo | None) -> tuple[Any, ...]:
    if p is None:
        return ()
    return (p.phase, p.ready, p.deleting, p.node, p.restarts)


class ReplicaSetController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("replicaset", self.sync)
        self._failures: dict[tuple[str, str], int] = {}
        self._retry_at: dict[tuple[str, str], float] = {}
        self._changes = SpecChanges()
        manager.on_kind(REPLICASETS, self.on_rs)
        manager.on_pod(self.on_pod)

    def on_rs(self, etype: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        if self._changes.changed(etype, obj):
            self.q.add((md["namespace"], md["name"]))

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        p = new or old
        assert p is not None
        if p.owner_kind != "ReplicaSet":
            return
        if new is None or old is None or pod_signature(old) != pod_signature(new):
            self.q.add((p.ns, p.owner_name))

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        rs = self.m.store.get(REPLICASETS, ns, name)
        if rs is None:
            self._failures.pop(key, None)
            self._retry_at.pop(key, None)
            return
        md = rs["metadata"]
        spec = rs.get("spec") or {}
        if md.get("deletionTimestamp"):
            return
        pods = self.m.pods.owned(md["uid"])
        active = [p for p in pods if p.active]
        desired = int(spec.get("replicas", 1))
        diff = len(active) - desired
        failure: str | None = None
        ref = object_ref(rs)
        if diff < 0 and time.monotonic() < self._retry_at.get(key, 0.0):
            return  # backing off after a failed create; the timer will bring us back
        if diff < 0:
            template = spec.get("template") or {}
            for _ in range(min(-diff, BURST)):
                try:
                    pod = self.m.store.create(PODS, pod_from_template(rs, template))
                except ApiError as exc:
                    failure = exc.message
                    self.m.events.record(ref, "Warning", "FailedCreate", f"Error creating: {exc.message}",
                                         COMPONENT)
                    break
                self.m.events.record(ref, "Normal", "SuccessfulCreate",
                                     f"Created pod: {pod['metadata']['name']}", COMPONENT)
            if failure is not None:
                n = min(self._failures.get(key, 0) + 1, 10)
                self._failures[key] = n
                delay = min(0.5 * 2 ** (n - 1), 30.0)
                self._retry_at[key] = time.monotonic() + delay
                self.q.add_after(key, delay)
            else:
                self._failures.pop(key, None)
                self._retry_at.pop(key, None)
                if -diff > BURST:
                    self.q.add(key)
        elif diff > 0:
            self._failures.pop(key, None)
            for p in sorted(active, key=deletion_rank)[:diff]:
                with contextlib.suppress(ApiError):
                    self.m.store.delete(PODS, p.ns, p.name)
                    self.m.events.record(ref, "Normal", "SuccessfulDelete", f"Deleted pod: {p.name}", COMPONENT)
        else:
            self._failures.pop(key, None)
        self._update_status(rs, failure)

    def _update_status(self, rs: dict[str, Any], failure: str | None) -> None:
        md = rs["metadata"]
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        active = [p for p in self.m.pods.owned(md["uid"]) if p.active]
        ready = sum(1 for p in active if p.ready)
        available = sum(1 for p in active if p.available(min_ready, now))
        old = rs.get("status") or {}
        conds = [dict(c) for c in old.get("conditions") or ()]
        if failure is not None:
            set_condition(conds, "ReplicaFailure", "True", "FailedCreate", failure, now=now_iso())
        elif len(active) >= int(spec.get("replicas", 1)):
            conds = [c for c in conds if c.get("type") != "ReplicaFailure"]
        status: dict[str, Any] = {"replicas": len(active), "fullyLabeledReplicas": len(active),
                                  "readyReplicas": ready, "availableReplicas": available,
                                  "observedGeneration": md.get("generation", 1)}
        if conds:
            status["conditions"] = conds
        # omitempty fields, as the apiserver serialises them; a ReplicaSet has no updatedReplicas
        for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if not status[k]:
                status.pop(k)
        if min_ready and ready > available:
            self.m.controllers["replicasets"].q.add_after((md["namespace"], md["name"]), 1.0)
        if status == old:
            return
        rs["status"] = status
        with contextlib.suppress(ApiError):
            self.m.store.update(REPLICASETS, rs, subresource="status")
