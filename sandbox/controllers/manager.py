"""The per-cluster controller manager: caches, dispatch, one worker, and the public control surface.

One ``ControllerManager`` runs beside each ``SimCluster`` in the cluster's
event loop.  It subscribes to the store once, keeps light pod/node indexes,
fans each change out to the controllers that care (which only enqueue keys),
and drains all work queues from a single asyncio task, yielding to the
HTTP server between batches.  Besides ``start``/``stop``, ``metrics`` and
``logs`` (see :mod:`sandbox.interfaces`) it exposes the operations the
sandbox's admin API and tests need: :meth:`set_node_ready`, :meth:`add_node`,
:meth:`wait_idle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import WorkQueue, log
from sandbox.controllers.cache import NodeInfo, PodCache, PodInfo, node_info
from sandbox.controllers.config import DEFAULT, ControllerConfig
from sandbox.interfaces import LogProvider, MetricsProvider
from sandbox.resources import EVENTS, NODES, PODS, ResourceType, stored_types
from sandbox.store import DELETED, Store

if TYPE_CHECKING:
    from sandbox.cluster import SimCluster

PodHandler = Callable[[str, PodInfo | None, PodInfo | None], None]
NodeHandler = Callable[[str, NodeInfo | None, NodeInfo | None], None]
ObjHandler = Callable[[str, dict[str, Any]], None]


class ControllerManager:
    """Simulated kube-controller-manager + kube-scheduler + kubelets + metrics-server of one cluster."""

    BATCH = 200

    def __init__(self, cluster: SimCluster, config: ControllerConfig | None = None) -> None:
        from sandbox.controllers.events import EventRecorder
        from sandbox.controllers.kubelet import Kubelet
        from sandbox.controllers.logs import GeneratedLogs
        from sandbox.controllers.metrics import SimulatedMetrics
        from sandbox.controllers.nodes import NodeController
        from sandbox.controllers.scheduler import Scheduler
        from sandbox.controllers.workloads import register_workload_controllers

        self.cluster = cluster
        self.store: Store = cluster.store
        self.config: ControllerConfig = config or getattr(cluster, "controller_config", None) or DEFAULT
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pods = PodCache()
        self.nodes: dict[str, NodeInfo] = {}
        self.queues: list[WorkQueue] = []
        self._pod_handlers: list[PodHandler] = []
        self._node_handlers: list[NodeHandler] = []
        self._kind_handlers: dict[str, list[ObjHandler]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._housekeeping: asyncio.TimerHandle | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._busy = False
        self.events = EventRecorder(self)
        self.scheduler = Scheduler(self)
        self.kubelet = Kubelet(self)
        self.node_controller = NodeController(self)
        self.controllers: dict[str, Any] = register_workload_controllers(self)
        self.metrics: MetricsProvider = SimulatedMetrics(self)
        self.logs: LogProvider = GeneratedLogs(self)

    # ------------------------------------------------------------ registration (used by controllers)

    def queue(self, name: str, handler: Callable[[Any], None]) -> WorkQueue:
        q = WorkQueue(self, name, handler)
        self.queues.append(q)
        return q

    def on_pod(self, handler: PodHandler) -> None:
        self._pod_handlers.append(handler)

    def on_node(self, handler: NodeHandler) -> None:
        self._node_handlers.append(handler)

    def on_kind(self, rt: ResourceType, handler: ObjHandler) -> None:
        self._kind_handlers.setdefault(rt.storage_key, []).append(handler)

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        nodes, _ = self.store.list(NODES)
        for n in nodes:
            self.nodes[n["metadata"]["name"]] = node_info(n)
        pods, _ = self.store.list(PODS)
        for p in pods:
            self.pods.upsert(p)
        self._unsubscribe = self.store.subscribe(self._on_change)
        # initial "list": every existing object is synced once, like informers' initial ADDED events
        for key, handlers in self._kind_handlers.items():
            if key == EVENTS.storage_key:
                continue
            rt = next(t for t in stored_types() if t.storage_key == key)
            objs, _ = self.store.list(rt)
            for obj in objs:
                for h in handlers:
                    h("ADDED", obj)
        for info in list(self.pods.pods.values()):
            for ph in self._pod_handlers:
                ph("ADDED", None, info)
        self.node_controller.start()
        self._task = asyncio.create_task(self._run(), name=f"controllers-{self.cluster.name}")
        self._housekeeping = self.loop.call_later(60.0, self._housekeep)
        for c in self.controllers.values():
            start = getattr(c, "start", None)
            if start is not None:
                start()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        for q in self.queues:
            q.close()
        for c in self.controllers.values():
            stop = getattr(c, "stop", None)
            if stop is not None:
                stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _housekeep(self) -> None:
        try:
            self.events.expire()
        finally:
            if self.loop is not None and self._unsubscribe is not None:
                self._housekeeping = self.loop.call_later(60.0, self._housekeep)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._busy = True
            try:
                while True:
                    n = 0
                    for q in self.queues:
                        n += q.drain(self.BATCH)
                    if n == 0:
                        break
                    await asyncio.sleep(0)  # let the HTTP server breathe between batches
            except Exception:
                log.exception("controller worker of %s failed", self.cluster.name)
            finally:
                self._busy = False

    async def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no queue has pending keys (timers may still be armed).  True if idle in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._busy and all(q.idle for q in self.queues):
                await asyncio.sleep(0)
                if not self._busy and all(q.idle for q in self.queues):
                    return True
            await asyncio.sleep(0.01)
        return False

    # ------------------------------------------------------------ dispatch

    def _on_change(self, etype: str, rt: ResourceType, obj: dict[str, Any]) -> None:
        key = rt.storage_key
        if key == "pods":
            md = obj["metadata"]
            if etype == DELETED:
                old = self.pods.remove(md.get("namespace", ""), md["name"])
                if old is not None:
                    for ph in self._pod_handlers:
                        ph(etype, old, None)
            else:
                prev, new = self.pods.upsert(obj)
                for ph in self._pod_handlers:
                    ph(etype, prev, new)
        elif key == "nodes":
            name = obj["metadata"]["name"]
            prev_node = self.nodes.get(name)
            new_node: NodeInfo | None
            if etype == DELETED:
                self.nodes.pop(name, None)
                new_node = None
            else:
                new_node = self.nodes[name] = node_info(obj)
            for nh in self._node_handlers:
                nh(etype, prev_node, new_node)
        elif key == "events" and etype == DELETED:
            self.events.forget(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        for h in self._kind_handlers.get(key, ()):
            h(etype, obj)

    # ------------------------------------------------------------ public control surface

    def set_node_ready(self, name: str, ready: bool) -> None:
        """Make a node NotReady (stops heartbeats, taints it, pods turn un-Ready) or Ready again.

        Raises ``KeyError`` for an unknown node.
        """
        self.node_controller.set_ready(name, ready)

    def node_ready(self, name: str) -> bool:
        return name not in self.node_controller.not_ready and name in self.nodes

    def add_node(self, n: int | None = None) -> str:
        """Add a node like the cluster's own (``<cluster>-node-<n>``, next free n); returns its name."""
        from sandbox.cluster import node_object

        if n is None:
            n = 1
            while f"{self.cluster.spec.name}-node-{n}" in self.nodes:
                n += 1
        obj = node_object(self.cluster.spec, n)
        self.store.create(NODES, obj)
        return str(obj["metadata"]["name"])
