"""Real-browser fixtures: the portal served by a real ASGI server (uvicorn, so WebSockets work)
against the test database, and Debian's Chromium driven by Playwright.

Nothing is mocked: the browser loads the built SPA, logs in through the API and opens /ws/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import CLUSTER

ROOT = Path(__file__).resolve().parents[2]
# Playwright's sync API keeps an event loop in this thread; the ORM calls made by the tests
# (creating users, the test database) are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_slot() -> int:
    """0-7, by pid, but never the same for two xdist workers of one run (``make test`` runs the
    browser tests on two): the slot's residue modulo the worker count is the worker's index."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or not 1 < count <= 8:
        return os.getpid() % 8
    index = int(worker[2:])
    return (os.getpid() % (8 // count)) * count + index


@pytest.fixture
def backend_env(transactional_db: None) -> dict[str, str]:
    """Environment of the backend processes a browser test starts (uvicorn, Celery, watchers):
    the test profile on the pytest test database, and a Redis database of the run's own.

    Redis is shared by every test session on the machine, and its default database carries the
    Celery queue and the WebSocket groups: another session's worker would take our tasks, and
    its ``cluster.1`` events (every test database has a cluster 1) would reach our pages. So
    the browser tests' processes use database 8-15 (by pid, distinct per xdist worker), emptied first."""
    from urllib.parse import urlsplit, urlunsplit

    import redis
    from django.conf import settings

    from portal.testing import backend_env as test_backend_env

    redis_url = urlunsplit(urlsplit(settings.REDIS_URL)._replace(path=f"/{8 + _redis_slot()}"))
    redis.Redis.from_url(redis_url).flushdb()
    return test_backend_env(REDIS_URL=redis_url)


@pytest.fixture
def portal_server(backend_env: dict[str, str]) -> Iterator[str]:
    """Start uvicorn on a free port against the test database; yield its base URL."""
    from django.conf import settings

    if not (settings.FRONTEND_DIST / "index.html").is_file():
        pytest.fail(f"{settings.FRONTEND_DIST} is not built: run `make frontend` (make test does it)")
    port = _free_port()
    env = backend_env
    log = open(ROOT / "var" / f"browser-uvicorn-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"uvicorn did not start; see var/browser-uvicorn-{port}.log")
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """A fresh Chromium per test. Function scope on purpose: while Playwright's sync API is
    started it keeps an event loop running in this thread, which would break every asyncio
    test that pytest runs after it."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: scripts/system-deps.sh should have installed it")
        pytest.skip("Chromium is not installed (apt-get install chromium); the real-browser test needs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    # Chromium reports each Content-Security-Policy violation on the console; any one fails the test.
    csp_violations: list[str] = []
    page.on("console", lambda message: csp_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shots = ROOT / "var" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
    context.close()
    if csp_violations:
        pytest.fail("Content-Security-Policy violations in the console:\n" + "\n".join(csp_violations))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser is a browser test (see the Makefile's pytest target)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Any]:
    """One sandbox cluster with two nodes, served over HTTPS on 127.0.0.1."""
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=1, nodes=2, names=[CLUSTER], state_dir=tmp_path / "sandbox") as running:
        yield running


@pytest.fixture
def backend_workers(portal_server: str, backend_env: dict[str, str], fleet: Any) -> Iterator[None]:
    """A Celery worker and the watcher service on the same test database and Redis as
    ``portal_server`` (the session-wide ``celery_worker_process`` would run the registration
    check against another database). Depends on ``fleet`` so the watcher stops while the
    sandbox still answers."""
    env = backend_env
    tag = f"browser-{os.getpid()}"
    logs = ROOT / "var"
    logs.mkdir(exist_ok=True)
    celery_log = open(logs / f"{tag}-celery.log", "wb")  # noqa: SIM115 - closed below
    watcher_log = open(logs / f"{tag}-watcher.log", "wb")  # noqa: SIM115 - closed below
    celery = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "-n", f"{tag}@%h"],
        cwd=ROOT, env=env, stdout=celery_log, stderr=subprocess.STDOUT,
    )
    watcher = subprocess.Popen(
        [sys.executable, "manage.py", "runwatchers", "--holder", tag, "--heartbeat", "10"],
        cwd=ROOT, env=env, stdout=watcher_log, stderr=subprocess.STDOUT,
    )
    try:
        yield
        assert watcher.poll() is None, f"runwatchers died during the test; see var/{tag}-watcher.log"
    finally:
        _stop(watcher)
        _stop(celery)
        celery_log.close()
        watcher_log.close()
