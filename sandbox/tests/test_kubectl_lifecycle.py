"""Fidelity check with the real kubectl: a namespace stays Terminating while its content is
finalised (and a second delete is a 409), a Service switched back to ClusterIP loses its node
ports, an empty ConfigMap has no ``data``, LimitRange defaults cannot leave a request above its
limit, and ValidatingWebhookConfiguration / MutatingWebhookConfiguration are served."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.testing import SandboxFleet, running_sandbox

KUBECTL = shutil.which("kubectl")
pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; fidelity test not run"),
]


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_sandbox(clusters=1, nodes=2, state_dir=tmp_path_factory.mktemp("lifecycle"),
                         enable_controllers=False, pod_shutdown_seconds=0.2) as fleet:
        yield fleet.cluster("cluster-1").kubeconfig


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None, check: bool = True,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    out = subprocess.run([KUBECTL, *args], capture_output=True, text=True, input=input_text, env=env,
                         timeout=timeout)
    if check:
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


def get_json(kubeconfig: Path, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(kubectl(kubeconfig, "get", *args, "-o", "json").stdout)


HELD = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: held, namespace: doomed, finalizers: [example.com/hold]}
data: {a: b}
"""


def test_namespace_stays_terminating_until_its_content_is_finalised(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "namespace", "doomed")
    ns = get_json(kubeconfig, "namespace", "doomed")
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    kubectl(kubeconfig, "apply", "-f", "-", input_text=HELD)
    kubectl(kubeconfig, "create", "configmap", "plain", "-n", "doomed", "--from-literal=x=y")
    out = kubectl(kubeconfig, "delete", "namespace", "doomed", "--wait=false")
    assert 'namespace "doomed" deleted' in out.stdout
    deadline = time.time() + 5
    while time.time() < deadline:
        ns = get_json(kubeconfig, "namespace", "doomed")
        conditions = {c["type"]: c for c in ns["status"].get("conditions") or []}
        if conditions.get("NamespaceFinalizersRemaining", {}).get("status") == "True":
            break
        time.sleep(0.2)
    assert ns["status"]["phase"] == "Terminating"
    assert ns["metadata"]["deletionTimestamp"]
    assert ns["spec"]["finalizers"] == ["kubernetes"]  # content remains: the controller keeps its finalizer
    assert conditions["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
    assert conditions["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    assert conditions["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: configmaps. has 1 resource instances")
    # the object without a finalizer went; the one with it waits, marked for deletion
    names = kubectl(kubeconfig, "get", "configmaps", "-n", "doomed", "-o", "name").stdout.split()
    assert names == ["configmap/held"]
    assert get_json(kubeconfig, "configmap", "held", "-n", "doomed")["metadata"]["deletionTimestamp"]
    # nothing new may be created in it, and deleting it again is a conflict, as on a real server
    refused = kubectl(kubeconfig, "create", "configmap", "late", "-n", "doomed", check=False)
    assert refused.returncode != 0
    assert "because it is being terminated" in refused.stderr
    again = kubectl(kubeconfig, "delete", "namespace", "doomed", "--wait=false", check=False)
    assert again.returncode != 0
    assert "The system is ensuring all content is removed from this namespace" in again.stderr
    # the finalizer goes: the content goes, then the namespace
    kubectl(kubeconfig, "patch", "configmap", "held", "-n", "doomed", "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}')
    kubectl(kubeconfig, "wait", "--for=delete", "namespace/doomed", "--timeout=10s")
    gone = kubectl(kubeconfig, "get", "namespace", "doomed", check=False)
    assert "NotFound" in gone.stderr
