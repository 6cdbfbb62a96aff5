"""Following a container's log with clusters/kube/logstream.py against the sandbox over HTTPS
(issue 14): the tail, new lines arriving while following, the previous run of a crash-looping
container, the API server's refusals as typed errors (no such container, no such pod, a token
whose RBAC stops at another namespace, a CA that did not sign the server), with a token and with a
client certificate; and the pure line splitter."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import replace
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from clusters.kube import errors as kube
from clusters.kube import logstream
from clusters.kube.client import KubeClient
from clusters.kube.connection import spec_from_kubeconfig
from clusters.tests.helpers import other_ca
from portal.testing import unique, wait_for
from sandbox.resources import NAMESPACES, PODS

SANDBOX = "cluster-3"
_n = itertools.count(1)
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


def _statuses(fleet: Any, ns: str, name: str) -> list[dict[str, Any]]:
    pod = fleet.in_cluster(SANDBOX, lambda c: c.store.get(PODS, ns, name)) or {}
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def make_pod(fleet: Any, *, image: str = "busybox:1.36", ns: str = "") -> tuple[str, str]:
    ns, name = ns or unique("follow"), f"talker-{next(_n)}"

    def create(c: Any) -> None:
        if c.store.get(NAMESPACES, None, ns) is None:
            c.store.create(NAMESPACES, {"metadata": {"name": ns}})
        c.store.create(PODS, {"metadata": {"name": name, "namespace": ns},
                              "spec": {"containers": [{"name": "app", "image": image}]}})

    fleet.in_cluster(SANDBOX, create)
    return ns, name


def running(fleet: Any, ns: str, name: str) -> None:
    wait_for(lambda: any("running" in (s.get("state") or {}) for s in _statuses(fleet, ns, name)),
             timeout=30, what="the container running")


def spec_of(fleet: Any, *, certificate: bool = False) -> Any:
    handle = fleet.cluster(SANDBOX)
    return spec_from_kubeconfig((handle.cert_kubeconfig if certificate else handle.kubeconfig).read_text())[0]


async def collect(stream: logstream.LogStream, n: int, timeout: float = 15) -> list[str]:
    out: list[str] = []
    async with asyncio.timeout(timeout):
        async for line in stream.lines():
            out.append(line)
            if len(out) >= n:
                break
    await stream.close()
    return out


# ---------------------------------------------------------------------------- pure


def test_line_splitter_joins_pieces_and_cuts_long_lines() -> None:
    s = logstream.LineSplitter(max_line=8)
    assert s.feed(b"ab") == []
    assert s.feed(b"c\r\nde\nf") == ["abc", "de"]
    assert s.feed(b"0123456789xyz\nok\n") == ["f0123456", "ok"]  # cut at 8 bytes, the rest dropped
    assert s.feed(b"0123456789") == ["01234567"]
    assert s.feed(b"still the same line\nnext\n") == ["next"]
    assert s.feed("한\n".encode()) == ["한"]
    assert s.feed(b"tail") == []
    assert s.close() == ["tail"]


def test_log_path_has_only_the_options_given() -> None:
    assert logstream.log_path("ns", "p", follow=False, timestamps=False) == "/api/v1/namespaces/ns/pods/p/log"
    assert logstream.log_path("ns", "p", container="c", tail_lines=5, since_seconds=9, previous=True) == (
        "/api/v1/namespaces/ns/pods/p/log?container=c&follow=true&tailLines=5&sinceSeconds=9&previous=true"
        "&timestamps=true")


# ---------------------------------------------------------------------------- against the sandbox


@pytest.mark.asyncio
@pytest.mark.parametrize("certificate", [False, True], ids=["token", "client-certificate"])
async def test_tail_then_new_lines_arrive(sandbox: Any, certificate: bool) -> None:
    ns, name = await sync_to_async(make_pod)(sandbox)
    await sync_to_async(running)(sandbox, ns, name)
    await asyncio.sleep(2.2)  # a few lines written (one a second)
    spec = spec_of(sandbox, certificate=certificate)
    tail = await logstream.open_log(spec, namespace=ns, pod=name, follow=False, tail_lines=1)
    lines = [line async for line in tail.lines()]
    assert len(lines) == 1, lines
    assert STAMP.match(lines[0]), lines
    assert "starting (sandbox simulated container" not in lines[0]  # the newest, not the first

    stream = await logstream.open_log(spec, namespace=ns, pod=name, container="app", tail_lines=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = await collect(stream, 3, timeout=10)
    assert len(got) == 3
    assert loop.time() - started >= 1.0  # lines 2 and 3 were written while following
    assert all(STAMP.match(line) for line in got)
    assert stream.closed


@pytest.mark.asyncio
async def test_previous_run_of_a_crash_looping_container(sandbox: Any) -> None:
    ns, name = await sync_to_async(make_pod)(sandbox, image="busybox:crashloop")
    await sync_to_async(wait_for)(lambda: any(int(s.get("restartCount") or 0) >= 1
                                              for s in _statuses(sandbox, ns, name)),
                                  timeout=30, what="the container to restart")
    stream = await logstream.open_log(spec_of(sandbox), namespace=ns, pod=name, previous=True, follow=True,
                                      timestamps=False)
    lines = [line async for line in stream.lines()]  # previous: the log ends, follow or not
    assert lines[0] == "busybox: starting (sandbox simulated container, image busybox:crashloop)"
    assert lines[-1] == "panic: simulated crash (sandbox crashloop marker); exiting with status 1"


@pytest.mark.asyncio
async def test_refusals_are_typed_errors(sandbox: Any) -> None:
    ns, name = await sync_to_async(make_pod)(sandbox)
    await sync_to_async(running)(sandbox, ns, name)
    spec = spec_of(sandbox)
    with pytest.raises(kube.ApiError) as raised:
        await logstream.open_log(spec, namespace=ns, pod=name, container="nope")
    assert raised.value.status == 400
    assert "container nope is not valid for pod" in str(raised.value)
    assert (raised.value.body or {}).get("message") == f"container nope is not valid for pod {name}"
    with pytest.raises(kube.NotFound) as gone:
        await logstream.open_log(spec, namespace=ns, pod="no-such-pod")
    assert 'pods "no-such-pod" not found' in str(gone.value)
    with pytest.raises(kube.ApiError) as no_previous:
        await logstream.open_log(spec, namespace=ns, pod=name, previous=True)
    assert "previous terminated container" in str(no_previous.value)
    with pytest.raises(kube.TLSVerificationFailed):
        await logstream.open_log(replace(spec, ca_pem=other_ca()), namespace=ns, pod=name)
    bad = replace(spec, credentials=replace(spec.credentials, token="not-the-token"))
    with pytest.raises(kube.Unauthorized):
        await logstream.open_log(bad, namespace=ns, pod=name)


def _scoped_token(fleet: Any, ns: str) -> str:
    """A ServiceAccount token that may read pods and their logs in ``ns`` only."""
    with KubeClient(spec_of(fleet)) as admin:
        admin._raw("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", body={"metadata": {"name": "reader"}})
        admin._raw("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
                   body={"metadata": {"name": "logs"}, "rules": [
                       {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]})
        admin._raw("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
                   body={"metadata": {"name": "logs"},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "logs"},
                         "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]})
        body = admin._raw("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/reader/token",
                          body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": {"expirationSeconds": 3600}})
    return str(body["status"]["token"])


@pytest.mark.asyncio
async def test_a_namespace_scoped_token_is_refused_elsewhere(sandbox: Any) -> None:
    mine, mine_pod = await sync_to_async(make_pod)(sandbox)
    other, other_pod = await sync_to_async(make_pod)(sandbox)
    await sync_to_async(running)(sandbox, mine, mine_pod)
    await sync_to_async(running)(sandbox, other, other_pod)
    token = await sync_to_async(_scoped_token)(sandbox, mine)
    spec = spec_of(sandbox)
    scoped = replace(spec, credentials=replace(spec.credentials, token=token, client_certificate="", client_key=""))
    ok = await logstream.open_log(scoped, namespace=mine, pod=mine_pod, follow=False, tail_lines=1)
    assert len([line async for line in ok.lines()]) == 1
    with pytest.raises(kube.Forbidden) as refused:
        await logstream.open_log(scoped, namespace=other, pod=other_pod, follow=False)
    assert "pods/log" in str(refused.value) or "log" in str(refused.value)
    assert f"system:serviceaccount:{mine}:reader" in str(refused.value)
