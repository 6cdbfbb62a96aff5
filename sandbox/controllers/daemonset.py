"""DaemonSet controller: one pod per eligible node, placed through the scheduler like the real one.

A node is eligible when it matches the pod's nodeSelector/required affinity
and every NoSchedule/NoExecute taint is tolerated (DaemonSet pods get the
standard extra tolerations, including ``node.kubernetes.io/unschedulable``,
so cordoned nodes keep their daemons).  Pods get a required node affinity on
``metadata.name`` and are bound by the scheduler.  Rolling updates replace
old-revision pods ``maxUnavailable`` at a time. Each template is a ControllerRevision ``<ds>-<hash>``
(:mod:`sandbox.controllers.history`), so ``kubectl rollout history|undo daemonset`` work.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import SpecChanges, int_or_percent, object_ref, template_hash
from sandbox.controllers.cache import NodeInfo, PodInfo
from sandbox.controllers.history import ensure_revision
from sandbox.controllers.podtemplate import pod_from_template
from sandbox.controllers.replicaset import pod_signature
from sandbox.controllers.scheduler import node_matches, tolerates
from sandbox.errors import ApiError
from sandbox.resources import DAEMONSETS, PODS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

COMPONENT = "daemonset-controller"
_DS_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def _target_node(pod: dict[str, Any]) -> str:
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for t in terms:
        for f in t.get("matchFields") or ():
            if f.get("key") == "metadata.name" and f.get("values"):
                return str(f["values"][0])
    return ""


class DaemonSetController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self._changes = SpecChanges()
        self.q = manager.queue("daemonset", self.sync)
        self.keys: set[tuple[str, str]] = set()
        manager.on_kind(DAEMONSETS, self.on_ds)
        manager.on_pod(self.on_pod)
        manager.on_node(self.on_node)

    def on_ds(self, etype: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if etype == "DELETED":
            self.keys.discard(key)
            self._changes.changed(etype, obj)
            return
        self.keys.add(key)
        if self._changes.changed(etype, obj):
            self.q.add(key)

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        p = new or old
        assert p is not None
        if p.owner_kind == "DaemonSet" and (new is None or old is None or pod_signature(old) != pod_signature(new)):
            self.q.add((p.ns, p.owner_name))

    def on_node(self, etype: str, old: NodeInfo | None, new: NodeInfo | None) -> None:
        if new is None or old is None or old.sched_signature() != new.sched_signature():
            for key in self.keys:
                self.q.add_after(key, 0.05)

    def _eligible(self, pod_spec: dict[str, Any], node: NodeInfo, *, running: bool = False) -> bool:
        """shouldRun (``running=False``) or shouldContinueRunning (only NoExecute taints count)."""
        if not node_matches(pod_spec, node):
            return False
        tolerations = list(pod_spec.get("tolerations") or []) + _DS_TOLERATIONS
        effects = ("NoExecute",) if running else ("NoSchedule", "NoExecute")
        return all(tolerates(tolerations, t) for t in node.taints if t.get("effect") in effects)

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        ds = self.m.store.get(DAEMONSETS, ns, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        rev = template_hash(template)
        ensure_revision(self.m.store, ds, name=f"{name}-{rev}", hash_label="controller-revision-hash", hash_value=rev)
        ref = object_ref(ds)
        by_node: dict[str, list[PodInfo]] = {}
        for p in self.m.pods.owned(ds["metadata"]["uid"]):
            if not p.active:
                continue
            node = p.node
            if not node:
                pod = self.m.store.get(PODS, p.ns, p.name)
                node = _target_node(pod) if pod else ""
            by_node.setdefault(node, []).append(p)
        eligible = {n for n, info in self.m.nodes.items() if self._eligible(pod_spec, info)}
        for node in sorted(eligible):
            if node not in by_node:
                self._create(ds, node, rev, ref)
        keep = {n for n, info in self.m.nodes.items() if self._eligible(pod_spec, info, running=True)}
        for node, pods in by_node.items():
            victims = pods if node not in keep else sorted(pods, key=lambda p: p.created)[1:]
            for p in victims:
                with contextlib.suppress(ApiError):
                    self.m.store.delete(PODS, p.ns, p.name)
                    self.m.events.record(ref, "Normal", "SuccessfulDelete", f"Deleted pod: {p.name}", COMPONENT)
        # rolling update: replace old-revision pods, maxUnavailable at a time
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            max_unavail = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)
            budget = max(1, int_or_percent(max_unavail, len(eligible), round_up=True))
            unavailable = sum(1 for n in eligible if not any(p.ready for p in by_node.get(n, [])))
            for node in sorted(eligible):
                if unavailable >= budget:
                    break
                for p in by_node.get(node, []):
                    if p.labels.get("controller-revision-hash") != rev and not p.deleting:
                        with contextlib.suppress(ApiError):
                            self.m.store.delete(PODS, p.ns, p.name)
                            self.m.events.record(ref, "Normal", "SuccessfulDelete", f"Deleted pod: {p.name}",
                                                 COMPONENT)
                        unavailable += 1
                        break
        self._status(ds, eligible, rev)

    def _create(self, ds: dict[str, Any], node: str, rev: str, ref: dict[str, Any]) -> None:
        template = json.loads(json.dumps(ds["spec"].get("template") or {}))
        spec = template.setdefault("spec", {})
        spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})[
            "requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}
        tol = spec.setdefault("tolerations", [])
        have = {(t.get("key"), t.get("effect")) for t in tol}
        tol.extend(t for t in _DS_TOLERATIONS if (t["key"], t["effect"]) not in have)
        extra = {"controller-revision-hash": rev,
                 "pod-template-generation": str(ds["metadata"].get("generation", 1))}
        try:
            pod = self.m.store.create(PODS, pod_from_template(ds, template, extra_labels=extra))
        except ApiError as exc:
            self.m.events.record(ref, "Warning", "FailedCreate", f"Error creating: {exc.message}", COMPONENT)
            self.q.add_after((ds["metadata"]["namespace"], ds["metadata"]["name"]), 2.0)
            return
        self.m.events.record(ref, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", COMPONENT)

    def _status(self, ds: dict[str, Any], eligible: set[str], rev: str) -> None:
        md = ds["metadata"]
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        now = time.time()
        pods = [p for p in self.m.pods.owned(md["uid"]) if p.active and p.node]
        scheduled = {p.node for p in pods}
        ready_nodes = {p.node for p in pods if p.ready}
        updated = {p.node for p in pods if p.labels.get("controller-revision-hash") == rev}
        available = {p.node for p in pods if p.available(min_ready, now)}
        desired = len(eligible)
        status = {"currentNumberScheduled": len(scheduled & eligible), "numberMisscheduled": len(scheduled - eligible),
                  "desiredNumberScheduled": desired, "numberReady": len(ready_nodes & eligible),
                  "observedGeneration": md.get("generation", 1), "updatedNumberScheduled": len(updated & eligible),
                  "numberAvailable": len(available & eligible),
                  "numberUnavailable": max(desired - len(available & eligible), 0)}
        for k in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
            if not status[k]:
                status.pop(k)
        old = ds.get("status") or {}
        if status == old:
            return
        ds["status"] = status
        with contextlib.suppress(ApiError):
            self.m.store.update(DAEMONSETS, ds, subresource="status")
