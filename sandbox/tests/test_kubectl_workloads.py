"""Fidelity of the simulated behaviour as the real kubectl sees it (skipped, never faked, without kubectl).

Rollouts, scaling, set image + undo, watching pods, following logs, top, describe with events and drain,
against a sandbox cluster whose controllers run with the fast test timings.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.controllers.config import fast
from sandbox.testing import SandboxFleet, running_sandbox

KUBECTL = shutil.which("kubectl")
pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; fidelity test not run"),
]
NS = "apps"

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps, labels: {app: web}}
spec:
  replicas: 2
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{name: http, containerPort: 80}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
"""


@pytest.fixture(scope="module")
def kfleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFleet]:
    with running_sandbox(clusters=1, nodes=3, state_dir=tmp_path_factory.mktemp("kubectl-workloads"),
                         pod_shutdown_seconds=0.2) as f:
        def speed_up(c: Any) -> None:
            c.controllers.config = fast()

        f.in_cluster("cluster-1", speed_up)
        yield f


@pytest.fixture(scope="module")
def kubeconfig(kfleet: SandboxFleet) -> Path:
    path = kfleet.cluster("cluster-1").kubeconfig
    kubectl(path, "apply", "-f", "-", input_text=MANIFEST)
    kubectl(path, "rollout", "status", "deployment/web", "-n", NS, "--timeout=30s")
    return path


def _env(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None, check: bool = True,
            timeout: float = 40) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    out = subprocess.run([KUBECTL, *args], capture_output=True, text=True, input=input_text, env=_env(kubeconfig),
                         timeout=timeout)
    if check:
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


def read_lines(proc: subprocess.Popen[str], want: int, timeout: float, until: str | None = None) -> list[str]:
    """Read lines from a streaming kubectl until ``want`` lines (or one containing ``until``) or the deadline.

    A reader thread feeds a queue, so lines already buffered by Python are never missed (``select`` on
    the pipe would not see them).
    """
    assert proc.stdout is not None
    q: queue.Queue[str] | None = getattr(proc, "_lines", None)
    if q is None:
        q = queue.Queue()
        stream = proc.stdout

        def pump(out: queue.Queue[str]) -> None:
            for line in stream:
                out.put(line.rstrip("\n"))

        threading.Thread(target=pump, args=(q,), daemon=True).start()
        proc._lines = q  # type: ignore[attr-defined]
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(lines) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            line = q.get(timeout=min(left, 0.2))
        except queue.Empty:
            if proc.poll() is not None and q.empty():
                break
            continue
        lines.append(line)
        if until is not None and until in line:
            break
    return lines


def pods(kubeconfig: Path, selector: str = "app=web") -> list[dict[str, Any]]:
    items = json.loads(kubectl(kubeconfig, "get", "pods", "-n", NS, "-l", selector, "-o", "json").stdout)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def test_rollout_status_and_scale(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "rollout", "status", "deployment/web", "-n", NS, "--timeout=30s").stdout
    assert 'deployment "web" successfully rolled out' in out
    assert "deployment.apps/web scaled" in kubectl(kubeconfig, "scale", "deployment/web", "-n", NS,
                                                   "--replicas=4").stdout
    kubectl(kubeconfig, "rollout", "status", "deployment/web", "-n", NS, "--timeout=30s")
    running = [p for p in pods(kubeconfig) if p["status"]["phase"] == "Running"]
    assert len(running) == 4
    table = kubectl(kubeconfig, "get", "deploy", "web", "-n", NS).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[1:4] == ["4/4", "4", "4"]
    ep = json.loads(kubectl(kubeconfig, "get", "endpoints", "web", "-n", NS, "-o", "json").stdout)
    assert len(ep["subsets"][0]["addresses"]) == 4
    assert ep["subsets"][0]["ports"][0]["port"] == 80
    kubectl(kubeconfig, "scale", "deployment/web", "-n", NS, "--replicas=2")
    kubectl(kubeconfig, "rollout", "status", "deployment/web", "-n", NS, "--timeout=30s")


def test_set_image_history_and_undo(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "set", "image", "deployment/web", "web=nginx:1.26", "-n", NS)
    out = kubectl(kubeconfig, "rollout", "status", "deployment/web", "-n", NS, "--timeout=30s").stdout
    assert "successfully rolled out" in out
    assert {p["spec"]["containers"][0]["image"] for p in pods(kubeconfig)} == {"nginx:1.26"}
    history = kubectl(kubeconfig, "rollout", "history", "deployment/web", "-n", NS).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    assert "rolled back" in kubectl(kubeconfig, "rollout", "undo", "deployment/web", "-n", NS).stdout
    kubectl(kubeconfig, "rollout", "status", "deployment/web", "-n", NS, "--timeout=30s")
    assert {p["spec"]["containers"][0]["image"] for p in pods(kubeconfig)} == {"nginx:1.25"}
    history = kubectl(kubeconfig, "rollout", "history", "deployment/web", "-n", NS).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]
    rs = json.loads(kubectl(kubeconfig, "get", "rs", "-n", NS, "-l", "app=web", "-o", "json").stdout)["items"]
    assert len(rs) == 2
    revisions = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r["spec"]["replicas"] for r in rs}
    assert revisions == {"3": 2, "2": 0}


def test_get_pods_watch_sees_changes(kubeconfig: Path) -> None:
    assert KUBECTL is not None
    proc = subprocess.Popen([KUBECTL, "get", "pods", "-n", NS, "-w", "--request-timeout=20s"], env=_env(kubeconfig),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        initial = read_lines(proc, 3, timeout=10)
        assert initial[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        kubectl(kubeconfig, "run", "watched", "-n", NS, "--image=busybox:1.36", "--restart=Never", "--",
                "sleep", "1")
        seen = read_lines(proc, 20, timeout=15, until="Completed")
        mine = [line for line in seen if line.startswith("watched ")]
        statuses = [line.split()[2] for line in mine]
        assert "Pending" in statuses or "ContainerCreating" in statuses
        assert statuses[-1] == "Completed"
    finally:
        proc.kill()
        proc.wait(5)


def test_logs_follow(kubeconfig: Path) -> None:
    assert KUBECTL is not None
    name = pods(kubeconfig)[0]["metadata"]["name"]
    # The container writes a line a second from its start: wait until it has written two.
    deadline = time.monotonic() + 15
    while True:
        tail = kubectl(kubeconfig, "logs", name, "-n", NS, "--tail=2", "--timestamps").stdout.splitlines()
        if len(tail) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(tail) == 2
    assert tail[0][:4].isdigit()
    assert tail[0].split()[0].endswith("Z")
    proc = subprocess.Popen([KUBECTL, "logs", "-f", name, "-n", NS, "--tail=1"], env=_env(kubeconfig),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = read_lines(proc, 3, timeout=10)
        assert len(lines) == 3, lines
    finally:
        proc.kill()
        proc.wait(5)
    bad = kubectl(kubeconfig, "logs", name, "-n", NS, "-c", "nope", check=False)
    assert bad.returncode != 0
    assert f"container nope is not valid for pod {name}" in bad.stderr


def test_top_nodes_and_pods(kubeconfig: Path) -> None:
    nodes = kubectl(kubeconfig, "top", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert [line.split()[0] for line in nodes[1:]] == [f"cluster-1-node-{i}" for i in (1, 2, 3)]
    assert nodes[1].split()[1].endswith("m")
    assert nodes[1].split()[3].endswith("Mi")
    top = kubectl(kubeconfig, "top", "pods", "-n", NS).stdout.splitlines()
    assert top[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert {line.split()[0] for line in top[1:]} >= {p["metadata"]["name"] for p in pods(kubeconfig)}
    containers = kubectl(kubeconfig, "top", "pods", "-n", NS, "--containers").stdout.splitlines()
    assert containers[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]


def test_describe_pod_shows_kubelet_events(kubeconfig: Path) -> None:
    name = pods(kubeconfig)[0]["metadata"]["name"]
    out = kubectl(kubeconfig, "describe", "pod", name, "-n", NS).stdout
    assert "Status:           Running" in out
    assert "IP:               10.244." in out
    events = out[out.index("Events:"):]
    for reason, source in (("Scheduled", "default-scheduler"), ("Pulled", "kubelet"), ("Created", "kubelet"),
                           ("Started", "kubelet")):
        assert any(reason in line and source in line for line in events.splitlines()), (reason, events)
    assert f"Successfully assigned {NS}/{name} to cluster-1-node-" in events


def test_crashloop_and_unschedulable_seen_by_kubectl(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "run", "crashy", "-n", NS, "--image=busybox:crashloop")
    kubectl(kubeconfig, "run", "huge", "-n", NS, "--image=nginx", "--overrides",
            json.dumps({"spec": {"containers": [{"name": "huge", "image": "nginx",
                                                 "resources": {"requests": {"cpu": "64"}}}]}}))
    deadline = time.monotonic() + 15
    status = ""
    while time.monotonic() < deadline:
        line = kubectl(kubeconfig, "get", "pod", "crashy", "-n", NS, "--no-headers").stdout.split()
        status, restarts = line[2], line[3]
        if status == "CrashLoopBackOff" and int(restarts) >= 1:
            break
        time.sleep(0.2)
    assert status == "CrashLoopBackOff"
    describe = kubectl(kubeconfig, "describe", "pod", "huge", "-n", NS).stdout
    assert "FailedScheduling" in describe
    assert "0/3 nodes are available: 3 Insufficient cpu." in describe
    kubectl(kubeconfig, "delete", "pod", "crashy", "huge", "-n", NS, "--wait=false")


def test_cordon_and_drain(kubeconfig: Path) -> None:
    node = pods(kubeconfig)[0]["spec"]["nodeName"]
    out = kubectl(kubeconfig, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--force",
                  "--timeout=30s").stdout
    assert f"node/{node} cordoned" in out
    assert f"node/{node} drained" in out
    kubectl(kubeconfig, "rollout", "status", "deployment/web", "-n", NS, "--timeout=30s")
    assert all(p["spec"]["nodeName"] != node for p in pods(kubeconfig))
    nodes = kubectl(kubeconfig, "get", "node", node, "--no-headers").stdout
    assert "SchedulingDisabled" in nodes
    kubectl(kubeconfig, "uncordon", node)


STATEFUL = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apps}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: pg, image: "postgres:16"}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: apps}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: "agent:1"}]}
"""


def test_statefulset_and_daemonset_rollout_status(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "apply", "-f", "-", input_text=STATEFUL)
    out = kubectl(kubeconfig, "rollout", "status", "statefulset/db", "-n", NS, "--timeout=30s").stdout
    # partition defaults to 0, so kubectl reports a partitioned rollout, as against a real cluster
    assert "partitioned roll out complete: 2 new pods have been updated" in out
    out = kubectl(kubeconfig, "rollout", "status", "daemonset/agent", "-n", NS, "--timeout=30s").stdout
    assert 'daemon set "agent" successfully rolled out' in out
    pvcs = kubectl(kubeconfig, "get", "pvc", "-n", NS, "--no-headers").stdout.splitlines()
    assert sorted(line.split()[0] for line in pvcs) == ["data-db-0", "data-db-1"]
    assert all(line.split()[1] == "Bound" for line in pvcs)
    kubectl(kubeconfig, "set", "image", "statefulset/db", "pg=postgres:17", "-n", NS)
    kubectl(kubeconfig, "rollout", "status", "statefulset/db", "-n", NS, "--timeout=30s")
    images = kubectl(kubeconfig, "get", "pods", "-n", NS, "-l", "app=db", "-o",
                     "jsonpath={.items[*].spec.containers[0].image}").stdout.split()
    assert images == ["postgres:17", "postgres:17"]
