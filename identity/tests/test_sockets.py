"""Open sockets of single sign-on users end with their access: switching off the provider of a
user who has no other way in closes their sockets (4401), and a group removed at the provider
makes the socket leave the workspace it no longer may hear. Real ASGI app, session store and
Redis channel layer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient

from identity import actions
from identity.models import IdentityProvider
from portal.asgi import application
from portal.models import User
from portal.testing import make_user
from workspaces.models import Role, Workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _setup() -> tuple[IdentityProvider, User, User, Workspace, str]:
    provider = actions.create_provider(data={"name": "sock-idp", "kind": "oidc", "config": {
        "issuer": "https://login.example.com", "client_id": "portal"}})
    Role.ensure_builtin()
    team = Workspace.objects.create(name="sock-team")
    actions.create_mapping(data={"provider": provider, "group": "devs", "workspace": team,
                                 "role": Role.objects.get(key="developer")})
    user = actions.sign_in_external(provider=provider, subject="sock-1", username="sock-user", groups=["devs"])
    admin = make_user("sock-admin", role="admin")
    browser = Client()
    browser.force_login(user)
    return provider, user, admin, team, browser.cookies["sessionid"].value


async def connect(cookie: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/", headers=[
        (b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def outputs(communicator: WebsocketCommunicator, *, until: str, timeout: float = 15) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while not any(m.get("type") == until for m in out):
        message = await communicator.receive_output(timeout=timeout)
        out.append(json.loads(message["text"]) if message["type"] == "websocket.send" else message)
    return out


def admin_patch(admin: User, path: str, body: dict[str, Any]) -> int:
    client = APIClient()
    client.force_authenticate(admin)
    return int(client.patch(path, body, format="json").status_code)


async def test_switching_off_the_provider_closes_its_users_sockets() -> None:
    provider, _, admin, _, cookie = await sync_to_async(_setup)()
    socket = await connect(cookie)
    status = await sync_to_async(admin_patch)(admin, f"/api/identity/providers/{provider.pk}/", {"enabled": False})
    assert status == 200
    messages = await outputs(socket, until="websocket.close")
    assert messages[-1] == {"type": "websocket.close", "code": 4401}, messages


async def test_a_group_removed_at_the_provider_drops_the_workspace_from_the_socket() -> None:
    provider, _, _, team, cookie = await sync_to_async(_setup)()
    socket = await connect(cookie)
    await socket.send_json_to({"type": "subscribe", "group": f"workspace.{team.pk}"})
    reply = await socket.receive_json_from(timeout=5)
    assert reply["type"] == "subscribed", reply
    await sync_to_async(actions.sign_in_external)(provider=provider, subject="sock-1", username="sock-user",
                                                  groups=[])
    messages = await outputs(socket, until="subscription.revoked")
    assert [m["group"] for m in messages if m.get("type") == "subscription.revoked"] == [f"workspace.{team.pk}"]
    await socket.disconnect()
