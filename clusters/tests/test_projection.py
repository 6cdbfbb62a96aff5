"""Projections of Kubernetes objects into read-model rows: the shapes docs/clusters-api.md promises,
kubectl's STATUS column, quantities in cores and bytes, and nothing heavy (managedFields, specs)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from clusters.kube.kinds import WATCHED_KINDS
from clusters.watcher.projection import PROJECTORS, byte_count, cores, pod_status_text, project, quantity


def pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                     "creationTimestamp": "2026-01-02T03:04:05Z", "labels": {"app": "a"},
                     "managedFields": [{"manager": "kubectl"}], "annotations": {"big": "x" * 1000},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "a-1", "controller": True}]},
        "spec": {"nodeName": "n1", "containers": [
            {"name": "a", "image": "img:1", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                                          "limits": {"cpu": "1", "memory": "1Gi"}}},
            {"name": "b", "image": "img:2", "resources": {"requests": {"cpu": "0.5"}}}],
            "initContainers": [{"name": "init", "image": "i", "resources": {"requests": {"cpu": "2"}}}]},
        "status": {"phase": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.0.1", "qosClass": "Burstable",
                   "startTime": "2026-01-02T03:04:06Z", **status},
    }


def running(name: str, restarts: int = 0, ready: bool = True) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": "x"}}}


def test_every_watched_kind_has_a_projector() -> None:
    assert {k.kind for k in WATCHED_KINDS} == set(PROJECTORS)


def test_quantities() -> None:
    assert cores("100m") == 0.1
    assert cores("2") == 2.0
    assert cores(3) == 3.0
    assert cores("1500000n") == 0.0015
    assert byte_count("128Mi") == 128 * 1024**2
    assert byte_count("1G") == 10**9
    assert byte_count("1.5Gi") == 1536 * 1024**2
    assert byte_count("1e3") == 1000
    assert byte_count("bogus") is None
    assert cores(None) is None


def test_quantities_parsed_once_per_text_answer_as_parsed_each_time() -> None:
    """Texts are parsed once per process (every pod event reads its containers' requests and
    limits); the answers are those of a fresh parse, and a value that is not text is never taken
    for the text it prints as (``True`` is no quantity, though ``"1"`` is)."""
    for _ in range(3):
        assert cores(" 250m ") == 0.25
        assert byte_count("64Mi") == 64 * 1024**2
        assert quantity("64Mi") == Decimal(64 * 1024**2)
        assert (cores("1.5"), byte_count("1.5")) == (1.5, 1)
        assert (cores("12x"), byte_count("")) == (None, None)
    assert (cores(True), byte_count(False), quantity(True)) == (None, None, None)
    assert (cores(1), cores("1"), byte_count(2.5)) == (1.0, 1.0, 2)
    assert (quantity({"not": "hashable"}), cores(["100m"])) == (None, None)


def test_pod_row_columns_and_data() -> None:
    row = project("Pod", pod(containerStatuses=[running("a", restarts=2), running("b", ready=False)]))
    assert row["kind"] == "Pod"
    assert (row["namespace"], row["name"], row["uid"], row["resource_version"]) == ("ns", "p", "u1", "7")
    assert row["node_name"] == "n1"
    assert row["phase"] == "Running"
    assert row["labels"] == {"app": "a"}
    assert row["created"] == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    data = row["data"]
    assert set(data) == {"status_text", "ready", "restarts", "containers", "pod_ip", "host_ip", "owner",
                         "requests", "limits", "qos_class", "start_time"}
    assert data["ready"] == "1/2"
    assert data["restarts"] == 2
    assert data["owner"] == {"kind": "ReplicaSet", "name": "a-1"}
    # The init container's 2 cores exceed the containers' 0.6: the effective request is 2.
    assert data["requests"] == {"cpu": 2.0, "memory": 128 * 1024**2}
    assert data["limits"] == {"cpu": 1.0, "memory": 1024**3}
    assert data["containers"][0] == {"name": "a", "image": "img:1", "ready": True, "restart_count": 2,
                                     "state": "running", "reason": "", "last_reason": "", "last_finished": None,
                                     # per container only in a pod of several (monitoring's container level)
                                     "requests": {"cpu": 0.1, "memory": 128 * 1024**2},
                                     "limits": {"cpu": 1.0, "memory": 1024**3}}
    assert "managedFields" not in str(row)
    assert "big" not in str(row)


def test_a_container_carries_its_last_termination() -> None:
    """Issue 22: a crash-looping container that runs for a moment still reads as crash-looping in
    the console, which needs the last termination (the kubelet's lastState)."""
    status = {**running("a", restarts=220), "lastState": {"terminated": {
        "reason": "Error", "exitCode": 1, "finishedAt": "2026-01-02T03:04:05Z"}}}
    container = project("Pod", pod(containerStatuses=[status]))["data"]["containers"][0]
    assert (container["state"], container["last_reason"], container["last_finished"]) == (
        "running", "Error", "2026-01-02T03:04:05Z")


@pytest.mark.parametrize(("status", "deleting", "expected"), [
    ({"containerStatuses": [running("a"), running("b")]}, False, "Running"),
    ({"containerStatuses": [{"name": "a", "restartCount": 5, "state": {
        "waiting": {"reason": "CrashLoopBackOff"}}}]}, False, "CrashLoopBackOff"),
    ({"containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "ErrImagePull"}}}]}, False,
     "ErrImagePull"),
    ({"phase": "Succeeded", "containerStatuses": [{"name": "a", "state": {
        "terminated": {"reason": "Completed", "exitCode": 0}}}]}, False, "Completed"),
    ({"containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 3}}}]}, False, "ExitCode:3"),
    ({"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": {
        "waiting": {"reason": "PodInitializing"}}}]}, False, "Init:0/1"),
    ({"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": {
        "terminated": {"reason": "Error", "exitCode": 1}}}]}, False, "Init:Error"),
    ({"phase": "Pending"}, False, "Pending"),
    ({"containerStatuses": [running("a")]}, True, "Terminating"),
    ({"phase": "Failed", "reason": "Evicted"}, False, "Evicted"),
])
def test_pod_status_text_matches_kubectl(status: dict[str, Any], deleting: bool, expected: str) -> None:
    obj = pod(**status)
    if deleting:
        obj["metadata"]["deletionTimestamp"] = "2026-01-02T03:05:00Z"
    assert pod_status_text(obj) == expected


def deployment(replicas: int, ready: int, updated: int, available: int, *, generation: int = 1,
               observed: int = 1, conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "d", "namespace": "ns", "generation": generation},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "d"}},
                     "strategy": {"type": "RollingUpdate"},
                     "template": {"spec": {"containers": [{"name": "c", "image": "img:3"}]}}},
            "status": {"readyReplicas": ready, "updatedReplicas": updated, "availableReplicas": available,
                       "observedGeneration": observed, "conditions": conditions or []}}


def test_workload_phase_and_data() -> None:
    row = project("Deployment", deployment(3, 3, 3, 3))
    assert row["phase"] == "Available"
    assert row["data"] == {"replicas": 3, "ready_replicas": 3, "updated_replicas": 3, "available_replicas": 3,
                           "images": ["img:3"], "selector": {"app": "d"}, "strategy": "RollingUpdate",
                           "conditions": [], "owner": None, "generation": 1,
                           "rollout": {"done": True, "failed": False, "ready": 3, "desired": 3, "message": "",
                                       "code": "", "params": {}}}
    assert project("Deployment", deployment(3, 1, 1, 1, generation=2, observed=1))["phase"] == "Progressing"
    stuck = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "m"}]
    assert project("Deployment", deployment(3, 1, 3, 1, conditions=stuck))["phase"] == "Degraded"
    assert project("Deployment", deployment(3, 1, 3, 1))["phase"] == "Degraded"
    ds = {"metadata": {"name": "ds"}, "spec": {"updateStrategy": {"type": "OnDelete"}},
          "status": {"desiredNumberScheduled": 4, "numberReady": 4, "updatedNumberScheduled": 4, "numberAvailable": 4}}
    row = project("DaemonSet", ds)
    assert row["phase"] == "Available"
    assert row["data"]["replicas"] == 4
    assert row["data"]["strategy"] == "OnDelete"


def test_node() -> None:
    node = {"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": "",
                                                  "topology.kubernetes.io/zone": "z1",
                                                  "node.kubernetes.io/instance-type": "m5.large"}},
            "spec": {"unschedulable": True, "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                       "allocatable": {"cpu": "3900m", "memory": "15Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}],
                       "addresses": [{"type": "InternalIP", "address": "10.1.1.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Ubuntu"}}}
    row = project("Node", node)
    assert row["phase"] == "NotReady"
    data = row["data"]
    assert data["roles"] == ["control-plane"]
    assert data["ready"] is False
    assert data["unschedulable"] is True
    assert data["taints"] == [{"key": "k", "value": "", "effect": "NoSchedule"}]
    assert data["capacity"] == {"cpu": 4.0, "memory": 16 * 1024**3, "pods": 110, "ephemeral_storage": 100 * 1024**3}
    assert data["allocatable"]["cpu"] == 3.9
    assert data["allocatable"]["ephemeral_storage"] is None
    assert (data["zone"], data["instance_type"], data["internal_ip"]) == ("z1", "m5.large", "10.1.1.1")
    assert data["conditions"][0] == {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": ""}


def test_event_and_volume_kinds() -> None:
    ev = project("Event", {"metadata": {"name": "e", "namespace": "ns"}, "type": "Warning", "reason": "Failed",
                           "message": "boom", "count": 4, "firstTimestamp": "2026-01-01T00:00:00Z",
                           "lastTimestamp": "2026-01-01T00:05:00Z", "source": {"component": "kubelet", "host": "n1"},
                           "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"}})
    assert ev["phase"] == "Warning"
    assert ev["data"] == {"type": "Warning", "reason": "Failed", "message": "boom",
                          "involved": {"kind": "Pod", "name": "p", "namespace": "ns"}, "count": 4,
                          "first_seen": "2026-01-01T00:00:00Z", "last_seen": "2026-01-01T00:05:00Z",
                          "source": "kubelet, n1"}
    pv = project("PersistentVolume", {"metadata": {"name": "pv"}, "status": {"phase": "Bound"},
                                      "spec": {"capacity": {"storage": "10Gi"}, "storageClassName": "fast",
                                               "claimRef": {"namespace": "ns", "name": "data"}}})
    assert pv["phase"] == "Bound"
    assert pv["data"]["claim"] == "ns/data"
    assert pv["data"]["capacity"] == 10 * 1024**3
    pvc = project("PersistentVolumeClaim", {"metadata": {"name": "c", "namespace": "ns"},
                                            "spec": {"resources": {"requests": {"storage": "1Gi"}},
                                                     "volumeName": "pv"},
                                            "status": {"phase": "Bound", "capacity": {"storage": "2Gi"}}})
    assert pvc["data"]["requested"] == 1024**3
    assert pvc["data"]["capacity"] == 2 * 1024**3
    assert pvc["data"]["volume_name"] == "pv"
