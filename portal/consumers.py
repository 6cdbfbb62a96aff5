"""The one WebSocket endpoint, ``/ws/``: a multiplexed stream of typed events.

A browser connects with its session, then subscribes to groups (``{"type": "subscribe",
"group": "audit"}``). Each subscription is checked against the group's authorizer before the
socket joins it; foreign Origins and anonymous sockets are closed with 4403 / 4401.

Events come from this process's :class:`portal.eventhub.EventHub`, which reads the event stream
once for every socket of the process.

Access is not fixed at subscribe time. Every socket also listens on its user's control group
(:func:`portal.events.control_group`); actions that may take access away (membership removed,
system role lowered, account deactivated, password set, logout) send it ``portal.reauthorize``
after commit on the same stream, and a timer does the same every ``PORTAL_WS_RECHECK_SECONDS``.
A re-check waits its turn in the socket's outbox, so it runs between the events that came before
it and those that came after, as they were published. A re-check reloads
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
import json
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
from portal.eventhub import hub
from portal.events import control_group, current_seq, valid_group
from portal.metrics import socket_closed, socket_opened

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_INTERNAL_ERROR = 1011
MAX_SUBSCRIPTIONS = 200
# Events waiting to be written to one socket. A socket this far behind (a browser that stopped
# reading) loses the events that do not fit; it sees the jump in ``seq`` and refetches, as it did
# when the channel layer's per-channel capacity (also 1,000) overflowed.
OUTBOX_SIZE = 1000
TIMER = "timer"  # the outbox entry of the periodic re-check (a control message's is its frame)


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
    """Events reach the socket from this process's :class:`portal.eventhub.EventHub` through
    :meth:`offer` and its outbox, written by a task of its own (:meth:`_write_events`); replies to
    the browser's own messages are written by the handler that answers them."""

    groups_joined: set[str]
    joining: dict[str, list[str]]
    revoked_joining: set[str]
    outbox: asyncio.Queue[tuple[str, str]]
    writer: asyncio.Task[None] | None
    dropped: int
    recheck_due: bool
    session_key: str | None
    control: str | None
    ticker: asyncio.Task[None] | None
    ended: bool

    async def connect(self) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        self.groups_joined = set()
        self.joining = {}
        self.revoked_joining = set()
        self.outbox = asyncio.Queue(OUTBOX_SIZE)
        self.writer = None
        self.dropped = 0
        self.recheck_due = False
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
        await hub().join(self.control, self)
        self.ticker = asyncio.create_task(self._tick())
        self.writer = asyncio.create_task(self._write_events())

    async def disconnect(self, code: int) -> None:
        socket_closed(self)
        for task in (getattr(self, "ticker", None), getattr(self, "writer", None)):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._leave_all()

    # ------------------------------------------------------------------ events

    def offer(self, group: str, frame: str) -> None:
        """Called by the hub for every event of a group this socket joined or is joining. While a
        subscription is being made, its events wait until ``subscribed`` has gone out: a browser
        hears of a group's events only after it heard the group's current number."""
        pending = self.joining.get(group)
        if pending is not None:
            pending.append(frame)
        elif group in self.groups_joined or group == self.control:
            self._queue(group, frame)

    def _queue(self, group: str, frame: str) -> None:
        try:
            self.outbox.put_nowait((group, frame))
        except asyncio.QueueFull:
            if group == self.control:  # never lost: it runs before the next event is written
                self.recheck_due = True
                return
            if not self.dropped:
                logger.info("socket too slow: dropping events it would see as a seq jump", extra={"group": group})
            self.dropped += 1

    async def _write_events(self) -> None:
        """Write the outbox in order. If writing or a re-check fails (the database away during a
        re-check, say), the socket is closed with 1011, as a failing handler closes it: the
        browser reconnects and refetches, instead of holding a socket that hears nothing more."""
        try:
            await self._write_outbox()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("socket event writer failed; closing the socket", exc_info=True)
            self.ended = True
            with contextlib.suppress(Exception):
                await self.close(code=CLOSE_INTERNAL_ERROR)

    async def _write_outbox(self) -> None:
        while True:
            group, frame = await self.outbox.get()
            if self.recheck_due:
                self.recheck_due = False
                await self.reauthorize("control message over the outbox")
            if self.ended:
                continue
            if group == self.control:
                reason = frame if frame == TIMER else str(json.loads(frame).get("data", {}).get("reason", ""))
                await self.reauthorize(reason)
            elif group in self.groups_joined:  # one queued before this socket left the group is dropped
                await self.send(text_data=frame)

    def _leave_group(self, group: str) -> None:
        self.groups_joined.discard(group)
        hub().leave(group, self)

    async def _leave_all(self) -> None:
        for group in list(getattr(self, "groups_joined", ())) + list(getattr(self, "joining", ())):
            hub().leave(group, self)
        self.groups_joined = set()
        self.joining = {}
        if getattr(self, "control", None):
            assert self.control is not None
            hub().leave(self.control, self)
            self.control = None

    async def _tick(self) -> None:
        """Every few seconds, queue a re-check in the socket's outbox, so it runs in turn with the
        events instead of beside them."""
        while True:
            await asyncio.sleep(recheck_seconds())
            if self.control:
                await self.outbox.put((self.control, TIMER))

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

    async def reauthorize(self, reason: str) -> None:
        """Re-read the session and drop every group the user may no longer hear, those being
        joined included (their ``subscription.revoked`` follows their ``subscribed``)."""
        if self.ended:
            return
        held = set(self.groups_joined) | set(self.joining)
        user, revoked = await database_sync_to_async(_recheck)(self.session_key, held)
        if user is None:
            await self._end("The session has ended (signed out, expired or the account deactivated); sign in again.")
            return
        self.scope["user"] = user
        for group in revoked:
            if group in self.joining:
                self.revoked_joining.add(group)
            elif group in self.groups_joined:
                self._leave_group(group)
                await self._send_revoked(group)

    async def _send_revoked(self, group: str) -> None:
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
                self._leave_group(group)
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
        if group in self.joining:  # the same subscription already being made
            return
        # Join first, then read the number: every event numbered after it reaches this socket.
        self.joining[group] = []
        try:
            await hub().join(group, self)
            seq = await database_sync_to_async(current_seq)(group)
            if not self.ended:
                await self.send_json({"type": "subscribed", "group": group, "seq": seq})
        except BaseException:
            self.joining.pop(group, None)
            if group not in self.groups_joined:
                hub().leave(group, self)
            raise
        waiting = self.joining.pop(group, [])
        if self.ended:
            return
        if group in self.revoked_joining:  # access ended while the subscription was being made
            self.revoked_joining.discard(group)
            self._leave_group(group)
            await self._send_revoked(group)
            return
        self.groups_joined.add(group)
        for frame in waiting:
            self._queue(group, frame)
