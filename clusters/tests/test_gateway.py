"""The live-read gateway (clusters/gateway.py): every read a view makes of a cluster answers a
blackholed cluster with 503 ``cluster_timeout`` within the budget (plus a second of slack), one
that refuses connections with 503 ``cluster_unreachable``, and all the reads of one view share
one deadline (no retries, no second budget)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters import gateway
from clusters.kube import errors as kube_errors
from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import register
from portal import errors
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db(transaction=True)
BUDGET = 1.0
SANDBOX = "cluster-3"


@pytest.fixture
def cluster(sandbox: Any, settings: Any) -> Cluster:
    settings.PORTAL_VIEW_READ_BUDGET = BUDGET
    c = register(sandbox, SANDBOX)
    KubeObject.objects.create(cluster=c, kind="Node", name="gw-node", uid="gw-node", resource_version="1")
    KubeObject.objects.create(cluster=c, kind="Pod", namespace="default", name="gw-pod", uid="gw-pod",
                              resource_version="1", node_name="gw-node")
    return c


def reads(c: Cluster) -> dict[str, str]:
    """Every view that reads the cluster live, by what it reads."""
    workspace = Workspace.objects.create(name=f"gw-{c.pk}")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=c, namespace="default")
    return {
        "pod detail": f"/api/clusters/{c.pk}/pods/default/gw-pod/",
        "drain preview": f"/api/clusters/{c.pk}/nodes/gw-node/drain-preview/",
        "browser list": f"/api/clusters/{c.pk}/resources/core/v1/configmaps/",
        "browser object": f"/api/clusters/{c.pk}/resources/core/v1/configmaps/x/?namespace=default",
        "config list": f"/api/catalog/configs/{sm.pk}/",
        "config detail": f"/api/catalog/configs/{sm.pk}/ConfigMap/x/",
    }


def timed_get(api: APIClient, path: str) -> tuple[Any, float]:
    start = time.monotonic()
    response = api.get(path)
    return response, time.monotonic() - start


def test_a_blackholed_cluster_answers_every_view_read_with_503_within_the_budget(
        admin_api: APIClient, sandbox: Any, cluster: Cluster) -> None:
    paths = reads(cluster)
    sandbox.inject_fault(SANDBOX, blackhole=True)
    for what, path in paths.items():
        response, took = timed_get(admin_api, path)
        body = response.json()
        assert (response.status_code, body.get("code")) == (503, "cluster_timeout"), (what, body)
        assert body["params"]["cluster"] == cluster.name, what
        assert response["Retry-After"], what
        assert took < BUDGET + 1.0, (what, took)
    # discovery fails the same way, and the kinds list still answers with the read model's kinds
    response, took = timed_get(admin_api, f"/api/clusters/{cluster.pk}/resources/?refresh=1")
    assert response.status_code == 200
    assert response.json()["discovery_error"]["status"] == 503
    assert response.json()["discovery_error"]["code"] == "cluster_timeout"
    assert took < BUDGET + 1.0


def test_a_cluster_that_refuses_connections_is_cluster_unreachable(
        admin_api: APIClient, sandbox: Any, cluster: Cluster) -> None:
    paths = reads(cluster)
    sandbox.inject_fault(SANDBOX, down=True)
    for what, path in paths.items():
        response, took = timed_get(admin_api, path)
        body = response.json()
        assert (response.status_code, body.get("code")) == (503, "cluster_unreachable"), (what, body)
        assert body["params"]["reason"] == "connection_refused", what
        assert took < BUDGET + 1.0, (what, took)


def spend_the_budget_then_read(c: Cluster) -> None:
    with gateway.live_read(c, "testing") as read:
        with contextlib.suppress(kube_errors.ReadTimeout):
            read.client.list_namespaces()  # spends the whole budget
        read.client.list_nodes()  # nothing left: fails at once, no second budget, no retry


def test_the_reads_of_one_view_share_one_deadline(sandbox: Any, cluster: Cluster) -> None:
    sandbox.inject_fault(SANDBOX, blackhole=True)
    start = time.monotonic()
    with pytest.raises(errors.Unavailable) as caught:
        spend_the_budget_then_read(cluster)
    assert caught.value.code == "cluster_timeout"
    assert caught.value.params == {"cluster": cluster.name, "budget": BUDGET, "reason": "read_timeout"}
    assert time.monotonic() - start < BUDGET + 1.0


def test_a_healthy_cluster_is_read_through_the_gateway(admin_api: APIClient, cluster: Cluster) -> None:
    response = admin_api.get(f"/api/clusters/{cluster.pk}/nodes/gw-node/drain-preview/")
    assert response.status_code == 200, response.json()
    assert response.json()["node"] == "gw-node"
    response = admin_api.get(f"/api/clusters/{cluster.pk}/resources/core/v1/configmaps/nope/?namespace=default")
    assert (response.status_code, response.json()["code"]) == (404, "object_not_found")
