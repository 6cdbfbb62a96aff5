"""PostgreSQL stopped under a running portal (private servers, real processes; tests/faults/procs.py).

While it is down the API answers 503 ``database_unavailable`` with a message a person can act on
(never a 500), ``/healthz`` stays 200 and ``/readyz`` names the database. When it comes back, the
same web, worker and watcher processes serve again without a restart, and the watcher resumes
its watches from the stored resourceVersions: a change made in the cluster meanwhile arrives
without a relist."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

import pytest

from clusters.tests.helpers import client_for
from portal.testing import unique, wait_for
from tests.faults.procs import Stack, Watcher, WebServer

pytestmark = pytest.mark.faults


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def running(stack: Stack, admin_token: str, sandbox_fleet: Any) -> dict[str, Any]:
    """Web, a worker and a watcher on the private servers, with one sandbox cluster registered
    and synced by the watcher."""
    web, worker, watcher = stack.web(), stack.worker("pg"), stack.watcher("faults-pg")
    for proc in (web, worker, watcher):
        proc.start()
    web.wait_ready(90)
    worker.wait_ready(90)
    name = unique("pgfault")
    body = json.dumps({"name": name, "kubeconfig": sandbox_fleet.cluster("cluster-1").kubeconfig.read_text()})
    status, raw = web.get("/api/clusters/", method="POST", body=body.encode(), headers=_auth(admin_token))
    assert status == 202, raw
    cluster_id = int(json.loads(raw)["id"])
    wait_for(lambda: stack.sql("SELECT status FROM clusters_cluster WHERE id = %s", cluster_id) == [("connected",)],
             timeout=60, what=f"the worker's first check of the cluster\n{stack.logs()}")
    watcher.expect_leases = 1
    watcher.wait_ready(90)
    wait_for(lambda: _synced(stack, cluster_id), timeout=90, what=f"the watcher's first sync\n{stack.logs()}")
    return {"web": web, "worker": worker, "watcher": watcher, "cluster_id": cluster_id, "name": name}


def _synced(stack: Stack, cluster_id: int) -> bool:
    rows = stack.sql("SELECT state FROM clusters_kindsync WHERE cluster_id = %s", cluster_id)
    return bool(rows) and all(state in ("synced", "forbidden") for (state,) in rows)


def _relists(stack: Stack, cluster_id: int) -> int:
    return int(stack.sql("SELECT coalesce(sum(relists), 0) FROM clusters_kindsync WHERE cluster_id = %s",
                         cluster_id)[0][0])


def _api(web: WebServer, token: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    status, raw = web.get(path, headers=_auth(token), **kwargs)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {"raw": raw.decode(errors="replace")[:500]}


def test_api_answers_503_while_postgres_is_down_and_every_process_recovers(
        stack: Stack, admin_token: str, running: dict[str, Any], sandbox_fleet: Any) -> None:
    web: WebServer = running["web"]
    watcher: Watcher = running["watcher"]
    cluster_id = running["cluster_id"]
    pids = {proc.name: proc.pid for proc in (web, running["worker"], watcher)}
    assert _api(web, admin_token, "/api/clusters/")[0] == 200
    relists_before = _relists(stack, cluster_id)
    namespace = "default"
    service = unique("during-outage")

    stack.postgres.stop()
    try:
        for path, method, body in (("/api/clusters/", "GET", None), (f"/api/clusters/{cluster_id}/", "GET", None),
                                   ("/api/clusters/", "POST", b'{"name": "x", "kubeconfig": "y"}')):
            status, answer = _api(web, admin_token, path, method=method, body=body)
            assert status == 503, (path, status, answer)
            assert answer["code"] == "database_unavailable", answer
            assert "PostgreSQL" in answer["detail"], answer
            assert "try again" in answer["detail"].lower(), answer
        status, raw = web.get("/readyz")
        ready = json.loads(raw)
        assert status == 503, ready
        assert ready["checks"]["database"]["ok"] is False, ready
        assert ready["checks"]["redis"]["ok"] is True, ready
        assert web.get("/healthz")[0] == 200
        # A change in the cluster while the watcher cannot write: it must arrive after the outage.
        with client_for(sandbox_fleet, "cluster-1") as kube:
            kube.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "namespace": namespace},
                        "spec": {"selector": {"app": service}, "ports": [{"port": 80}]}}, field_manager="faults")
        time.sleep(2)  # the watcher reads the event and fails to write it
    finally:
        stack.postgres.start()
        stack.postgres.wait_ready()

    wait_for(lambda: _api(web, admin_token, "/api/clusters/")[0] == 200, timeout=30,
             what=f"the web process to serve again\n{web.log_tail()}")
    wait_for(lambda: stack.sql("SELECT 1 FROM clusters_kubeobject WHERE cluster_id = %s AND kind = 'Service' "
                               "AND name = %s", cluster_id, service),
             timeout=60, what=f"the change made during the outage in the read model\n{watcher.log_tail()}")
    # The worker serves again: a re-check of the cluster (a task) runs and records its time.
    checked = stack.sql("SELECT last_checked FROM clusters_cluster WHERE id = %s", cluster_id)[0][0]
    status, answer = _api(web, admin_token, f"/api/clusters/{cluster_id}/check/", method="POST", body=b"{}")
    assert status in (200, 202), answer
    wait_for(lambda: stack.sql("SELECT last_checked FROM clusters_cluster WHERE id = %s", cluster_id)[0][0] != checked,
             timeout=60, what=f"the worker to run a check after the outage\n{running['worker'].log_tail()}")
    assert {proc.name: proc.pid for proc in (web, running["worker"], watcher)} == pids, "a process was restarted"
    assert all(proc.alive for proc in (web, running["worker"], watcher))
    assert _relists(stack, cluster_id) == relists_before, "the watcher relisted instead of resuming its watches"


def test_database_failures_are_told_apart_from_bugs() -> None:
    """Which errors become a 503 (``portal.middleware.database_failure``): the server gone, shutting
    down or out of space; a wrong query stays a 500."""
    import psycopg
    from django.db import DataError, InterfaceError, OperationalError

    from portal.middleware import DATABASE_FULL, DATABASE_UNAVAILABLE, database_failure

    def wrapped(django_cls: type[Exception], cause: Exception) -> Exception:
        try:
            raise django_cls(str(cause)) from cause
        except django_cls as exc:
            return exc

    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert database_failure(wrapped(OperationalError, refused)) == DATABASE_UNAVAILABLE
    assert database_failure(wrapped(InterfaceError, psycopg.InterfaceError("the connection is closed"))) == \
        DATABASE_UNAVAILABLE
    assert database_failure(wrapped(OperationalError, psycopg.errors.AdminShutdown("terminating"))) == \
        DATABASE_UNAVAILABLE
    assert database_failure(wrapped(OperationalError, psycopg.errors.DiskFull("could not extend file"))) == \
        DATABASE_FULL
    assert database_failure(wrapped(OperationalError, psycopg.errors.LockNotAvailable("lock"))) is None
    assert database_failure(wrapped(DataError, psycopg.errors.NumericValueOutOfRange("out of range"))) is None
    assert database_failure(ValueError("not a database error")) is None


def test_the_middleware_turns_a_database_500_into_a_503() -> None:
    """``DatabaseUnavailableMiddleware``: whichever layer hit PostgreSQL down (here a view that is
    not an API view), the answer is the 503 body with Retry-After, not Django's 500."""
    import psycopg
    from django.core.handlers.exception import convert_exception_to_response
    from django.db import OperationalError
    from django.http import HttpRequest, HttpResponse
    from django.test import RequestFactory

    from portal.middleware import DatabaseUnavailableMiddleware

    def view(request: HttpRequest) -> HttpResponse:
        try:
            raise psycopg.OperationalError("connection failed: Connection refused")
        except psycopg.OperationalError as exc:
            raise OperationalError(str(exc)) from exc

    def fine(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    request = RequestFactory().get("/somewhere")
    inner = cast(Callable[[HttpRequest], HttpResponse], convert_exception_to_response(view))
    response = DatabaseUnavailableMiddleware(inner)(request)
    assert response.status_code == 503
    assert json.loads(response.content)["code"] == "database_unavailable"
    assert response["Retry-After"] == "5"
    assert DatabaseUnavailableMiddleware(fine)(RequestFactory().get("/")).status_code == 200
