"""The issue's end-to-end story for alerts, against a sandbox cluster over HTTPS: a cluster is
registered and checked (its API certificate's expiry recorded), the watcher syncs it, a
Deployment whose image crash-loops is created in a team's namespace, evaluation fires
``pod_crash_looping`` for the team, a developer acknowledges it through the API, the image is
replaced and the next evaluation resolves it. An unreachable cluster keeps its pods' alerts."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clusters import services
from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import client_for, engine, register, synced
from monitoring import evaluate
from monitoring.models import Alert, AlertRule, AlertState, AlertTransition
from portal.testing import make_user, unique, wait_for
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db(transaction=True)

SANDBOX = "cluster-3"


def _deployment(name: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}


def _crash_alerts(cluster: Cluster, ns: str) -> Any:
    return Alert.objects.filter(rule__builtin="pod_crash_looping", cluster=cluster, namespace=ns)


def _looping_pods(cluster: Cluster, ns: str) -> list[str]:
    return [p.name for p in KubeObject.objects.filter(cluster=cluster, kind="Pod", namespace=ns)
            if any(c.get("reason") == "CrashLoopBackOff" for c in p.data.get("containers") or [])]


def test_crash_looping_pod_fires_is_acknowledged_and_resolves_when_fixed(sandbox: Any) -> None:
    cluster = register(sandbox, SANDBOX)
    assert services.check_cluster(cluster.pk) == "connected"
    cluster.refresh_from_db()
    # the sandbox's serving certificate: a real date in the future
    assert cluster.api_cert_not_after is not None
    assert cluster.api_cert_not_after > timezone.now()

    ns = unique("alerts")
    team = Workspace.objects.create(name=unique("team"))
    ClusterAllocation.objects.create(workspace=team, cluster=cluster, status="ready")
    sm = ServiceMap.objects.create(workspace=team, cluster=cluster, namespace=ns, status="ready")
    developer = make_user(unique("dev"))
    Membership.objects.create(workspace=team, user=developer, role=Role.objects.get(key="developer"))
    api = APIClient()
    api.force_login(developer)

    with client_for(sandbox, SANDBOX) as kube:
        kube.call(kube.core.create_namespace, {"metadata": {"name": ns}})
        kube.call(kube.apps.create_namespaced_deployment, ns, _deployment("recs", "ghcr.io/team/recs:crashloop"))
    try:
        with engine(holder=unique("alerts-e2e")):
            wait_for(lambda: synced(Cluster.objects.get(pk=cluster.pk)), timeout=30, what="the cluster synced")
            wait_for(lambda: _looping_pods(cluster, ns), timeout=60, what="a pod in CrashLoopBackOff")

            # evaluation fires for the team (crash loops have no for-duration by default)
            counts = evaluate.run()
            assert counts is not None
            assert counts["stale_clusters"] == 0, counts
            alert = _crash_alerts(cluster, ns).get()
            assert alert.state == AlertState.FIRING
            assert (alert.workspace_id, alert.service_map_id, alert.subject_kind) == (team.pk, sm.pk, "Pod")
            assert alert.message_code == "alert_pod_crash_looping"
            assert alert.subject_name.startswith("recs-")
            # evaluated again while the container crashes, restarts and waits: the same alert, not a second one
            for _ in range(6):
                time.sleep(0.5)
                evaluate.run()
            assert _crash_alerts(cluster, ns).count() == 1
            alert.refresh_from_db()
            assert alert.state == AlertState.FIRING

            # the team sees it and acknowledges it through the API
            listed = api.get(f"/api/monitoring/alerts/?open=true&service_map={sm.pk}").json()["results"]
            assert [row["id"] for row in listed] == [alert.pk]
            r = api.post(f"/api/monitoring/alerts/{alert.pk}/acknowledge/", {"note": "rolling back the image"},
                         format="json")
            assert r.status_code == 200, r.content
            assert r.json()["state"] == "acknowledged"
            assert r.json()["acknowledged_by"] == developer.username

            # fixed: a good image; the crash-looping pod goes away and the alert resolves
            with client_for(sandbox, SANDBOX) as kube:
                kube.call(kube.apps.patch_namespaced_deployment, "recs", ns, {"spec": {"template": {"spec": {
                    "containers": [{"name": "app", "image": "nginx:1.27"}]}}}})
            wait_for(lambda: not _looping_pods(cluster, ns) and KubeObject.objects.filter(
                cluster=cluster, kind="Pod", namespace=ns, phase="Running").exists()
                and all(not p.data.get("restarts") for p in KubeObject.objects.filter(
                    cluster=cluster, kind="Pod", namespace=ns)), timeout=60, what="the fixed pod running alone")
            evaluate.run()
            alert.refresh_from_db()
            assert alert.state == AlertState.RESOLVED
            assert alert.resolved_by is None
            assert list(AlertTransition.objects.filter(alert=alert).values_list("to_state", flat=True)) == [
                "firing", "acknowledged", "resolved"]
            detail = api.get(f"/api/monitoring/alerts/{alert.pk}/").json()
            assert [t["to_state"] for t in detail["transitions"]] == ["firing", "acknowledged", "resolved"]
            assert detail["transitions"][1]["actor"] == developer.username
    finally:
        with client_for(sandbox, SANDBOX) as kube:
            kube.call(kube.core.delete_namespace, ns)


def test_an_unreachable_cluster_keeps_its_pods_alerts(sandbox: Any) -> None:
    cluster = register(sandbox, SANDBOX)
    ns = unique("dark")
    with client_for(sandbox, SANDBOX) as kube:
        kube.call(kube.core.create_namespace, {"metadata": {"name": ns}})
        kube.call(kube.apps.create_namespaced_deployment, ns, _deployment("boom", "busybox:crashloop"))
    try:
        with engine(holder=unique("alerts-dark")):
            wait_for(lambda: synced(Cluster.objects.get(pk=cluster.pk)), timeout=30, what="the cluster synced")
            wait_for(lambda: _looping_pods(cluster, ns), timeout=60, what="a pod in CrashLoopBackOff")
            evaluate.run()
            alert = _crash_alerts(cluster, ns).get()
            assert alert.state == AlertState.FIRING
            assert alert.workspace_id is None

            sandbox.inject_fault(SANDBOX, blackhole=True)
            wait_for(lambda: Cluster.objects.get(pk=cluster.pk).status == "unreachable", timeout=15,
                     what="the cluster unreachable")
            AlertRule.objects.filter(builtin="cluster_unreachable").update(for_seconds=0)
            counts = evaluate.run(now=timezone.now() + timedelta(seconds=1))
            assert counts is not None
            assert counts["stale_clusters"] >= 1
            alert.refresh_from_db()
            assert alert.state == AlertState.FIRING  # not resolved by a read model that cannot know
            assert Alert.objects.filter(rule__builtin="cluster_unreachable", cluster=cluster,
                                        state=AlertState.FIRING).exists()
    finally:
        sandbox.clear_faults(SANDBOX)
        with client_for(sandbox, SANDBOX) as kube:
            kube.call(kube.core.delete_namespace, ns)


def test_cert_reader_reads_the_sandbox_and_gives_none_when_nothing_answers(sandbox: Any) -> None:
    from clusters.kube.connection import ConnectionSpec, Credentials, spec_from_kubeconfig
    from clusters.kube.servercert import serving_cert_not_after

    spec, _ = spec_from_kubeconfig(sandbox.cluster(SANDBOX).kubeconfig.read_text())
    not_after = serving_cert_not_after(spec)
    assert not_after is not None
    assert not_after > timezone.now()
    refused = ConnectionSpec(server="https://127.0.0.1:1", credentials=Credentials(token="x"))
    assert serving_cert_not_after(refused, timeout=1.0) is None
    plain = ConnectionSpec(server="http://127.0.0.1:1", credentials=Credentials(token="x"))
    assert serving_cert_not_after(plain, timeout=1.0) is None
