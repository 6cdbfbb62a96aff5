"""kube-scheduler stand-in: binds pending pods to nodes that fit, or explains why none does.

Filters run in the real scheduler's order (NodeUnschedulable, TaintToleration,
NodeAffinity, NodeResourcesFit) and the first failing filter is the node's
reason, so the ``FailedScheduling`` message has the real shape:
``0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable.
preemption: 0/3 nodes are available: 1 No preemption victims found for
incoming pod, 2 Preemption is not helpful for scheduling.``  Scoring is
"least allocated", which spreads pods evenly.  Unschedulable pods are retried
when nodes change or resources are freed (and every
``scheduler_retry_seconds``).
"""

from __future__ import annotations

import collections
import contextlib
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import now_iso, object_ref, set_condition
from sandbox.controllers.cache import TERMINAL, NodeInfo, PodInfo, PodKey
from sandbox.errors import ApiError
from sandbox.resources import PERSISTENTVOLUMECLAIMS, PODS, STORAGECLASSES

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

COMPONENT = "default-scheduler"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
_RESOURCE_REASONS = frozenset({"Insufficient cpu", "Insufficient memory", "Too many pods"})


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if op == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _match_expr(expr: dict[str, Any], value: str | None) -> bool:
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or ()]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            a, b = int(value), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_matches(spec: dict[str, Any], node: NodeInfo) -> bool:
    """nodeSelector plus required node affinity (matchExpressions and matchFields metadata.name)."""
    for k, v in (spec.get("nodeSelector") or {}).items():
        if node.labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    for term in terms:
        ok = True
        for expr in term.get("matchExpressions") or ():
            if not _match_expr(expr, node.labels.get(expr.get("key", ""))):
                ok = False
                break
        for expr in term.get("matchFields") or ():
            if expr.get("key") == "metadata.name" and not _match_expr(expr, node.name):
                ok = False
                break
        if ok:
            return True
    return False


class Scheduler:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("scheduler", self.sync)
        self.unschedulable: set[PodKey] = set()
        manager.on_pod(self.on_pod)
        manager.on_node(self.on_node)
        manager.on_kind(PERSISTENTVOLUMECLAIMS, self.on_pvc)

    # ------------------------------------------------------------ triggers

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        if new is None:
            assert old is not None
            self.unschedulable.discard(old.key)
            if old.node and old.phase not in TERMINAL:
                self.retry_all()
            return
        if not new.node and not new.deleting and new.phase == "Pending" and new.scheduler_name == COMPONENT:
            if old is None or old.node != new.node or new.key not in self.unschedulable:
                self.q.add(new.key)
        elif old is not None and old.node and old.phase not in TERMINAL and (new.phase in TERMINAL or
                                                                              (new.deleting and not old.deleting)):
            self.retry_all()

    def on_node(self, etype: str, old: NodeInfo | None, new: NodeInfo | None) -> None:
        if new is None or old is None or old.sched_signature() != new.sched_signature():
            self.retry_all()

    def on_pvc(self, etype: str, obj: dict[str, Any]) -> None:
        if self.unschedulable and (obj.get("status") or {}).get("phase") == "Bound":
            self.retry_all()

    def retry_all(self) -> None:
        for key in self.unschedulable:
            self.q.add_after(key, 0.05)

    # ------------------------------------------------------------ scheduling

    def sync(self, key: PodKey) -> None:
        ns, name = key
        pod = self.m.store.get(PODS, ns, name)
        if (pod is None or (pod.get("spec") or {}).get("nodeName") or pod["metadata"].get("deletionTimestamp")
                or (pod.get("status") or {}).get("phase") in TERMINAL):
            self.unschedulable.discard(key)
            return
        spec = pod.get("spec") or {}
        info = self.m.pods.pods.get(key)
        cpu = info.cpu_m if info else 0
        mem = info.mem if info else 0
        nodes = sorted(self.m.nodes.values(), key=lambda n: n.name)
        volume_problem = self._volume_problem(pod)
        best: NodeInfo | None = None
        best_score = 0.0
        reasons: collections.Counter[str] = collections.Counter()
        unresolvable = 0
        if volume_problem is None:
            for node in nodes:
                why = self._filter(spec, node, cpu, mem)
                if why:
                    for r in why:
                        reasons[r] += 1
                    if not set(why) <= _RESOURCE_REASONS:
                        unresolvable += 1
                    continue
                u = self.m.pods.usage.get(node.name)
                used_cpu = (u.cpu_m if u else 0) + max(cpu, 100)
                used_mem = (u.mem if u else 0) + max(mem, 200 * 2**20)
                score = used_cpu / max(node.cpu_m, 1) + used_mem / max(node.mem, 1)
                if best is None or score < best_score:
                    best, best_score = node, score
        if best is not None:
            self._bind(pod, best.name)
            return
        n = len(nodes)
        if volume_problem is not None:
            msg = (f"0/{n} nodes are available: {volume_problem}. preemption: 0/{n} nodes are available: "
                   f"{n} Preemption is not helpful for scheduling.")
        elif n == 0:
            msg = "no nodes available to schedule pods"
        else:
            parts = ", ".join(sorted(f"{c} {r}" for r, c in reasons.items()))
            pre = []
            if n - unresolvable:
                pre.append(f"{n - unresolvable} No preemption victims found for incoming pod")
            if unresolvable:
                pre.append(f"{unresolvable} Preemption is not helpful for scheduling")
            msg = (f"0/{n} nodes are available: {parts}. preemption: 0/{n} nodes are available: "
                   f"{', '.join(sorted(pre))}.")
        self._unschedulable(pod, msg)

    def _volume_problem(self, pod: dict[str, Any]) -> str | None:
        ns = pod["metadata"]["namespace"]
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.m.store.get(PERSISTENTVOLUMECLAIMS, ns, claim)
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found'
            if (pvc.get("status") or {}).get("phase") == "Bound":
                continue
            sc_name = (pvc.get("spec") or {}).get("storageClassName")
            sc = self.m.store.get(STORAGECLASSES, None, sc_name) if sc_name else None
            if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                continue
            return "pod has unbound immediate PersistentVolumeClaims"
        return None

    def _filter(self, spec: dict[str, Any], node: NodeInfo, cpu: int, mem: int) -> list[str]:
        tolerations = spec.get("tolerations") or []
        if node.unschedulable and not tolerates(tolerations, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}):
            return ["node(s) were unschedulable"]
        for taint in node.taints:
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not tolerates(tolerations, taint):
                return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"]
        if not node_matches(spec, node):
            return ["node(s) didn't match Pod's node affinity/selector"]
        u = self.m.pods.usage.get(node.name)
        out = []
        if (u.pods if u else 0) + 1 > node.pods:
            out.append("Too many pods")
        if cpu and (u.cpu_m if u else 0) + cpu > node.cpu_m:
            out.append("Insufficient cpu")
        if mem and (u.mem if u else 0) + mem > node.mem:
            out.append("Insufficient memory")
        return out

    def _bind(self, pod: dict[str, Any], node: str) -> None:
        md = pod["metadata"]
        ns, name = md["namespace"], md["name"]
        self.unschedulable.discard((ns, name))
        now = now_iso()

        def bind(p: dict[str, Any]) -> None:
            p["spec"]["nodeName"] = node

        def scheduled(p: dict[str, Any]) -> None:
            st = p.setdefault("status", {})
            conds = st.setdefault("conditions", [])
            set_condition(conds, "PodScheduled", "True", now=now, probe_times=True)

        try:
            bound = self.m.store.mutate(PODS, ns, name, bind)
            if self.m.config.scheduled_condition_write:
                self.m.store.mutate(PODS, ns, name, scheduled, subresource="status")
        except ApiError:
            return
        self.m.events.record(object_ref(bound), "Normal", "Scheduled",
                             f"Successfully assigned {ns}/{name} to {node}", COMPONENT)

    def _unschedulable(self, pod: dict[str, Any], msg: str) -> None:
        md = pod["metadata"]
        key = (md["namespace"], md["name"])
        self.unschedulable.add(key)

        def mark(p: dict[str, Any]) -> None:
            conds = p.setdefault("status", {}).setdefault("conditions", [])
            set_condition(conds, "PodScheduled", "False", "Unschedulable", msg, probe_times=True)

        with contextlib.suppress(ApiError):
            self.m.store.mutate(PODS, md["namespace"], md["name"], mark, subresource="status")
        self.m.events.record(object_ref(pod), "Warning", "FailedScheduling", msg, COMPONENT)
        self.q.add_after(key, self.m.config.scheduler_retry_seconds)
