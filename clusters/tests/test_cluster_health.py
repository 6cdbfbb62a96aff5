"""Issue 22: the cluster list points at what needs a look (nodes not ready, pods crash-looping
or pending), from the summary the watcher keeps."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.models import Cluster
from clusters.tests.helpers import node, pod
from clusters.watcher.projection import project
from clusters.watcher.summary import compute_summary
from clusters.watcher.writer import UPSERT, Op, apply_batch

pytestmark = pytest.mark.django_db


def _crashing(name: str, *, running_now: bool) -> Any:
    state = {"running": {"startedAt": "x"}} if running_now else {"waiting": {"reason": "CrashLoopBackOff"}}
    return project("Pod", {"metadata": {"name": name, "namespace": "default", "resourceVersion": "1"},
                           "spec": {"containers": [{"name": "c"}, {"name": "d"}]},
                           "status": {"phase": "Running", "containerStatuses": [
                               {"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}},
                               {"name": "d", "ready": False, "restartCount": 220, "state": state}]}})


def test_health_counts_not_ready_nodes_crash_looping_and_pending_pods() -> None:
    cid = Cluster.objects.create(name="health-1", server="https://127.0.0.1:6443").pk
    apply_batch([Op(UPSERT, cid, "Node", row=node("n1")), Op(UPSERT, cid, "Node", row=node("n2", ready=False)),
                 Op(UPSERT, cid, "Pod", row=pod("ok", "Running", "100m")),
                 Op(UPSERT, cid, "Pod", row=pod("waiting", "Pending", "100m")),
                 Op(UPSERT, cid, "Pod", row=_crashing("loop", running_now=False)),
                 Op(UPSERT, cid, "Pod", row=_crashing("loop-between-crashes", running_now=True))])
    health = compute_summary(cid)["health"]
    # The pod that is running between two crashes is not counted: the read model cannot tell it yet.
    assert health == {"nodes_not_ready": 1, "pods_crashlooping": 1, "pods_pending": 1}
