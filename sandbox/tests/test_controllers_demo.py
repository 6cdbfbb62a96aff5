"""The demo seed brings up a realistic, living mix (used by ``make run``)."""

from __future__ import annotations

from typing import Any

from sandbox.controllers import demo
from sandbox.resources import DAEMONSETS, DEPLOYMENTS, NODES, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from sandbox.tests.helpers import start_cluster, stop_cluster, wait_for


def _status(c: Any, rt: Any, ns: str, name: str) -> dict[str, Any]:
    return dict((c.store.get(rt, ns, name) or {}).get("status") or {})


async def test_seed_default_profile_with_crashloop_and_not_ready_node() -> None:
    c, m = await start_cluster(nodes=3, cpu="8", memory="32Gi")
    c.controllers = m  # what SimCluster.start does; seed reaches the manager through it
    try:
        made = demo.seed(c, "default", crashloop=True, not_ready_node=True)
        assert "Deployment/shop/frontend" in made
        assert "Node/t1-node-3 (NotReady)" in made
        assert demo.seed(c, "default") == []  # idempotent
        await wait_for(lambda: _status(c, DEPLOYMENTS, "shop", "frontend").get("availableReplicas") == 3,
                       timeout=15, what="frontend available")
        await wait_for(lambda: _status(c, STATEFULSETS, "payments", "postgres").get("readyReplicas") == 2,
                       timeout=15, what="postgres ready")
        await wait_for(lambda: _status(c, DAEMONSETS, "monitoring", "node-exporter").get("numberReady") == 2,
                       timeout=15, what="node-exporter on the Ready nodes")
        pvc = c.store.get(PERSISTENTVOLUMECLAIMS, "payments", "reports")
        assert pvc is not None
        await wait_for(lambda: (c.store.get(PERSISTENTVOLUMECLAIMS, "payments", "reports") or {})
                       .get("status", {}).get("phase") == "Bound", what="pvc bound")

        def crashing() -> bool:
            pods, _ = c.store.list(PODS, "shop", label_selector="app.kubernetes.io/name=recommendations")
            return any(s.get("restartCount", 0) >= 1 for p in pods for s in p["status"].get("containerStatuses", []))

        await wait_for(crashing, timeout=15, what="crash-looping recommendations")
        node = c.store.get(NODES, None, "t1-node-3")
        assert node is not None
        assert any(x["type"] == "Ready" and x["status"] == "False" for x in node["status"]["conditions"])
        assert len(demo.manifests("large")) > len(demo.manifests("small"))
    finally:
        await stop_cluster(c, m)


async def test_seed_scale_brings_up_the_requested_pods() -> None:
    from sandbox.controllers.config import bulk

    c, m = await start_cluster(nodes=5, cpu="16", memory="64Gi", config=bulk())
    try:
        assert demo.seed_scale(c, 230, per_deployment=50) == 230
        assert c.store.count(DEPLOYMENTS, "bench") == 5
        await wait_for(lambda: sum(1 for p in m.pods.in_namespace("bench") if p.ready) == 230, timeout=20,
                       what="230 ready pods")
    finally:
        await stop_cluster(c, m)
