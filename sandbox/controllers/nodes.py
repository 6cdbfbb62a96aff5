"""Node lifecycle: Ready heartbeats and leases, NotReady on demand, cordon taints, taint-based eviction.

Heartbeats are one timer per node with a jittered period (default ~30 s), so
100 clusters x 20 nodes cost a few cheap writes a second.  A node made
NotReady (``ControllerManager.set_node_ready(name, False)``) stops
heartbeating, gets the ``node.kubernetes.io/not-ready`` NoSchedule/NoExecute
taints, its pods turn un-Ready, and pods that do not tolerate the NoExecute
taint for ever are evicted after their ``tolerationSeconds`` (300 s by
default, scaled by ``toleration_time_scale``), like the taint manager does.
"""

from __future__ import annotations

import contextlib
import random
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import now_iso, object_ref, set_condition
from sandbox.controllers.cache import NodeInfo, PodKey
from sandbox.errors import ApiError
from sandbox.resources import LEASES, NODES, PODS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
LEASE_NS = "kube-node-lease"


def _micro_now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


class NodeController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.heartbeat_q = manager.queue("node-heartbeat", self.heartbeat)
        self.taint_q = manager.queue("node-taints", self.sync_taints)
        self.evict_q = manager.queue("taint-eviction", self.evict)
        self.not_ready: set[str] = set()
        manager.on_node(self.on_node)

    def start(self) -> None:
        period = self.m.config.node_heartbeat_seconds
        for name, info in self.m.nodes.items():
            if not info.ready:
                self.not_ready.add(name)
            self.heartbeat_q.add_after(name, random.uniform(0.0, period))
            self.taint_q.add(name)

    def on_node(self, etype: str, old: NodeInfo | None, new: NodeInfo | None) -> None:
        if new is None:
            assert old is not None
            self.heartbeat_q.forget(old.name)
            self.not_ready.discard(old.name)
            # pod GC: pods bound to a node that no longer exists are force-deleted
            for p in self.m.pods.on_node(old.name):
                with contextlib.suppress(ApiError):
                    self.m.store.delete(PODS, p.ns, p.name, grace_period_seconds=0)
            return
        if old is None:
            self.heartbeat_q.add(new.name)
        if old is None or old.unschedulable != new.unschedulable:
            self.taint_q.add(new.name)

    # ------------------------------------------------------------ heartbeats

    def heartbeat(self, name: str) -> None:
        if name not in self.m.nodes:
            return
        period = self.m.config.node_heartbeat_seconds
        self.heartbeat_q.add_after(name, period * random.uniform(0.75, 1.25))
        if name in self.not_ready:
            return
        now = now_iso()

        def beat(n: dict[str, Any]) -> None:
            for c in (n.get("status") or {}).get("conditions") or ():
                c["lastHeartbeatTime"] = now

        with contextlib.suppress(ApiError):
            node = self.m.store.mutate(NODES, None, name, beat, subresource="status")
            if self.m.config.node_leases:
                self._renew_lease(node)

    def _renew_lease(self, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        renew = _micro_now()
        lease = self.m.store.get(LEASES, LEASE_NS, name)
        if lease is None:
            with contextlib.suppress(ApiError):
                self.m.store.create(LEASES, {
                    "metadata": {"name": name, "namespace": LEASE_NS,
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                                                      "uid": node["metadata"]["uid"]}]},
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew}})
            return
        lease["spec"]["renewTime"] = renew
        with contextlib.suppress(ApiError):
            self.m.store.update(LEASES, lease)

    # ------------------------------------------------------------ taints

    def sync_taints(self, name: str) -> None:
        node = self.m.store.get(NODES, None, name)
        if node is None:
            return
        spec = node.setdefault("spec", {})
        taints = [t for t in spec.get("taints") or () if t.get("key") not in (UNSCHEDULABLE_TAINT, NOT_READY_TAINT)]
        now = now_iso()
        if spec.get("unschedulable"):
            taints.append({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": now})
        if name in self.not_ready:
            taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": now})
            taints.append({"key": NOT_READY_TAINT, "effect": "NoExecute", "timeAdded": now})
        old = spec.get("taints") or []
        if [(t.get("key"), t.get("effect")) for t in old] == [(t.get("key"), t.get("effect")) for t in taints]:
            return
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)
        with contextlib.suppress(ApiError):
            self.m.store.update(NODES, node)

    # ------------------------------------------------------------ readiness

    def set_ready(self, name: str, ready: bool) -> None:
        node = self.m.store.get(NODES, None, name)
        if node is None:
            raise KeyError(name)
        now = now_iso()
        if ready:
            self.not_ready.discard(name)
        else:
            self.not_ready.add(name)

        def status(n: dict[str, Any]) -> None:
            conds = n.setdefault("status", {}).setdefault("conditions", [])
            if ready:
                set_condition(conds, "Ready", "True", "KubeletReady", "kubelet is posting ready status", now=now)
            else:
                set_condition(conds, "Ready", "False", "KubeletNotReady",
                              "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                              "message:Network plugin returns error: cni plugin not initialized", now=now)
            for c in conds:
                c["lastHeartbeatTime"] = now

        try:
            stored = self.m.store.mutate(NODES, None, name, status, subresource="status")
        except ApiError:
            return
        self.sync_taints(name)
        word = "NodeReady" if ready else "NodeNotReady"
        self.m.events.record(object_ref(stored), "Normal", word, f"Node {name} status is now: {word}",
                             "node-controller")
        if ready:
            for p in self.m.pods.on_node(name):
                self.evict_q.forget(p.key)
            return
        for p in self.m.pods.on_node(name):
            if not p.active:
                continue
            self.m.kubelet.mark_not_ready(p.key)
            pod = self.m.store.get(PODS, p.ns, p.name)
            if pod is None:
                continue
            self.m.events.record(object_ref(pod), "Warning", "NodeNotReady", "Node is not ready", "node-controller")
            delay = self._toleration_seconds(pod)
            if delay is not None:
                self.evict_q.add_after(p.key, delay * self.m.config.toleration_time_scale)

    @staticmethod
    def _toleration_seconds(pod: dict[str, Any]) -> float | None:
        """Seconds before eviction from a not-ready node; None = tolerated for ever."""
        best: float | None = 0.0
        for t in (pod.get("spec") or {}).get("tolerations") or ():
            if t.get("effect") not in (None, "", "NoExecute"):
                continue
            if (t.get("operator") == "Exists" and not t.get("key")) or t.get("key") == NOT_READY_TAINT:
                secs = t.get("tolerationSeconds")
                if secs is None:
                    return None
                best = max(best or 0.0, float(secs))
        return best

    def evict(self, key: PodKey) -> None:
        p = self.m.pods.pods.get(key)
        if p is None or not p.node or p.node not in self.not_ready or not p.active:
            return
        pod = self.m.store.get(PODS, key[0], key[1])
        if pod is None:
            return
        self.m.events.record(object_ref(pod), "Normal", "TaintManagerEviction",
                             f"Marking for deletion Pod {key[0]}/{key[1]}", "taint-eviction-controller")
        with contextlib.suppress(ApiError):
            self.m.store.delete(PODS, key[0], key[1])
