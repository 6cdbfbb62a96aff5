"""Light in-memory indexes of pods and nodes, kept current from store notifications.

The scheduler, ReplicaSet/Job/StatefulSet controllers, endpoints and metrics
all ask "which pods belong to X / run on node Y / live in namespace Z".
Answering from the store would decode JSON for every pod; these slotted
records hold only the handful of fields the controllers need (about 0.5 KB a
pod), so a 1,000-pod cluster is answered without decoding anything.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from sandbox.controllers.base import parse_iso
from sandbox.quantity import cpu_millis, to_bytes

PodKey = tuple[str, str]

TERMINAL = ("Succeeded", "Failed")


def _safe_cpu(v: Any) -> int:
    try:
        return cpu_millis(v)
    except (ValueError, TypeError):
        return 0


def _safe_bytes(v: Any) -> int:
    try:
        return to_bytes(v)
    except (ValueError, TypeError):
        return 0


@dataclass(slots=True)
class ContainerInfo:
    name: str
    cpu_m: int
    mem: int
    ports: dict[str, int]


@dataclass(slots=True)
class PodInfo:
    ns: str
    name: str
    uid: str
    labels: dict[str, str]
    owner_kind: str
    owner_name: str
    owner_uid: str
    node: str
    phase: str
    ready: bool
    ready_since: float | None
    ip: str
    deleting: bool
    containers: tuple[ContainerInfo, ...]
    restart_policy: str
    created: float
    cpu_load: float | None
    mem_load: float | None
    scheduler_name: str
    restarts: int = 0
    running: bool = False

    @property
    def key(self) -> PodKey:
        return (self.ns, self.name)

    @property
    def active(self) -> bool:
        """Counted by controllers: not terminating and not finished."""
        return not self.deleting and self.phase not in TERMINAL

    @property
    def cpu_m(self) -> int:
        return sum(c.cpu_m for c in self.containers)

    @property
    def mem(self) -> int:
        return sum(c.mem for c in self.containers)

    def available(self, min_ready_seconds: int, now: float) -> bool:
        if not self.ready or self.deleting:
            return False
        if min_ready_seconds <= 0:
            return True
        return self.ready_since is not None and now - self.ready_since >= min_ready_seconds


def _float(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def pod_info(obj: dict[str, Any]) -> PodInfo:
    md = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    owner_kind = owner_name = owner_uid = ""
    for ref in md.get("ownerReferences") or ():
        if ref.get("controller"):
            owner_kind, owner_name, owner_uid = ref.get("kind", ""), ref.get("name", ""), ref.get("uid", "")
            break
    ready = False
    ready_since: float | None = None
    for c in status.get("conditions") or ():
        if c.get("type") == "Ready":
            ready = c.get("status") == "True"
            if ready:
                ready_since = parse_iso(c.get("lastTransitionTime"))
    containers = []
    for c in spec.get("containers") or ():
        req = (c.get("resources") or {}).get("requests") or {}
        ports = {p["name"]: int(p.get("containerPort", 0)) for p in c.get("ports") or () if p.get("name")}
        containers.append(ContainerInfo(c.get("name", ""), _safe_cpu(req.get("cpu")),
                                        _safe_bytes(req.get("memory")), ports))
    ann = md.get("annotations") or {}
    restarts = 0
    running = False
    for cs in status.get("containerStatuses") or ():
        restarts += int(cs.get("restartCount") or 0)
        running = running or "running" in (cs.get("state") or {})
    return PodInfo(
        ns=md.get("namespace", ""), name=md["name"], uid=md.get("uid", ""), labels=dict(md.get("labels") or {}),
        owner_kind=owner_kind, owner_name=owner_name, owner_uid=owner_uid, node=spec.get("nodeName") or "",
        phase=status.get("phase") or "Pending", ready=ready, ready_since=ready_since,
        ip=status.get("podIP") or "", deleting=bool(md.get("deletionTimestamp")), containers=tuple(containers),
        restart_policy=spec.get("restartPolicy") or "Always", created=parse_iso(md.get("creationTimestamp")) or 0.0,
        cpu_load=_float(ann.get("sandbox.k8s.io/cpu-load")), mem_load=_float(ann.get("sandbox.k8s.io/memory-load")),
        scheduler_name=spec.get("schedulerName") or "default-scheduler", restarts=restarts, running=running,
    )


@dataclass(slots=True)
class NodeInfo:
    name: str
    labels: dict[str, str]
    taints: list[dict[str, Any]]
    unschedulable: bool
    cpu_m: int
    mem: int
    pods: int
    ready: bool
    ip: str
    cidr_prefix: str

    def sched_signature(self) -> tuple[Any, ...]:
        return (tuple(sorted(self.labels.items())), repr(self.taints), self.unschedulable, self.cpu_m, self.mem,
                self.pods, self.ready)


def node_info(obj: dict[str, Any]) -> NodeInfo:
    md = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    ready = False
    for c in status.get("conditions") or ():
        if c.get("type") == "Ready":
            ready = c.get("status") == "True"
    ip = ""
    for a in status.get("addresses") or ():
        if a.get("type") == "InternalIP":
            ip = a.get("address", "")
    cidr = spec.get("podCIDR") or ""
    prefix = cidr.rsplit(".", 1)[0] if cidr.endswith(".0/24") else ""
    try:
        pods = int(alloc.get("pods", 110))
    except (TypeError, ValueError):
        pods = 110
    return NodeInfo(name=md["name"], labels=dict(md.get("labels") or {}), taints=list(spec.get("taints") or []),
                    unschedulable=bool(spec.get("unschedulable")), cpu_m=_safe_cpu(alloc.get("cpu", "0")),
                    mem=_safe_bytes(alloc.get("memory", "0")), pods=pods, ready=ready, ip=ip, cidr_prefix=prefix)


@dataclass
class NodeUsage:
    cpu_m: int = 0
    mem: int = 0
    pods: int = 0
    keys: set[PodKey] = field(default_factory=set)


class PodCache:
    """Pods by key, by controller owner uid, by node and by namespace, plus per-node requested resources."""

    def __init__(self) -> None:
        self.pods: dict[PodKey, PodInfo] = {}
        self.by_owner: dict[str, set[PodKey]] = collections.defaultdict(set)
        self.by_ns: dict[str, set[PodKey]] = collections.defaultdict(set)
        self.usage: dict[str, NodeUsage] = collections.defaultdict(NodeUsage)

    def _unindex(self, p: PodInfo) -> None:
        if p.owner_uid:
            s = self.by_owner.get(p.owner_uid)
            if s is not None:
                s.discard(p.key)
                if not s:
                    del self.by_owner[p.owner_uid]
        s2 = self.by_ns.get(p.ns)
        if s2 is not None:
            s2.discard(p.key)
            if not s2:
                del self.by_ns[p.ns]
        if p.node:
            u = self.usage.get(p.node)
            if u is not None and p.key in u.keys:
                u.keys.discard(p.key)
                if p.phase not in TERMINAL:
                    u.cpu_m -= p.cpu_m
                    u.mem -= p.mem
                    u.pods -= 1

    def _index(self, p: PodInfo) -> None:
        if p.owner_uid:
            self.by_owner[p.owner_uid].add(p.key)
        self.by_ns[p.ns].add(p.key)
        if p.node:
            u = self.usage[p.node]
            u.keys.add(p.key)
            if p.phase not in TERMINAL:
                u.cpu_m += p.cpu_m
                u.mem += p.mem
                u.pods += 1

    def upsert(self, obj: dict[str, Any]) -> tuple[PodInfo | None, PodInfo]:
        p = pod_info(obj)
        old = self.pods.get(p.key)
        if old is not None:
            self._unindex(old)
        self.pods[p.key] = p
        self._index(p)
        return old, p

    def remove(self, ns: str, name: str) -> PodInfo | None:
        old = self.pods.pop((ns, name), None)
        if old is not None:
            self._unindex(old)
        return old

    def owned(self, uid: str) -> list[PodInfo]:
        return [self.pods[k] for k in self.by_owner.get(uid, ()) if k in self.pods]

    def in_namespace(self, ns: str) -> list[PodInfo]:
        return [self.pods[k] for k in self.by_ns.get(ns, ()) if k in self.pods]

    def on_node(self, node: str) -> list[PodInfo]:
        u = self.usage.get(node)
        return [self.pods[k] for k in u.keys if k in self.pods] if u else []
