"""Generated container logs, simulated metrics and bounded events."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from sandbox.cluster import SimCluster
from sandbox.controllers import ControllerManager
from sandbox.controllers.config import fast
from sandbox.errors import BadRequest, NotFound
from sandbox.interfaces import ControllerManagerProtocol, LogProvider, MetricsProvider
from sandbox.quantity import cpu_millis, to_bytes
from sandbox.resources import EVENTS, PODS
from sandbox.tests.helpers import start_cluster, stop_cluster, wait_for


def pod(name: str, containers: list[str], *, annotations: dict[str, str] | None = None,
        image: str = "nginx:1.25") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
            "spec": {"containers": [{"name": n, "image": image,
                                     "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}}
                                    for n in containers]}}


def running(c: SimCluster, name: str) -> bool:
    p = c.store.get(PODS, "default", name)
    return bool(p and p["status"].get("phase") == "Running")


async def collect(it: AsyncIterator[bytes]) -> str:
    return b"".join([chunk async for chunk in it]).decode()


async def test_protocols_are_satisfied(sim: tuple[SimCluster, ControllerManager]) -> None:
    _, m = sim
    assert isinstance(m, ControllerManagerProtocol)
    assert isinstance(m.metrics, MetricsProvider)
    assert isinstance(m.logs, LogProvider)


async def test_logs_tail_timestamps_and_errors(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(PODS, pod("one", ["web"]))
    c.store.create(PODS, pod("two", ["app", "sidecar"]))
    await wait_for(lambda: running(c, "one") and running(c, "two"), what="running")
    for _ in range(100):
        so_far = await collect(m.logs.stream("default", "one", None, follow=False, tail_lines=None,
                                             since_seconds=None, timestamps=False))
        if len(so_far.splitlines()) >= 3:
            break
        await asyncio.sleep(0.05)
    text = await collect(m.logs.stream("default", "one", None, follow=False, tail_lines=2, since_seconds=None,
                                       timestamps=True))
    lines = text.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", line), line
    full = await collect(m.logs.stream("default", "one", "web", follow=False, tail_lines=None, since_seconds=None,
                                       timestamps=False))
    assert full.splitlines()[0].startswith("nginx: starting")
    again = await collect(m.logs.stream("default", "one", "web", follow=False, tail_lines=None, since_seconds=None,
                                        timestamps=False))
    assert again.startswith(full), "logs are deterministic"
    recent = await collect(m.logs.stream("default", "one", "web", follow=False, tail_lines=None, since_seconds=1,
                                         timestamps=False))
    assert 0 < len(recent.splitlines()) <= 2
    with pytest.raises(BadRequest, match=r"^a container name must be specified for pod two, choose one of: "
                                         r"\[app sidecar\]$"):
        await collect(m.logs.stream("default", "two", None, follow=False, tail_lines=None, since_seconds=None,
                                    timestamps=False))
    with pytest.raises(BadRequest, match=r"^container nope is not valid for pod two$"):
        await collect(m.logs.stream("default", "two", "nope", follow=False, tail_lines=None, since_seconds=None,
                                    timestamps=False))
    with pytest.raises(NotFound):
        await collect(m.logs.stream("default", "ghost", None, follow=False, tail_lines=None, since_seconds=None,
                                    timestamps=False))


async def test_logs_of_waiting_container_and_crashed_run(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(PODS, pod("pull", ["web"], image="nginx:doesnotexist"))
    c.store.create(PODS, pod("crash", ["web"], image="crashloop-demo:1"))
    await wait_for(lambda: (c.store.get(PODS, "default", "pull") or {}).get("status", {}).get("containerStatuses"),
                   what="status")
    with pytest.raises(BadRequest, match=r'^container "web" in pod "pull" is waiting to start: '):
        await collect(m.logs.stream("default", "pull", None, follow=False, tail_lines=None, since_seconds=None,
                                    timestamps=False))

    def backing_off() -> bool:
        p = c.store.get(PODS, "default", "crash") or {}
        return any((s.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
                   for s in p.get("status", {}).get("containerStatuses", []))

    await wait_for(backing_off, what="CrashLoopBackOff")
    text = await collect(m.logs.stream("default", "crash", None, follow=False, tail_lines=1, since_seconds=None,
                                       timestamps=False))
    assert text == "panic: simulated crash (sandbox crashloop marker); exiting with status 1\n"


async def test_logs_follow_streams_new_lines(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(PODS, pod("f", ["web"]))
    await wait_for(lambda: running(c, "f"), what="running")
    it = m.logs.stream("default", "f", None, follow=True, tail_lines=0, since_seconds=None, timestamps=False)
    got = await asyncio.wait_for(it.__anext__(), timeout=3)
    assert got.endswith(b"\n")
    await it.aclose()  # type: ignore[attr-defined]
    # the stream ends when the pod goes away
    it2 = m.logs.stream("default", "f", None, follow=True, tail_lines=1, since_seconds=None, timestamps=False)
    await asyncio.wait_for(it2.__anext__(), timeout=3)
    c.store.delete(PODS, "default", "f", grace_period_seconds=0)
    rest = await asyncio.wait_for(collect(it2), timeout=3)
    assert isinstance(rest, str)


async def test_metrics_shapes_and_load_annotation(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(PODS, pod("idle", ["web"]))
    c.store.create(PODS, pod("busy", ["web"], annotations={"sandbox.k8s.io/cpu-load": "0.9",
                                                           "sandbox.k8s.io/memory-load": "0.5"}))
    await wait_for(lambda: running(c, "idle") and running(c, "busy"), what="running")
    pm = {x["metadata"]["name"]: x for x in m.metrics.pod_metrics("default")}
    assert set(pm) == {"idle", "busy"}
    busy = pm["busy"]
    assert busy["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert busy["kind"] == "PodMetrics"
    assert busy["window"].endswith("s")
    usage = busy["containers"][0]["usage"]
    assert re.fullmatch(r"\d+n", usage["cpu"])
    assert re.fullmatch(r"\d+Ki", usage["memory"])
    assert 170 <= cpu_millis(usage["cpu"]) <= 190  # 90% of 200m
    assert abs(to_bytes(usage["memory"]) - 64 * 2**20) < 2 * 2**20
    idle = cpu_millis(pm["idle"]["containers"][0]["usage"]["cpu"])
    assert 50 <= idle <= 130
    assert m.metrics.pod_metrics("kube-system") == []
    nm = m.metrics.node_metrics()
    assert [n["metadata"]["name"] for n in nm] == ["t1-node-1", "t1-node-2", "t1-node-3"]
    node_of_busy = (c.store.get(PODS, "default", "busy") or {})["spec"]["nodeName"]
    total = next(n for n in nm if n["metadata"]["name"] == node_of_busy)["usage"]
    assert cpu_millis(total["cpu"]) > 170
    assert nm[0]["kind"] == "NodeMetrics"


async def test_events_are_bounded_and_aggregated() -> None:
    c, m = await start_cluster(config=replace(fast(), max_events=15))
    try:
        for i in range(10):
            c.store.create(PODS, pod(f"p{i}", ["web"]))
        await wait_for(lambda: all(running(c, f"p{i}") for i in range(10)), what="running")
        await m.wait_idle()
        assert c.store.count(EVENTS) <= 15
        ref = {"kind": "Pod", "namespace": "default", "name": "p0", "uid": "u", "apiVersion": "v1"}
        for _ in range(5):
            m.events.record(ref, "Warning", "BackOff", "same message", "kubelet")
        evs = [e for e in c.store.list(EVENTS)[0] if e["reason"] == "BackOff"]
        assert len(evs) == 1
        assert evs[0]["count"] == 5
        assert evs[0]["firstTimestamp"] <= evs[0]["lastTimestamp"]
    finally:
        await stop_cluster(c, m)


async def test_similar_events_are_combined(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    ref = {"kind": "ReplicaSet", "namespace": "default", "name": "rs", "uid": "u-rs", "apiVersion": "apps/v1"}
    for i in range(25):
        m.events.record(ref, "Warning", "FailedCreate", f'Error creating: pods "rs-{i:05d}" is forbidden',
                        "replicaset-controller")
    evs = [e for e in c.store.list(EVENTS)[0] if e["involvedObject"]["name"] == "rs"]
    assert len(evs) == 11
    combined = [e for e in evs if e["message"].startswith("(combined from similar events): ")]
    assert len(combined) == 1
    assert combined[0]["count"] == 15
    assert combined[0]["message"].endswith('pods "rs-00024" is forbidden')


async def test_previous_logs_of_a_restarted_container(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, m = sim
    c.store.create(PODS, pod("again", ["web"], image="crashloop-demo:2"))

    def restarts() -> int:
        p = c.store.get(PODS, "default", "again") or {}
        return int(((p.get("status") or {}).get("containerStatuses") or [{}])[0].get("restartCount", 0))

    await wait_for(lambda: restarts() >= 1, what="a restart")
    prev = await collect(m.logs.stream("default", "again", None, follow=False, tail_lines=1, since_seconds=None,
                                       timestamps=False, previous=True))
    assert prev == "panic: simulated crash (sandbox crashloop marker); exiting with status 1\n"
    c.store.create(PODS, pod("fresh", ["web"]))
    await wait_for(lambda: running(c, "fresh"), what="running")
    with pytest.raises(BadRequest, match='previous terminated container "web" in pod "fresh" not found'):
        await collect(m.logs.stream("default", "fresh", None, follow=False, tail_lines=None, since_seconds=None,
                                    timestamps=False, previous=True))
