"""``pods/exec`` over the real Kubernetes WebSocket channel protocol (v5, v4, v4.base64), seen by a raw
WebSocket client, the official Python client and the real kubectl (``exec -- env``, ``exec -i`` with
stdin piped, ``exec -it`` on a pseudo-terminal)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from sandbox.controllers.config import fast
from sandbox.testing import ClusterHandle, running_sandbox
from sandbox.tests.helpers import Raw

KUBECTL = shutil.which("kubectl")
SCRIPT = shutil.which("script")
NS = "ex"
V5, V4, V4B64 = "v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io"

MANIFEST: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": NS},
     "data": {"LEVEL": "debug", "app.conf": "port=80\n"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": NS},
     "data": {"PASSWORD": base64.b64encode(b"s3cret").decode()}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": NS, "labels": {"app": "web"}},
     "spec": {"containers": [
         {"name": "app", "image": "nginx:1.25",
          "env": [{"name": "MODE", "value": "prod"},
                  {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "LEVEL"}}},
                  {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
          "envFrom": [{"secretRef": {"name": "creds"}}],
          "volumeMounts": [{"name": "conf", "mountPath": "/etc/app"}]},
         {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "infinity"]}],
         "volumes": [{"name": "conf", "configMap": {"name": "cfg"}}]}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stuck", "namespace": NS},
     "spec": {"containers": [{"name": "app", "image": "nginx:doesnotexist"}]}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge", "namespace": NS},
     "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "640"}}}]}},
]


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHandle]:
    with running_sandbox(clusters=1, nodes=1, state_dir=tmp_path_factory.mktemp("exec"),
                         pod_shutdown_seconds=0.1) as fleet:
        fleet.in_cluster("cluster-1", lambda c: setattr(c.controllers, "config", fast()))
        h = fleet.cluster("cluster-1")
        raw = Raw(h)
        for obj in MANIFEST:
            kind = obj["kind"].lower() + "s"
            path = "/api/v1/namespaces" if kind == "namespaces" else f"/api/v1/namespaces/{NS}/{kind}"
            status, body, _ = raw.request("POST", path, obj)
            assert status == 201, body
        _wait_running(raw, "web")
        yield h


def _wait_running(raw: Raw, name: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, pod, _ = raw.request("GET", f"/api/v1/namespaces/{NS}/pods/{name}")
        if all((cs.get("state") or {}).get("running") for cs in pod.get("status", {}).get("containerStatuses") or [{}]):
            return
        time.sleep(0.1)
    raise AssertionError(f"pod {name} never ran")


def exec_path(pod: str, *command: str, container: str | None = "app", stdin: bool = False, stdout: bool = True,
              stderr: bool = True, tty: bool = False) -> str:
    q = [("command", c) for c in command]
    if container:
        q.append(("container", container))
    q += [(k, "true") for k, v in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr), ("tty", tty)) if v]
    from urllib.parse import urlencode
    return f"/api/v1/namespaces/{NS}/pods/{pod}/exec?{urlencode(q)}"


def connect(h: ClusterHandle, path: str, protocols: list[str], token: str | None = None) -> websocket.WebSocket:
    return websocket.create_connection(f"wss://127.0.0.1:{h.port}{path}", timeout=10,
                                       header=[f"Authorization: Bearer {token or h.token}"],
                                       subprotocols=protocols, sslopt={"ca_certs": str(h.ca_path)})


def read_all(ws: websocket.WebSocket, *, b64: bool = False) -> list[tuple[int, bytes]]:
    """Every (channel, payload) until the server closes."""
    frames: list[tuple[int, bytes]] = []
    while True:
        try:
            op, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            break
        if b64:
            text = data.decode()
            frames.append((int(text[0]), base64.b64decode(text[1:])))
        else:
            frames.append((data[0], bytes(data[1:])))
    return frames


def channel(frames: list[tuple[int, bytes]], ch: int) -> str:
    return b"".join(d for c, d in frames if c == ch).decode()


def status_of(frames: list[tuple[int, bytes]]) -> dict[str, Any]:
    errors = [d for c, d in frames if c == 3 and d]
    assert len(errors) == 1, frames
    parsed: dict[str, Any] = json.loads(errors[0])
    return parsed


def test_v5_env_files_and_exit_status(handle: ClusterHandle) -> None:
    ws = connect(handle, exec_path("web", "sh", "-c", "env; cat /etc/app/app.conf; ls /etc/app; exit 3"), [V5, V4])
    assert ws.subprotocol == V5
    frames = read_all(ws)
    assert frames[0] == (1, b"")  # the kubelet's "streams are up" signal on the lowest writable channel
    env = dict(line.split("=", 1) for line in channel(frames, 1).splitlines() if "=" in line)
    assert env["MODE"] == "prod"
    assert env["LEVEL"] == "debug"
    assert env["PASSWORD"] == "s3cret"
    assert env["NODE"] == "cluster-1-node-1"
    assert env["HOSTNAME"] == "web"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert "port=80\n" in channel(frames, 1)
    assert channel(frames, 1).endswith("LEVEL\napp.conf\n")
    assert status_of(frames) == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: command terminated with exit code 3",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}


def test_v5_stdin_and_close_signal(handle: ClusterHandle) -> None:
    ws = connect(handle, exec_path("web", "sh", stdin=True), [V5])
    ws.send_binary(b"\x00echo hello $MODE\nnosuch\n")
    ws.send_binary(b"\x00echo done\n")
    ws.send_binary(b"\xff\x00")  # v5 CLOSE of stdin: sh reads end of input and exits
    frames = read_all(ws)
    assert channel(frames, 1) == "hello prod\ndone\n"
    assert channel(frames, 2) == "sh: nosuch: not found\n"
    assert status_of(frames) == {"metadata": {}, "status": "Success"}


def test_v4_and_base64_variants(handle: ClusterHandle) -> None:
    ws = connect(handle, exec_path("web", "hostname"), [V4])
    assert ws.subprotocol == V4
    frames = read_all(ws)
    assert channel(frames, 1) == "web\n"
    assert status_of(frames)["status"] == "Success"
    ws = connect(handle, exec_path("web", "sh", "-c", "echo out; echo err >&2 || false"), [V4B64])
    assert ws.subprotocol == V4B64
    frames = read_all(ws, b64=True)
    assert "redirection" in channel(frames, 2)  # redirections are not simulated, and say so
    assert status_of(frames)["reason"] == "NonZeroExitCode"


def test_tty_prompt_echo_and_resize(handle: ClusterHandle) -> None:
    ws = connect(handle, exec_path("web", "/bin/sh", stdin=True, stderr=False, tty=True), [V5, V4])
    ws.send_binary(b"\x04" + json.dumps({"Width": 120, "Height": 40}).encode())
    ws.send_binary(b"\x00echo hx\x7fi\r")
    ws.send_binary(b"\x00stty size\r")
    ws.send_binary(b"\x00exit 5\r")
    frames = read_all(ws)
    out = channel(frames, 1)
    assert out.startswith("# echo hx\b \bi\r\nhi\r\n# ")
    assert "stty size\r\n40 120\r\n" in out
    assert status_of(frames)["details"] == {"causes": [{"reason": "ExitCode", "message": "5"}]}


def test_official_python_client(handle: ClusterHandle) -> None:
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(config_file=str(handle.kubeconfig)))
    try:
        out = stream(api.connect_get_namespaced_pod_exec, "web", NS, container="sidecar",
                     command=["sh", "-c", "echo $HOSTNAME; ps"], stdout=True, stderr=True, stdin=False, tty=False)
        assert out.splitlines()[0] == "web"
        assert "sleep infinity" in out  # PID 1 is the container's command
    finally:
        api.api_client.close()


def test_errors_before_the_upgrade(handle: ClusterHandle) -> None:
    raw = Raw(handle)
    status, body, _ = raw.request("GET", exec_path("web", "env"))
    assert (status, body["message"]) == (400, "Upgrade request required")
    cases = [
        (exec_path("nope", "env"), 404, 'pods "nope" not found'),
        (exec_path("web", "env", container="db"), 400, "container db is not valid for pod web"),
        (exec_path("web", "env", container=None), 400,
         "a container name must be specified for pod web, choose one of: [app sidecar]"),
        (exec_path("web"), 400, "you must specify at least 1 command"),
        (exec_path("web", "env", stdout=False, stderr=False), 400,
         "you must specify at least 1 of stdin, stdout, stderr"),
        (exec_path("huge", "env"), 400, "pod huge does not have a host assigned"),
    ]
    for path, code, message in cases:
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            connect(handle, path, [V5])
        assert info.value.status_code == code, path
        body = json.loads(info.value.resp_body or b"{}")
        assert body["kind"] == "Status"
        assert body["message"] == message


def test_container_not_running_is_an_error_status(handle: ClusterHandle) -> None:
    frames = read_all(connect(handle, exec_path("stuck", "env"), [V5]))
    cause = 'unable to upgrade connection: container not found ("app")'
    assert status_of(frames) == {"metadata": {}, "status": "Failure", "reason": "InternalError", "code": 500,
                                 "message": f"Internal error occurred: {cause}",
                                 "details": {"causes": [{"message": cause}]}}


def test_rbac_needs_create_on_pods_exec(handle: ClusterHandle) -> None:
    raw = Raw(handle)
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "dev", "namespace": NS}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "read", "namespace": NS},
         "rules": [{"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "dev-read", "namespace": NS},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read"},
         "subjects": [{"kind": "ServiceAccount", "name": "dev", "namespace": NS}]},
    ]
    for obj in objs:
        plural = {"ServiceAccount": "serviceaccounts", "Role": "roles", "RoleBinding": "rolebindings"}[obj["kind"]]
        prefix = "/api/v1" if plural == "serviceaccounts" else "/apis/rbac.authorization.k8s.io/v1"
        status, body, _ = raw.request("POST", f"{prefix}/namespaces/{NS}/{plural}", obj)
        assert status == 201, body
    status, tr, _ = raw.request("POST", f"/api/v1/namespaces/{NS}/serviceaccounts/dev/token",
                                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    token = tr["status"]["token"]
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        connect(handle, exec_path("web", "env"), [V5], token=token)
    assert info.value.status_code == 403
    assert json.loads(info.value.resp_body or b"{}")["message"] == (
        'pods "web" is forbidden: User "system:serviceaccount:ex:dev" cannot create resource "pods/exec" in API '
        'group "" in the namespace "ex"')
    status, body, _ = raw.request(
        "PATCH", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles/read",
        {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                   {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]},
        content_type="application/merge-patch+json")
    assert status == 200, body
    frames = read_all(connect(handle, exec_path("web", "hostname"), [V5], token=token))
    assert channel(frames, 1) == "web\n"


# ---------------------------------------------------------------- the real kubectl

def kubectl(h: ClusterHandle, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = {**os.environ, "KUBECONFIG": str(h.kubeconfig), "HOME": str(Path(h.kubeconfig).parent)}
    return subprocess.run([KUBECTL, "-n", NS, *args], capture_output=True, text=True, input=input_text, env=env,
                          timeout=40)


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; not run")
def test_kubectl_exec_env_and_exit_code(handle: ClusterHandle) -> None:
    out = kubectl(handle, "exec", "web", "-c", "app", "--", "env")
    assert out.returncode == 0, out.stderr
    assert "LEVEL=debug" in out.stdout.splitlines()
    assert "PASSWORD=s3cret" in out.stdout.splitlines()
    failed = kubectl(handle, "exec", "web", "-c", "app", "--", "sh", "-c", "echo partial; exit 3")
    assert failed.returncode == 3
    assert failed.stdout == "partial\n"
    assert "command terminated with exit code 3" in failed.stderr
    missing = kubectl(handle, "exec", "web", "-c", "app", "--", "frobnicate")
    assert missing.returncode != 0
    assert 'exec: "frobnicate": executable file not found in $PATH' in missing.stderr
    stuck = kubectl(handle, "exec", "stuck", "--", "env")
    assert stuck.returncode != 0
    assert 'unable to upgrade connection: container not found ("app")' in stuck.stderr


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; not run")
def test_kubectl_exec_stdin_piped(handle: ClusterHandle) -> None:
    out = kubectl(handle, "exec", "-i", "web", "-c", "app", "--", "sh",
                  input_text="echo hi $MODE\ncat /etc/app/app.conf\nexit 4\necho never\n")
    assert out.returncode == 4
    assert out.stdout == "hi prod\nport=80\n"


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None or SCRIPT is None, reason="kubectl or script(1) missing; not run")
def test_kubectl_exec_it_on_a_pty(handle: ClusterHandle) -> None:
    assert KUBECTL is not None
    assert SCRIPT is not None
    env = {**os.environ, "KUBECONFIG": str(handle.kubeconfig), "HOME": str(Path(handle.kubeconfig).parent)}
    # script(1) gives kubectl a pseudo-terminal, so it puts it in raw mode and sends a resize first
    out = subprocess.run([SCRIPT, "-qec", f"{KUBECTL} -n {NS} exec -it web -c app -- sh", "/dev/null"],
                         input=b"echo tty $HOSTNAME\nstty size\nexit 6\n", capture_output=True, env=env, timeout=40)
    text = out.stdout.decode(errors="replace")
    assert out.returncode == 6, text
    assert "# echo tty $HOSTNAME\r\ntty web\r\n" in text
    rows_cols = text.split("# stty size\r\n", 1)[1].split("\r\n", 1)[0].split()
    assert len(rows_cols) == 2
    assert all(n.isdigit() for n in rows_cols)


def test_deleting_the_pod_ends_the_session_with_137(handle: ClusterHandle) -> None:
    raw = Raw(handle)
    status, body, _ = raw.request("POST", f"/api/v1/namespaces/{NS}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "doomed", "namespace": NS},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}})
    assert status == 201, body
    _wait_running(raw, "doomed")
    ws = connect(handle, exec_path("doomed", "sh", stdin=True), [V5])
    ws.send_binary(b"\x00echo alive\n")
    assert ws.recv_data()[1] == b"\x01"  # the "streams are up" frame
    assert ws.recv_data()[1] == b"\x01alive\n"
    assert raw.request("DELETE", f"/api/v1/namespaces/{NS}/pods/doomed?gracePeriodSeconds=0")[0] == 200
    frames = read_all(ws)
    assert status_of(frames)["details"] == {"causes": [{"reason": "ExitCode", "message": "137"}]}
