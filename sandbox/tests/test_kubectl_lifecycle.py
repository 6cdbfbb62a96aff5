"""Fidelity check with the real kubectl: a namespace stays Terminating while its content is
finalised (and a second delete is a 409), a Service switched back to ClusterIP loses its node
ports, an empty ConfigMap has no ``data``, LimitRange defaults cannot leave a request above its
limit, and ValidatingWebhookConfiguration / MutatingWebhookConfiguration are served."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.testing import running_sandbox
from sandbox.tests.helpers import KUBECTL, kubectl

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; fidelity test not run"),
]


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_sandbox(clusters=1, nodes=2, state_dir=tmp_path_factory.mktemp("lifecycle"),
                         enable_controllers=False, pod_shutdown_seconds=0.2) as fleet:
        yield fleet.cluster("cluster-1").kubeconfig


def get_json(kubeconfig: Path, *args: str) -> dict[str, Any]:
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


NODEPORT = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def test_service_back_to_cluster_ip_loses_its_node_ports(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "apply", "--server-side", "--field-manager=portal-test", "-f", "-", input_text=NODEPORT)
    svc = get_json(kubeconfig, "service", "web")
    assert svc["spec"]["ports"][0]["nodePort"] >= 30000
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"
    kubectl(kubeconfig, "apply", "--server-side", "--field-manager=portal-test", "-f", "-",
            input_text=NODEPORT.replace("type: NodePort", "type: ClusterIP"))
    svc = get_json(kubeconfig, "service", "web")
    assert svc["spec"]["type"] == "ClusterIP"
    assert "nodePort" not in svc["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in svc["spec"]
    # A node port asked for on a ClusterIP Service is refused, as the apiserver's validation does.
    refused = kubectl(kubeconfig, "apply", "-f", "-", check=False, input_text=NODEPORT.replace(
        "type: NodePort", "type: ClusterIP").replace("targetPort: 8080", "targetPort: 8080, nodePort: 30111"))
    assert refused.returncode != 0
    assert "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" in refused.stderr


def test_configmap_without_data_has_no_data_field(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "configmap", "empty")
    assert "data" not in get_json(kubeconfig, "configmap", "empty")
    kubectl(kubeconfig, "apply", "-f", "-", input_text="apiVersion: v1\nkind: ConfigMap\n"
            "metadata: {name: nulled, namespace: default}\ndata: null\nbinaryData: {}\n")
    stored = get_json(kubeconfig, "configmap", "nulled")
    assert "data" not in stored
    assert "binaryData" not in stored


LIMITS = """\
apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: limited}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
"""

GREEDY = """\
apiVersion: v1
kind: Pod
metadata: {name: greedy, namespace: limited}
spec:
  containers:
  - name: app
    image: podinfo:6
    resources: {requests: {cpu: "1"}}
"""


def test_a_request_above_the_limit_range_default_limit_is_refused(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "namespace", "limited")
    kubectl(kubeconfig, "apply", "-f", "-", input_text=LIMITS)
    refused = kubectl(kubeconfig, "apply", "-f", "-", input_text=GREEDY, check=False)
    assert refused.returncode != 0
    assert ('The Pod "greedy" is invalid: spec.containers[0].resources.requests: Invalid value: "1": '
            "must be less than or equal to cpu limit") in refused.stderr
    # Within the default limit it is admitted, with the limit LimitRanger gave it.
    kubectl(kubeconfig, "apply", "-f", "-", input_text=GREEDY.replace('cpu: "1"', "cpu: 400m"))
    pod = get_json(kubeconfig, "pod", "greedy", "-n", "limited")
    assert pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "500m"


WEBHOOK = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: ingress-nginx-admission}
webhooks:
- name: validate.nginx.ingress.kubernetes.io
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig:
    service: {namespace: ingress-nginx, name: ingress-nginx-controller-admission, path: /networking/v1/ingresses}
  rules:
  - apiGroups: [networking.k8s.io]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [ingresses]
"""


def test_webhook_configurations_are_served_stored_and_validated(kubeconfig: Path) -> None:
    resources = kubectl(kubeconfig, "api-resources", "--api-group=admissionregistration.k8s.io", "-o", "name").stdout
    assert "validatingwebhookconfigurations.admissionregistration.k8s.io" in resources
    assert "mutatingwebhookconfigurations.admissionregistration.k8s.io" in resources
    dry = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", input_text=WEBHOOK)
    assert "created (server dry run)" in dry.stdout
    kubectl(kubeconfig, "apply", "-f", "-", input_text=WEBHOOK)
    hook = get_json(kubeconfig, "validatingwebhookconfiguration", "ingress-nginx-admission")["webhooks"][0]
    assert (hook["failurePolicy"], hook["matchPolicy"], hook["timeoutSeconds"]) == ("Fail", "Equivalent", 10)
    assert hook["clientConfig"]["service"]["port"] == 443
    assert hook["rules"][0]["scope"] == "*"
    mutating = WEBHOOK.replace("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
    kubectl(kubeconfig, "apply", "-f", "-", input_text=mutating)
    assert get_json(kubeconfig, "mutatingwebhookconfiguration",
                    "ingress-nginx-admission")["webhooks"][0]["reinvocationPolicy"] == "Never"
    bad = kubectl(kubeconfig, "apply", "-f", "-", check=False, input_text=WEBHOOK.replace(
        "name: ingress-nginx-admission}", "name: bad}").replace("  sideEffects: None\n", "").replace(
        "name: validate.nginx.ingress.kubernetes.io", "name: validate"))
    assert bad.returncode != 0
    assert "webhooks[0].name: Invalid value: \"validate\": should be a domain with at least three segments" \
        in bad.stderr
    assert "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun" in bad.stderr
    kubectl(kubeconfig, "delete", "validatingwebhookconfiguration", "ingress-nginx-admission")


def test_a_terminating_namespace_finishes_after_a_restart_from_a_snapshot() -> None:
    """The namespace controller resumes: a snapshot taken while a namespace is Terminating loads
    into a store that finishes the deletion once the holding finalizer goes."""
    from sandbox.resources import CONFIGMAPS, NAMESPACES
    from sandbox.store import Store

    store = Store()
    store.create(NAMESPACES, {"metadata": {"name": "paused"}})
    store.create(CONFIGMAPS, {"metadata": {"name": "held", "namespace": "paused", "finalizers": ["example.com/x"]}})
    store.delete(NAMESPACES, None, "paused")
    namespace = store.get(NAMESPACES, None, "paused")
    assert namespace is not None
    assert namespace["status"]["phase"] == "Terminating"
    restored = Store()
    restored.load(store.dump())
    restored.mutate(CONFIGMAPS, "paused", "held", lambda cm: cm["metadata"].__delitem__("finalizers"))
    restored.load(restored.dump())  # no running loop here: the resumed sweep runs at once
    assert restored.get(NAMESPACES, None, "paused") is None
