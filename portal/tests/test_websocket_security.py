"""/ws/ as an attacker and as a user whose access ends while the socket is open (issue 11, 4).

Everything runs through the real ASGI app, the real session store and the Redis channel layer;
access is taken away through the real REST API (or, for expiry, in the session table as time
would). Each revocation test then publishes a probe event to the group *after* the change and
proves the socket never delivers it: on the old code, where subscriptions were checked only when
made, every one of those probes arrived.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster
from portal.asgi import application
from portal.events import send_now
from portal.models import User
from portal.testing import make_user
from workspaces.actions import service_map_deleted
from workspaces.models import ApplyStatus, Membership, Role, ServiceMap, Workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

_probe = itertools.count(1)


# ---------------------------------------------------------------------------- helpers


def _browser(user: Any) -> tuple[Client, str]:
    """A logged-in browser: its HTTP client and its session cookie."""
    client = Client()
    client.force_login(user)
    return client, client.cookies["sessionid"].value


async def browser(user: Any) -> tuple[Client, str]:
    return await sync_to_async(_browser)(user)


async def connect(cookie: str | None, *, origin: str | None = "http://testserver") -> WebsocketCommunicator:
    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def subscribe(communicator: WebsocketCommunicator, group: str) -> dict[str, Any]:
    await communicator.send_json_to({"type": "subscribe", "group": group})
    reply: dict[str, Any] = await communicator.receive_json_from(timeout=5)
    return reply


async def subscribed(communicator: WebsocketCommunicator, *groups: str) -> None:
    for group in groups:
        reply = await subscribe(communicator, group)
        assert (reply["type"], reply["group"]) == ("subscribed", group), reply


async def probe(group: str) -> int:
    """Publish a marker event to ``group`` and return its number."""
    number = next(_probe)
    await sync_to_async(send_now)(group, "probe", {"n": number})
    return number


async def drain(communicator: WebsocketCommunicator, until: Callable[[list[dict[str, Any]]], bool] | None = None,
                *, quiet: float = 0.5, timeout: float = 15) -> list[dict[str, Any]]:
    """Every output of the socket (a close included): first until ``until`` holds for what was
    received (a busy machine may take a while), then until it has been quiet for ``quiet`` s."""
    out: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while until is not None and not until(out) and not closed_with(out):
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, f"timed out waiting; received {out}"
        out.append(_decode(await communicator.receive_output(timeout=remaining)))
    while not closed_with(out) and not await communicator.receive_nothing(timeout=quiet, interval=0.02):
        out.append(_decode(await communicator.receive_output(timeout=1)))
    return out


def _decode(message: dict[str, Any]) -> dict[str, Any]:
    if message["type"] == "websocket.send":
        decoded: dict[str, Any] = json.loads(message["text"])
        return decoded
    return message


def revoked_all(*groups: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda messages: revoked(messages) >= set(groups)


def ended(messages: list[dict[str, Any]]) -> bool:
    return closed_with(messages) is not None


def probed(*groups: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda messages: {g for g, _ in probes(messages)} >= set(groups)


def probes(messages: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(m["group"], m["data"]["n"]) for m in messages if m.get("type") == "probe"]


def revoked(messages: list[dict[str, Any]]) -> set[str]:
    return {m["group"] for m in messages if m.get("type") == "subscription.revoked"}


def closed_with(messages: list[dict[str, Any]]) -> int | None:
    closes = [m.get("code") for m in messages if m.get("type") == "websocket.close"]
    return closes[-1] if closes else None


def api_as(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


async def call(user: Any, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
    def _call() -> Any:
        return getattr(api_as(user), method)(path, data, format="json")

    return await sync_to_async(_call)()


class World:
    """Workspace W with a service map (namespace ``team-w``) on cluster C, and a developer in it."""

    def __init__(self, admin: Any) -> None:
        self.admin = admin
        self.workspace = Workspace.objects.create(name="team-w", created_by=admin)
        self.cluster = Cluster.objects.create(name="seoul", server="https://127.0.0.1:9")
        ServiceMap.objects.create(workspace=self.workspace, cluster=self.cluster, namespace="team-w",
                                  quota={"pods": "10"}, status="ready")
        self.dev = make_user("dev")
        Role.ensure_builtin()
        self.membership = Membership.objects.create(workspace=self.workspace, user=self.dev,
                                                    role=Role.objects.get(key="developer"))

    @property
    def groups(self) -> list[str]:
        return [f"workspace.{self.workspace.pk}", f"cluster.{self.cluster.pk}.ns.team-w"]


@pytest.fixture
def world(admin_user: Any) -> World:
    return World(admin_user)


# ---------------------------------------------------------------------------- refused at the door


@pytest.mark.parametrize("origin", ["https://evil.example", "http://testserver.evil.example", "null",
                                    "http://evil.example:80"])
async def test_cross_origin_socket_is_closed_4403_and_hears_nothing(user: Any, origin: str) -> None:
    _, cookie = await browser(user)
    communicator = await connect(cookie, origin=origin)
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
    await probe(f"user.{user.pk}")
    assert await communicator.receive_nothing(timeout=0.3)


@pytest.mark.parametrize("cookie", [None, "", "not-a-session", "x" * 40])
async def test_unauthenticated_socket_is_closed_4401(cookie: str | None) -> None:
    communicator = await connect(cookie)
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_a_deactivated_users_session_cannot_open_a_socket(user: Any) -> None:
    _, cookie = await browser(user)
    await sync_to_async(User.objects.filter(pk=user.pk).update)(is_active=False)
    communicator = await connect(cookie)
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_foreign_workspace_and_cluster_groups_are_refused(world: World, user: Any) -> None:
    """``user`` is in no workspace: every group of W and C is refused, and probes to them never
    arrive; the member's own subscription to the same groups is accepted (so the refusal is not
    simply everything)."""
    _, cookie = await browser(user)
    stranger = await connect(cookie)
    groups = [*world.groups, f"cluster.{world.cluster.pk}", "fleet", "audit", f"user.{world.dev.pk}"]
    for group in groups:
        reply = await subscribe(stranger, group)
        assert (reply["type"], reply["group"]) == ("error", group), reply
    _, dev_cookie = await browser(world.dev)
    insider = await connect(dev_cookie)
    await subscribed(insider, *world.groups)
    for group in groups:
        await probe(group)
    assert [g for g, _ in probes(await drain(insider, probed(*world.groups)))] == world.groups
    assert probes(await drain(stranger)) == []
    await stranger.disconnect()
    await insider.disconnect()


# ---------------------------------------------------------------------------- revoked while open


async def test_removed_member_stops_hearing_the_workspace_and_its_namespaces(world: World) -> None:
    _, cookie = await browser(world.dev)
    socket = await connect(cookie)
    own = f"user.{world.dev.pk}"
    await subscribed(socket, *world.groups, own)
    response = await call(world.admin, "delete",
                          f"/api/workspaces/{world.workspace.pk}/members/{world.membership.pk}/")
    assert response.status_code == 204, response.content
    for group in [*world.groups, own]:
        await probe(group)
    messages = await drain(socket, lambda m: revoked_all(*world.groups)(m) and probed(own)(m))
    assert revoked(messages) == set(world.groups)
    assert [g for g, _ in probes(messages)] == [own], messages  # the own group still works
    # Nothing of the workspace after the removal, not even the member.changed event about it.
    assert not [m for m in messages if m.get("group") in world.groups and m["type"] != "subscription.revoked"]
    assert closed_with(messages) is None
    # Subscribing again is refused now.
    assert (await subscribe(socket, world.groups[0]))["type"] == "error"
    await socket.disconnect()


async def test_workspace_role_change_keeps_access_the_new_role_still_has(world: World) -> None:
    """A re-check does not over-revoke: a developer made viewer still reads the workspace."""
    _, cookie = await browser(world.dev)
    socket = await connect(cookie)
    await subscribed(socket, *world.groups)
    response = await call(world.admin, "patch",
                          f"/api/workspaces/{world.workspace.pk}/members/{world.membership.pk}/", {"role": "viewer"})
    assert response.status_code == 200, response.content
    for group in world.groups:
        await probe(group)
    messages = await drain(socket, probed(*world.groups))
    assert revoked(messages) == set()
    assert [g for g, _ in probes(messages)] == world.groups
    await socket.disconnect()


async def test_system_role_lowered_to_no_access_drops_fleet_cluster_and_workspace(world: World,
                                                                                 operator_user: Any) -> None:
    _, cookie = await browser(operator_user)
    socket = await connect(cookie)
    groups = ["fleet", f"cluster.{world.cluster.pk}", f"workspace.{world.workspace.pk}"]
    await subscribed(socket, *groups)
    response = await call(world.admin, "patch", f"/api/users/{operator_user.pk}/", {"role": "user"})
    assert response.status_code == 200, response.content
    for group in groups:
        await probe(group)
    messages = await drain(socket, revoked_all(*groups))
    assert revoked(messages) == set(groups)
    assert probes(messages) == []
    assert closed_with(messages) is None
    await socket.disconnect()


async def test_deleted_workspace_is_dropped_from_its_members_sockets(admin_user: Any) -> None:
    dev = await sync_to_async(make_user)("dev")

    def _setup() -> Workspace:
        Role.ensure_builtin()
        workspace = Workspace.objects.create(name="short-lived", created_by=admin_user)
        Membership.objects.create(workspace=workspace, user=dev, role=Role.objects.get(key="viewer"))
        return workspace

    workspace = await sync_to_async(_setup)()
    _, cookie = await browser(dev)
    socket = await connect(cookie)
    group = f"workspace.{workspace.pk}"
    await subscribed(socket, group)
    response = await call(admin_user, "delete", f"/api/workspaces/{workspace.pk}/")
    assert response.status_code == 204, response.content
    await probe(group)
    messages = await drain(socket, revoked_all(group))
    assert revoked(messages) == {group}
    assert probes(messages) == []
    await socket.disconnect()


async def test_deactivated_user_socket_is_closed(world: World) -> None:
    _, cookie = await browser(world.dev)
    socket = await connect(cookie)
    await subscribed(socket, *world.groups)
    response = await call(world.admin, "patch", f"/api/users/{world.dev.pk}/", {"is_active": False})
    assert response.status_code == 200, response.content
    for group in world.groups:
        await probe(group)
    messages = await drain(socket, ended)
    assert probes(messages) == []
    assert [m["type"] for m in messages] == ["session.ended", "websocket.close"], messages
    assert closed_with(messages) == 4401


async def test_logout_closes_that_sessions_sockets_only(world: World) -> None:
    """Logging out in one browser closes its sockets; the same user's other browser keeps its own."""
    http, cookie = await browser(world.dev)
    _, other_cookie = await browser(world.dev)
    socket = await connect(cookie)
    other = await connect(other_cookie)
    await subscribed(socket, *world.groups)
    await subscribed(other, *world.groups)
    response = await sync_to_async(http.post)("/api/auth/logout/")
    assert response.status_code == 204, response.content
    for group in world.groups:
        await probe(group)
    messages = await drain(socket, ended)
    assert probes(messages) == []
    assert closed_with(messages) == 4401
    other_messages = await drain(other, probed(*world.groups))
    assert [g for g, _ in probes(other_messages)] == world.groups
    assert closed_with(other_messages) is None
    await other.disconnect()


async def test_password_set_by_an_admin_closes_the_users_sockets(world: World) -> None:
    _, cookie = await browser(world.dev)
    socket = await connect(cookie)
    await subscribed(socket, *world.groups)
    response = await call(world.admin, "post", f"/api/users/{world.dev.pk}/set-password/",
                          {"password": "another-Horse-battery-9"})
    assert response.status_code == 204, response.content
    await probe(world.groups[0])
    messages = await drain(socket, ended)
    assert probes(messages) == []
    assert closed_with(messages) == 4401


@pytest.mark.parametrize("how", ["expired", "deleted"])
async def test_socket_closes_when_its_session_expires_or_is_deleted(world: World, settings: Any, how: str) -> None:
    """No action announces an expiry: the socket's own timer re-reads the session."""
    settings.PORTAL_WS_RECHECK_SECONDS = 0.3
    _, cookie = await browser(world.dev)
    socket = await connect(cookie)
    await subscribed(socket, *world.groups)
    sessions = Session.objects.filter(session_key=cookie)
    if how == "expired":
        await sync_to_async(sessions.update)(expire_date=timezone.now() - timedelta(seconds=1))
    else:
        await sync_to_async(sessions.delete)()
    messages = await drain(socket, ended)
    assert closed_with(messages) == 4401, messages
    for group in world.groups:
        await probe(group)
    assert await socket.receive_nothing(timeout=0.3)


async def test_a_socket_whose_session_expired_cannot_subscribe(world: World) -> None:
    """Between two timer ticks, a new subscription reads the session afresh too."""
    _, cookie = await browser(world.dev)
    socket = await connect(cookie)
    await sync_to_async(Session.objects.filter(session_key=cookie).update)(
        expire_date=timezone.now() - timedelta(seconds=1))
    await socket.send_json_to({"type": "subscribe", "group": world.groups[0]})
    messages = await drain(socket, ended)
    assert not [m for m in messages if m.get("type") == "subscribed"], messages
    assert closed_with(messages) == 4401


async def test_own_password_change_rotates_the_session_and_the_new_cookie_reconnects(world: World) -> None:
    """Changing one's own password keeps the browser logged in under a new session key: the
    socket opened with the old key closes (4401; the console retries once), and a socket with the
    cookie the browser now holds is accepted and subscribes."""
    http, cookie = await browser(world.dev)
    socket = await connect(cookie)
    await subscribed(socket, *world.groups)
    response = await sync_to_async(http.post)(
        "/api/auth/password/", {"current_password": "correct-horse-battery", "password": "another-Horse-battery-9"},
        content_type="application/json")
    assert response.status_code == 204, response.content
    await probe(world.groups[0])
    messages = await drain(socket, ended)
    assert probes(messages) == []
    assert closed_with(messages) == 4401
    new_cookie = http.cookies["sessionid"].value
    assert new_cookie != cookie
    again = await connect(new_cookie)
    await subscribed(again, *world.groups)
    await again.disconnect()


async def test_deleted_service_map_namespace_is_dropped_from_members_sockets(world: World) -> None:
    """When the namespace is gone and the row deleted, members stop hearing the namespace group
    (the same name may next belong to another workspace); the workspace group stays."""
    _, cookie = await browser(world.dev)
    socket = await connect(cookie)
    workspace_group, namespace_group = world.groups
    await subscribed(socket, *world.groups)

    def _deleted() -> None:
        sm = ServiceMap.objects.get(workspace=world.workspace, namespace="team-w")
        ServiceMap.objects.filter(pk=sm.pk).update(status=ApplyStatus.DELETING)
        sm.refresh_from_db()
        service_map_deleted(sm)

    await sync_to_async(_deleted)()
    for group in world.groups:
        await probe(group)
    messages = await drain(socket, lambda m: revoked_all(namespace_group)(m) and probed(workspace_group)(m))
    assert revoked(messages) == {namespace_group}
    assert [g for g, _ in probes(messages)] == [workspace_group]
    await socket.disconnect()


async def test_a_session_ending_after_the_browser_closed_its_socket_ends_quietly() -> None:
    """A sign-out closes the tab's socket and broadcasts the re-check at once: the re-check may find
    the socket already closed (uvicorn then refuses any send with RuntimeError). The consumer ends
    without raising, so its disconnect still runs (metrics, groups)."""
    from portal.consumers import PortalConsumer

    consumer = PortalConsumer()
    consumer.ticker = None
    consumer.groups_joined = set()
    consumer.control = None

    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'")

    consumer.send_json = refuse
    await consumer._end("signed out")
    assert consumer.ended
