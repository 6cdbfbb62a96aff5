"""Deployment/ReplicaSet behaviour against an in-process store: rollout, rolling update, undo, history, quota."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from sandbox.cluster import SimCluster
from sandbox.controllers import ControllerManager
from sandbox.controllers.deployment import REVISION, REVISION_HISTORY
from sandbox.resources import DEPLOYMENTS, EVENTS, NAMESPACES, PODS, REPLICASETS, RESOURCEQUOTAS
from sandbox.tests.helpers import deployment, wait_for


def rollout_done(c: SimCluster, name: str, ns: str = "default") -> bool:
    d = c.store.get(DEPLOYMENTS, ns, name)
    if d is None:
        return False
    st = d.get("status") or {}
    want = d["spec"]["replicas"]
    return (st.get("observedGeneration") == d["metadata"]["generation"] and st.get("updatedReplicas", 0) == want
            and st.get("replicas", 0) == want and st.get("availableReplicas", 0) == want)


def live_pods(c: SimCluster, ns: str, selector: str) -> list[dict[str, Any]]:
    pods, _ = c.store.list(PODS, ns, label_selector=selector)
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def events_for(c: SimCluster, name: str) -> list[dict[str, Any]]:
    evs, _ = c.store.list(EVENTS)
    return [e for e in evs if e["involvedObject"]["name"] == name]


async def test_deployment_rolls_out_with_real_names_and_status(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(DEPLOYMENTS, deployment("web", 3))
    await wait_for(lambda: rollout_done(c, "web"), what="rollout")
    rss, _ = c.store.list(REPLICASETS, "default")
    assert len(rss) == 1
    rs = rss[0]
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{6,10}", h)
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    # Exactly the fields a real ReplicaSet controller writes (no updatedReplicas: issue 10 §2).
    await wait_for(lambda: (c.store.get(REPLICASETS, "default", rs["metadata"]["name"]) or {})
                   .get("status", {}).get("availableReplicas") == 3, what="replica set status")
    rs_status = (c.store.get(REPLICASETS, "default", rs["metadata"]["name"]) or {})["status"]
    assert set(rs_status) <= {"replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                              "observedGeneration", "conditions"}, rs_status
    pods, _ = c.store.list(PODS, "default")
    assert len(pods) == 3
    for p in pods:
        assert re.fullmatch(rf"web-{h}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", p["metadata"]["name"])
        assert p["status"]["phase"] == "Running"
        assert p["spec"]["nodeName"].startswith("t1-node-")
        assert p["status"]["podIP"].startswith("10.244.")
        cs = p["status"]["containerStatuses"][0]
        assert cs["ready"]
        assert cs["started"]
        assert cs["restartCount"] == 0
        assert cs["containerID"].startswith("containerd://")
        assert "@sha256:" in cs["imageID"]
        types = {cond["type"]: cond["status"] for cond in p["status"]["conditions"]}
        assert types == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                         "ContainersReady": "True", "PodScheduled": "True"}
    # three pods spread over three nodes (least-allocated scoring)
    assert len({p["spec"]["nodeName"] for p in pods}) == 3
    d = c.store.get(DEPLOYMENTS, "default", "web")
    assert d is not None
    conds = {x["type"]: x for x in d["status"]["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert d["metadata"]["annotations"][REVISION] == "1"
    reasons = [e["reason"] for e in events_for(c, pods[0]["metadata"]["name"])]
    for r in ("Scheduled", "Pulling", "Pulled", "Created", "Started"):
        assert r in reasons
    assert any(e["reason"] == "ScalingReplicaSet" and e["message"] == f"Scaled up replica set web-{h} from 0 to 3"
               for e in events_for(c, "web"))


async def test_rolling_update_respects_surge_and_unavailable(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    c.store.create(DEPLOYMENTS, deployment("api", 4, strategy=strategy))
    await wait_for(lambda: rollout_done(c, "api"), what="first rollout")
    seen: list[tuple[int, int]] = []

    def observe(etype: str, rt: Any, obj: dict[str, Any]) -> None:
        if rt is PODS:
            pods, _ = c.store.list(PODS, "default", label_selector="app=api")
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in live if any(x["type"] == "Ready" and x["status"] == "True"
                                            for x in p["status"].get("conditions", []))]
            seen.append((len(live), len(ready)))

    unsub = c.store.subscribe(observe)
    c.store.mutate(DEPLOYMENTS, "default", "api",
                   lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:1.26"))
    await wait_for(lambda: rollout_done(c, "api"), what="rolling update")
    unsub()
    assert seen
    assert max(total for total, _ in seen) <= 5  # replicas + maxSurge
    assert min(ready for _, ready in seen) >= 4  # replicas - maxUnavailable
    rss, _ = c.store.list(REPLICASETS, "default")
    revs = sorted((r["metadata"]["annotations"][REVISION], r["spec"]["replicas"]) for r in rss)
    assert revs == [("1", 0), ("2", 4)]
    pods = live_pods(c, "default", "app=api")
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.26"}


async def test_undo_reuses_old_replicaset_and_bumps_revision(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(DEPLOYMENTS, deployment("web", 2))
    await wait_for(lambda: rollout_done(c, "web"), what="v1")
    c.store.mutate(DEPLOYMENTS, "default", "web",
                   lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:1.26"))
    await wait_for(lambda: rollout_done(c, "web"), what="v2")
    rss, _ = c.store.list(REPLICASETS, "default")
    old = next(r for r in rss if r["metadata"]["annotations"][REVISION] == "1")
    # what `kubectl rollout undo` does: copy the old template (without the hash label) into the deployment
    template = json.loads(json.dumps(old["spec"]["template"]))
    del template["metadata"]["labels"]["pod-template-hash"]
    c.store.patch(DEPLOYMENTS, "default", "web", "application/json-patch+json",
                  [{"op": "replace", "path": "/spec/template", "value": template}])
    await wait_for(lambda: rollout_done(c, "web"), what="undo")
    rss, _ = c.store.list(REPLICASETS, "default")
    assert len(rss) == 2
    again = next(r for r in rss if r["metadata"]["name"] == old["metadata"]["name"])
    assert again["metadata"]["annotations"][REVISION] == "3"
    assert again["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert again["spec"]["replicas"] == 2
    d = c.store.get(DEPLOYMENTS, "default", "web")
    assert d is not None
    assert d["metadata"]["annotations"][REVISION] == "3"
    pods = live_pods(c, "default", "app=web")
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.25"}


async def test_recreate_and_revision_history_limit(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(DEPLOYMENTS, deployment("batch", 2, strategy={"type": "Recreate"}, revisionHistoryLimit=1))
    await wait_for(lambda: rollout_done(c, "batch"), what="v1")
    overlap: list[set[str]] = []

    def observe(etype: str, rt: Any, obj: dict[str, Any]) -> None:
        if rt is PODS and etype != "DELETED":
            pods = live_pods(c, "default", "app=batch")
            overlap.append({p["spec"]["containers"][0]["image"] for p in pods})

    unsub = c.store.subscribe(observe)
    for tag in ("1.26", "1.27"):
        def set_image(d: dict[str, Any], t: str = tag) -> None:
            d["spec"]["template"]["spec"]["containers"][0]["image"] = f"nginx:{t}"

        c.store.mutate(DEPLOYMENTS, "default", "batch", set_image)
        await wait_for(lambda: rollout_done(c, "batch"), what=f"rollout {tag}")
    unsub()
    assert all(len(images) == 1 for images in overlap if images), "Recreate must never run old and new together"
    rss, _ = c.store.list(REPLICASETS, "default")
    assert sorted(r["metadata"]["annotations"][REVISION] for r in rss) == ["2", "3"]


async def test_scale_up_and_down(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(DEPLOYMENTS, deployment("web", 1))
    await wait_for(lambda: rollout_done(c, "web"), what="rollout")
    c.store.mutate(DEPLOYMENTS, "default", "web", lambda d: d["spec"].__setitem__("replicas", 5))
    await wait_for(lambda: rollout_done(c, "web"), what="scale up")
    assert c.store.count(PODS, "default") == 5
    c.store.mutate(DEPLOYMENTS, "default", "web", lambda d: d["spec"].__setitem__("replicas", 2))
    await wait_for(lambda: rollout_done(c, "web") and len(live_pods(c, "default", "app=web")) == 2,
                   what="scale down")
    rs = c.store.list(REPLICASETS, "default")[0][0]
    assert any(e["reason"] == "SuccessfulDelete" for e in events_for(c, rs["metadata"]["name"]))


async def test_quota_refusal_is_a_failedcreate_event_on_the_replicaset(
        sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(NAMESPACES, {"metadata": {"name": "team"}})
    c.store.create(RESOURCEQUOTAS, {"metadata": {"name": "pods", "namespace": "team"},
                                    "spec": {"hard": {"pods": "2"}}})
    c.store.create(DEPLOYMENTS, deployment("web", 3, ns="team"))
    rs = await wait_for(lambda: c.store.list(REPLICASETS, "team")[0], what="replicaset")
    rs_name = rs[0]["metadata"]["name"]
    ev = await wait_for(lambda: [e for e in events_for(c, rs_name) if e["reason"] == "FailedCreate"],
                        what="FailedCreate event")
    assert ev[0]["type"] == "Warning"
    assert ev[0]["source"]["component"] == "replicaset-controller"
    assert ev[0]["message"].startswith(f'Error creating: pods "{rs_name}-')
    assert "is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2" in ev[0]["message"]
    await wait_for(lambda: any(x["type"] == "ReplicaFailure" for x in
                               (c.store.get(DEPLOYMENTS, "team", "web") or {}).get("status", {}).get("conditions", [])),
                   what="ReplicaFailure condition on the deployment")
    assert c.store.count(PODS, "team") == 2
    # retries back off (0.5 s, 1 s, 2 s ...): no busy loop, a handful of attempts
    await asyncio.sleep(1.0)
    attempts = sum(e["count"] for e in events_for(c, rs_name) if e["reason"] == "FailedCreate")
    assert 2 <= attempts <= 5


async def test_progress_deadline_exceeded(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(DEPLOYMENTS, deployment("stuck", 1, image="registry.example.com/app:doesnotexist",
                                           progressDeadlineSeconds=1))

    def reason() -> str:
        d = c.store.get(DEPLOYMENTS, "default", "stuck") or {}
        for x in d.get("status", {}).get("conditions", []):
            if x["type"] == "Progressing":
                return str(x["reason"])
        return ""

    await wait_for(lambda: reason() == "ReplicaSetUpdated" or reason() == "NewReplicaSetCreated", what="progressing")
    # the controller re-checks at min(deadline + 1, 30) seconds
    await wait_for(lambda: reason() == "ProgressDeadlineExceeded", timeout=6, what="ProgressDeadlineExceeded")
