"""Metrics and logs used only while ``sandbox.controllers`` is not installed.

The HTTP layer always serves ``metrics.k8s.io`` and ``pods/log`` through the
:mod:`sandbox.interfaces` protocols; without the controllers package these
minimal providers answer (usage = requests, a few fixed log lines) so the API
shape stays testable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from sandbox.errors import BadRequest
from sandbox.quantity import cpu_millis, to_bytes
from sandbox.resources import NODES, PODS
from sandbox.store import Store, now_iso


class RequestsMetrics:
    """Usage reported as the pods' resource requests (nodes: the sum over their pods)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def pod_metrics(self, namespace: str | None) -> list[dict[str, Any]]:
        pods, _ = self.store.list(PODS, namespace, field_selector="status.phase=Running")
        now = now_iso()
        out = []
        for p in pods:
            containers = []
            for c in p["spec"].get("containers", []):
                req = (c.get("resources") or {}).get("requests") or {}
                containers.append({"name": c["name"], "usage": {"cpu": f"{cpu_millis(req.get('cpu')) * 1000000}n",
                                                                "memory": f"{to_bytes(req.get('memory')) // 1024}Ki"}})
            md = p["metadata"]
            out.append({"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                        "metadata": {"name": md["name"], "namespace": md["namespace"], "creationTimestamp": now,
                                     "labels": md.get("labels", {})},
                        "timestamp": now, "window": "15s", "containers": containers})
        return out

    def node_metrics(self) -> list[dict[str, Any]]:
        nodes, _ = self.store.list(NODES)
        pods, _ = self.store.list(PODS, field_selector="status.phase=Running")
        per_node: dict[str, list[int]] = {}
        for p in pods:
            acc = per_node.setdefault(p["spec"].get("nodeName", ""), [0, 0])
            for c in p["spec"].get("containers", []):
                req = (c.get("resources") or {}).get("requests") or {}
                acc[0] += cpu_millis(req.get("cpu"))
                acc[1] += to_bytes(req.get("memory"))
        now = now_iso()
        out = []
        for n in nodes:
            cpu, mem = per_node.get(n["metadata"]["name"], [0, 0])
            out.append({"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                        "metadata": {"name": n["metadata"]["name"], "creationTimestamp": now,
                                     "labels": n["metadata"].get("labels", {})},
                        "timestamp": now, "window": "20s",
                        "usage": {"cpu": f"{cpu * 1000000}n", "memory": f"{mem // 1024}Ki"}})
        return out


class StaticLogs:
    """A few timestamped lines per container; ``follow`` adds one line a second."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def stream(self, namespace: str, pod: str, container: str | None, *, follow: bool,
                     tail_lines: int | None, since_seconds: int | None, timestamps: bool,
                     previous: bool = False) -> AsyncIterator[bytes]:
        if previous:  # API-only containers never restart
            raise BadRequest(f'previous terminated container "{container}" in pod "{pod}" not found')
        lines = [f"sandbox container {container or ''} of {namespace}/{pod} line {i}" for i in range(1, 11)]
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        for line in lines:
            yield self._fmt(line, timestamps)
        n = len(lines)
        while follow and self.store.get(PODS, namespace, pod) is not None:
            await asyncio.sleep(1.0)
            n += 1
            yield self._fmt(f"sandbox container {container or ''} of {namespace}/{pod} line {n}", timestamps)

    @staticmethod
    def _fmt(line: str, timestamps: bool) -> bytes:
        if timestamps:
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z"
            return f"{ts} {line}\n".encode()
        return f"{line}\n".encode()
