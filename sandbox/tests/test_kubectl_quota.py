"""Fidelity check: per-storage-class ResourceQuota as the real kubectl sees it (skipped without kubectl)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.testing import running_sandbox
from sandbox.tests.helpers import KUBECTL, kubectl

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; fidelity test not run"),
]

SETUP = """\
apiVersion: v1
kind: Namespace
metadata: {name: portal}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: sandbox.k8s.io/hostpath
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: portal-quota, namespace: portal}
spec:
  hard:
    fast.storageclass.storage.k8s.io/requests.storage: "0"
    standard.storageclass.storage.k8s.io/requests.storage: 10Gi
    standard.storageclass.storage.k8s.io/persistentvolumeclaims: "3"
    persistentvolumeclaims: "4"
    services.loadbalancers: "0"
"""


def claim(name: str, size: str, storage_class: str) -> str:
    return f"""\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}, namespace: portal}}
spec:
  storageClassName: {storage_class}
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: {size}}}}}
"""


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_sandbox(clusters=1, nodes=1, state_dir=tmp_path_factory.mktemp("kubectl-quota"),
                         enable_controllers=False) as fleet:
        yield fleet.cluster("cluster-1").kubeconfig


def test_storage_class_quota_with_kubectl(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "-f", "-", input_text=SETUP)
    refused = kubectl(kubeconfig, "create", "-f", "-", input_text=claim("data", "5Gi", "fast"), check=False)
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": persistentvolumeclaims "data" is forbidden: '
        "exceeded quota: portal-quota, requested: fast.storageclass.storage.k8s.io/requests.storage=5Gi, "
        "used: fast.storageclass.storage.k8s.io/requests.storage=0, "
        "limited: fast.storageclass.storage.k8s.io/requests.storage=0")
    kubectl(kubeconfig, "create", "-f", "-", input_text=claim("data", "6Gi", "standard"))
    too_big = kubectl(kubeconfig, "apply", "--server-side", "-f", "-", input_text=claim("more", "5Gi", "standard"),
                      check=False)
    assert too_big.returncode != 0
    assert ('persistentvolumeclaims "more" is forbidden: exceeded quota: portal-quota, '
            "requested: standard.storageclass.storage.k8s.io/requests.storage=5Gi, "
            "used: standard.storageclass.storage.k8s.io/requests.storage=6Gi, "
            "limited: standard.storageclass.storage.k8s.io/requests.storage=10Gi") in too_big.stderr
    lb = kubectl(kubeconfig, "-n", "portal", "create", "service", "loadbalancer", "web", "--tcp=80:8080", check=False)
    assert lb.returncode != 0
    assert ('services "web" is forbidden: exceeded quota: portal-quota, requested: services.loadbalancers=1, '
            "used: services.loadbalancers=0, limited: services.loadbalancers=0") in lb.stderr

    quota = json.loads(kubectl(kubeconfig, "-n", "portal", "get", "resourcequota", "portal-quota", "-o",
                               "json").stdout)
    assert quota["status"]["used"] == {"fast.storageclass.storage.k8s.io/requests.storage": "0",
                                       "standard.storageclass.storage.k8s.io/requests.storage": "6Gi",
                                       "standard.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
                                       "persistentvolumeclaims": "1", "services.loadbalancers": "0"}
    described = kubectl(kubeconfig, "-n", "portal", "describe", "quota", "portal-quota").stdout
    rows = {tuple(line.split()) for line in described.splitlines()}
    assert ("standard.storageclass.storage.k8s.io/requests.storage", "6Gi", "10Gi") in rows
    assert ("fast.storageclass.storage.k8s.io/requests.storage", "0", "0") in rows
    assert ("persistentvolumeclaims", "1", "4") in rows
