"""The watcher's quota listener and the task it queues (:mod:`workspaces.drift`,
:func:`workspaces.services.quota_changed`): the listener, in the watcher process, reads nothing
and queues one coalesced look per service map namespace whose quota a batch touched; the look
publishes the row with the new usage, or has a drifted quota restored. The end-to-end story
(a quota edited in a sandbox cluster is put back, usage arrives live) is
``workspaces/tests/test_e2e.py``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, cast

import pytest

from clusters.models import Cluster, ClusterStatus, KubeObject
from clusters.watcher.projection import project
from clusters.watcher.writer import Changes
from portal.redis import client as redis_client
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


@pytest.fixture
def noted() -> Iterator[None]:
    redis_client().delete(services.QUOTA_CHANGED)
    yield
    redis_client().delete(services.QUOTA_CHANGED)


def test_the_listener_notes_the_namespaces_and_queues_one_look_and_reads_nothing(
        monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any, noted: None) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(services.enqueue, "on_commit",
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
    assert queued == [("workspaces.quota_changed", (), services.QUOTA_WINDOW, services.QUOTA_CHANGED)]
    members = cast(set[bytes], redis_client().smembers(services.QUOTA_CHANGED))
    assert {m.decode() for m in members} == {"1:shop", "2:web", "3:gone"}
    queued.clear()
    drift.on_quota_changes(Changes(upserts={(1, "Pod"): {("shop", "p"): row}}))
    assert queued == []


def test_one_look_publishes_the_usage_and_restores_drifted_quotas(monkeypatch: pytest.MonkeyPatch,
                                                                   noted: None) -> None:
    published: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(actions, "publish", lambda group, event, data: published.append((group, event, data)))
    restored: list[tuple[Any, ...]] = []
    monkeypatch.setattr(services.enqueue, "on_commit", lambda name, *args, **kw: restored.append((name, *args)))
    monkeypatch.setattr(services.enqueue, "started", lambda key: None)
    calm, raised, other = service_map({"pods": "4"}), service_map({"pods": "4"}), service_map({"pods": "4"})
    quota_row(calm, {"pods": "4"}, {"pods": "3"})
    quota_row(raised, {"pods": "400"}, {"pods": "1"})  # someone raised it in the cluster
    quota_row(other, {"pods": "4"}, {"pods": "2"})  # changed too, but not noted: not looked at

    services.note_quota_changes([(calm.cluster_id, calm.namespace), (raised.cluster_id, raised.namespace),
                                 (calm.cluster_id, "nobody-owns-this")])
    assert services.quota_changed() == {"restoring": 1, "published": 1}
    assert [(group, event, data["id"], data["usage"]["pods"]) for group, event, data in published] == [
        (f"workspace.{calm.workspace_id}", "servicemap.updated", calm.pk, {"hard": "4", "used": "3"})]
    applied = [r for r in restored if r[0] == "workspaces.apply_service_map"]
    assert [r[:2] for r in applied] == [("workspaces.apply_service_map", raised.pk)]
    assert "was changed in the cluster" in applied[0][2]
    assert services.quota_changed() == {"restoring": 0, "published": 0}  # what it read is gone from the set


def test_the_look_reads_the_quota_rows_once(monkeypatch: pytest.MonkeyPatch, noted: None) -> None:
    """The rows it decides drift from are the rows it publishes the usage of: read once."""
    from workspaces import rows

    monkeypatch.setattr(actions, "publish", lambda group, event, data: None)
    monkeypatch.setattr(services.enqueue, "started", lambda key: None)
    reads: list[int] = []
    quota_rows = rows.quota_rows

    def counted(pairs: Any) -> Any:
        reads.append(1)
        return quota_rows(pairs)

    monkeypatch.setattr(rows, "quota_rows", counted)
    monkeypatch.setattr(services, "quota_rows", counted)
    calm = service_map({"pods": "4"})
    quota_row(calm, {"pods": "4"}, {"pods": "1"})
    services.note_quota_changes([(calm.cluster_id, calm.namespace)])
    assert services.quota_changed() == {"restoring": 0, "published": 1}
    assert len(reads) == 1
