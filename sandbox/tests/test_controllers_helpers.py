"""Shared helpers for the controller tests: an in-process cluster with fast controllers, and polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sandbox.cluster import ClusterSpec, NodeConfig, SimCluster
from sandbox.controllers import ControllerManager
from sandbox.controllers.config import ControllerConfig, fast


async def start_cluster(nodes: int = 3, cpu: str = "4", memory: str = "8Gi",
                        config: ControllerConfig | None = None, name: str = "t1") -> tuple[SimCluster, ControllerManager]:
    cluster = SimCluster(ClusterSpec(name=name, nodes=NodeConfig(count=nodes, cpu=cpu, memory=memory)))
    cluster.store.pod_shutdown_seconds = 0.05
    manager = ControllerManager(cluster, config or fast())
    await manager.start()
    return cluster, manager


async def stop_cluster(cluster: SimCluster, manager: ControllerManager) -> None:
    await manager.stop()
    cluster.store.close()


async def wait_for(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``pred`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def deployment(name: str, replicas: int = 2, image: str = "nginx:1.25", *, ns: str = "default", cpu: str = "100m",
               memory: str = "64Mi", strategy: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    body: dict[str, Any] = {
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": name, "image": image,
                                                       "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}},
                 **spec},
    }
    if strategy is not None:
        body["spec"]["strategy"] = strategy
    return body
