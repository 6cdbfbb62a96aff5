"""The one WebSocket endpoint, ``/ws/``: a multiplexed stream of typed events.

A browser connects with its session, then subscribes to groups (``{"type": "subscribe",
"group": "audit"}``). Each subscription is checked against the group's authorizer before the
socket joins it; foreign Origins and anonymous sockets are closed with 4403 / 4401.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from portal.events import can_subscribe, channel_group, current_seq, valid_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
MAX_SUBSCRIPTIONS = 200


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Same-origin, or listed in CSRF_TRUSTED_ORIGINS. A missing Origin (non-browser) is allowed:
    such a client still needs a valid session cookie."""
    if not origin:
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.netloc.lower() == (host or "").lower()


class PortalConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: set[str]

    async def connect(self) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        self.groups_joined = set()
        await self.accept()
        if not origin_allowed(headers.get("origin"), headers.get("host")):
            await self.close(code=CLOSE_FORBIDDEN_ORIGIN)
            return
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return

    async def disconnect(self, code: int) -> None:
        for group in list(getattr(self, "groups_joined", ())):
            await self.channel_layer.group_discard(channel_group(group), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "data": {"detail": "Messages must be JSON objects."}})
            return
        kind = content.get("type")
        group = content.get("group")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "subscribe" and isinstance(group, str):
            await self._subscribe(group)
        elif kind == "unsubscribe" and isinstance(group, str):
            if group in self.groups_joined:
                self.groups_joined.discard(group)
                await self.channel_layer.group_discard(channel_group(group), self.channel_name)
            await self.send_json({"type": "unsubscribed", "group": group})
        else:
            await self.send_json(
                {"type": "error", "group": group if isinstance(group, str) else None,
                 "data": {"detail": "Unknown message; expected subscribe, unsubscribe or ping with a group."}}
            )

    async def _subscribe(self, group: str) -> None:
        if not valid_group(group):
            await self.send_json({"type": "error", "group": group, "data": {"detail": "Invalid group name."}})
            return
        if len(self.groups_joined) >= MAX_SUBSCRIPTIONS and group not in self.groups_joined:
            await self.send_json({"type": "error", "group": group,
                                  "data": {"detail": f"At most {MAX_SUBSCRIPTIONS} subscriptions per socket."}})
            return
        allowed = await database_sync_to_async(can_subscribe)(self.scope["user"], group)
        if not allowed:
            await self.send_json({"type": "error", "group": group,
                                  "data": {"detail": "Not allowed to subscribe to this group, or it does not exist."}})
            return
        await self.channel_layer.group_add(channel_group(group), self.channel_name)
        self.groups_joined.add(group)
        seq = await database_sync_to_async(current_seq)(group)
        await self.send_json({"type": "subscribed", "group": group, "seq": seq})

    async def portal_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
