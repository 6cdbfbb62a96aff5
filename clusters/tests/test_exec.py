"""Pod shells against the sandbox over HTTPS and the real channel protocol (issue 15).

The client (clusters/kube/exec.py) alone: ``env`` non-interactively under v5 and v4, with a token
and with a client certificate, and the refusals as typed errors. Then the relay (``/ws/exec/``)
through the real ASGI application, Redis channel layer and PostgreSQL: an interactive ``/bin/sh``
that echoes and exits 3, the audit record it leaves, a viewer refused, a foreign Origin refused,
a container that does not exist, a pod that does not run, an idle shell closed, keystrokes
recorded only when the setting says so.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from clusters.kube import errors as kube
from clusters.kube import exec as kexec
from clusters.kube.connection import spec_from_kubeconfig
from clusters.models import Cluster
from clusters.tests.helpers import other_ca, register
from portal.asgi import application
from portal.models import AuditRecord
from portal.testing import make_user, unique, wait_for
from sandbox.resources import CONFIGMAPS, NAMESPACES, PODS

SANDBOX = "cluster-1"
_n = itertools.count(1)
ORIGIN = "http://testserver"
BROWSER_IP = "203.0.113.9"


# ---------------------------------------------------------------------------- the pod


def make_pod(fleet: Any, *, running: bool = True) -> tuple[str, str]:
    """A namespace with a pod whose container ``app`` has a literal env var and one from a
    ConfigMap; a pod that never runs (its node selector matches no node) when ``running`` is False."""
    ns, name = unique("exec"), f"shell-{next(_n)}"

    def create(c: Any) -> None:
        c.store.create(NAMESPACES, {"metadata": {"name": ns}})
        c.store.create(CONFIGMAPS, {"metadata": {"name": "settings", "namespace": ns}, "data": {"mode": "calm"}})
        spec: dict[str, Any] = {"containers": [
            {"name": "app", "image": "busybox:1.36",
             "env": [{"name": "GREETING", "value": "hello-from-the-spec"},
                     {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}]},
            {"name": "sidecar", "image": "busybox:1.36"}]}
        if not running:
            spec["nodeSelector"] = {"nowhere": "true"}
        c.store.create(PODS, {"metadata": {"name": name, "namespace": ns}, "spec": spec})

    fleet.in_cluster(SANDBOX, create)
    if running:
        def all_running() -> bool:
            pod = fleet.in_cluster(SANDBOX, lambda c: c.store.get(PODS, ns, name))
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            return len(statuses) == 2 and all("running" in (s.get("state") or {}) for s in statuses)

        wait_for(all_running, timeout=30, what="the pod's containers running")
    return ns, name


def sandbox_spec(fleet: Any, *, certificate: bool = False) -> Any:
    handle = fleet.cluster(SANDBOX)
    return spec_from_kubeconfig((handle.cert_kubeconfig if certificate else handle.kubeconfig).read_text())[0]


async def run(session: kexec.ExecSession, *, stdin: bytes = b"") -> tuple[str, str, kexec.ExitStatus | None]:
    """Feed ``stdin`` (then end it), collect the output until the exit status."""
    if stdin:
        await session.send_stdin(stdin)
        await session.close_stdin()
    out, err, status = b"", b"", None
    async with asyncio.timeout(15):
        async for event in session.events():
            if isinstance(event, kexec.Output):
                if event.channel == kexec.STDOUT:
                    out += event.data
                else:
                    err += event.data
            else:
                status = event
    await session.close()
    return out.decode(), err.decode(), status


# ---------------------------------------------------------------------------- the client


@pytest.mark.asyncio
@pytest.mark.parametrize("certificate", [False, True], ids=["token", "client-certificate"])
async def test_env_runs_non_interactively_over_v5(sandbox: Any, certificate: bool) -> None:
    ns, name = await sync_to_async(make_pod)(sandbox)
    spec = sandbox_spec(sandbox, certificate=certificate)
    session = await kexec.open_exec(spec, namespace=ns, pod=name, container="app", command=["env"], stdin=False,
                                    tty=False)
    assert session.protocol == kexec.V5
    out, err, status = await run(session)
    assert "GREETING=hello-from-the-spec\n" in out
    assert "MODE=calm\n" in out  # the ConfigMap reference resolved
    assert f"HOSTNAME={name}\n" in out
    assert err == ""
    assert status == kexec.ExitStatus(0)


@pytest.mark.asyncio
async def test_v4_exit_code_and_stderr(sandbox: Any) -> None:
    ns, name = await sync_to_async(make_pod)(sandbox)
    session = await kexec.open_exec(sandbox_spec(sandbox), namespace=ns, pod=name, container="app",
                                    command=["sh", "-c", "echo out; no-such-program; exit 7"], stdin=False, tty=False,
                                    subprotocols=(kexec.V4,))
    assert session.protocol == kexec.V4
    out, err, status = await run(session)
    assert out == "out\n"
    assert "no-such-program" in err
    assert "not found" in err
    assert status is not None
    assert status.code == 7
    assert "exit code 7" in status.message


@pytest.mark.asyncio
async def test_stdin_ends_with_the_v5_close_frame(sandbox: Any) -> None:
    ns, name = await sync_to_async(make_pod)(sandbox)
    session = await kexec.open_exec(sandbox_spec(sandbox), namespace=ns, pod=name, container="app",
                                    command=["/bin/sh"], stdin=True, tty=False)
    out, _, status = await run(session, stdin=b"echo piped $GREETING\nexit 0\n")
    assert "piped hello-from-the-spec" in out
    assert status == kexec.ExitStatus(0)


@pytest.mark.asyncio
async def test_refusals_are_typed_errors(sandbox: Any) -> None:
    ns, name = await sync_to_async(make_pod)(sandbox)
    spec = sandbox_spec(sandbox)
    with pytest.raises(kube.NotFound):
        await kexec.open_exec(spec, namespace=ns, pod="no-such-pod", command=["env"], stdin=False, tty=False)
    with pytest.raises(kube.KubeError) as raised:
        await kexec.open_exec(spec, namespace=ns, pod=name, container="nope", command=["env"], stdin=False, tty=False)
    assert raised.value.status == 400
    assert "nope" in str(raised.value)
    bad = spec_from_kubeconfig(sandbox.cluster(SANDBOX).kubeconfig.read_text().replace(
        sandbox.cluster(SANDBOX).token, "not-the-token"))[0]
    with pytest.raises(kube.Unauthorized):
        await kexec.open_exec(bad, namespace=ns, pod=name, command=["env"], stdin=False, tty=False)
    # A CA that did not sign the server's certificate: TLS verification fails, nothing is sent.
    with pytest.raises(kube.TLSVerificationFailed):
        await kexec.open_exec(replace(spec, ca_pem=other_ca()), namespace=ns, pod=name, command=["env"],
                              stdin=False, tty=False)


# ---------------------------------------------------------------------------- the relay


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def shell(user: Any | None, query: dict[str, Any], *, origin: str = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await sync_to_async(session_cookie)(user)}".encode()))
    path = "/ws/exec/?" + "&".join(f"{k}={v}" for k, v in query.items())
    communicator = WebsocketCommunicator(application, path, headers=headers)
    communicator.scope["client"] = (BROWSER_IP, 50000)  # as uvicorn puts it in the scope
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def frames_until_close(communicator: WebsocketCommunicator, timeout: float = 15) -> tuple[list[dict[str, Any]], int]:
    """Every frame the server sends, and its close code."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            message = await communicator.receive_output(timeout=timeout)
            if message["type"] == "websocket.close":
                return frames, message.get("code", 1000)
            frames.append(json.loads(message["text"]))


async def read_until(communicator: WebsocketCommunicator, text: str, timeout: float = 10) -> str:
    seen = ""
    async with asyncio.timeout(timeout):
        while text not in seen:
            frame = await communicator.receive_json_from(timeout=timeout)
            assert frame["type"] in ("stdout", "stderr"), frame
            seen += frame["data"]
    return seen


def audit_records(**detail: Any) -> list[AuditRecord]:
    records = AuditRecord.objects.filter(action="pod.exec").order_by("pk")
    return [r for r in records if all(r.detail.get(k) == v for k, v in detail.items())]


@pytest.fixture
def cluster(sandbox: Any, transactional_db: None) -> Cluster:
    return register(sandbox, SANDBOX)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_interactive_shell_echoes_and_exits_with_its_code(sandbox: Any, cluster: Cluster, settings: Any) -> None:
    settings.PORTAL_EXEC_RECORD_INPUT = False
    operator = await sync_to_async(make_user)("exec-oper", role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app",
                                "command": "/bin/sh"})
    ready = await ws.receive_json_from(timeout=15)
    assert ready["type"] == "ready", ready
    assert ready["protocol"] == "v5.channel.k8s.io"
    assert ready["container"] == "app"
    await ws.send_json_to({"type": "resize", "cols": 100, "rows": 30})
    await ws.send_json_to({"type": "stdin", "data": "echo hi\r"})
    assert "hi" in await read_until(ws, "hi\r\n")
    await ws.send_json_to({"type": "stdin", "data": "stty size\r"})
    await read_until(ws, "30 100\r\n")  # the resize reached the container's terminal
    await ws.send_json_to({"type": "resize", "cols": 0, "rows": 30})
    frame = await ws.receive_json_from(timeout=5)
    while frame["type"] == "stdout":  # the prompt after stty's output
        frame = await ws.receive_json_from(timeout=5)
    assert frame["code"] == "exec_frame_invalid"  # and the shell goes on
    await ws.send_json_to({"type": "stdin", "data": "env\r"})
    assert "GREETING=hello-from-the-spec" in await read_until(ws, "GREETING=hello-from-the-spec")
    await ws.send_json_to({"type": "stdin", "data": "exit 3\r"})
    frames, code = await frames_until_close(ws)
    assert frames[-1] == {"type": "exit", "code": 3}
    assert code == 1000

    records = await sync_to_async(audit_records)(pod=name)
    assert len(records) == 1
    record = records[0]
    assert record.outcome == "success"
    assert record.actor_username == "exec-oper"
    assert record.source_ip == BROWSER_IP
    assert record.detail["cluster"] == cluster.pk
    assert {k: record.detail[k] for k in ("namespace", "pod", "container", "command", "exit_code", "ended")} == {
        "namespace": ns, "pod": name, "container": "app", "command": "/bin/sh", "exit_code": 3, "ended": "exit"}
    assert record.detail["seconds"] >= 0
    assert "input" not in record.detail  # keystrokes are not recorded unless an admin says so


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_keystrokes_are_recorded_only_when_turned_on(sandbox: Any, cluster: Cluster, settings: Any) -> None:
    settings.PORTAL_EXEC_RECORD_INPUT = True
    operator = await sync_to_async(make_user)("exec-rec", role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "sidecar"})
    assert (await ws.receive_json_from(timeout=15))["type"] == "ready"
    await ws.send_json_to({"type": "stdin", "data": "echo recorded\r"})
    await read_until(ws, "recorded\r\n")
    await ws.disconnect()  # the browser goes away: the session still ends in the audit log
    record = (await sync_to_async(wait_for)(lambda: audit_records(pod=name), what="the audit record"))[0]
    assert record.detail["input"] == "echo recorded\r"
    assert record.detail["ended"] == "closed_by_user"
    assert record.detail["command"] == "/bin/sh"  # the default shell


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_developer_may_open_a_shell_and_a_viewer_may_not(sandbox: Any, cluster: Cluster) -> None:
    from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

    ns, name = await sync_to_async(make_pod)(sandbox)

    def members_of_ns() -> tuple[Any, Any]:
        workspace = Workspace.objects.create(name=unique("shop"))
        ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready")
        ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=ns, status="ready")
        users = []
        for role in ("viewer", "developer"):
            user = make_user(unique(role))
            Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))
            users.append(user)
        return users[0], users[1]

    viewer, developer = await sync_to_async(members_of_ns)()
    # A developer of the workspace whose service map holds the namespace may.
    ws = await shell(developer, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app"})
    assert (await ws.receive_json_from(timeout=15))["type"] == "ready"
    await ws.disconnect()
    ws = await shell(viewer, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app"})
    frames, code = await frames_until_close(ws)
    assert code == 4403
    assert frames == [{"type": "error", "code": "grant_missing", "message": frames[0]["message"],
                       "params": frames[0]["params"]}]
    assert "pods.exec" in frames[0]["message"]
    records = await sync_to_async(audit_records)(pod=name)
    assert [(r.outcome, r.actor_username, r.detail.get("reason"), r.source_ip) for r in records] == [
        ("success", developer.username, None, BROWSER_IP), ("denied", viewer.username, "grant_missing", BROWSER_IP)]

    # A user who does not even see the cluster learns nothing about it.
    stranger = await sync_to_async(make_user)(unique("stranger"))
    ws = await shell(stranger, {"cluster": cluster.pk, "namespace": ns, "pod": name})
    frames, code = await frames_until_close(ws)
    assert code == 4404
    assert frames[0]["code"] == "cluster_not_found"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_foreign_origin_and_anonymous_sockets_are_refused(cluster: Cluster) -> None:
    operator = await sync_to_async(make_user)("exec-origin", role="operator")
    query = {"cluster": cluster.pk, "namespace": "default", "pod": "any"}
    ws = await shell(operator, query, origin="https://evil.example")
    assert await frames_until_close(ws) == ([], 4403)
    ws = await shell(None, query)
    assert await frames_until_close(ws) == ([], 4401)
    assert await sync_to_async(audit_records)() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_missing_container_missing_pod_and_a_pod_that_does_not_run(sandbox: Any, cluster: Cluster) -> None:
    operator = await sync_to_async(make_user)("exec-404", role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "nope"})
    frames, code = await frames_until_close(ws)
    assert code == 4404
    assert frames[0]["code"] == "container_not_found"
    assert frames[0]["params"]["containers"] == ["app", "sidecar"]

    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": "no-such-pod"})
    frames, code = await frames_until_close(ws)
    assert (code, frames[0]["code"]) == (4404, "object_not_found")

    pending_ns, pending = await sync_to_async(make_pod)(sandbox, running=False)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": pending_ns, "pod": pending, "container": "app"})
    frames, code = await frames_until_close(ws)
    assert code == 4409
    assert frames[0]["code"] == "pod_not_running"
    assert frames[0]["params"]["phase"] == "Pending"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_bad_parameters_are_refused_before_anything_is_read(cluster: Cluster) -> None:
    operator = await sync_to_async(make_user)("exec-400", role="operator")
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": "default", "pod": "web", "command": "rm"})
    frames, code = await frames_until_close(ws)
    assert code == 4400
    assert frames[0]["code"] == "exec_invalid"
    assert "command" in frames[0]["message"] or "Choose one of" in frames[0]["message"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_idle_shell_is_closed(sandbox: Any, cluster: Cluster, settings: Any) -> None:
    settings.PORTAL_EXEC_IDLE_SECONDS = 1
    operator = await sync_to_async(make_user)("exec-idle", role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app"})
    assert (await ws.receive_json_from(timeout=15))["type"] == "ready"
    frames, code = await frames_until_close(ws, timeout=10)
    assert code == 4408
    assert frames[-1]["code"] == "exec_idle_timeout"
    record = (await sync_to_async(audit_records)(pod=name))[0]
    assert record.detail["ended"] == "idle"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_shell_ends_at_its_longest_duration_even_with_input(sandbox: Any, cluster: Cluster,
                                                                    settings: Any) -> None:
    settings.PORTAL_EXEC_MAX_SECONDS = 1.5
    operator = await sync_to_async(make_user)("exec-max", role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app"})
    assert (await ws.receive_json_from(timeout=15))["type"] == "ready"
    for _ in range(3):
        await ws.send_json_to({"type": "stdin", "data": "true\r"})
        await asyncio.sleep(0.3)
    frames, code = await frames_until_close(ws, timeout=10)
    assert code == 4408
    assert frames[-1]["code"] == "exec_max_duration"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_signing_out_ends_an_open_shell(sandbox: Any, cluster: Cluster) -> None:
    from channels.layers import get_channel_layer
    from django.contrib.sessions.models import Session

    from portal.events import control_group

    operator = await sync_to_async(make_user)("exec-out", role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app"})
    assert (await ws.receive_json_from(timeout=15))["type"] == "ready"
    await sync_to_async(lambda: Session.objects.all().delete())()  # signed out everywhere
    # What logout sends every socket of the user after commit (portal.consumers).
    await get_channel_layer().group_send(control_group(operator.pk), {"type": "portal.reauthorize", "reason": "logout"})
    frames, code = await frames_until_close(ws, timeout=10)
    assert code == 4401
    assert frames[-1]["code"] == "session_ended"
    record = (await sync_to_async(audit_records)(pod=name))[0]
    assert record.detail["ended"] == "revoked"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_pod_deleted_under_the_shell_ends_it_with_137(sandbox: Any, cluster: Cluster) -> None:
    operator = await sync_to_async(make_user)("exec-kill", role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app"})
    assert (await ws.receive_json_from(timeout=15))["type"] == "ready"
    await sync_to_async(sandbox.in_cluster)(SANDBOX, lambda c: c.store.delete(PODS, ns, name, grace_period_seconds=0))
    frames, code = await frames_until_close(ws, timeout=20)
    assert frames[-1] == {"type": "exit", "code": 137}  # killed with the container, as a runtime does
    assert code == 1000
    record = (await sync_to_async(audit_records)(pod=name))[0]
    assert (record.detail["exit_code"], record.detail["ended"]) == (137, "exit")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_session_is_recorded_when_it_opens_and_resizes_do_not_keep_it_open(
        sandbox: Any, cluster: Cluster, settings: Any) -> None:
    """REVIEW15 M2 and L4: ``pod.exec.start`` is in the audit log before the browser may type (a web
    process that dies with the shell open still leaves it), the end record carries the same session
    id, the timeline shows the session once; and a client sending only resizes is closed as idle."""
    from activity.access import Place, Scope
    from activity.sources import exec_sessions

    settings.PORTAL_EXEC_IDLE_SECONDS = 1
    operator = await sync_to_async(make_user)("exec-start", role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    ws = await shell(operator, {"cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app"})
    assert (await ws.receive_json_from(timeout=15))["type"] == "ready"

    def starts() -> list[AuditRecord]:
        return list(AuditRecord.objects.filter(action="pod.exec.start", detail__pod=name))

    started = await sync_to_async(starts)()
    assert len(started) == 1  # already there when "ready" arrives
    start = started[0]
    assert (start.outcome, start.actor_username, start.source_ip) == ("success", "exec-start", BROWSER_IP)
    assert {k: start.detail[k] for k in ("cluster", "namespace", "pod", "container", "command")} == {
        "cluster": cluster.pk, "namespace": ns, "pod": name, "container": "app", "command": "/bin/sh"}
    session_id = start.detail["session"]
    assert len(session_id) == 32
    assert await sync_to_async(audit_records)(pod=name) == []  # no end yet

    # Only resizes, every 0.3 s: not input, so the 1 s idle limit still closes the shell.
    frames: list[dict[str, Any]] = []
    code = None
    async with asyncio.timeout(6):
        while code is None:
            await ws.send_json_to({"type": "resize", "cols": 80 + len(frames) % 5, "rows": 24})
            if await ws.receive_nothing(timeout=0.3):  # (a timed-out receive_output would cancel the app)
                continue
            message = await ws.receive_output(timeout=1)
            if message["type"] == "websocket.close":
                code = message.get("code", 1000)
            else:
                frames.append(json.loads(message["text"]))
    assert code == 4408
    assert frames[-1]["code"] == "exec_idle_timeout"

    records = await sync_to_async(wait_for)(lambda: audit_records(pod=name), what="the end record")
    assert len(records) == 1
    assert (records[0].detail["session"], records[0].detail["ended"]) == (session_id, "idle")
    entries = await sync_to_async(exec_sessions)(Scope(of="cluster", places=(Place(cluster.pk, None),)), None, 50)
    assert [(e.name, e.status, e.detail["ended"]) for e in entries if e.name == name] == [(name, "success", "idle")]
