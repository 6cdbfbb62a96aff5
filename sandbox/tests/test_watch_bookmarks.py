"""Watch bookmarks as kube-apiserver's watch cache sends them, and the ``stall_watches`` fault.

A real v1.28 server sent nothing for 70 s on ``allowWatchBookmarks=true&timeoutSeconds=70`` of an
empty kind (issue 10): the cacher sends a bookmark only when it has processed an event of that kind
(``lastProcessedResourceVersion != 0``) newer than the version the watch started from. The sandbox
used to send one every ``bookmark_interval`` whatever the kind, which let a client that took
bookmarks as its liveness signal pass here and fail on a real cluster.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

import pytest

from sandbox.resources import CRONJOBS, NAMESPACES
from sandbox.testing import SandboxFleet
from sandbox.tests.helpers import Raw


def _cronjob(name: str, ns: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}


def _watch(raw: Raw, path: str, *, timeout: float = 10.0) -> tuple[http.client.HTTPSConnection, Any]:
    conn = http.client.HTTPSConnection("127.0.0.1", raw.handle.port, context=raw.ctx, timeout=timeout)
    conn.request("GET", path, headers={"Authorization": f"Bearer {raw.handle.token}"})
    return conn, conn.getresponse()


@pytest.fixture(scope="module")
def raw2(fleet: SandboxFleet) -> Raw:
    return Raw(fleet.cluster("cluster-2"))  # cluster-1 is left to the other modules' habits


def test_an_empty_kind_gets_no_bookmarks(raw2: Raw, fleet: SandboxFleet) -> None:
    assert fleet.in_cluster("cluster-2", lambda c: c.store.count(CRONJOBS)) == 0
    started = time.monotonic()
    conn, resp = _watch(raw2, "/apis/batch/v1/cronjobs?watch=1&allowWatchBookmarks=true&timeoutSeconds=3")
    assert resp.status == 200
    body = resp.read()  # the server ends it at timeoutSeconds
    conn.close()
    assert 2.5 <= time.monotonic() - started < 6
    assert body.strip() == b"", body  # bookmark_interval is 0.5 s here: the old sandbox sent ~6


def test_bookmarks_carry_progress_of_the_kind_past_the_watch_start(raw2: Raw, fleet: SandboxFleet) -> None:
    fleet.in_cluster("cluster-2", lambda c: [c.store.create(NAMESPACES, {"metadata": {"name": n}})
                                             for n in ("bm-a", "bm-b")])
    rv = fleet.in_cluster("cluster-2", lambda c: c.store.resource_version)
    conn, resp = _watch(raw2, f"/apis/batch/v1/namespaces/bm-b/cronjobs?watch=1&resourceVersion={rv}"
                              "&allowWatchBookmarks=true&timeoutSeconds=3")

    def create() -> None:
        time.sleep(0.3)
        fleet.in_cluster("cluster-2", lambda c: c.store.create(CRONJOBS, _cronjob("other", "bm-a")))

    t = threading.Thread(target=create)
    t.start()
    events = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    t.join()
    conn.close()
    created = fleet.in_cluster("cluster-2", lambda c: c.store.get(CRONJOBS, "bm-a", "other"))
    assert created is not None
    created_rv = created["metadata"]["resourceVersion"]
    # Nothing of bm-b changed, but the kind progressed: bookmarks say so, with that version.
    assert events, "no bookmark after the kind progressed"
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert {e["object"]["metadata"]["resourceVersion"] for e in events} == {created_rv}
    assert events[0]["object"]["kind"] == "CronJob"
    # A watch starting after that event gets none: no progress past its version.
    rv = fleet.in_cluster("cluster-2", lambda c: c.store.resource_version)
    conn, resp = _watch(raw2, f"/apis/batch/v1/namespaces/bm-b/cronjobs?watch=1&resourceVersion={rv}"
                              "&allowWatchBookmarks=true&timeoutSeconds=2")
    assert resp.read().strip() == b""
    conn.close()


def test_stalled_watches_go_silent_past_their_timeout_while_other_requests_answer(
        raw2: Raw, fleet: SandboxFleet) -> None:
    conn, resp = _watch(raw2, "/api/v1/namespaces?watch=1&timeoutSeconds=1", timeout=3.0)
    assert resp.status == 200
    fleet.inject_fault("cluster-2", stall_watches=True)
    try:
        with pytest.raises((TimeoutError, socket.timeout)):
            resp.read()  # no clean end at timeoutSeconds: the connection just hangs
        conn.close()
        status, body, _ = raw2.request("GET", "/version", timeout=3.0)
        assert status == 200, body
        # A new watch gets no answer at all.
        fresh = http.client.HTTPSConnection("127.0.0.1", raw2.handle.port, context=raw2.ctx, timeout=1.5)
        fresh.request("GET", "/api/v1/namespaces?watch=1&timeoutSeconds=1",
                      headers={"Authorization": f"Bearer {raw2.handle.token}"})
        with pytest.raises((TimeoutError, socket.timeout)):
            fresh.getresponse()
        fresh.close()
    finally:
        fleet.clear_faults("cluster-2")
    conn, resp = _watch(raw2, "/api/v1/namespaces?watch=1&timeoutSeconds=1&resourceVersion="
                              + str(fleet.in_cluster("cluster-2", lambda c: c.store.resource_version)))
    assert resp.status == 200
    assert resp.read().strip() == b""  # served and ended normally again
    conn.close()
