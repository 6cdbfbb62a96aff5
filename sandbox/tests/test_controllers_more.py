"""Less travelled paths: paused rollouts, DaemonSet updates, volume binding modes, Job deadlines and TTL,
CronJob Replace, HPA scale-down stabilization."""

from __future__ import annotations

import time
from typing import Any

from sandbox.cluster import SimCluster
from sandbox.controllers import ControllerManager
from sandbox.resources import (
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    HPAS,
    JOBS,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    REPLICASETS,
    STATEFULSETS,
    STORAGECLASSES,
)
from sandbox.tests.helpers import deployment, wait_for


def cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    return next((x for x in (obj or {}).get("status", {}).get("conditions", []) if x["type"] == ctype), {})


def live(c: SimCluster, ns: str, selector: str) -> list[dict[str, Any]]:
    pods, _ = c.store.list(PODS, ns, label_selector=selector)
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


async def test_paused_deployment_does_not_roll_until_resumed(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(DEPLOYMENTS, deployment("web", 2))
    await wait_for(lambda: len([p for p in live(c, "default", "app=web") if p["status"].get("phase") == "Running"])
                   == 2, what="running")
    c.store.mutate(DEPLOYMENTS, "default", "web", lambda d: d["spec"].__setitem__("paused", True))
    c.store.mutate(DEPLOYMENTS, "default", "web",
                   lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:1.26"))
    await m.wait_idle()
    assert c.store.count(REPLICASETS, "default") == 1
    assert cond(c.store.get(DEPLOYMENTS, "default", "web"), "Progressing")["reason"] == "DeploymentPaused"
    c.store.mutate(DEPLOYMENTS, "default", "web", lambda d: d["spec"].__setitem__("paused", False))
    await wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in live(c, "default", "app=web")}
                   == {"nginx:1.26"} and c.store.count(REPLICASETS, "default") == 2, what="rollout after resume")


async def test_daemonset_rolling_update(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(DAEMONSETS, {"metadata": {"name": "agent", "namespace": "default"},
                                "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                         "template": {"metadata": {"labels": {"app": "agent"}},
                                                      "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}}})

    def st() -> dict[str, Any]:
        return dict((c.store.get(DAEMONSETS, "default", "agent") or {}).get("status") or {})

    await wait_for(lambda: st().get("numberReady") == 3, what="3 daemons")
    c.store.mutate(DAEMONSETS, "default", "agent",
                   lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "agent:2"))
    await wait_for(lambda: st().get("updatedNumberScheduled") == 3 and st().get("numberAvailable") == 3
                   and st().get("observedGeneration") == 2, timeout=15, what="daemons updated")
    assert {p["spec"]["containers"][0]["image"] for p in live(c, "default", "app=agent")} == {"agent:2"}


async def test_volume_binding_modes_and_reclaim(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(STORAGECLASSES, {"metadata": {"name": "late"}, "provisioner": "sandbox.k8s.io/hostpath",
                                    "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain"})
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}
    c.store.create(PERSISTENTVOLUMECLAIMS, {"metadata": {"name": "late", "namespace": "default"},
                                            "spec": {**claim, "storageClassName": "late"}})
    c.store.create(PERSISTENTVOLUMES, {"metadata": {"name": "manual"},
                                       "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                                                "storageClassName": "", "hostPath": {"path": "/data"}}})
    c.store.create(PERSISTENTVOLUMECLAIMS, {"metadata": {"name": "static", "namespace": "default"},
                                            "spec": {**claim, "storageClassName": ""}})

    def phase(name: str) -> str:
        return str((c.store.get(PERSISTENTVOLUMECLAIMS, "default", name) or {}).get("status", {}).get("phase"))

    await wait_for(lambda: phase("static") == "Bound", what="static binding")
    static = c.store.get(PERSISTENTVOLUMECLAIMS, "default", "static")
    assert static is not None
    assert static["spec"]["volumeName"] == "manual"
    assert phase("late") == "Pending"
    c.store.create(PODS, {"metadata": {"name": "user", "namespace": "default"},
                          "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                   "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "late"}}]}})
    await wait_for(lambda: phase("late") == "Bound", what="bound once the consumer is scheduled")
    late = c.store.get(PERSISTENTVOLUMECLAIMS, "default", "late")
    assert late is not None
    pv_name = late["spec"]["volumeName"]
    c.store.delete(PODS, "default", "user", grace_period_seconds=0)
    c.store.delete(PERSISTENTVOLUMECLAIMS, "default", "late")
    await wait_for(lambda: (c.store.get(PERSISTENTVOLUMES, None, pv_name) or {}).get("status", {}).get("phase")
                   == "Released", what="Retain releases the volume")


async def test_job_deadline_and_ttl(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    body = {"metadata": {"name": "slow", "namespace": "default"},
            "spec": {"activeDeadlineSeconds": 1,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "w", "image": "busybox", "command": ["sh", "-c", "crashloop"]}]}}}}
    c.store.create(JOBS, body)
    await wait_for(lambda: cond(c.store.get(JOBS, "default", "slow"), "Failed").get("reason") == "DeadlineExceeded",
                   timeout=5, what="deadline")
    c.store.create(JOBS, {"metadata": {"name": "short", "namespace": "default"},
                          "spec": {"ttlSecondsAfterFinished": 0, "template": {"spec": {
                              "restartPolicy": "Never", "containers": [{"name": "w", "image": "busybox"}]}}}})
    await wait_for(lambda: c.store.get(JOBS, "default", "short") is None, timeout=5, what="ttl cleanup")


async def test_cronjob_replace_policy(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(CRONJOBS, {"metadata": {"name": "r", "namespace": "default"},
                              "spec": {"schedule": "@hourly", "concurrencyPolicy": "Replace",
                                       "jobTemplate": {"spec": {"template": {"spec": {
                                           "restartPolicy": "Never", "containers": [
                                               {"name": "t", "image": "busybox", "command": ["crashloop"]}]}}}}}})
    crons = m.controllers["cronjobs"]
    await wait_for(lambda: ("default", "r") in crons.due, what="armed")
    assert crons.fire("default", "r", when=1_800_000_000.0) is not None
    await wait_for(lambda: c.store.list(JOBS, "default")[0], what="first job")
    assert crons.fire("default", "r", when=1_800_003_600.0) is not None
    await wait_for(lambda: [j["metadata"]["name"] for j in c.store.list(JOBS, "default")[0]] == ["r-30000060"],
                   what="the running job was replaced")


async def test_hpa_scale_down_is_stabilized(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    body = deployment("calm", 4, cpu="200m")
    body["spec"]["template"]["metadata"]["annotations"] = {"sandbox.k8s.io/cpu-load": "0.1"}
    c.store.create(DEPLOYMENTS, body)
    c.store.create(HPAS, {"metadata": {"name": "calm", "namespace": "default"},
                          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "calm"},
                                   "minReplicas": 1, "maxReplicas": 4,
                                   "metrics": [{"type": "Resource", "resource": {
                                       "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
                                   "behavior": {"scaleDown": {"stabilizationWindowSeconds": 1}}}})
    await wait_for(lambda: (c.store.get(HPAS, "default", "calm") or {}).get("status", {}).get("currentMetrics"),
                   what="first evaluation")
    t0 = time.monotonic()
    hpa = c.store.get(HPAS, "default", "calm")
    assert hpa is not None
    assert cond(hpa, "AbleToScale")["reason"] == "ScaleDownStabilized"
    await wait_for(lambda: (c.store.get(DEPLOYMENTS, "default", "calm") or {}).get("spec", {}).get("replicas") == 1,
                   timeout=10, what="scaled down to the minimum after the window")
    assert time.monotonic() - t0 >= 0.5


async def test_indexed_job(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(JOBS, {"metadata": {"name": "idx", "namespace": "default"},
                          "spec": {"completionMode": "Indexed", "completions": 3, "parallelism": 2,
                                   "template": {"spec": {"restartPolicy": "Never",
                                                         "containers": [{"name": "w", "image": "busybox"}]}}}})
    done = await wait_for(lambda: cond(c.store.get(JOBS, "default", "idx"), "Complete").get("status") == "True"
                          and c.store.get(JOBS, "default", "idx"), what="indexed job complete")
    assert done["status"]["completedIndexes"] == "0-2"
    assert done["status"]["succeeded"] == 3
    pods, _ = c.store.list(PODS, "default", label_selector="job-name=idx")
    by_index = {p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]: p for p in pods}
    assert sorted(by_index) == ["0", "1", "2"]
    assert by_index["1"]["metadata"]["name"].startswith("idx-1-")
    assert by_index["1"]["spec"]["hostname"] == "idx-1"
    assert by_index["1"]["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX"


async def test_statefulset_claims_deleted_when_scaled_down(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(STATEFULSETS, {
        "metadata": {"name": "kv", "namespace": "default"},
        "spec": {"replicas": 2, "podManagementPolicy": "Parallel", "selector": {"matchLabels": {"app": "kv"}},
                 "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
                 "template": {"metadata": {"labels": {"app": "kv"}},
                              "spec": {"containers": [{"name": "kv", "image": "redis:7"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}]}})
    await wait_for(lambda: (c.store.get(STATEFULSETS, "default", "kv") or {}).get("status", {}).get("readyReplicas")
                   == 2, what="ready")
    c.store.mutate(STATEFULSETS, "default", "kv", lambda o: o["spec"].__setitem__("replicas", 1))
    await wait_for(lambda: c.store.get(PERSISTENTVOLUMECLAIMS, "default", "data-kv-1") is None,
                   what="claim of the removed ordinal deleted")
    assert c.store.get(PERSISTENTVOLUMECLAIMS, "default", "data-kv-0") is not None
    c.store.delete(STATEFULSETS, "default", "kv")
    await wait_for(lambda: c.store.get(PERSISTENTVOLUMECLAIMS, "default", "data-kv-0") is None,
                   what="claims deleted with the StatefulSet")
