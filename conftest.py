"""Shared pytest fixtures: users of each system role, API clients, and the real services.

Tests run against the project's own PostgreSQL and Redis (`scripts/services.sh start`); nothing
here is mocked.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from rest_framework.test import APIClient

from portal.testing import make_user

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _clear_login_throttle() -> Iterator[None]:
    """Login throttling counters live in Redis; each test starts with a clean slate."""
    yield
    try:
        from portal.redis import client

        keys = list(client().scan_iter("portal:login:*"))
        if keys:
            client().delete(*keys)
    except Exception:
        pass


@pytest.fixture(autouse=True)
def _no_watcher_engine_left_running() -> Iterator[None]:
    """A test that leaves a watcher engine running fails, and the engine is stopped, before the
    test's database teardown: a survivor would keep its leases and take clusters from the next
    test's engine, and pytest-django refusing it database access between tests can leave its
    connection in a transaction that holds locks for the rest of the run."""
    yield
    if not any(thread.name.startswith("engine-") for thread in threading.enumerate()):
        return
    from clusters.watcher.engine import EngineThread

    leaked = EngineThread.running()
    problems = []
    for runner in leaked:
        try:
            runner.stop(timeout=60)
        except BaseException as exc:  # reported below, with every other survivor
            problems.append(f"{runner.engine.holder}: {exc}")
    if leaked:
        pytest.fail(f"the test left {len(leaked)} watcher engine(s) running: "
                    f"{[runner.engine.holder for runner in leaked]} {problems}")


@pytest.fixture
def user(db: None) -> object:
    return make_user("alice")


@pytest.fixture
def other_user(db: None) -> object:
    return make_user("bob")


@pytest.fixture
def admin_user(db: None) -> object:
    return make_user("root", role="admin")


@pytest.fixture
def operator_user(db: None) -> object:
    return make_user("oper", role="operator")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def user_api(user: object) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)  # type: ignore[arg-type]
    return client


@pytest.fixture
def admin_api(admin_user: object) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)  # type: ignore[arg-type]
    return client


_SESSION_WORKER: dict[str, subprocess.Popen[bytes]] = {}


def _flush_retrying_deadlocks() -> None:
    """A transactional test ends with Django's flush (one TRUNCATE of every table). A process the
    test started (a Celery worker finishing a task, a server thread) may still read two tables in
    one statement; PostgreSQL then breaks the lock cycle by failing one side, sometimes the flush,
    and the next test starts on a dirty database. Retry the flush when that is what failed."""
    from django.core.management.base import CommandError
    from django.db import OperationalError
    from django.test import testcases

    original = testcases.TransactionTestCase._fixture_teardown  # type: ignore[attr-defined]

    def teardown(self: testcases.TransactionTestCase) -> None:
        for attempt in range(5):
            try:
                original(self)
                return
            except (CommandError, OperationalError) as exc:
                cause = exc.__cause__ or exc
                if "deadlock detected" not in str(cause) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    testcases.TransactionTestCase._fixture_teardown = teardown  # type: ignore[attr-defined]


_flush_retrying_deadlocks()


def wait_for_session_worker_idle(timeout: float = 30.0) -> None:
    """Wait, at most ``timeout`` seconds, until this test process's Celery worker (if it started
    one) has nothing queued and nothing running."""
    proc = _SESSION_WORKER.get("proc")
    if proc is None or proc.poll() is not None:
        return
    from portal.celery import app
    from portal.redis import client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            from portal.enqueue import QUEUES

            redis = client()
            queued = 0
            for queue in QUEUES:
                queued += cast(int, redis.llen(queue))
            name = f"pytest-{os.getpid()}@{socket.gethostname()}"  # as the fixture names it
            active = app.control.inspect(destination=[name], limit=1, timeout=1.0).active() or {}
        except Exception:
            return
        if not queued and not any(active.values()):
            return
        time.sleep(0.2)


@pytest.fixture
def session_worker_idle() -> Callable[[], None]:
    """For a test that must have the database to itself (dropping its schema, say): call it to
    wait until the session's Celery worker has finished what earlier steps enqueued."""
    return wait_for_session_worker_idle


@pytest.fixture(autouse=True)
def _session_worker_idle_before_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """A transactional test ends by truncating every table; a task it enqueued (a cluster check
    after registration, say) that the session's Celery worker is still running would then hold
    locks the TRUNCATE needs, and PostgreSQL may break the deadlock by failing the flush. So
    wait, briefly, for that worker to go idle first (this teardown runs before pytest-django's)."""
    yield
    if "transactional_db" in request.fixturenames:
        wait_for_session_worker_idle()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None, django_db_blocker: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker on the tests' Redis database, reading and writing the *test*
    database (its tasks must see what the test wrote, and nothing else)."""
    from portal.testing import backend_env

    with django_db_blocker.unblock():
        env = backend_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "-n", f"pytest-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    from portal.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("celery worker exited during startup")
        if app.control.ping(timeout=0.5):
            break
    else:
        proc.kill()
        raise RuntimeError("celery worker did not answer within 60 s")
    _SESSION_WORKER["proc"] = proc
    yield proc
    _SESSION_WORKER.pop("proc", None)
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def sandbox_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Three simulated clusters over HTTPS for the whole session (the portal reaches them only
    through their kubeconfigs). Tests that inject faults must clear them (use ``sandbox``)."""
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=3, nodes=3, state_dir=tmp_path_factory.mktemp("sandbox")) as fleet:
        yield fleet


@pytest.fixture
def sandbox(sandbox_fleet: object) -> Iterator[object]:
    """The session fleet, with every cluster's faults cleared after the test."""
    yield sandbox_fleet
    for name in list(sandbox_fleet.clusters):  # type: ignore[attr-defined]
        sandbox_fleet.clear_faults(name)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, and at the end of the run: end the sessions that
    subprocesses and worker threads (servers, watchers, Celery) may still hold on it, so it can
    be dropped instead of lingering into the next run."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
