"""The runtime of the simulated Cluster API providers in one management cluster.

A :class:`CapiProvider` runs beside a management cluster of the fleet (same event loop): it
installs the CRDs through the cluster's own CRD API, subscribes to the cluster's store, and, like
the workload controllers in :mod:`sandbox.controllers`, only enqueues keys on changes; one worker
task drains the queues and calls each controller's ``sync``.  It is the only part of the sandbox
that reaches across clusters: it starts and stops the simulated clusters it provisions in the same
:class:`sandbox.fleet.Fleet` and writes their Nodes.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from sandbox.capi import crds
from sandbox.capi.config import CapiConfig
from sandbox.controllers.base import WorkQueue
from sandbox.crds import CustomType, lookup_custom
from sandbox.errors import ApiError, NotFound
from sandbox.resources import NODES, ResourceType

if TYPE_CHECKING:
    from sandbox.cluster import SimCluster
    from sandbox.fleet import Fleet

log = logging.getLogger("sandbox.capi")

PLURALS = {kind: (group, plural) for group, kind, plural, *_ in crds.KINDS}
KIND_OF_KEY = {f"{plural}.{group}": kind for group, kind, plural, *_ in crds.KINDS}

CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
FLEET_ANNOTATION = "sandbox.k8s.io/fleet-cluster"


class CapiProvider:
    """Cluster API core + kubeadm bootstrap/control plane + the sandbox infrastructure provider."""

    BATCH = 100

    def __init__(self, fleet: Fleet, cluster: SimCluster, config: CapiConfig) -> None:
        from sandbox.capi.controllers import Controllers

        self.fleet = fleet
        self.cluster = cluster
        self.store = cluster.store
        self.config = config
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: list[WorkQueue] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resync: asyncio.TimerHandle | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._node_subs: dict[str, Callable[[], None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stopped = False
        self.controllers = Controllers(self)

    # ------------------------------------------------------------ queues (WorkQueue's manager surface)

    def queue(self, name: str, handler: Callable[[Any], None]) -> WorkQueue:
        q = WorkQueue(cast(Any, self), f"capi-{name}", handler)
        self.queues.append(q)
        return q

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        crds.install(self.store)
        self._unsubscribe = self.store.subscribe(self._on_change)
        self._task = asyncio.create_task(self._run(), name=f"capi-{self.cluster.name}")
        self.resync()

    async def stop(self) -> None:
        self.stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._resync is not None:
            self._resync.cancel()
        for unsub in self._node_subs.values():
            unsub()
        self._node_subs.clear()
        for q in self.queues:
            q.close()
        for t in list(self._tasks):
            t.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def resync(self) -> None:
        """Enqueue every Cluster API object (also done periodically)."""
        if self.stopped:
            return
        try:
            for kind in ("Cluster", "SandboxCluster", "KubeadmControlPlane", "MachineDeployment", "MachineSet",
                         "Machine"):
                for obj in self.list(kind):
                    self.controllers.enqueue(kind, obj)
        except ApiError:  # a Cluster API CRD was deleted: nothing of that kind to reconcile
            log.warning("Cluster API CRDs missing in %s", self.cluster.name)
        if self.loop is not None:
            self._resync = self.loop.call_later(self.config.resync_seconds, self.resync)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while True:
                    n = sum(q.drain(self.BATCH) for q in self.queues)
                    if n == 0:
                        break
                    await asyncio.sleep(0)
            except Exception:
                log.exception("Cluster API worker of %s failed", self.cluster.name)

    def _on_change(self, etype: str, rt: ResourceType, obj: dict[str, Any]) -> None:
        kind = KIND_OF_KEY.get(rt.storage_key)
        if kind is not None:
            self.controllers.on_change(kind, etype, obj)

    def spawn(self, coro: Coroutine[Any, Any, Any], done: Callable[[], None] | None = None) -> None:
        """Run ``coro`` on the loop (starting/stopping clusters); ``done`` afterwards, errors logged."""

        async def wrapper() -> None:
            try:
                await coro
            except Exception:
                log.exception("Cluster API task failed")
            finally:
                if done is not None and not self.stopped:
                    done()

        task = asyncio.ensure_future(wrapper())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ store helpers

    def rt(self, kind: str) -> CustomType:
        group, plural = PLURALS[kind]
        t = lookup_custom(self.store, group, crds.VERSION, plural)
        if t is None:
            raise NotFound(f"the server could not find the requested resource ({plural}.{group})")
        return t

    def get(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        if not name:
            return None
        return self.store.get(self.rt(kind), ns, name)

    def list(self, kind: str, ns: str | None = None) -> list[dict[str, Any]]:
        objs, _ = self.store.list(self.rt(kind), ns)
        return list(objs)

    def select(self, kind: str, ns: str, labels: dict[str, str]) -> builtins.list[dict[str, Any]]:
        """Objects of ``kind`` in ``ns`` carrying ``labels`` (only those are decoded)."""
        sel = ",".join(f"{k}={v}" for k, v in labels.items())
        objs, _ = self.store.list(self.rt(kind), ns, label_selector=sel)
        return list(objs)

    def create(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        group, _ = PLURALS[kind]
        obj.setdefault("apiVersion", f"{group}/{crds.VERSION}")
        obj.setdefault("kind", kind)
        return self.store.create(self.rt(kind), obj, field_manager=f"capi-{kind.lower()}-controller")

    def delete(self, kind: str, ns: str, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.store.delete(self.rt(kind), ns, name)

    def write_status(self, kind: str, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Replace ``status`` if it changed; returns the object as stored."""
        if obj.get("status") == status:
            return obj
        obj = dict(obj)
        obj["status"] = status
        try:
            return self.store.update(self.rt(kind), obj, subresource="status",
                                     field_manager=f"capi-{kind.lower()}-controller")
        except ApiError:
            return obj

    def mutate(self, kind: str, obj: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        """Change metadata/spec of ``obj`` (re-read first); None when it is gone."""
        md = obj["metadata"]
        def change(o: dict[str, Any]) -> dict[str, Any]:
            fn(o)
            return o

        try:
            return self.store.mutate(self.rt(kind), md.get("namespace"), md["name"], change,
                                     field_manager=f"capi-{kind.lower()}-controller")
        except ApiError:
            return None

    def record(self, obj: dict[str, Any], etype: str, reason: str, message: str, component: str) -> None:
        """An Event on the management cluster (when its controllers run)."""
        from sandbox.controllers.base import object_ref

        ctl = self.cluster.controllers
        events = getattr(ctl, "events", None)
        if events is not None:
            with contextlib.suppress(Exception):
                events.record(object_ref(obj), etype, reason, message, component)

    # ------------------------------------------------------------ the clusters it provisions

    def workload(self, fleet_name: str) -> SimCluster | None:
        c = self.fleet.clusters.get(fleet_name)
        if c is None or getattr(c, "provisioned_by", None) is None:
            return None
        return c

    def watch_nodes(self, wl: SimCluster) -> None:
        """Node changes in a provisioned cluster re-sync the Machine that owns the Node."""
        if wl.name in self._node_subs:
            return

        def on_node(etype: str, rt: ResourceType, obj: dict[str, Any]) -> None:
            ann = (obj.get("metadata") or {}).get("annotations") or {}
            machine, ns = ann.get("cluster.x-k8s.io/machine"), ann.get("cluster.x-k8s.io/cluster-namespace")
            if machine and ns and not self.stopped:
                self.controllers.machine_q.add((ns, machine))

        self._node_subs[wl.name] = wl.store.subscribe(on_node, resources=[NODES])

    def forget_workload(self, name: str) -> None:
        unsub = self._node_subs.pop(name, None)
        if unsub is not None:
            unsub()

    def now(self) -> float:
        return time.monotonic()
