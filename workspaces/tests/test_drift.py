"""The watcher's quota listener and the task it queues (:mod:`workspaces.drift`,
:func:`workspaces.services.quota_changed`): the listener, in the watcher process, reads nothing
and queues one coalesced look per service map namespace whose quota a batch touched; the look
publishes the row with the new usage, or has a drifted quota restored. The end-to-end story
(a quota edited in a sandbox cluster is put back, usage arrives live) is
``workspaces/tests/test_e2e.py``."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from clusters.models import Cluster, ClusterStatus, KubeObject
from clusters.watcher.projection import project
from clusters.watcher.writer import Changes
from workspaces import actions, drift, services
from workspaces.models import ApplyStatus, ClusterAllocation, ServiceMap, Workspace

pytestmark = pytest.mark.django_db
_n = itertools.count(1)


def service_map(quota: dict[str, str]) -> ServiceMap:
    n = next(_n)
    cluster = Cluster.objects.create(name=f"drift-{n}", server="https://127.0.0.1:9", status=ClusterStatus.CONNECTED)
    workspace = Workspace.objects.create(name=f"drift-{n}")
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, quota={"pods": "20"}, status="ready")
    return ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=f"shop-{n}", quota=quota,
                                     status=ApplyStatus.READY, generation=1, applied_generation=1)


def quota_row(sm: ServiceMap, hard: dict[str, str], used: dict[str, str]) -> None:
    KubeObject.objects.update_or_create(cluster_id=sm.cluster_id, kind="ResourceQuota", namespace=sm.namespace,
                                        name=services.QUOTA_NAME, defaults={"data": {"hard": hard, "used": used}})


def test_the_listener_queues_one_coalesced_look_per_namespace_and_reads_nothing(
        monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(drift.enqueue, "on_commit",
                        lambda name, *args, countdown=None, coalesce=None: queued.append((name, args, countdown,
                                                                                          coalesce)))
    row = project("ResourceQuota", {"metadata": {"name": services.QUOTA_NAME, "namespace": "shop"}})
    changes = Changes(
        upserts={(1, "ResourceQuota"): {("shop", services.QUOTA_NAME): row, ("shop", "someone-elses"): row},
                 (2, "ResourceQuota"): {("web", services.QUOTA_NAME): row},
                 (1, "Pod"): {("shop", "p"): row}},
        deletes={(3, "ResourceQuota"): {("gone", services.QUOTA_NAME)}})
    with django_assert_num_queries(0):
        drift.on_quota_changes(changes)
    assert queued == [
        ("workspaces.quota_changed", (1, "shop"), services.QUOTA_WINDOW, "workspaces:quota-changed:1:shop"),
        ("workspaces.quota_changed", (2, "web"), services.QUOTA_WINDOW, "workspaces:quota-changed:2:web"),
        ("workspaces.quota_changed", (3, "gone"), services.QUOTA_WINDOW, "workspaces:quota-changed:3:gone"),
    ]
    queued.clear()
    drift.on_quota_changes(Changes(upserts={(1, "Pod"): {("shop", "p"): row}}))
    assert queued == []


def test_the_look_publishes_the_usage_or_restores_a_drifted_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(actions, "publish", lambda group, event, data: published.append((group, event, data)))
    restored: list[tuple[Any, ...]] = []
    monkeypatch.setattr(services.enqueue, "on_commit", lambda name, *args, **kw: restored.append((name, *args)))
    monkeypatch.setattr(services.enqueue, "started", lambda key: None)
    sm = service_map({"pods": "4"})

    quota_row(sm, {"pods": "4"}, {"pods": "3"})
    assert services.quota_changed(sm.cluster_id, sm.namespace) == "published"
    assert [(group, event, data["id"], data["usage"]["pods"]) for group, event, data in published] == [
        (f"workspace.{sm.workspace_id}", "servicemap.updated", sm.pk, {"hard": "4", "used": "3"})]
    assert restored == []

    published.clear()
    quota_row(sm, {"pods": "400"}, {"pods": "3"})  # someone raised it in the cluster
    assert services.quota_changed(sm.cluster_id, sm.namespace) == "restoring"
    assert published == []
    assert len(restored) == 1
    assert restored[0][:2] == ("workspaces.apply_service_map", sm.pk)
    assert "was changed in the cluster" in restored[0][2]

    assert services.quota_changed(sm.cluster_id, "nobody-owns-this") == "none"
