"""Job, CronJob (and the cron parser), StatefulSet with PVCs, DaemonSet, HPA and endpoints."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from sandbox.cluster import SimCluster
from sandbox.controllers import ControllerManager, cron
from sandbox.resources import (
    CONTROLLERREVISIONS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    EVENTS,
    HPAS,
    JOBS,
    NODES,
    PDBS,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    SERVICES,
    STATEFULSETS,
)
from sandbox.tests.helpers import deployment, wait_for


def job(name: str, *, command: list[str], completions: int = 1, parallelism: int = 1, backoff: int = 6,
        restart: str = "Never") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": backoff,
                     "template": {"spec": {"restartPolicy": restart,
                                           "containers": [{"name": "work", "image": "busybox:1.36",
                                                           "command": command}]}}}}


def cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    return next((x for x in (obj or {}).get("status", {}).get("conditions", []) if x["type"] == ctype), {})


# ------------------------------------------------------------------ cron parser


def test_cron_parser_fields_and_macros() -> None:
    t = dt.datetime(2026, 11, 21, 22, 41, 30)
    assert cron.parse("*/15 * * * *").next_after(t) == dt.datetime(2026, 11, 21, 22, 45)
    assert cron.parse("0 9-17/4 * * mon-fri").next_after(t) == dt.datetime(2026, 11, 23, 9, 0)
    assert cron.parse("5,35 * * * *").next_after(t) == dt.datetime(2026, 11, 21, 23, 5)
    assert cron.parse("@daily").next_after(t) == dt.datetime(2026, 11, 22, 0, 0)
    assert cron.parse("@hourly").next_after(t) == dt.datetime(2026, 11, 21, 23, 0)
    assert cron.parse("0 0 1 jan *").next_after(t) == dt.datetime(2027, 1, 1, 0, 0)
    assert cron.parse("0 0 29 2 *").next_after(t) == dt.datetime(2028, 2, 29, 0, 0)
    # day-of-month OR day-of-week when both are restricted
    assert cron.parse("0 0 25 * 0").next_after(t) == dt.datetime(2026, 11, 22, 0, 0)
    assert cron.parse("0 0 * * 7").next_after(t) == dt.datetime(2026, 11, 22, 0, 0)
    for bad in ("* * * *", "61 * * * *", "*/0 * * * *", "a b c d e"):
        with pytest.raises(cron.CronError):
            cron.parse(bad)


# ------------------------------------------------------------------ jobs


async def test_job_completes_with_parallelism(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(JOBS, job("pi", command=["perl", "-e", "print 1"], completions=3, parallelism=2))
    done = await wait_for(lambda: cond(c.store.get(JOBS, "default", "pi"), "Complete").get("status") == "True"
                          and c.store.get(JOBS, "default", "pi"), what="job complete")
    st = done["status"]
    assert st["succeeded"] == 3
    assert "active" not in st
    assert st["completionTime"] >= st["startTime"]
    assert cond(done, "SuccessCriteriaMet")["status"] == "True"
    pods, _ = c.store.list(PODS, "default", label_selector="job-name=pi")
    assert len(pods) == 3
    assert {p["status"]["phase"] for p in pods} == {"Succeeded"}
    evs = [e for e in c.store.list(EVENTS)[0] if e["involvedObject"]["name"] == "pi"]
    assert any(e["reason"] == "Completed" and e["message"] == "Job completed" for e in evs)


async def test_job_fails_on_marker_after_backoff_limit(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(JOBS, job("bad", command=["sh", "-c", "fail"], backoff=1))
    failed = await wait_for(lambda: cond(c.store.get(JOBS, "default", "bad"), "Failed").get("status") == "True"
                            and c.store.get(JOBS, "default", "bad"), what="job failed")
    assert cond(failed, "Failed")["reason"] == "BackoffLimitExceeded"
    assert failed["status"]["failed"] == 2


async def test_cronjob_fire_history_and_forbid(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(CRONJOBS, {"metadata": {"name": "tick", "namespace": "default"},
                              "spec": {"schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid",
                                       "successfulJobsHistoryLimit": 1,
                                       "jobTemplate": {"spec": {"template": {"spec": {
                                           "restartPolicy": "OnFailure",
                                           "containers": [{"name": "t", "image": "busybox", "command": ["date"]}]}}}}}})
    crons = m.controllers["cronjobs"]
    await wait_for(lambda: ("default", "tick") in crons.due, what="next schedule computed")
    assert crons.due[("default", "tick")] % 300 == 0
    first = crons.fire("default", "tick", when=1_800_000_000.0)
    assert first is not None
    assert first["metadata"]["name"] == "tick-30000000"
    assert first["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2027-01-15T08:00:00Z"
    assert crons.fire("default", "tick", when=1_800_000_300.0) is None  # Forbid while the first runs
    cj = await wait_for(lambda: (c.store.get(CRONJOBS, "default", "tick") or {}).get("status", {}).get("active")
                        and c.store.get(CRONJOBS, "default", "tick"), what="active job")
    assert cj["status"]["lastScheduleTime"] == "2027-01-15T08:00:00Z"
    await wait_for(lambda: "lastSuccessfulTime" in (c.store.get(CRONJOBS, "default", "tick") or {}).get("status", {}),
                   what="first job done")
    second = crons.fire("default", "tick", when=1_800_000_600.0)
    assert second is not None
    await wait_for(lambda: [j["metadata"]["name"] for j in c.store.list(JOBS, "default")[0]] == ["tick-30000010"],
                   what="history trimmed to 1 successful job")


# ------------------------------------------------------------------ statefulset / daemonset


async def test_statefulset_ordered_pods_and_claims(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    order: list[str] = []
    c.store.subscribe(lambda et, rt, o: order.append(o["metadata"]["name"]) if rt is PODS and et == "ADDED" else None)
    c.store.create(STATEFULSETS, {
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}]}})
    sts = await wait_for(lambda: (c.store.get(STATEFULSETS, "default", "db") or {}).get("status", {})
                         .get("readyReplicas") == 3 and c.store.get(STATEFULSETS, "default", "db"), what="sts ready")
    assert order == ["db-0", "db-1", "db-2"]
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    assert c.store.get(CONTROLLERREVISIONS, "default", sts["status"]["updateRevision"]) is not None
    for i in range(3):
        p = c.store.get(PODS, "default", f"db-{i}")
        assert p is not None
        assert p["spec"]["hostname"] == f"db-{i}"
        assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == f"db-{i}"
        claim = c.store.get(PERSISTENTVOLUMECLAIMS, "default", f"data-db-{i}")
        assert claim is not None
        assert claim["status"]["phase"] == "Bound"
        pv = c.store.get(PERSISTENTVOLUMES, None, claim["spec"]["volumeName"])
        assert pv is not None
        assert pv["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
        assert pv["status"]["phase"] == "Bound"
        assert pv["spec"]["capacity"]["storage"] == "1Gi"
        assert pv["spec"]["claimRef"]["name"] == f"data-db-{i}"
    # scale down removes the highest ordinal first
    c.store.mutate(STATEFULSETS, "default", "db", lambda o: o["spec"].__setitem__("replicas", 2))
    await wait_for(lambda: c.store.get(PODS, "default", "db-2") is None, what="db-2 removed")
    assert c.store.get(PODS, "default", "db-0") is not None


async def test_daemonset_one_pod_per_eligible_node(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.mutate(NODES, None, "t1-node-3", lambda o: o["spec"].__setitem__(
        "taints", [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]))
    c.store.mutate(NODES, None, "t1-node-2", lambda o: o["spec"].__setitem__("unschedulable", True))
    c.store.create(DAEMONSETS, {"metadata": {"name": "agent", "namespace": "default"},
                                "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                         "template": {"metadata": {"labels": {"app": "agent"}},
                                                      "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}}})

    def status() -> dict[str, Any]:
        return dict((c.store.get(DAEMONSETS, "default", "agent") or {}).get("status") or {})

    await wait_for(lambda: status().get("numberReady") == 2, what="2 ready daemons")
    st = status()
    assert st["desiredNumberScheduled"] == 2
    assert st["currentNumberScheduled"] == 2
    assert st["numberAvailable"] == 2
    nodes = sorted(p["spec"]["nodeName"] for p in c.store.list(PODS, "default")[0])
    assert nodes == ["t1-node-1", "t1-node-2"]  # cordoned nodes keep daemons; the tainted one does not
    name = m.add_node()
    await wait_for(lambda: status().get("numberReady") == 3, what="daemon on the new node")
    assert name in {p["spec"]["nodeName"] for p in c.store.list(PODS, "default")[0]}


# ------------------------------------------------------------------ hpa and endpoints


async def test_hpa_scales_on_cpu_load(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    body = deployment("web", 1, cpu="200m")
    body["spec"]["template"]["metadata"]["annotations"] = {"sandbox.k8s.io/cpu-load": "1.5"}
    c.store.create(DEPLOYMENTS, body)
    c.store.create(HPAS, {"metadata": {"name": "web", "namespace": "default"},
                          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                                   "minReplicas": 1, "maxReplicas": 4,
                                   "metrics": [{"type": "Resource", "resource": {
                                       "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}})
    hpa = await wait_for(lambda: (c.store.get(HPAS, "default", "web") or {}).get("status", {}).get("desiredReplicas", 0)
                         >= 3 and c.store.get(HPAS, "default", "web"), timeout=10, what="scale up")
    metric = hpa["status"]["currentMetrics"][0]["resource"]
    assert metric["name"] == "cpu"
    assert 140 <= metric["current"]["averageUtilization"] <= 160
    await wait_for(lambda: (c.store.get(DEPLOYMENTS, "default", "web") or {}).get("spec", {}).get("replicas") == 4,
                   timeout=10, what="target scaled to max")
    hpa = await wait_for(lambda: cond(c.store.get(HPAS, "default", "web"), "ScalingLimited").get("reason")
                         == "TooManyReplicas" and c.store.get(HPAS, "default", "web"), timeout=10, what="limited")
    assert cond(hpa, "ScalingActive")["reason"] == "ValidMetricFound"
    evs = [e for e in c.store.list(EVENTS)[0] if e["reason"] == "SuccessfulRescale"]
    assert evs, "a SuccessfulRescale event"
    assert all(re.fullmatch(r"New size: [34]; reason: cpu resource utilization \(percentage of request\) above "
                            r"target", e["message"]) for e in evs), [e["message"] for e in evs]


async def test_endpoints_follow_selector_and_readiness(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(SERVICES, {"metadata": {"name": "web", "namespace": "default"},
                              "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80,
                                                                             "targetPort": "http"}]}})
    body = deployment("web", 2)
    body["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
    c.store.create(DEPLOYMENTS, body)

    def subsets() -> list[dict[str, Any]]:
        return list((c.store.get(ENDPOINTS, "default", "web") or {}).get("subsets") or [])

    await wait_for(lambda: subsets() and len(subsets()[0].get("addresses", [])) == 2, what="2 endpoints")
    s = subsets()[0]
    assert s["ports"] == [{"port": 8080, "protocol": "TCP", "name": "http"}]
    assert s["addresses"][0]["targetRef"]["kind"] == "Pod"
    node = s["addresses"][0]["nodeName"]
    m.set_node_ready(node, False)
    await wait_for(lambda: subsets() and len(subsets()[0].get("notReadyAddresses", [])) == 1, what="not ready address")
    c.store.delete(SERVICES, "default", "web")
    await wait_for(lambda: c.store.get(ENDPOINTS, "default", "web") is None, what="endpoints removed")


async def test_cronjob_timer_fires_at_the_scheduled_time(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(CRONJOBS, {"metadata": {"name": "every", "namespace": "default"},
                              "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                                  "restartPolicy": "Never",
                                  "containers": [{"name": "t", "image": "busybox", "command": ["date"]}]}}}}}})
    crons = m.controllers["cronjobs"]
    key = ("default", "every")
    await wait_for(lambda: key in crons.due, what="schedule")
    assert crons.due[key] % 60 == 0
    # pretend the minute has come: the armed timer path is the same as for a real schedule
    due = crons.due[key] - 60
    crons.due[key] = due
    crons.q.add(key)
    job_name = f"every-{int(due // 60)}"
    await wait_for(lambda: c.store.get(JOBS, "default", job_name), what="scheduled job")
    await wait_for(lambda: crons.due[key] > due + 60 - 1, what="next schedule armed")
    cj = c.store.get(CRONJOBS, "default", "every")
    assert cj is not None
    assert cj["status"]["lastScheduleTime"].endswith(":00Z")


async def test_pdb_status_follows_pods(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(DEPLOYMENTS, deployment("web", 3))
    c.store.create(PDBS, {"metadata": {"name": "web", "namespace": "default"},
                          "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})

    def status() -> dict[str, Any]:
        return dict((c.store.get(PDBS, "default", "web") or {}).get("status") or {})

    await wait_for(lambda: status().get("currentHealthy") == 3, what="pdb status")
    st = status()
    assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (3, 2, 1)
    assert st["conditions"][0]["type"] == "DisruptionAllowed"
    assert st["conditions"][0]["reason"] == "SufficientPods"
