"""/ws/: session authentication, Origin checks, per-group authorization and typed, sequenced
events, through the real ASGI app and the Redis channel layer."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from portal import actions
from portal.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def connect(user: Any | None, origin: str | None = "http://testserver") -> WebsocketCommunicator:
    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_anonymous_socket_is_closed_4401() -> None:
    communicator = await connect(None)
    message = await communicator.receive_output(timeout=3)
    assert message == {"type": "websocket.close", "code": 4401}


async def test_foreign_origin_is_closed_4403(admin_user: Any) -> None:
    communicator = await connect(admin_user, origin="https://evil.example")
    message = await communicator.receive_output(timeout=3)
    assert message == {"type": "websocket.close", "code": 4403}


async def test_admin_receives_audit_events_in_sequence(admin_user: Any) -> None:
    communicator = await connect(admin_user)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
    await communicator.send_json_to({"type": "subscribe", "group": "audit"})
    subscribed = await communicator.receive_json_from(timeout=3)
    assert subscribed["type"] == "subscribed"
    assert subscribed["group"] == "audit"
    start = subscribed["seq"]
    await sync_to_async(actions.create_api_token)(user=admin_user, name="one", expires=None)
    await sync_to_async(actions.create_api_token)(user=admin_user, name="two", expires=None)
    first = await communicator.receive_json_from(timeout=5)
    second = await communicator.receive_json_from(timeout=5)
    assert first["type"] == "audit.created"
    assert first["group"] == "audit"
    assert first["data"]["action"] == "token.create"
    assert first["data"]["actor"] == "root"
    assert [first["seq"], second["seq"]] == [start + 1, start + 2]
    await communicator.disconnect()


async def test_groups_are_checked_per_subscription(user: Any, other_user: Any) -> None:
    communicator = await connect(user)
    for group in ("audit", f"user.{other_user.pk}", "nonsense", "Bad Name!"):
        await communicator.send_json_to({"type": "subscribe", "group": group})
        reply = await communicator.receive_json_from(timeout=3)
        assert reply["type"] == "error", group
        assert reply["group"] == group
    await communicator.send_json_to({"type": "subscribe", "group": f"user.{user.pk}"})
    assert (await communicator.receive_json_from(timeout=3))["type"] == "subscribed"
    # A foreign user's event never reaches this socket; the own one does.
    await sync_to_async(actions.create_api_token)(user=other_user, name="theirs", expires=None)
    await sync_to_async(actions.create_api_token)(user=user, name="mine", expires=None)
    event = await communicator.receive_json_from(timeout=5)
    assert event["type"] == "token.created"
    assert event["data"]["name"] == "mine"
    assert "token" not in event["data"]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.send_json_to({"type": "dance"})
    assert (await communicator.receive_json_from(timeout=3))["type"] == "error"
    await communicator.disconnect()
