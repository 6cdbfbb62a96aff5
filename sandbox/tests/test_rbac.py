"""RBAC as kube-apiserver enforces it: a ServiceAccount token from the TokenRequest API may do what
the Roles bound to it allow, in the namespaces they are bound in, and nothing else (403 with the
API server's wording); self-subject access and rules reviews answer from the same rules; a
token dies with its ServiceAccount."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.testing import ClusterHandle, SandboxFleet, running_sandbox


@pytest.fixture(scope="module")
def rfleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFleet]:
    with running_sandbox(clusters=1, nodes=1, state_dir=tmp_path_factory.mktemp("rbac"),
                         enable_controllers=False) as f:
        yield f


def request(handle: ClusterHandle, method: str, path: str, *, token: str, body: Any = None) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cafile=str(handle.ca_path))
    conn = http.client.HTTPSConnection("127.0.0.1", handle.port, context=ctx, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def namespaced_reader(handle: ClusterHandle, namespace: str, sa: str) -> str:
    """A ServiceAccount in ``namespace`` that may get/list/watch pods and deployments there."""
    admin = handle.token
    for path, obj in (
        (f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": sa}}),
        (f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
         {"metadata": {"name": f"{sa}-read"},
          "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}]}),
        (f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
         {"metadata": {"name": f"{sa}-read"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{sa}-read"},
          "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]}),
    ):
        status, body = request(handle, "POST", path, token=admin, body=obj)
        assert status == 201, body
    status, body = request(handle, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token",
                           token=admin, body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                              "spec": {"expirationSeconds": 3600}})
    assert status == 201, body
    assert body["kind"] == "TokenRequest"
    assert body["status"]["expirationTimestamp"]
    return str(body["status"]["token"])


def test_namespaced_service_account(rfleet: SandboxFleet) -> None:
    handle = rfleet.cluster("cluster-1")
    token = namespaced_reader(handle, "default", "portal-reader")
    assert request(handle, "GET", "/api/v1/namespaces/default/pods", token=token)[0] == 200
    assert request(handle, "GET", "/apis/apps/v1/namespaces/default/deployments", token=token)[0] == 200
    assert request(handle, "GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1",
                   token=token)[0] == 200
    user = "system:serviceaccount:default:portal-reader"
    status, body = request(handle, "GET", "/api/v1/pods", token=token)
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == (f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" '
                               "at the cluster scope")
    status, body = request(handle, "GET", "/api/v1/namespaces/kube-system/pods", token=token)
    assert status == 403
    assert body["message"].endswith('in the namespace "kube-system"')
    status, body = request(handle, "GET", "/api/v1/nodes", token=token)
    assert (status, body["message"]) == (403, f'nodes is forbidden: User "{user}" cannot list resource "nodes" '
                                              'in API group "" at the cluster scope')
    status, body = request(handle, "DELETE", "/api/v1/namespaces/default/pods/x", token=token)
    assert status == 403
    assert 'cannot delete resource "pods"' in body["message"]
    # discovery and /version stay open to every authenticated identity
    assert request(handle, "GET", "/version", token=token)[0] == 200
    assert request(handle, "GET", "/api/v1", token=token)[0] == 200


def test_reviews_answer_from_the_same_rules(rfleet: SandboxFleet) -> None:
    handle = rfleet.cluster("cluster-1")
    token = namespaced_reader(handle, "default", "reviewer")

    def can(verb: str, resource: str, namespace: str = "", group: str = "") -> bool:
        status, body = request(handle, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                               token=token, body={"apiVersion": "authorization.k8s.io/v1",
                                                  "kind": "SelfSubjectAccessReview",
                                                  "spec": {"resourceAttributes": {
                                                      "verb": verb, "resource": resource, "group": group,
                                                      "namespace": namespace}}})
        assert status == 201
        return bool(body["status"]["allowed"])

    assert can("list", "pods", "default")
    assert can("list", "deployments", "default", "apps")
    assert not can("watch", "deployments", "default", "apps")
    assert not can("list", "pods")  # cluster scope
    assert not can("list", "pods", "kube-system")
    status, body = request(handle, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", token=token,
                           body={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                                 "spec": {"namespace": "default"}})
    assert status == 201
    rules = body["status"]["resourceRules"]
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]} in rules
    status, body = request(handle, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", token=token,
                           body={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                                 "spec": {"namespace": "kube-system"}})
    assert status == 201
    assert not any("pods" in r["resources"] for r in body["status"]["resourceRules"])


def test_cluster_role_binding_and_dead_tokens(rfleet: SandboxFleet) -> None:
    handle = rfleet.cluster("cluster-1")
    token = namespaced_reader(handle, "default", "nodes-reader")
    assert request(handle, "GET", "/api/v1/nodes", token=token)[0] == 403
    for path, obj in (
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles",
         {"metadata": {"name": "nodes-read"}, "rules": [{"apiGroups": [""], "resources": ["nodes"],
                                                           "verbs": ["list"]}]}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
         {"metadata": {"name": "nodes-read"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "nodes-read"},
          "subjects": [{"kind": "ServiceAccount", "name": "nodes-reader", "namespace": "default"}]}),
    ):
        assert request(handle, "POST", path, token=handle.token, body=obj)[0] == 201
    assert request(handle, "GET", "/api/v1/nodes", token=token)[0] == 200
    # a forged or tampered token, and the token of a deleted ServiceAccount, are 401
    assert request(handle, "GET", "/api/v1/nodes", token=token[:-2] + "xx")[0] == 401
    assert request(handle, "DELETE", "/api/v1/namespaces/default/serviceaccounts/nodes-reader",
                   token=handle.token)[0] == 200
    assert request(handle, "GET", "/api/v1/nodes", token=token)[0] == 401


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed; fidelity test not run")
def test_kubectl_agrees(rfleet: SandboxFleet, tmp_path: Path) -> None:
    """The real kubectl: create a ServiceAccount, a Role and a RoleBinding, mint a token
    (``kubectl create token``, protobuf bodies), then act as it: ``auth can-i`` and the 403s."""
    handle = rfleet.cluster("cluster-1")

    def kubectl(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=30,
                             env={**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)})
        if check:
            assert out.returncode == 0, f"kubectl {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out

    admin = handle.kubeconfig
    kubectl(admin, "create", "namespace", "team-k")
    kubectl(admin, "-n", "team-k", "create", "serviceaccount", "portal")
    kubectl(admin, "-n", "team-k", "create", "role", "read", "--verb=get,list,watch", "--resource=pods,services")
    kubectl(admin, "-n", "team-k", "create", "rolebinding", "read", "--role=read", "--serviceaccount=team-k:portal")
    kubectl(admin, "create", "clusterrole", "ns-read", "--verb=list", "--resource=namespaces")
    kubectl(admin, "create", "clusterrolebinding", "ns-read", "--clusterrole=ns-read",
            "--serviceaccount=team-k:portal")
    token = kubectl(admin, "-n", "team-k", "create", "token", "portal", "--duration=1h").stdout.strip()
    config = yaml.safe_load(admin.read_text())
    config["users"][0]["user"] = {"token": token}
    sa = tmp_path / "sa.kubeconfig"
    sa.write_text(yaml.safe_dump(config))
    assert kubectl(sa, "auth", "can-i", "list", "pods", "-n", "team-k").stdout.strip() == "yes"
    assert kubectl(sa, "auth", "can-i", "list", "pods", "-n", "default", check=False).stdout.strip() == "no"
    listing = kubectl(sa, "auth", "can-i", "--list", "-n", "team-k").stdout
    assert "pods" in listing
    assert "[get list watch]" in listing
    assert kubectl(sa, "get", "namespaces").returncode == 0
    assert kubectl(sa, "-n", "team-k", "get", "pods").returncode == 0
    denied = kubectl(sa, "get", "pods", "-A", check=False)
    assert denied.returncode != 0
    assert ('Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:team-k:portal" cannot '
            'list resource "pods" in API group "" at the cluster scope') in denied.stderr
