"""Fidelity check: the real kubectl binary against a sandbox cluster (skipped, never faked, without kubectl)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sandbox.resources import EVENTS, PODS, REPLICASETS
from sandbox.testing import SandboxFleet, running_sandbox
from sandbox.tests.helpers import KUBECTL, kubectl

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; fidelity test not run"),
]

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: shop, labels: {app: hello}}
spec:
  replicas: 2
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: hello
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: shop}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: hello, namespace: shop}
data: {greeting: hi}
"""


@pytest.fixture(scope="module")
def kfleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFleet]:
    with running_sandbox(clusters=1, nodes=3, state_dir=tmp_path_factory.mktemp("kubectl"),
                         enable_controllers=False, pod_shutdown_seconds=0.2) as f:
        yield f


@pytest.fixture(scope="module")
def kubeconfig(kfleet: SandboxFleet) -> Path:
    return kfleet.cluster("cluster-1").kubeconfig


def test_get_nodes_and_pods_wide(kubeconfig: Path, kfleet: SandboxFleet) -> None:
    kfleet.in_cluster("cluster-1", lambda c: c.store.create(PODS, {
        "metadata": {"name": "sys", "namespace": "kube-system"},
        "spec": {"nodeName": "cluster-1-node-1", "containers": [{"name": "c", "image": "pause:3.9"}]}}))
    out = kubectl(kubeconfig, "get", "nodes,pods", "-A", "-o", "wide").stdout
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert "INTERNAL-IP" in lines[0]
    assert "CONTAINER-RUNTIME" in lines[0]
    assert sum(1 for line in lines if line.startswith("node/cluster-1-node-")) == 3
    assert "Ready" in lines[1]
    assert "v1.32.4" in lines[1]
    pod_header = next(line for line in lines if line.startswith("NAMESPACE"))
    assert pod_header.split()[:6] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "NOMINATED NODE" in pod_header
    pod_line = next(line for line in lines if "pod/sys" in line)
    assert pod_line.split()[0] == "kube-system"
    assert "cluster-1-node-1" in pod_line


def test_create_namespace_and_server_side_apply(kubeconfig: Path) -> None:
    assert "namespace/shop created" in kubectl(kubeconfig, "create", "namespace", "shop").stdout
    again = kubectl(kubeconfig, "create", "namespace", "shop", check=False)
    assert again.returncode != 0
    assert "AlreadyExists" in again.stderr
    out = kubectl(kubeconfig, "apply", "--server-side", "-f", "-", input_text=MANIFEST).stdout
    assert "deployment.apps/hello serverside-applied" in out
    assert "service/hello serverside-applied" in out
    assert "configmap/hello serverside-applied" in out
    dep = json.loads(kubectl(kubeconfig, "get", "deployment", "hello", "-n", "shop", "-o", "json",
                             "--show-managed-fields").stdout)
    assert dep["metadata"]["managedFields"][0]["manager"] == "kubectl"
    assert dep["metadata"]["managedFields"][0]["operation"] == "Apply"
    # a change by another manager, then a conflicting apply without --force-conflicts
    kubectl(kubeconfig, "scale", "deployment", "hello", "-n", "shop", "--replicas=5")
    conflict = kubectl(kubeconfig, "apply", "--server-side", "-f", "-", input_text=MANIFEST, check=False)
    assert conflict.returncode != 0
    assert "Apply failed with 1 conflict" in conflict.stderr
    assert ".spec.replicas" in conflict.stderr
    forced = kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "-", input_text=MANIFEST)
    assert "serverside-applied" in forced.stdout
    assert kubectl(kubeconfig, "get", "deploy", "hello", "-n", "shop", "-o",
                   "jsonpath={.spec.replicas}").stdout == "2"


def test_describe_pod(kubeconfig: Path, kfleet: SandboxFleet) -> None:
    kubectl(kubeconfig, "apply", "-f", "-", input_text="""\
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: shop, labels: {app: solo}}
spec:
  containers: [{name: c, image: "busybox:1.36", resources: {requests: {cpu: 100m, memory: 64Mi}}}]
""")
    def record_event(c: object) -> None:
        store = c.store  # type: ignore[attr-defined]
        uid = store.get(PODS, "shop", "solo")["metadata"]["uid"]
        store.create(EVENTS, {"metadata": {"name": "solo.1", "namespace": "shop"}, "type": "Warning",
                              "reason": "FailedScheduling", "message": "0/3 nodes are available", "count": 1,
                              "source": {"component": "default-scheduler"},
                              "involvedObject": {"kind": "Pod", "name": "solo", "namespace": "shop",
                                                 "apiVersion": "v1", "uid": uid}})

    kfleet.in_cluster("cluster-1", record_event)
    out = kubectl(kubeconfig, "describe", "pod", "solo", "-n", "shop").stdout
    assert "Name:             solo" in out
    assert "QoS Class:        Burstable" in out
    assert "cpu:        100m" in out
    assert "FailedScheduling" in out
    assert "0/3 nodes are available" in out


def test_api_resources_and_auth(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "api-resources").stdout
    rows = [line.split() for line in out.splitlines()[1:]]
    assert {"pods", "deployments", "horizontalpodautoscalers", "ingresses", "clusterroles", "storageclasses",
            "poddisruptionbudgets", "cronjobs"} <= {r[0] for r in rows}
    assert ["pods", "po", "v1", "true", "Pod"] in rows
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows
    assert ["nodes", "metrics.k8s.io/v1beta1", "false", "NodeMetrics"] in rows
    assert kubectl(kubeconfig, "auth", "can-i", "*", "*").stdout.strip() == "yes"


def test_delete_with_cascade(kubeconfig: Path, kfleet: SandboxFleet) -> None:
    dep = json.loads(kubectl(kubeconfig, "get", "deployment", "hello", "-n", "shop", "-o", "json").stdout)
    labels = {"app": "hello"}
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello", "uid": dep["metadata"]["uid"],
             "controller": True, "blockOwnerDeletion": True}
    def make_dependents(c: object) -> None:
        store = c.store  # type: ignore[attr-defined]
        rs = store.create(REPLICASETS, {"metadata": {"name": "hello-1", "namespace": "shop", "labels": labels,
                                                     "ownerReferences": [owner]},
                                        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                                                 "template": {"metadata": {"labels": labels}, "spec": {
                                                     "containers": [{"name": "hello", "image": "nginx:1.27"}]}}}})
        store.create(PODS, {"metadata": {"name": "hello-1-abcde", "namespace": "shop", "labels": labels,
                                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                              "name": "hello-1", "uid": rs["metadata"]["uid"],
                                                              "controller": True}]},
                            "spec": {"nodeName": "cluster-1-node-2",
                                     "containers": [{"name": "hello", "image": "nginx:1.27"}]}})

    kfleet.in_cluster("cluster-1", make_dependents)
    out = kubectl(kubeconfig, "delete", "deployment", "hello", "-n", "shop", "--cascade=foreground").stdout
    assert 'deployment.apps "hello" deleted' in out
    deadline = time.time() + 10
    while time.time() < deadline:
        left = kubectl(kubeconfig, "get", "rs,pods", "-n", "shop", "-l", "app=hello", "-o", "name").stdout.split()
        if not left:
            break
        time.sleep(0.2)
    assert left == []
    assert "configmap/hello" in kubectl(kubeconfig, "get", "cm", "-n", "shop", "-o", "name").stdout
    out = kubectl(kubeconfig, "delete", "namespace", "shop").stdout
    assert 'namespace "shop" deleted' in out
    assert "shop" not in kubectl(kubeconfig, "get", "ns", "-o", "name").stdout


def test_bad_manifest_codes(kubeconfig: Path) -> None:
    bad = kubectl(kubeconfig, "create", "configmap", "Bad_Name", check=False)
    assert bad.returncode != 0
    assert "Invalid value" in bad.stderr
    missing = kubectl(kubeconfig, "apply", "--server-side", "-f", "-", check=False,
                      input_text="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nope}\n")
    assert missing.returncode != 0
    assert 'namespaces "nope" not found' in missing.stderr


def test_imperative_create_commands(kubeconfig: Path) -> None:
    """kubectl's typed clients send protobuf bodies; the sandbox decodes them like an apiserver."""
    kubectl(kubeconfig, "create", "namespace", "imperative")
    kubectl(kubeconfig, "create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=8080",
            "-n", "imperative")
    dep = json.loads(kubectl(kubeconfig, "get", "deploy", "web", "-n", "imperative", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    kubectl(kubeconfig, "create", "job", "once", "--image=busybox:1.36", "-n", "imperative", "--", "echo", "hi")
    job = json.loads(kubectl(kubeconfig, "get", "job", "once", "-n", "imperative", "-o", "json").stdout)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    kubectl(kubeconfig, "create", "service", "clusterip", "web", "--tcp=80:8080", "-n", "imperative")
    svc = json.loads(kubectl(kubeconfig, "get", "svc", "web", "-n", "imperative", "-o", "json").stdout)
    assert svc["spec"]["ports"][0]["port"] == 80
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    kubectl(kubeconfig, "create", "configmap", "cfg", "--from-literal=a=b", "-n", "imperative")
    kubectl(kubeconfig, "create", "secret", "generic", "sec", "--from-literal=a=b", "-n", "imperative")
    assert kubectl(kubeconfig, "get", "secret", "sec", "-n", "imperative", "-o",
                   "jsonpath={.data.a}").stdout == "Yg=="


def test_client_certificate_kubeconfig(kfleet: SandboxFleet) -> None:
    """kubectl with ``<cluster>-cert.kubeconfig`` (client certificate, O=system:masters) is admin,
    also after the token rotated; a certificate without that group is authenticated but forbidden."""
    handle = kfleet.cluster("cluster-1")
    out = kubectl(handle.cert_kubeconfig, "get", "nodes").stdout
    assert "cluster-1-node-1" in out
    kfleet.rotate_token("cluster-1")
    assert "cluster-1-node-1" in kubectl(handle.cert_kubeconfig, "get", "nodes").stdout
    assert kubectl(handle.cert_kubeconfig, "auth", "can-i", "list", "pods").stdout.strip() == "yes"

    cert, key = handle.mint_client_cert("jane", ["dev"])
    config = yaml.safe_load(handle.cert_kubeconfig.read_text())
    config["users"][0]["user"] = {"client-certificate-data": base64.b64encode(cert).decode(),
                                  "client-key-data": base64.b64encode(key).decode()}
    jane = handle.cert_kubeconfig.with_name("jane.kubeconfig")
    jane.write_text(yaml.safe_dump(config))
    denied = kubectl(jane, "get", "nodes", check=False)
    assert denied.returncode != 0
    assert 'User "jane" cannot list resource "nodes"' in denied.stderr
    assert kubectl(jane, "auth", "can-i", "list", "pods", check=False).stdout.strip() == "no"
    assert "gitVersion" in kubectl(jane, "version", "-o", "json").stdout
