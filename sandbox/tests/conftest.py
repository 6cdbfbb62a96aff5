"""Shared fixtures: one sandbox fleet per test module, plus raw HTTPS and kubernetes-client helpers."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from sandbox.cluster import SimCluster
from sandbox.controllers import ControllerManager
from sandbox.testing import ClusterHandle, SandboxFleet, running_sandbox


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFleet]:
    with running_sandbox(clusters=2, nodes=3, state_dir=tmp_path_factory.mktemp("fleet"),
                         bookmark_interval=0.5, enable_controllers=False, pod_shutdown_seconds=0.2) as f:
        yield f


@pytest.fixture(scope="module")
def cluster(fleet: SandboxFleet) -> ClusterHandle:
    return fleet.cluster("cluster-1")


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


@pytest.fixture(scope="module")
def raw(cluster: ClusterHandle) -> Raw:
    return Raw(cluster)


@pytest.fixture(scope="module")
def api_client(cluster: ClusterHandle) -> Iterator[Any]:
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client
    client.close()


@pytest.fixture
async def sim() -> AsyncIterator[tuple[SimCluster, ControllerManager]]:
    """One in-process cluster with its controllers running (fast timings), for controller tests."""
    from sandbox.tests.test_controllers_helpers import start_cluster, stop_cluster

    cluster, manager = await start_cluster()
    yield cluster, manager
    await stop_cluster(cluster, manager)
