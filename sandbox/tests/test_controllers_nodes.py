"""Scheduler, kubelet and node lifecycle against an in-process store."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from sandbox.cluster import SimCluster
from sandbox.controllers import ControllerManager
from sandbox.controllers.config import bulk, fast
from sandbox.resources import EVENTS, LEASES, NODES, PODS, REPLICASETS
from sandbox.tests.helpers import deployment, start_cluster, stop_cluster, wait_for


def pod(name: str, image: str = "nginx:1.25", *, cpu: str = "100m", ns: str = "default",
        restart: str = "Always", command: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "main", "image": image, "resources": {"requests": {"cpu": cpu, "memory": "32Mi"}}}
    if command:
        c["command"] = command
    return {"metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"containers": [c], "restartPolicy": restart, **spec}}


def get(c: SimCluster, name: str, ns: str = "default") -> dict[str, Any]:
    obj = c.store.get(PODS, ns, name)
    assert obj is not None
    return obj


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((x for x in obj.get("status", {}).get("conditions", []) if x["type"] == ctype), {})


def events(c: SimCluster, name: str, reason: str | None = None) -> list[dict[str, Any]]:
    evs, _ = c.store.list(EVENTS)
    return [e for e in evs if e["involvedObject"]["name"] == name and (reason is None or e["reason"] == reason)]


def running(c: SimCluster, name: str) -> bool:
    p = c.store.get(PODS, "default", name)
    return bool(p and p["status"].get("phase") == "Running" and condition(p, "Ready").get("status") == "True")


async def test_unschedulable_message_and_retry_when_nodes_change(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    for n in ("t1-node-1", "t1-node-2"):
        c.store.mutate(NODES, None, n, lambda o: o["spec"].__setitem__("unschedulable", True))
    c.store.create(PODS, pod("big", cpu="6"))
    msg = ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable. preemption: 0/3 nodes are "
           "available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")
    await wait_for(lambda: condition(get(c, "big"), "PodScheduled").get("message") == msg, what="unschedulable")
    sched = condition(get(c, "big"), "PodScheduled")
    assert sched["status"] == "False"
    assert sched["reason"] == "Unschedulable"
    ev = events(c, "big", "FailedScheduling")
    assert ev[0]["type"] == "Warning"
    assert ev[0]["message"] == msg
    assert ev[0]["source"]["component"] == "default-scheduler"
    assert get(c, "big")["status"]["phase"] == "Pending"
    # cordoned nodes carry the unschedulable taint, like the node controller adds it
    node = c.store.get(NODES, None, "t1-node-1")
    assert node is not None
    assert {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}.items() <= node["spec"]["taints"][0].items()
    # a bigger node appears: the pod is retried and bound there
    m.cluster.spec.nodes.cpu = "16"
    new = m.add_node()
    await wait_for(lambda: get(c, "big")["spec"].get("nodeName") == new, what="bound to the new node")
    await wait_for(lambda: running(c, "big"), what="running")
    assert events(c, "big", "Scheduled")[0]["message"] == f"Successfully assigned default/big to {new}"


async def test_node_selector_and_taints(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.mutate(NODES, None, "t1-node-3", lambda o: o["metadata"]["labels"].__setitem__("disk", "ssd"))
    c.store.mutate(NODES, None, "t1-node-2", lambda o: o["spec"].__setitem__(
        "taints", [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]))
    c.store.create(PODS, pod("ssd", nodeSelector={"disk": "ssd"}))
    c.store.create(PODS, pod("db", nodeSelector={"kubernetes.io/hostname": "t1-node-2"},
                             tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db",
                                           "effect": "NoSchedule"}]))
    c.store.create(PODS, pod("nope", nodeSelector={"kubernetes.io/hostname": "t1-node-2"}))
    await wait_for(lambda: running(c, "ssd") and running(c, "db"), what="placed pods")
    assert get(c, "ssd")["spec"]["nodeName"] == "t1-node-3"
    assert get(c, "db")["spec"]["nodeName"] == "t1-node-2"
    await wait_for(lambda: condition(get(c, "nope"), "PodScheduled").get("reason") == "Unschedulable", what="nope")
    assert condition(get(c, "nope"), "PodScheduled")["message"].startswith(
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 node(s) didn't match Pod's "
        "node affinity/selector.")


async def test_crashloop_backoff_with_rising_restarts(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(PODS, pod("crash", image="busybox:1.36", command=["sh", "-c", "crashloop"]))

    def restarts() -> int:
        cs = get(c, "crash")["status"].get("containerStatuses") or [{}]
        return int(cs[0].get("restartCount", 0))

    await wait_for(lambda: restarts() >= 2, timeout=10, what="two restarts")
    cs = get(c, "crash")["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    await wait_for(lambda: (get(c, "crash")["status"]["containerStatuses"][0]["state"].get("waiting") or {})
                   .get("reason") == "CrashLoopBackOff", what="CrashLoopBackOff")
    assert get(c, "crash")["status"]["phase"] == "Running"
    backoff = events(c, "crash", "BackOff")
    assert len(backoff) == 1, "repeats are aggregated into one event"
    assert backoff[0]["count"] >= 2
    assert backoff[0]["type"] == "Warning"
    assert backoff[0]["message"].startswith("Back-off restarting failed container main in pod crash_default(")
    assert backoff[0]["involvedObject"]["fieldPath"] == "spec.containers{main}"


async def test_unpullable_image(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(PODS, pod("pull", image="example.com/team/app:doesnotexist"))
    c.store.create(PODS, pod("pull2", image="unpullable/thing:1.0"))

    def waiting(name: str) -> str:
        cs = get(c, name)["status"].get("containerStatuses") or [{}]
        return str((cs[0].get("state", {}).get("waiting") or {}).get("reason", ""))

    await wait_for(lambda: waiting("pull") == "ErrImagePull", what="ErrImagePull")
    await wait_for(lambda: waiting("pull") == "ImagePullBackOff", what="ImagePullBackOff")
    await wait_for(lambda: waiting("pull2") in ("ErrImagePull", "ImagePullBackOff"), what="unpullable marker")
    assert get(c, "pull")["status"]["phase"] == "Pending"
    failed = [e["message"] for e in events(c, "pull", "Failed")]
    assert "Error: ErrImagePull" in failed
    assert any(m.startswith('Failed to pull image "example.com/team/app:doesnotexist": rpc error: code = NotFound')
               for m in failed)
    assert events(c, "pull", "BackOff")[0]["message"] == 'Back-off pulling image "example.com/team/app:doesnotexist"'


async def test_run_to_completion_pods(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(PODS, pod("ok", image="busybox", restart="Never", command=["echo", "hi"]))
    c.store.create(PODS, pod("bad", image="busybox", restart="Never", command=["sh", "-c", "exit 1 # fail"]))
    await wait_for(lambda: get(c, "ok")["status"]["phase"] == "Succeeded", what="Succeeded")
    await wait_for(lambda: get(c, "bad")["status"]["phase"] == "Failed", what="Failed")
    term = get(c, "ok")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "Completed"
    assert term["exitCode"] == 0
    assert condition(get(c, "ok"), "Ready")["reason"] == "PodCompleted"
    assert get(c, "bad")["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1


async def test_not_ready_node_taints_unreadies_and_evicts(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    m.config = replace(fast(), toleration_time_scale=0.002)  # 300 s default toleration -> 0.6 s
    c.store.create(REPLICASETS, {"metadata": {"name": "rs", "namespace": "default"},
                                 "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "rs"}},
                                          "template": deployment("rs", 3)["spec"]["template"]}})
    await wait_for(lambda: sum(running(c, p["metadata"]["name"]) for p in c.store.list(PODS, "default")[0]) == 3,
                   what="3 running")
    victim = "t1-node-1"
    on_victim = [p["metadata"]["name"] for p in c.store.list(PODS, "default", field_selector=f"spec.nodeName={victim}")[0]]
    assert on_victim
    m.set_node_ready(victim, False)
    node = c.store.get(NODES, None, victim)
    assert node is not None
    assert condition(node, "Ready")["status"] == "False"
    assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
        ("node.kubernetes.io/not-ready", "NoSchedule"), ("node.kubernetes.io/not-ready", "NoExecute")}
    assert not m.node_ready(victim)
    assert all(victim not in [n["metadata"]["name"] for n in m.metrics.node_metrics()] for _ in [0])
    # pods on it turn un-Ready, then get evicted and replaced elsewhere
    await wait_for(lambda: all(c.store.get(PODS, "default", n) is None for n in on_victim), timeout=5,
                   what="eviction from the NotReady node")
    await wait_for(lambda: len([p for p in c.store.list(PODS, "default")[0] if p["spec"].get("nodeName") != victim
                                and running(c, p["metadata"]["name"])]) == 3, what="replacements")
    assert any(e["reason"] == "TaintManagerEviction" for e in c.store.list(EVENTS)[0])
    m.set_node_ready(victim, True)
    node = c.store.get(NODES, None, victim)
    assert node is not None
    assert condition(node, "Ready")["status"] == "True"
    assert not node["spec"].get("taints")


async def test_not_ready_marks_pods_unready_until_recovery(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(PODS, pod("keep", nodeName="t1-node-2", tolerations=[
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]))
    await wait_for(lambda: running(c, "keep"), what="running")
    m.set_node_ready("t1-node-2", False)
    assert condition(get(c, "keep"), "Ready")["status"] == "False"
    assert events(c, "keep", "NodeNotReady")[0]["message"] == "Node is not ready"
    m.set_node_ready("t1-node-2", True)
    await wait_for(lambda: running(c, "keep"), what="Ready again after recovery")


async def test_heartbeats_and_leases() -> None:
    c, m = await start_cluster(config=replace(fast(), node_heartbeat_seconds=0.2))
    try:
        before = {n["metadata"]["name"]: n["metadata"]["resourceVersion"] for n in c.store.list(NODES)[0]}
        await wait_for(lambda: c.store.count(LEASES, "kube-node-lease") == 3, what="leases")
        lease = c.store.get(LEASES, "kube-node-lease", "t1-node-1")
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == "t1-node-1"
        assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
        await wait_for(lambda: all(n["metadata"]["resourceVersion"] != before[n["metadata"]["name"]]
                                   for n in c.store.list(NODES)[0]), what="heartbeats")
    finally:
        await stop_cluster(c, m)


async def test_thousand_pods_schedule_quickly() -> None:
    c, m = await start_cluster(nodes=20, cpu="16", memory="64Gi", config=bulk())
    try:
        t0 = time.monotonic()
        c.store.create(REPLICASETS, {"metadata": {"name": "many", "namespace": "default"},
                                     "spec": {"replicas": 1000, "selector": {"matchLabels": {"app": "many"}},
                                              "template": deployment("many", 1, cpu="10m")["spec"]["template"]}})
        await wait_for(lambda: (c.store.get(REPLICASETS, "default", "many") or {}).get("status", {})
                       .get("readyReplicas") == 1000, timeout=60, what="1000 ready pods")
        elapsed = time.monotonic() - t0
        per_node = [len(m.pods.on_node(f"t1-node-{i}")) for i in range(1, 21)]
        assert max(per_node) - min(per_node) <= 2, per_node
        assert elapsed < 20, f"1000 pods took {elapsed:.1f}s"
        assert len(m.kubelet.sims) == 0, "steady pods keep no kubelet state"
    finally:
        await stop_cluster(c, m)


async def test_pods_of_a_deleted_node_are_garbage_collected(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    c.store.create(PODS, pod("orphan", nodeName="t1-node-1"))
    await wait_for(lambda: running(c, "orphan"), what="running")
    c.store.delete(NODES, None, "t1-node-1")
    await wait_for(lambda: c.store.get(PODS, "default", "orphan") is None, what="pod GC")


async def test_restart_adopts_running_pods_without_rewriting_them() -> None:
    c, m = await start_cluster()
    try:
        c.store.create(PODS, pod("kept"))
        await wait_for(lambda: running(c, "kept"), what="running")
        await m.stop()
        rv = get(c, "kept")["metadata"]["resourceVersion"]
        m = ControllerManager(c, fast())  # e.g. the sandbox restarted from a snapshot
        await m.start()
        assert await m.wait_idle()
        await asyncio.sleep(0.3)
        assert get(c, "kept")["metadata"]["resourceVersion"] == rv
        assert [p["metadata"]["name"] for p in m.metrics.pod_metrics("default")] == ["kept"]
        node = get(c, "kept")["spec"]["nodeName"]
        m.set_node_ready(node, False)
        assert condition(get(c, "kept"), "Ready")["status"] == "False"
        m.set_node_ready(node, True)
        await wait_for(lambda: running(c, "kept"), what="Ready again after the node returns")
    finally:
        await stop_cluster(c, m)
