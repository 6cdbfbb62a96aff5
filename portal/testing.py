"""Helpers shared by the test suites of every app (kept importable, unlike conftest modules).

Test modules import helpers from here, from their app's ``tests/helpers.py`` or ``charts.py``, and
get fixtures from a conftest: never from another ``test_*`` module (tests/test_project.py checks),
so a helper is written once and a test file can move or go without breaking others.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn, cast

from portal.models import User

_names = itertools.count(1)


def make_user(username: str, role: str = "user", password: str = "correct-horse-battery") -> User:  # noqa: S107
    return User.objects.create_user(username=username, password=password, role=role, email=f"{username}@example.com")


def backend_env(**overrides: str) -> dict[str, str]:
    """Environment for a backend process a test starts (uvicorn, Celery, ``runwatchers``): the
    test profile, on the test database pytest-django created, and the tests' Redis."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env.update({
        "PORTAL_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    })
    env.update(overrides)
    return env


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy and return that; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def unique(prefix: str) -> str:
    """A name no other test (nor another run's leftovers in a shared sandbox) uses."""
    return f"{prefix}-{os.getpid() % 1000}-{next(_names)}"


def api_request(client: Any, method: str, path: str, accept: str = "application/json") -> Any:
    """``method`` on ``path`` with an empty JSON body (a GET with none), as a route-by-route test sends it."""
    if method == "get":
        return client.get(path, HTTP_ACCEPT=accept)
    return client.generic(method.upper(), path, "{}", content_type="application/json", HTTP_ACCEPT="application/json")


class Subscriber:
    """Hears the events of portal groups as a web process's hub does (:mod:`portal.eventhub`): it
    reads the event stream from its newest entry on, in a thread of its own, and keeps the events
    of its groups, parsed, in the order they were added."""

    def __init__(self, *groups: str) -> None:
        import queue

        import redis as redis_lib
        from django.conf import settings

        from portal.events import STREAM

        self.groups = {group.encode() for group in groups}
        self.history: list[dict[str, Any]] = []
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stream = STREAM
        self.connection = redis_lib.Redis.from_url(settings.REDIS_URL, socket_timeout=10)
        newest = cast(list[Any], self.connection.xrevrange(STREAM, count=1))
        self.last_id: bytes = newest[0][0] if newest else b"0-0"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        import json

        while not self.stopped.is_set():
            reply = cast(list[Any], self.connection.xread({self.stream: self.last_id}, count=500, block=200))
            for _stream, entries in reply or ():
                for entry_id, fields in entries:
                    self.last_id = entry_id
                    for value in fields.values():
                        group, _, frame = value.partition(b" ")
                        if group in self.groups:
                            self.events.put(json.loads(frame))

    @property
    def seen(self) -> list[dict[str, Any]]:
        """The events received so far (``history``)."""
        return self.history

    def receive(self, timeout: float = 1.0) -> dict[str, Any] | None:
        import queue

        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait(self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        """The first event (already received or arriving within ``timeout``) that matches."""
        for old in self.history:
            if match(old):
                return old
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.receive(timeout=min(1.0, max(0.05, deadline - time.monotonic())))
            if event is None:
                continue
            self.history.append(event)
            if match(event):
                return event
        raise AssertionError(f"no matching event within {timeout} s; saw {[e['type'] for e in self.history]}")

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.connection.close()


class ControlListener:
    """Listens on a user's control group (a channel-layer group), as that user's open sockets do,
    on a loop of its own: the layer's receive buffers belong to one loop."""

    def __init__(self, user_id: int) -> None:
        from channels.layers import channel_layers

        from portal.events import control_group

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.layer = channel_layers.make_backend("default")
        self.group = control_group(user_id)
        self.channel = self._run(self.layer.new_channel())
        self._run(self.layer.group_add(self.group, self.channel))

    def _run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def next(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next control message, or None within ``timeout``."""
        async def one() -> dict[str, Any] | None:
            try:
                return await asyncio.wait_for(self.layer.receive(self.channel), timeout)
            except TimeoutError:
                return None

        return self._run(one(), timeout + 5)

    def close(self) -> None:
        self._run(self.layer.group_discard(self.group, self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()  # channels_redis flushes the layer's connections on close


def register_cluster(admin_api: Any, kubeconfig: str, name: str) -> int:
    """Register a cluster through the API as an admin (``admin_api``) and return its id; the
    check that follows runs in a task (202)."""
    response = admin_api.post("/api/clusters/", {"name": name, "kubeconfig": kubeconfig}, format="json")
    assert response.status_code == 202, response.content
    return int(response.json()["id"])


def service_missing(reason: str) -> NoReturn:
    """A service the test needs (the built-in registry, say) is not there: skip locally, saying how to
    start it, but fail under CI (``CI`` set), where ``make test`` starts every service and a silent skip
    would pass a suite that tested nothing of the feature."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI starts every service; this is a failure there, not a skip)")
    pytest.skip(reason)
