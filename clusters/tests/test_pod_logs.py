"""Reading a container's recent log from the pod page (issue 15, grant ``pods.logs``), against a
sandbox cluster over HTTPS: the tail, the container choice, timestamps and ``since``, the previous
run of a crash-looping container (and the apiserver's 400 without one), a cut at the byte limit,
the grant matrix the issue names (a viewer reads, a custom role without ``pods.logs`` gets 403
``grant_missing``, an outsider and another workspace's member 404), each bad option's code, and
an unreachable cluster. No audit record: a log read is a read."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.api.logs import lines_of
from clusters.models import Cluster
from clusters.tests.helpers import register
from portal.models import AuditRecord, User
from portal.testing import make_user, unique, wait_for
from sandbox.resources import NAMESPACES, PODS
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db

SANDBOX = "cluster-2"
_n = itertools.count(1)
STARTING = re.compile(r"^busybox: starting \(sandbox simulated container, image busybox:1\.36\)$")


def _pod(fleet: Any, ns: str, name: str, containers: list[dict[str, Any]]) -> None:
    def create(c: Any) -> None:
        if c.store.get(NAMESPACES, None, ns) is None:
            c.store.create(NAMESPACES, {"metadata": {"name": ns}})
        c.store.create(PODS, {"metadata": {"name": name, "namespace": ns}, "spec": {"containers": containers}})

    fleet.in_cluster(SANDBOX, create)


def _statuses(fleet: Any, ns: str, name: str) -> list[dict[str, Any]]:
    pod = fleet.in_cluster(SANDBOX, lambda c: c.store.get(PODS, ns, name)) or {}
    return list((pod.get("status") or {}).get("containerStatuses") or [])


@pytest.fixture
def cluster(sandbox: Any, db: None) -> Cluster:
    return register(sandbox, SANDBOX)


@pytest.fixture
def pod(sandbox: Any) -> tuple[str, str]:
    """A running pod with two containers, ``app`` (busybox) and ``sidecar`` (nginx): one log line a second."""
    ns, name = unique("logs"), f"logger-{next(_n)}"
    _pod(sandbox, ns, name, [{"name": "app", "image": "busybox:1.36"}, {"name": "sidecar", "image": "nginx:1.27"}])
    wait_for(lambda: len(_statuses(sandbox, ns, name)) == 2
             and all("running" in (s.get("state") or {}) for s in _statuses(sandbox, ns, name)),
             timeout=30, what="the pod's containers running")
    return ns, name


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _url(cluster: Cluster, ns: str, name: str, query: str = "") -> str:
    return f"/api/clusters/{cluster.pk}/pods/{ns}/{name}/log/{query}"


def _team(cluster: Cluster, ns: str) -> Workspace:
    """A workspace whose service map holds ``ns``."""
    workspace = Workspace.objects.create(name=unique("team"))
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready")
    ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=ns, status="ready")
    return workspace


def _member(workspace: Workspace, *, role_key: str = "viewer", grants: list[str] | None = None) -> User:
    """A member of ``workspace``: a built-in role, or a custom one with ``grants``."""
    role = (Role.objects.get(key=role_key) if grants is None else
            Role.objects.create(key=unique("custom"), name="Custom", grants=grants))
    user = make_user(unique("member"))
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


# ---------------------------------------------------------------------------- reading


def test_default_container_tail_and_container_choice(sandbox: Any, cluster: Cluster, pod: tuple[str, str]) -> None:
    ns, name = pod
    operator = _client(make_user(unique("oper"), role="operator"))
    records = AuditRecord.objects.count()
    answer = wait_for(lambda: (r := operator.get(_url(cluster, ns, name))).status_code == 200
                      and len(r.json()["lines"]) >= 3 and r, what="three lines of log")
    body = answer.json()
    assert body["pod"] == name
    assert body["container"] == "app"  # no ?container=: the first container, as kubectl logs chooses
    assert body["containers"] == ["app", "sidecar"]
    assert body["previous"] is False
    assert body["truncated"] is False
    assert STARTING.match(body["lines"][0]), body["lines"][:2]
    assert body["lines"][1] == "busybox: configuration loaded, listening on 0.0.0.0:8080"

    tail = operator.get(_url(cluster, ns, name, "?tail=1"))
    assert tail.status_code == 200, tail.content
    assert len(tail.json()["lines"]) == 1
    assert not STARTING.match(tail.json()["lines"][0])  # the newest line, not the first

    sidecar = operator.get(_url(cluster, ns, name, "?container=sidecar&tail=5000"))
    assert sidecar.status_code == 200, sidecar.content
    assert sidecar.json()["container"] == "sidecar"
    assert sidecar.json()["lines"][0].startswith("nginx: starting (sandbox simulated container, image nginx:1.27)")

    stamped = operator.get(_url(cluster, ns, name, "?timestamps=true"))
    assert stamped.status_code == 200, stamped.content
    first = stamped.json()["lines"][0]
    stamp, _, text = first.partition(" ")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$", stamp), first
    assert STARTING.match(text)

    recent = operator.get(_url(cluster, ns, name, "?since=1"))
    assert recent.status_code == 200, recent.content
    assert len(recent.json()["lines"]) <= 2  # one line a second: the last second's
    assert not any(STARTING.match(line) for line in recent.json()["lines"])

    # a read leaves no audit record (portal.audit records changes, not reads)
    assert AuditRecord.objects.count() == records


def test_a_cut_log_says_so_and_ends_on_a_whole_line(sandbox: Any, cluster: Cluster, pod: tuple[str, str],
                                                     settings: Any) -> None:
    ns, name = pod
    operator = _client(make_user(unique("oper"), role="operator"))
    wait_for(lambda: len(operator.get(_url(cluster, ns, name)).json()["lines"]) >= 2, what="two lines of log")
    settings.PORTAL_LOG_MAX_BYTES = 100  # the first line is 67 bytes, the second 56: the cut falls in the second
    body = operator.get(_url(cluster, ns, name)).json()
    assert body["truncated"] is True
    assert len(body["lines"]) == 1
    assert STARTING.match(body["lines"][0])


def test_previous_run_of_a_restarted_container(sandbox: Any, cluster: Cluster, pod: tuple[str, str]) -> None:
    operator = _client(make_user(unique("oper"), role="operator"))
    ns, name = pod
    refused = operator.get(_url(cluster, ns, name, "?previous=true"))  # running, never restarted
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "previous_log_unavailable"
    assert refused.json()["params"] == {"pod": f"{ns}/{name}", "container": "app"}

    crashy = f"crashy-{next(_n)}"
    _pod(sandbox, ns, crashy, [{"name": "app", "image": "busybox:crashloop"}])
    wait_for(lambda: any(int(s.get("restartCount") or 0) >= 1 for s in _statuses(sandbox, ns, crashy)),
             timeout=30, what="the container to restart")
    answer = operator.get(_url(cluster, ns, crashy, "?previous=1"))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["previous"] is True
    assert body["lines"][0] == "busybox: starting (sandbox simulated container, image busybox:crashloop)"
    assert body["lines"][-1] == "panic: simulated crash (sandbox crashloop marker); exiting with status 1"


def test_missing_pod_container_and_a_container_not_started(sandbox: Any, cluster: Cluster,
                                                           pod: tuple[str, str]) -> None:
    operator = _client(make_user(unique("oper"), role="operator"))
    ns, name = pod
    gone = operator.get(_url(cluster, ns, "no-such-pod"))
    assert gone.status_code == 404, gone.content
    assert gone.json()["code"] == "pod_not_found"
    assert gone.json()["params"] == {"pod": f"{ns}/no-such-pod"}
    nope = operator.get(_url(cluster, ns, name, "?container=nope"))
    assert nope.status_code == 404, nope.content
    assert nope.json()["code"] == "container_not_found"
    assert nope.json()["params"]["containers"] == ["app", "sidecar"]

    stuck = f"stuck-{next(_n)}"
    _pod(sandbox, ns, stuck, [{"name": "app", "image": "busybox:doesnotexist"}])
    wait_for(lambda: _statuses(sandbox, ns, stuck), what="the container's status")
    waiting = operator.get(_url(cluster, ns, stuck))
    assert waiting.status_code == 409, waiting.content
    assert waiting.json()["code"] == "container_waiting"
    assert waiting.json()["params"]["container"] == "app"


@pytest.mark.parametrize(("query", "code", "field"), [
    ("?tail=0", "log_tail_invalid", "tail"),
    ("?tail=5001", "log_tail_invalid", "tail"),
    ("?tail=ten", "log_tail_invalid", "tail"),
    ("?tail=%C2%B2", "log_tail_invalid", "tail"),  # "²" is a digit to str.isdigit, not to int()
    ("?since=-5", "log_since_invalid", "since"),
    ("?since=99999999999", "log_since_invalid", "since"),
    ("?previous=maybe", "log_flag_invalid", "previous"),
    ("?timestamps=2", "log_flag_invalid", "timestamps"),
    ("?container=Not_A_Label", "log_container_invalid", "container"),
])
def test_bad_options_are_400_with_their_code(cluster: Cluster, query: str, code: str, field: str) -> None:
    operator = _client(make_user(unique("oper"), role="operator"))
    answer = operator.get(_url(cluster, "default", "any-pod", query))
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == code
    assert field in answer.json()["errors"]


# ---------------------------------------------------------------------------- who may read


def test_who_may_read_a_log(sandbox: Any, cluster: Cluster, pod: tuple[str, str]) -> None:
    ns, name = pod
    team = _team(cluster, ns)
    viewer = _client(_member(team))  # the built-in viewer holds pods.logs
    answer = viewer.get(_url(cluster, ns, name, "?tail=2"))
    assert answer.status_code == 200, answer.content
    assert answer.json()["container"] == "app"

    auditor = _client(make_user(unique("audit"), role="auditor"))
    assert auditor.get(_url(cluster, ns, name, "?tail=2")).status_code == 200

    restarter = _client(_member(team, grants=["workloads.restart"]))
    refused = restarter.get(_url(cluster, ns, name))
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "grant_missing"
    assert refused.json()["params"]["grant"] == "pods.logs"
    # the grant is checked before the options: a caller without it learns nothing from a bad one
    assert restarter.get(_url(cluster, ns, name, "?tail=0")).json()["code"] == "grant_missing"

    # another workspace's member on the same cluster: the namespace is not theirs, as if no such pod
    other = _client(_member(_team(cluster, unique("elsewhere")), role_key="manager"))
    hidden = other.get(_url(cluster, ns, name))
    assert hidden.status_code == 404, hidden.content
    assert hidden.json()["code"] == "pod_not_found"
    assert ns not in hidden.content.decode()  # echoes nothing of the path
    assert name not in hidden.content.decode()

    outsider = _client(make_user(unique("outsider")))
    assert outsider.get(_url(cluster, ns, name)).status_code == 404
    assert APIClient().get(_url(cluster, ns, name)).status_code in (401, 403)


def test_a_cluster_that_does_not_answer_is_503(sandbox: Any, cluster: Cluster) -> None:
    sandbox.inject_fault(SANDBOX, down=True)  # cleared by the sandbox fixture
    operator = _client(make_user(unique("oper"), role="operator"))
    answer = operator.get(_url(cluster, "default", "web-1"))
    assert answer.status_code == 503, answer.content
    assert answer.json()["code"] == "cluster_unreachable"


# ---------------------------------------------------------------------------- the byte limit, pure


def test_lines_of_cuts_at_the_limit_on_a_whole_line() -> None:
    assert lines_of(b"a\nbb\r\nccc\n", 100) == (["a", "bb", "ccc"], False)
    assert lines_of(b"a\nbb\nccc\n", 6) == (["a", "bb"], True)  # 7+ bytes came: cut, "cc" dropped
    assert lines_of(b"abcdefgh", 4) == (["abcd"], True)  # one long line: kept, cut
    assert lines_of(b"", 4) == ([], False)
    assert lines_of("é\n".encode() * 3, 5) == (["é"], True)  # never half a character
