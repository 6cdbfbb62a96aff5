"""The one WebSocket endpoint, ``/ws/``: a multiplexed stream of typed events.

A browser connects with its session, then subscribes to groups (``{"type": "subscribe",
"group": "audit"}``). Each subscription is checked against the group's authorizer before the
socket joins it; foreign Origins and anonymous sockets are closed with 4403 / 4401.

Access is not fixed at subscribe time. Every socket also listens on its user's control group
(:func:`portal.events.control_group`); actions that may take access away (membership removed,
system role lowered, account deactivated, password set, logout) send it ``portal.reauthorize``
after commit, and a timer does the same every ``PORTAL_WS_RECHECK_SECONDS``. A re-check reloads
the socket's session from the session store, as an HTTP request would: when the session is gone
(logged out, expired, deleted, its password hash stale) or the user is inactive, the socket
closes with 4401; otherwise every group the user may no longer hear is left and the browser is
told with ``subscription.revoked``. Events of a group the socket has left are dropped even if
they were already queued for it.

Every "may this user hear this group" is asked of :mod:`portal.access` (which asks the owning
app's access module), never decided here; this module only authenticates the socket's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib import auth

from portal.access import can_subscribe, revoked_groups
from portal.authentication import account_problem
from portal.events import channel_group, control_group, current_seq, valid_group
from portal.metrics import socket_closed, socket_opened

logger = logging.getLogger(__name__)

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


def recheck_seconds() -> float:
    return max(0.1, float(settings.PORTAL_WS_RECHECK_SECONDS))


def session_user(session_key: str | None) -> Any | None:
    """The active user the session ``session_key`` still belongs to, read afresh from the session
    store, or None: no such session, expired, logged out, its password hash no longer matching
    (Django's own :func:`django.contrib.auth.get_user` decides, as for an HTTP request), or the
    user deactivated."""
    if not session_key:
        return None
    engine = import_module(settings.SESSION_ENGINE)
    request = SimpleNamespace(session=engine.SessionStore(session_key))
    user = auth.get_user(request)  # type: ignore[arg-type]
    if not user.is_authenticated or not user.is_active:
        return None
    if account_problem(user) is not None:  # e.g. single sign-on only, and the provider switched off
        return None
    return user


def _subscribe_check(session_key: str | None, group: str) -> tuple[Any | None, bool]:
    user = session_user(session_key)
    return user, user is not None and can_subscribe(user, group)


def _recheck(session_key: str | None, groups: set[str]) -> tuple[Any | None, list[str]]:
    user = session_user(session_key)
    return user, (revoked_groups(user, groups) if user is not None else sorted(groups))


class PortalConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: set[str]
    session_key: str | None
    control: str | None
    ticker: asyncio.Task[None] | None
    ended: bool

    async def connect(self) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        self.groups_joined = set()
        self.control = None
        self.ticker = None
        self.ended = False
        await self.accept()
        socket_opened(self)
        if not origin_allowed(headers.get("origin"), headers.get("host")):
            await self.close(code=CLOSE_FORBIDDEN_ORIGIN)
            return
        user = self.scope.get("user")
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        if user is None or not user.is_authenticated or not self.session_key:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.control = control_group(user.pk)
        await self.channel_layer.group_add(self.control, self.channel_name)
        self.ticker = asyncio.create_task(self._tick())

    async def disconnect(self, code: int) -> None:
        socket_closed(self)
        if getattr(self, "ticker", None) is not None:
            assert self.ticker is not None
            self.ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.ticker
        await self._leave_all()

    async def _leave_all(self) -> None:
        for group in list(getattr(self, "groups_joined", ())):
            await self.channel_layer.group_discard(channel_group(group), self.channel_name)
        self.groups_joined = set()
        if getattr(self, "control", None):
            await self.channel_layer.group_discard(self.control, self.channel_name)
            self.control = None

    async def _tick(self) -> None:
        """Every few seconds, queue a re-check on this socket's own channel, so it runs in turn
        with subscriptions and events instead of beside them. Re-joining the control group keeps
        the channel layer from expiring the membership on a long-lived socket."""
        while True:
            await asyncio.sleep(recheck_seconds())
            try:
                if self.control:
                    await self.channel_layer.group_add(self.control, self.channel_name)
                await self.channel_layer.send(self.channel_name, {"type": "portal.reauthorize", "reason": "timer"})
            except Exception:  # Redis briefly away: try again on the next tick
                logger.warning("socket re-check could not be queued", exc_info=True)

    async def _end(self, detail: str) -> None:
        """The session is no longer valid: leave every group at once, then close with 4401."""
        self.ended = True
        if self.ticker is not None:
            self.ticker.cancel()
        await self._leave_all()
        try:
            await self.send_json({"type": "session.ended", "data": {"detail": detail}})
            await self.close(code=CLOSE_UNAUTHENTICATED)
        except RuntimeError:  # the browser closed first (a sign-out that also closed the tab's socket)
            logger.debug("socket closed before session.ended could be sent")

    async def portal_reauthorize(self, message: dict[str, Any]) -> None:
        if self.ended:
            return
        user, revoked = await database_sync_to_async(_recheck)(self.session_key, set(self.groups_joined))
        if user is None:
            await self._end("The session has ended (signed out, expired or the account deactivated); sign in again.")
            return
        self.scope["user"] = user
        for group in revoked:
            if group not in self.groups_joined:
                continue
            self.groups_joined.discard(group)
            await self.channel_layer.group_discard(channel_group(group), self.channel_name)
            await self.send_json({"type": "subscription.revoked", "group": group,
                                  "data": {"detail": "You may no longer see this group's events."}})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.ended:
            return
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
        # The session is read afresh: a socket whose session ended may not join anything new.
        user, allowed = await database_sync_to_async(_subscribe_check)(self.session_key, group)
        if user is None:
            await self._end("The session has ended (signed out, expired or the account deactivated); sign in again.")
            return
        self.scope["user"] = user
        if not allowed:
            await self.send_json({"type": "error", "group": group,
                                  "data": {"detail": "Not allowed to subscribe to this group, or it does not exist."}})
            return
        await self.channel_layer.group_add(channel_group(group), self.channel_name)
        self.groups_joined.add(group)
        seq = await database_sync_to_async(current_seq)(group)
        await self.send_json({"type": "subscribed", "group": group, "seq": seq})

    async def portal_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        # An event queued before this socket left the group (or ended) is not delivered.
        if self.ended or event.get("group") not in self.groups_joined:
            return
        await self.send_json(event)
