"""metrics-server stand-in: plausible cpu/memory usage per container, pod and node.

Usage is a pure function of (object name, wall clock): a smooth sum of slow
sines seeded by the pod name, scaled to the container's requests, so numbers
move believably between ``kubectl top`` calls, need no stored history, and
are identical for every reader.  A pod annotation drives load on purpose
(documented in README.md):

* ``sandbox.k8s.io/cpu-load: "0.8"`` -> each container uses 80% of its cpu request
  (values above 1 are allowed: 1.5 = 150%, which makes an HPA scale up);
* ``sandbox.k8s.io/memory-load: "0.9"`` -> the same for memory.

Node usage is the sum of its running pods plus system overhead.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import iso, stable_unit
from sandbox.controllers.cache import ContainerInfo, PodInfo

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

MI = 2**20
API_VERSION = "metrics.k8s.io/v1beta1"


def smooth(seed: str, t: float) -> float:
    """A deterministic, smooth wobble in [-1, 1]."""
    a = stable_unit(seed, "a") * 2 * math.pi
    b = stable_unit(seed, "b") * 2 * math.pi
    c = stable_unit(seed, "c") * 2 * math.pi
    return (0.5 * math.sin(t / 300.0 * 2 * math.pi + a) + 0.3 * math.sin(t / 97.0 * 2 * math.pi + b)
            + 0.2 * math.sin(t / 41.0 * 2 * math.pi + c))


def container_usage(p: PodInfo, c: ContainerInfo, t: float) -> tuple[float, int]:
    """(cpu millicores, memory bytes) of one container at time ``t``."""
    seed = f"{p.ns}/{p.name}/{c.name}"
    base_cpu = float(c.cpu_m) if c.cpu_m else 5.0 + 45.0 * stable_unit(seed, "cpu")
    wobble = smooth(seed, t)
    if p.cpu_load is not None:
        cpu = base_cpu * max(p.cpu_load, 0.0) * (1.0 + 0.02 * wobble)
    else:
        cpu = base_cpu * (0.3 + 0.15 * (1.0 + wobble))
    base_mem = float(c.mem) if c.mem else (24 + 100 * stable_unit(seed, "mem")) * MI
    wobble_m = smooth(seed + "#m", t)
    if p.mem_load is not None:
        mem = base_mem * max(p.mem_load, 0.0) * (1.0 + 0.01 * wobble_m)
    else:
        mem = base_mem * (0.5 + 0.08 * (1.0 + wobble_m))
    return max(cpu, 0.1), int(max(mem, MI))


def pod_usage(p: PodInfo, t: float | None = None) -> tuple[float, int]:
    t = time.time() if t is None else t
    cpu = 0.0
    mem = 0
    for c in p.containers:
        a, b = container_usage(p, c, t)
        cpu += a
        mem += b
    return cpu, mem


def _cpu(millis: float) -> str:
    return f"{int(millis * 1_000_000)}n"


def _mem(b: int) -> str:
    return f"{b // 1024}Ki"


class SimulatedMetrics:
    """:class:`sandbox.interfaces.MetricsProvider` backed by the pod cache."""

    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager

    def measurable(self, p: PodInfo) -> bool:
        return p.phase == "Running" and not p.deleting and self.m.node_ready(p.node)

    def pod_metrics(self, namespace: str | None) -> list[dict[str, Any]]:
        t = time.time()
        ts = iso(t - 7)
        pods = self.m.pods.in_namespace(namespace) if namespace else list(self.m.pods.pods.values())
        out = []
        for p in sorted(pods, key=lambda p: (p.ns, p.name)):
            if not self.measurable(p):
                continue
            containers = []
            for c in p.containers:
                cpu, mem = container_usage(p, c, t)
                containers.append({"name": c.name, "usage": {"cpu": _cpu(cpu), "memory": _mem(mem)}})
            out.append({"kind": "PodMetrics", "apiVersion": API_VERSION,
                        "metadata": {"name": p.name, "namespace": p.ns, "creationTimestamp": iso(t),
                                     "labels": dict(p.labels)},
                        "timestamp": ts, "window": "10.383s", "containers": containers})
        return out

    def node_metrics(self) -> list[dict[str, Any]]:
        t = time.time()
        ts = iso(t - 9)
        out = []
        for name in sorted(self.m.nodes):
            node = self.m.nodes[name]
            if not self.m.node_ready(name):
                continue  # metrics-server has no data for a node whose kubelet is gone
            cpu = 90.0 + 60.0 * (1.0 + smooth(name, t)) + 0.01 * node.cpu_m
            mem = int((600 + 200 * stable_unit(name, "mem")) * MI + 0.02 * node.mem)
            for p in self.m.pods.on_node(name):
                if self.measurable(p):
                    a, b = pod_usage(p, t)
                    cpu += a
                    mem += b
            out.append({"kind": "NodeMetrics", "apiVersion": API_VERSION,
                        "metadata": {"name": name, "creationTimestamp": iso(t), "labels": dict(node.labels)},
                        "timestamp": ts, "window": "20.039s",
                        "usage": {"cpu": _cpu(min(cpu, float(node.cpu_m + 100))), "memory": _mem(mem)}})
        return out
