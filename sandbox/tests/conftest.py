"""Shared fixtures: one sandbox fleet per test module, plus raw HTTPS and kubernetes-client helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from sandbox.cluster import SimCluster
from sandbox.controllers import ControllerManager
from sandbox.testing import ClusterHandle, SandboxFleet, running_sandbox
from sandbox.tests.helpers import Raw


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFleet]:
    with running_sandbox(clusters=2, nodes=3, state_dir=tmp_path_factory.mktemp("fleet"),
                         bookmark_interval=0.5, enable_controllers=False, pod_shutdown_seconds=0.2) as f:
        yield f


@pytest.fixture(scope="module")
def cluster(fleet: SandboxFleet) -> ClusterHandle:
    return fleet.cluster("cluster-1")


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
    from sandbox.tests.helpers import start_cluster, stop_cluster

    cluster, manager = await start_cluster()
    yield cluster, manager
    await stop_cluster(cluster, manager)
