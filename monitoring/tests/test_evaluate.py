"""Evaluation over the sample tables and the read model (monitoring/evaluate.py), without a
cluster: samples and points written through monitoring.store, read-model rows written by hand,
the cluster made fresh by a held watcher lease and synced kinds. A custom rule scoped to a
service map fires for its pods only and resolves when the window's average drops; the restarts
metric rising and a volume's fill ratio fire the built-ins; a stale cluster keeps its alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, KindSync, KubeObject, WatcherLease
from monitoring import evaluate, store
from monitoring.models import Alert, AlertRule, AlertState
from portal.testing import unique
from workspaces.models import ClusterAllocation, ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def _fresh_cluster() -> Cluster:
    cluster = Cluster.objects.create(name=unique("c"), server="https://127.0.0.1:1", status="connected")
    now = timezone.now()
    WatcherLease.objects.create(cluster=cluster, holder="test", expires=now + timedelta(hours=1))
    KindSync.objects.bulk_create([KindSync(cluster=cluster, kind=k.kind, state="synced", last_event=now + timedelta(hours=1))
                                  for k in WATCHED_KINDS])
    return cluster


def _team(cluster: Cluster, ns: str) -> ServiceMap:
    ws = Workspace.objects.create(name=unique("team"))
    ClusterAllocation.objects.create(workspace=ws, cluster=cluster, status="ready")
    return ServiceMap.objects.create(workspace=ws, cluster=cluster, namespace=ns, status="ready")


def _pod_series(cluster: Cluster, sm: ServiceMap, name: str) -> int:
    key = store.SeriesKey(cluster_id=cluster.pk, level="pod", namespace=sm.namespace, name=name,
                          workload_kind="Deployment", workload_name="web", service_map_id=sm.pk,
                          workspace_id=sm.workspace_id)
    return store.series_ids([key], timezone.now())[key]


def test_custom_rule_on_samples_fires_in_scope_and_resolves() -> None:
    cluster = _fresh_cluster()
    sm, other = _team(cluster, "shop"), _team(cluster, "bank")
    hot, cool, foreign = _pod_series(cluster, sm, "web-1"), _pod_series(cluster, sm, "web-2"), _pod_series(
        cluster, other, "web-9")
    now = store.align(timezone.now(), 30)
    store.write_samples([store.Sample(series_id=sid, ts=now - timedelta(seconds=s), cpu_usage=cpu)
                         for sid, cpu in ((hot, 0.9), (cool, 0.1), (foreign, 0.95)) for s in (0, 30, 60)])
    rule = AlertRule.objects.create(name="hot pods", metric="cpu_usage", aggregation="avg", operator=">",
                                    threshold=0.5, window_seconds=300, for_seconds=0, service_map=sm,
                                    workspace=sm.workspace, params={"level": "pod"})
    counts = evaluate.run(now=now + timedelta(seconds=1))
    assert counts is not None
    assert counts["stale_clusters"] == 0
    alert = Alert.objects.get(rule=rule)
    assert (alert.subject_name, alert.state, alert.workspace_id, alert.service_map_id) == (
        "web-1", AlertState.FIRING, sm.workspace_id, sm.pk)
    assert alert.value == pytest.approx(0.9)
    assert alert.message_code == "alert_custom_threshold"

    # later: the hot pod cooled down within the window
    later = now + timedelta(minutes=10)
    store.write_samples([store.Sample(series_id=hot, ts=later - timedelta(seconds=s), cpu_usage=0.2)
                         for s in (0, 30, 60)])
    evaluate.run(now=later + timedelta(seconds=1))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED

    # the max over a window and the last value
    AlertRule.objects.filter(pk=rule.pk).update(aggregation="last", threshold=0.15, window_seconds=3600)
    evaluate.run(now=later + timedelta(seconds=2))
    assert set(Alert.objects.filter(rule=rule, state="firing").values_list("subject_name", flat=True)) == {"web-1"}


def test_restart_points_and_volume_ratio_fire_builtins_and_stale_cluster_keeps_alerts() -> None:
    cluster = _fresh_cluster()
    sm = _team(cluster, "shop")
    pod = _pod_series(cluster, sm, "web-1")
    KubeObject.objects.create(cluster=cluster, kind="Pod", namespace="shop", name="web-1", uid="u1",
                              resource_version="1", phase="Running",
                              data={"restarts": 4, "containers": [{"name": "app", "state": "running", "reason": "",
                                                                   "restart_count": 4}]})
    claim_key = store.SeriesKey(cluster_id=cluster.pk, level="namespace", namespace="shop", name="data",
                                container="pvc", service_map_id=sm.pk, workspace_id=sm.workspace_id)
    claim = store.series_ids([claim_key], timezone.now())[claim_key]
    now = store.align(timezone.now(), 30)
    store.write_points([(pod, "restarts", now - timedelta(seconds=300), 0.0), (pod, "restarts", now, 4.0),
                        (claim, "pvc_used_ratio", now, 0.95)])
    evaluate.run(now=now + timedelta(seconds=1))
    crash = Alert.objects.get(rule__builtin="pod_crash_looping")
    assert (crash.subject_name, crash.state, crash.service_map_id) == ("web-1", AlertState.FIRING, sm.pk)
    full = Alert.objects.get(rule__builtin="pvc_nearly_full")
    assert (full.subject_name, full.value, full.workspace_id) == ("data", 0.95, sm.workspace_id)

    # the watcher lost the cluster: nothing it showed is resolved
    WatcherLease.objects.filter(cluster=cluster).delete()
    KubeObject.objects.filter(cluster=cluster, kind="Pod").delete()
    counts = evaluate.run(now=now + timedelta(minutes=30))
    assert counts is not None
    assert counts["stale_clusters"] == 1
    crash.refresh_from_db()
    full.refresh_from_db()
    assert crash.state == full.state == AlertState.FIRING


def test_read_model_rows_fire_the_builtins() -> None:
    cluster = _fresh_cluster()
    sm = _team(cluster, "shop")
    now = timezone.now()

    def row(kind: str, name: str, *, namespace: str = "shop", phase: str = "", data: dict[str, object],
            created: datetime | None = None) -> None:
        KubeObject.objects.create(cluster=cluster, kind=kind, namespace=namespace, name=name, uid=unique("u"),
                                  resource_version="1", phase=phase, data=data, created=created)

    row("Node", "node-1", namespace="", phase="NotReady", data={"ready": False, "conditions": [
        {"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "True"}]})
    row("Node", "node-2", namespace="", phase="Ready", data={"ready": True, "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]})
    row("Deployment", "stuck", phase="Failed", data={"conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": ""}],
        "rollout": {"done": False, "failed": True, "message": "deadline exceeded"}})
    row("Deployment", "fine", phase="Available", data={"conditions": [
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": ""}],
        "rollout": {"done": True, "failed": False}})
    row("ResourceQuota", "portal-quota", data={"hard": {"requests.cpu": "2", "pods": "10"},
                                               "used": {"requests.cpu": "1900m", "pods": "3"}})
    row("Pod", "waiting", phase="Pending", data={"containers": []}, created=now - timedelta(minutes=10))
    row("Pod", "new", phase="Pending", data={"containers": []}, created=now - timedelta(seconds=10))
    evaluate.run(now=now)  # makes the built-in rules (node alerts: pending for the default 60 s)
    AlertRule.objects.filter(builtin__in=["node_not_ready", "node_pressure"]).update(for_seconds=0)
    evaluate.run(now=now + timedelta(seconds=1))
    firing = set(Alert.objects.filter(state="firing").values_list("rule__builtin", "subject_name"))
    assert firing == {("node_not_ready", "node-1"), ("node_pressure", "node-1"),
                      ("deployment_not_progressing", "stuck"), ("quota_usage_high", "portal-quota"),
                      ("pod_pending", "waiting")}
    quota = Alert.objects.get(rule__builtin="quota_usage_high")
    assert quota.labels["resource"] == "requests.cpu"
    assert (quota.workspace_id, quota.service_map_id, quota.value) == (sm.workspace_id, sm.pk, 0.95)
    node = Alert.objects.get(rule__builtin="node_not_ready")
    assert node.workspace_id is None


def test_build_failing_after_the_last_runs_failed() -> None:
    from builds.models import BuildDefinition, BuildRun
    from builds.tests.definition_helpers import make_world

    world = make_world()
    definition = BuildDefinition.objects.create(
        workspace=world.workspace, name="shop", git_url="https://git.example.com/shop.git", registry=world.registry,
        repository="team-a/shop", cluster=world.cluster, service_map=world.service_map)
    for number, status in enumerate(("succeeded", "failed", "failed"), start=1):
        BuildRun.objects.create(definition=definition, workspace=world.workspace, number=number, status=status)
    evaluate.run()
    assert not Alert.objects.filter(rule__builtin="build_failing").exists()
    BuildRun.objects.create(definition=definition, workspace=world.workspace, number=4, status="failed")
    BuildRun.objects.create(definition=definition, workspace=world.workspace, number=5, status="running")
    evaluate.run()
    alert = Alert.objects.get(rule__builtin="build_failing")
    assert (alert.state, alert.subject_name, alert.workspace_id, alert.service_map_id) == (
        AlertState.FIRING, "shop", world.workspace.pk, world.service_map.pk)
    BuildRun.objects.filter(definition=definition, number=5).update(status="succeeded")
    evaluate.run()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
