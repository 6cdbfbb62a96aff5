"""Redis restarted (without persistence: everything in it is lost, queued Celery messages,
reserved ones, the cache and the sockets' sequence numbers) during a multi-cluster deploy and
with a browser's WebSocket connected to the real web server.

Queued work is not lost: the rollout's state of record is in PostgreSQL and the beat reconcilers
send what the lost messages carried. The web, worker and beat processes reconnect by themselves.
The socket client reconnects as the console does (``frontend/src/lib/socket.ts``), subscribes
again and learns from ``seq`` that it missed events, so it refetches; and later events reach it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.faults import deploys
from tests.faults.procs import Stack, WebServer

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def running(deploy_env: dict[str, Any]) -> dict[str, Any]:
    """The deploy stack (conftest ``deploy_env``) and an admin's session cookie on it."""
    cookie = deploy_env["stack"].run_django("""
from django.test import Client
from portal.models import User
user = User.objects.filter(role="admin").order_by("id").first()
client = Client()
client.force_login(user)
result = client.cookies["sessionid"].value
""")
    return {**deploy_env, "cookie": cookie}


class Browser:
    """What the console's socket does: subscribe, remember the last ``seq``, and on reconnect
    compare the server's current ``seq`` with it (a difference: refetch)."""

    def __init__(self, web: WebServer, cookie: str, group: str) -> None:
        self.web, self.cookie, self.group = web, cookie, group
        self.last_seq: int | None = None
        self.refetches = 0
        self.events: list[dict[str, Any]] = []
        self.stale_dropped = 0
        self.socket: ClientConnection | None = None
        self.connects = 0

    def connect(self) -> None:
        self.close()
        self.socket = connect(f"ws://127.0.0.1:{self.web.port}/ws/", open_timeout=10,
                              additional_headers={"Cookie": f"sessionid={self.cookie}",
                                                  "Origin": f"http://127.0.0.1:{self.web.port}"}).__enter__()
        self.connects += 1
        self.socket.send(json.dumps({"type": "subscribe", "group": self.group}))
        while True:
            message = json.loads(self.socket.recv(timeout=10))
            if message.get("type") == "subscribed":
                break
        seq = int(message["seq"])
        if self.last_seq is not None and seq != self.last_seq:
            self.refetches += 1
        self.last_seq = seq

    def pump(self, seconds: float) -> bool:
        """Read events for ``seconds``; False when the socket closed (the caller reconnects)."""
        assert self.socket is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                raw = self.socket.recv(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                return True
            except ConnectionClosed:
                return False
            message = json.loads(raw)
            seq = message.get("seq")
            if not isinstance(seq, int) or message.get("group") != self.group:
                continue
            if self.last_seq is not None and seq <= self.last_seq:
                self.stale_dropped += 1  # the console drops these as duplicates
                continue
            if self.last_seq is not None and seq != self.last_seq + 1:
                self.refetches += 1
            self.last_seq = seq
            self.events.append(message)
        return True

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None


def test_redis_restart_loses_no_deploy_and_sockets_catch_up(sandbox_fleet: Any, running: dict[str, Any]) -> None:
    stack: Stack = running["stack"]
    scenario: deploys.Scenario = running["scenario"]
    web: WebServer = running["web"]
    pids = {name: running[name].pid for name in ("web", "worker", "beat")}
    browser = Browser(web, running["cookie"], f"workspace.{scenario.workspace}")
    browser.connect()
    try:
        rollout = deploys.start_rollout_and_catch(stack, scenario, "during-redis-restart")
        assert rollout is not None, "the rollout finished before Redis could be restarted"
        browser.pump(0.3)
        seen_before = browser.last_seq
        stack.redis.stop()
        time.sleep(1.0)
        stack.redis.start()
        stack.redis.wait_ready()
        # The console reconnects when its socket closes; one that stays open keeps listening.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and deploys.rollout_status(stack, rollout) == "running":
            if not browser.pump(0.5):
                time.sleep(0.5)
                try:
                    browser.connect()
                except (OSError, ConnectionClosed, TimeoutError):
                    continue
        status = deploys.wait_finished(stack, rollout, timeout=90)
        assert status == "succeeded", f"rollout {rollout} is {status} after the Redis restart\n{stack.logs()}"
        found = deploys.problems(stack, sandbox_fleet, scenario, rollout, "during-redis-restart")
        assert not found, "\n".join(found)
        assert {name: running[name].pid for name in ("web", "worker", "beat")} == pids, "a process was restarted"

        # The socket (reconnected or not) hears what happens next, and knew it had to refetch.
        if not browser.pump(0.2):
            browser.connect()
        print(f"socket: {browser.connects} connects, {browser.refetches} refetches, "
              f"{browser.stale_dropped} events dropped as stale, seq {seen_before} -> {browser.last_seq}")
        assert browser.refetches >= 1, "the client never learned it missed events"
        after = deploys.start_rollout(stack, scenario, "after-redis-restart")
        assert deploys.wait_finished(stack, after, timeout=90) == "succeeded", stack.logs()
        heard: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not heard:
            if not browser.pump(0.5):
                browser.connect()
            heard = [e for e in browser.events if e.get("type") == "rollout.updated" and e["data"].get("id") == after]
        assert heard, (f"no rollout.updated event of the next rollout reached the socket "
                       f"(dropped as stale: {browser.stale_dropped})\n{web.log_tail()}")
    finally:
        browser.close()
