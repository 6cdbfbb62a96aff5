"""Helpers shared by the sandbox's test modules: an in-process cluster with fast controllers,
polling, a raw HTTPS client and the real kubectl. Test modules import helpers from here (or get
fixtures from conftest), never from one another (tests/test_project.py checks)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.cluster import ClusterSpec, NodeConfig, SimCluster
from sandbox.controllers import ControllerManager
from sandbox.controllers.config import ControllerConfig, fast
from sandbox.testing import ClusterHandle

KUBECTL = shutil.which("kubectl")


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


class Raw:
    """Minimal HTTPS client for requests the typed client cannot make (bad bodies, odd content types)."""

    def __init__(self, handle: ClusterHandle) -> None:
        self.handle = handle
        self.ctx = ssl.create_default_context(cafile=str(handle.ca_path))

    def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                token: str | None = None, timeout: float = 10.0,
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.handle.port, context=self.ctx, timeout=timeout)
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        hdrs = {"Authorization": f"Bearer {token if token is not None else self.handle.token}",
                "Content-Type": content_type}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, dict(resp.getheaders())


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None, check: bool = True,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    out = subprocess.run([KUBECTL, *args], capture_output=True, text=True, input=input_text, env=env,
                         timeout=timeout)
    if check:
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out
