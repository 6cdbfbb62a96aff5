"""``/ws/logs/`` through the real ASGI application, Redis channel layer, PostgreSQL and a sandbox
cluster over HTTPS (issue 14): one pod followed live, a Deployment's pods interleaved and tagged
(its read model kept by the real watcher), the previous run of a crash-looping container, refusals
(no ``pods.logs``, a namespace not theirs, bad requests, too many sockets), pause/resume counting
skipped lines, and a slow reader over a real uvicorn and TCP whose server-side buffer stays within
its bound while ``skipped`` counts arrive."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import uvicorn
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from clusters.models import Cluster
from clusters.tests.helpers import engine, register
from monitoring import consumers
from monitoring import logs as mlogs
from portal.asgi import application
from portal.testing import make_user, unique, wait_for
from sandbox.resources import DEPLOYMENTS, NAMESPACES, PODS
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

SANDBOX = "cluster-2"
ORIGIN = "http://testserver"
_n = itertools.count(1)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


# ---------------------------------------------------------------------------- the cluster side


def _statuses(fleet: Any, ns: str, name: str) -> list[dict[str, Any]]:
    pod = fleet.in_cluster(SANDBOX, lambda c: c.store.get(PODS, ns, name)) or {}
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def make_pod(fleet: Any, *, image: str = "busybox:1.36", ns: str = "", rate: str = "",
             containers: tuple[str, ...] = ("app",)) -> tuple[str, str]:
    ns, name = ns or unique("wslogs"), f"talker-{next(_n)}"
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if rate:
        meta["annotations"] = {"sandbox.k8s.io/log-rate": rate}

    def create(c: Any) -> None:
        if c.store.get(NAMESPACES, None, ns) is None:
            c.store.create(NAMESPACES, {"metadata": {"name": ns}})
        c.store.create(PODS, {"metadata": meta, "spec": {"containers": [{"name": n, "image": image}
                                                                        for n in containers]}})

    fleet.in_cluster(SANDBOX, create)
    return ns, name


def running(fleet: Any, ns: str, name: str) -> None:
    wait_for(lambda: bool(_statuses(fleet, ns, name))
             and all("running" in (s.get("state") or {}) for s in _statuses(fleet, ns, name)),
             timeout=30, what="the containers running")


@pytest.fixture
def cluster(sandbox: Any, transactional_db: None) -> Cluster:
    return register(sandbox, SANDBOX)


# ---------------------------------------------------------------------------- the browser side


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(user: Any | None, *, origin: str = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await sync_to_async(session_cookie)(user)}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/logs/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def next_frame(ws: WebsocketCommunicator, kind: str | tuple[str, ...], timeout: float = 15) -> dict[str, Any]:
    kinds = (kind,) if isinstance(kind, str) else kind
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json_from(timeout=timeout)
            if frame["type"] in kinds:
                return frame
            assert frame["type"] != "error", frame


async def collect_lines(ws: WebsocketCommunicator, until: Any, timeout: float = 20) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not until(lines):
            frame = await ws.receive_json_from(timeout=timeout)
            assert frame["type"] in ("lines", "pods", "skipped"), frame
            if frame["type"] == "lines":
                lines.extend(frame["lines"])
    return lines


# ---------------------------------------------------------------------------- following


async def test_follow_one_pod_live(sandbox: Any, cluster: Cluster) -> None:
    operator = await sync_to_async(make_user)(unique("oper"), role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox)
    await sync_to_async(running)(sandbox, ns, name)
    ws = await open_socket(operator)
    await ws.send_json_to({"type": "follow", "cluster": cluster.pk, "namespace": ns, "pod": name, "tailLines": 5})
    started = await next_frame(ws, "started")
    assert started["pods"] == [{"pod": name, "container": "app"}]
    first = await collect_lines(ws, lambda lines: len(lines) >= 1)
    assert first[0]["pod"] == name
    assert first[0]["container"] == "app"
    assert first[0]["ts"].endswith("Z")
    assert first[0]["text"].startswith("busybox: starting")  # a young pod: its whole log is the tail
    t0 = time.monotonic()
    more = await collect_lines(ws, lambda lines: len(lines) >= 2)  # written while following (one a second)
    assert time.monotonic() - t0 >= 0.5
    stamps = [line["ts"] for line in first + more]
    assert stamps == sorted(stamps)
    await ws.send_json_to({"type": "stop"})
    assert (await next_frame(ws, "ended"))["reason"] == "stopped"
    assert not any(c.readers for c in consumers.LIVE)
    await ws.disconnect()


async def test_follow_a_deployments_pods_interleaved(sandbox: Any, cluster: Cluster, settings: Any) -> None:
    settings.PORTAL_LOG_RESCAN_SECONDS = 0.5
    operator = await sync_to_async(make_user)(unique("oper"), role="operator")
    ns = unique("wsdeploy")
    labels = {"app": "web"}

    def create(c: Any) -> None:
        c.store.create(NAMESPACES, {"metadata": {"name": ns}})
        c.store.create(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": ns},
                                     "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                                              "template": {"metadata": {"labels": labels,
                                                                        "annotations": {"sandbox.k8s.io/log-rate": "5"}},
                                                           "spec": {"containers": [{"name": "web",
                                                                                    "image": "nginx:1.27"}]}}}})

    sandbox.in_cluster(SANDBOX, create)
    from clusters.models import KubeObject

    def running_pods() -> int:
        return KubeObject.objects.filter(cluster=cluster, namespace=ns, kind="Pod", phase="Running").count()

    with engine("logs-ws"):
        await sync_to_async(wait_for)(lambda: running_pods() == 2, timeout=30, what="two pods in the read model")
        ws = await open_socket(operator)
        await ws.send_json_to({"type": "follow", "cluster": cluster.pk, "namespace": ns,
                               "workload": {"kind": "Deployment", "name": "web"}, "tailLines": 0})
        started = await next_frame(ws, "started")
        pods = sorted(p["pod"] for p in started["pods"])
        assert len(pods) == 2
        assert all(p.startswith("web-") for p in pods)
        lines = await collect_lines(ws, lambda ls: len({x["pod"] for x in ls}) == 2 and len(ls) >= 20)
        assert {x["pod"] for x in lines} == set(pods)  # each line tagged with its pod
        assert {x["container"] for x in lines} == {"web"}
        stamps = [x["ts"] for x in lines]
        assert stamps == sorted(stamps)  # merged by time across the two pods

        # scale up: the new pod is attached and reported
        sandbox.in_cluster(SANDBOX, lambda c: c.store.update(DEPLOYMENTS, {
            **c.store.get(DEPLOYMENTS, ns, "web"),
            "spec": {**c.store.get(DEPLOYMENTS, ns, "web")["spec"], "replicas": 3}}))
        added = await next_frame(ws, "pods", timeout=30)
        assert len(added["added"]) == 1
        assert added["removed"] == []
        new_pod = added["added"][0]["pod"]
        assert new_pod not in pods
        await collect_lines(ws, lambda ls: any(x["pod"] == new_pod for x in ls))
        await ws.disconnect()


async def test_previous_run_of_a_crash_looping_pod(sandbox: Any, cluster: Cluster) -> None:
    operator = await sync_to_async(make_user)(unique("oper"), role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox, image="busybox:crashloop")
    await sync_to_async(wait_for)(lambda: any(int(s.get("restartCount") or 0) >= 1
                                              for s in _statuses(sandbox, ns, name)),
                                  timeout=30, what="the container to restart")
    ws = await open_socket(operator)
    await ws.send_json_to({"type": "follow", "cluster": cluster.pk, "namespace": ns, "pod": name,
                           "previous": True, "timestamps": False})
    await next_frame(ws, "started")
    texts: list[str] = []
    async with asyncio.timeout(15):
        while True:
            frame = await ws.receive_json_from(timeout=15)
            if frame["type"] == "ended":
                assert frame == {"type": "ended", "pod": name, "reason": "end_of_log"}
                break
            assert frame["type"] == "lines", frame
            assert all(line["ts"] == "" for line in frame["lines"])  # timestamps: false
            texts.extend(line["text"] for line in frame["lines"])
    assert texts[0] == "busybox: starting (sandbox simulated container, image busybox:crashloop)"
    assert texts[-1] == "panic: simulated crash (sandbox crashloop marker); exiting with status 1"
    await ws.disconnect()


async def test_pause_bounds_the_buffer_and_resume_reports_skipped(sandbox: Any, cluster: Cluster) -> None:
    operator = await sync_to_async(make_user)(unique("oper"), role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox, rate="2000")
    await sync_to_async(running)(sandbox, ns, name)
    ws = await open_socket(operator)
    await ws.send_json_to({"type": "follow", "cluster": cluster.pk, "namespace": ns, "pod": name, "tailLines": 0})
    await next_frame(ws, "started")
    await collect_lines(ws, lambda ls: len(ls) >= 100)
    await ws.send_json_to({"type": "pause"})
    await asyncio.sleep(0.3)
    while not await ws.receive_nothing(timeout=0.2):  # what was in flight
        await ws.receive_json_from()
    await asyncio.sleep(2.0)  # ~4,000 lines written while paused
    assert await ws.receive_nothing(timeout=0.1)
    (live,) = [c for c in consumers.LIVE if c.follow is not None and c.follow.pod == name]
    assert len(live.buffer) <= mlogs.MAX_LINES
    assert live.buffer.bytes <= mlogs.MAX_BYTES
    await ws.send_json_to({"type": "resume"})
    skipped = await next_frame(ws, "skipped")
    assert skipped["count"] >= 1000
    lines = await collect_lines(ws, lambda ls: len(ls) >= 1500)
    assert all(x["pod"] == name for x in lines)
    await ws.disconnect()


# ---------------------------------------------------------------------------- the shared upstream


def _seqs(lines: list[dict[str, Any]]) -> list[int]:
    found = [re.search(r" seq=(\d+) ", x["text"]) for x in lines]
    assert all(found), [x["text"] for x in lines][:5]
    return [int(m.group(1)) for m in found if m]


def _hubs(ns: str, name: str) -> list[consumers.LogHub]:
    return [hub for (_, key), hub in consumers.HUBS.items() if key[1:3] == (ns, name)]


async def test_sockets_following_one_pod_share_one_upstream(sandbox: Any, cluster: Cluster,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers, "HUB_GRACE", 0.3)
    operator = await sync_to_async(make_user)(unique("oper"), role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox, rate="200")  # 200 lines a second, each with seq=N
    await sync_to_async(running)(sandbox, ns, name)
    streams = consumers.HUB_STATS["streams"]
    follow = {"type": "follow", "cluster": cluster.pk, "namespace": ns, "pod": name}

    first = await open_socket(operator)
    await first.send_json_to({**follow, "tailLines": 0})
    await next_frame(first, "started")
    early = await collect_lines(first, lambda ls: len(ls) >= 100)
    (hub,) = _hubs(ns, name)
    assert hub.streams == 1

    # a late joiner: its own tail (a one-shot read), then the shared live lines, nothing twice, nothing missed
    second = await open_socket(operator)
    joined_at = time.time()
    await second.send_json_to({**follow, "tailLines": 40})
    await next_frame(second, "started")
    late = await collect_lines(second, lambda ls: len(ls) >= 300)
    seqs = _seqs(late)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert mlogs.parse_rfc3339(late[0]["ts"]) < joined_at - 0.1  # type: ignore[operator]  # the tail: older lines
    assert _hubs(ns, name) == [hub]  # the same hub, still one stream to the API server
    assert hub.streams == 1
    assert consumers.HUB_STATS["streams"] - streams == 1
    assert len(hub.taps) == 2

    # the first leaves: the second's follow goes on, from the same stream
    mine = _seqs(early + await collect_lines(first, lambda ls: len(ls) >= 50))
    assert mine == list(range(mine[0], mine[0] + len(mine)))
    await first.disconnect()
    more = _seqs(await collect_lines(second, lambda ls: len(ls) >= 200))
    assert more[0] == seqs[-1] + 1
    assert more == list(range(more[0], more[0] + len(more)))
    assert hub.finished is None
    assert len(hub.taps) == 1
    assert hub.streams == 1

    # the last leaves: after the grace period the reader stops and its stream closes
    await second.disconnect()
    await sync_to_async(wait_for)(lambda: hub.task.done(), timeout=10, what="the hub's reader to stop")
    assert hub.finished == ("idle", None)
    assert _hubs(ns, name) == []

    # a follow after that starts a new hub (and a new stream)
    third = await open_socket(operator)
    await third.send_json_to({**follow, "tailLines": 3})
    await next_frame(third, "started")
    tail_then_live = _seqs(await collect_lines(third, lambda ls: len(ls) >= 60))
    assert tail_then_live == list(range(tail_then_live[0], tail_then_live[0] + len(tail_then_live)))
    (again,) = _hubs(ns, name)
    assert again is not hub
    assert consumers.HUB_STATS["streams"] - streams == 2
    await third.disconnect()


async def test_a_socket_back_within_the_grace_period_reuses_the_stream(sandbox: Any, cluster: Cluster,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers, "HUB_GRACE", 5.0)
    operator = await sync_to_async(make_user)(unique("oper"), role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox, rate="100")
    await sync_to_async(running)(sandbox, ns, name)
    follow = {"type": "follow", "cluster": cluster.pk, "namespace": ns, "pod": name, "tailLines": 0}
    ws = await open_socket(operator)
    await ws.send_json_to(follow)
    await next_frame(ws, "started")
    await collect_lines(ws, lambda ls: len(ls) >= 20)
    (hub,) = _hubs(ns, name)
    await ws.send_json_to({"type": "stop"})  # the socket leaves the hub; the stream stays for the grace period
    assert (await next_frame(ws, "ended"))["reason"] == "stopped"
    assert not hub.taps
    await ws.send_json_to({**follow, "tailLines": 10})  # e.g. a reload
    await next_frame(ws, "started")
    lines = _seqs(await collect_lines(ws, lambda ls: len(ls) >= 50))
    assert lines == list(range(lines[0], lines[0] + len(lines)))
    assert _hubs(ns, name) == [hub]
    assert hub.streams == 1
    await ws.disconnect()
    hub.task.cancel()


async def test_the_hub_reattaches_a_restarting_container_without_duplicates(sandbox: Any, cluster: Cluster) -> None:
    operator = await sync_to_async(make_user)(unique("oper"), role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox, image="busybox:crashloop")  # runs 1 s, exits 1, restarts
    await sync_to_async(running)(sandbox, ns, name)
    ws = await open_socket(operator)
    await ws.send_json_to({"type": "follow", "cluster": cluster.pk, "namespace": ns, "pod": name})
    await next_frame(ws, "started")
    panics = lambda ls: [x for x in ls if x["text"].startswith("panic: ")]  # noqa: E731
    lines = await collect_lines(ws, lambda ls: len(panics(ls)) >= 2, timeout=45)  # no "ended" in between
    keys = [(x["ts"], x["text"]) for x in lines]
    assert len(keys) == len(set(keys))  # each run's lines once
    starts = [i for i, x in enumerate(lines) if x["text"].startswith("busybox: starting")]
    assert len(starts) >= 2  # the next run follows the first
    assert starts[1] > next(i for i, x in enumerate(lines) if x["text"].startswith("panic: "))
    (hub,) = _hubs(ns, name)
    assert hub.streams >= 2  # reattached from its last line
    await ws.disconnect()


# ---------------------------------------------------------------------------- refusals


def _team(cluster: Cluster, ns: str) -> Workspace:
    workspace = Workspace.objects.create(name=unique("team"))
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready")
    ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=ns, status="ready")
    return workspace


def _member(workspace: Workspace, grants: list[str] | None = None) -> Any:
    role = (Role.objects.get(key="viewer") if grants is None else
            Role.objects.create(key=unique("custom"), name="Custom", grants=grants))
    user = make_user(unique("member"))
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


async def test_refusals(sandbox: Any, cluster: Cluster) -> None:
    ns, name = await sync_to_async(make_pod)(sandbox)
    other_ns, _ = await sync_to_async(make_pod)(sandbox)
    await sync_to_async(running)(sandbox, ns, name)
    team = await sync_to_async(_team)(cluster, ns)
    await sync_to_async(_team)(cluster, other_ns)
    no_logs = await sync_to_async(_member)(team, ["objects.edit"])
    viewer = await sync_to_async(_member)(team)
    outsider = await sync_to_async(make_user)(unique("outsider"))
    follow = {"type": "follow", "cluster": cluster.pk, "namespace": ns, "pod": name}

    ws = await open_socket(no_logs)
    await ws.send_json_to(follow)
    refused = await ws.receive_json_from(timeout=10)
    assert refused["type"] == "error"
    assert refused["code"] == "grant_missing"
    assert refused["params"]["grant"] == "pods.logs"
    await ws.disconnect()

    for user, query in ((outsider, follow), (viewer, {**follow, "namespace": other_ns}),
                        (viewer, {**follow, "cluster": cluster.pk + 10_000})):
        ws = await open_socket(user)
        await ws.send_json_to(query)
        hidden = await ws.receive_json_from(timeout=10)
        assert hidden == {"type": "error", "code": "not_found",
                          "message": "No such cluster or namespace, or not one you may see.", "params": {}}
        await ws.disconnect()

    ws = await open_socket(viewer)  # viewers read logs
    await ws.send_json_to({**follow, "container": "nope"})
    missing = await ws.receive_json_from(timeout=10)
    assert missing["code"] == "container_not_found"
    await ws.send_json_to({**follow, "pod": "no-such-pod"})
    assert (await ws.receive_json_from(timeout=10))["code"] == "pod_not_found"
    await ws.send_json_to({"type": "follow", "cluster": "x", "namespace": "Bad_NS", "tailLines": 99999})
    bad = await ws.receive_json_from(timeout=10)
    assert bad["code"] == "log_follow_invalid"
    assert bad["params"]["fields"] == ["cluster", "namespace", "pod", "tailLines"]
    await ws.send_json_to({"type": "dance"})
    assert (await ws.receive_json_from(timeout=10))["code"] == "log_frame_invalid"
    await ws.send_json_to(follow)
    assert (await next_frame(ws, "started"))["pods"] == [{"pod": name, "container": "app"}]
    await ws.disconnect()

    anonymous = await open_socket(None)
    assert (await anonymous.receive_output(timeout=5))["code"] == 4401
    foreign = await open_socket(viewer, origin="https://evil.example")
    assert (await foreign.receive_output(timeout=5))["code"] == 4403


async def test_sockets_per_user_are_limited(cluster: Cluster, settings: Any) -> None:
    settings.PORTAL_LOG_MAX_SOCKETS_PER_USER = 2
    user = await sync_to_async(make_user)(unique("many"))
    first, second = await open_socket(user), await open_socket(user)
    third = await open_socket(user)
    error = await third.receive_json_from(timeout=5)
    assert error["code"] == "log_followers_limit"
    assert error["params"] == {"limit": 2}
    assert (await third.receive_output(timeout=5))["code"] == consumers.CLOSE_TOO_MANY
    await first.disconnect()
    fourth = await open_socket(user)
    assert await fourth.receive_nothing(timeout=0.3)
    await second.disconnect()
    await fourth.disconnect()


# ---------------------------------------------------------------------------- a slow reader over TCP


@pytest.fixture
def uvicorn_server(transactional_db: None) -> Iterator[str]:
    """The ASGI application on a real uvicorn (its websockets implementation awaits the socket's
    drain, as in production), in a thread of this process so the consumers' buffers can be read.
    The listening socket's send buffer is small (accepted sockets inherit it), so what the kernel
    holds for a slow client is small and the portal's own bound is what is measured."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", lifespan="off", ws="websockets",
                                           ws_ping_interval=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=15, what="uvicorn started")
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()


async def test_a_slow_reader_is_bounded_and_told_what_it_missed(sandbox: Any, cluster: Cluster,
                                                                 uvicorn_server: str) -> None:
    operator = await sync_to_async(make_user)(unique("oper"), role="operator")
    ns, name = await sync_to_async(make_pod)(sandbox, rate="2000")
    await sync_to_async(running)(sandbox, ns, name)
    cookie = await sync_to_async(session_cookie)(operator)

    def small_window(addr: Any) -> socket.socket:  # a small receive window: the server feels the slowness
        sock = socket.socket(addr[0], addr[1], addr[2])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        return sock

    consumers.PEAK.update(lines=0, bytes=0)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=small_window)) as session, \
            session.ws_connect(f"http://{uvicorn_server}/ws/logs/", origin=f"http://{uvicorn_server}",
                               headers={"Cookie": f"sessionid={cookie}"}, autoping=False) as ws:
        await ws.send_str(json.dumps({"type": "follow", "cluster": cluster.pk, "namespace": ns, "pod": name}))
        # slow: one message (at most 500 lines) a second while 2,000 lines a second are written
        skipped = 0
        for _ in range(8):
            frame = json.loads(await ws.receive_str(timeout=15))
            assert frame["type"] in ("started", "lines", "skipped"), frame
            skipped += frame["count"] if frame["type"] == "skipped" else 0
            (live,) = [c for c in consumers.LIVE if c.follow is not None and c.follow.pod == name]
            assert len(live.buffer) <= mlogs.MAX_LINES
            assert live.buffer.bytes <= mlogs.MAX_BYTES
            await asyncio.sleep(1.0)
        assert live.buffer.skipped_total > 0  # the server dropped the oldest rather than grow
        # then fast: what was in flight drains and the count of what was dropped arrives
        async with asyncio.timeout(30):
            while not skipped:
                frame = json.loads(await ws.receive_str())
                assert frame["type"] in ("lines", "skipped"), frame
                if frame["type"] == "skipped":
                    skipped = frame["count"]
        assert skipped > 0
        assert 0 < consumers.PEAK["lines"] <= mlogs.MAX_LINES
        assert consumers.PEAK["bytes"] <= mlogs.MAX_BYTES
