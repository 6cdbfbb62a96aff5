"""Live events to browsers over Channels.

Every event is an envelope ``{"type", "group", "seq", "data"}``. ``seq`` increases by one per
group (a Redis counter that starts at an epoch, :func:`_epoch`), so a client that sees a jump
knows it missed something and refetches.
Events are sent only after the surrounding transaction commits: a browser must never hear of a
change that was rolled back. Apps declare which groups exist and who may join them with
:func:`register_group`; the WebSocket consumer asks :func:`can_subscribe` before joining.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from portal.redis import client

logger = logging.getLogger(__name__)

GROUP_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")
Authorizer = Callable[[Any, str], bool]


@dataclass(frozen=True)
class GroupKind:
    prefix: str
    authorize: Authorizer
    description: str


_KINDS: dict[str, GroupKind] = {}


def register_group(prefix: str, authorize: Authorizer, description: str) -> None:
    """Declare a group family: ``prefix`` alone (``audit``) or ``prefix.<key>`` (``user.7``)."""
    _KINDS[prefix] = GroupKind(prefix, authorize, description)


def group_kinds() -> list[GroupKind]:
    return sorted(_KINDS.values(), key=lambda k: k.prefix)


def valid_group(group: str) -> bool:
    return len(group) < 90 and bool(GROUP_NAME.match(group))


def can_subscribe(user: AbstractBaseUser | AnonymousUser, group: str) -> bool:
    """True if ``user`` may see events of ``group``. Unknown groups are refused."""
    if not valid_group(group) or not user.is_authenticated or not user.is_active:
        return False
    prefix, _, key = group.partition(".")
    kind = _KINDS.get(prefix)
    return kind is not None and kind.authorize(user, key)


def channel_group(group: str) -> str:
    return f"portal.{group}"


def _seq_key(group: str) -> str:
    return f"portal:seq:{group}"


def _epoch() -> int:
    """Where a group's counter starts when Redis does not have it (first use, or Redis restarted
    without its data): the time in microseconds, above any number the lost counter reached (it
    started at an earlier epoch and would have needed a million events a second to catch up), so a
    browser that kept its socket sees a jump and refetches instead of dropping the new, lower
    numbers as duplicates. Below 2**53 until the year 2255: exact in JavaScript."""
    return time.time_ns() // 1000


def _counter(pipe: Any, group: str) -> str:
    """Queue on ``pipe`` the start of ``group``'s counter at the epoch if Redis has none; its key."""
    key = _seq_key(group)
    pipe.set(key, _epoch(), nx=True)
    return key


def _next_seq(pipe: Any, group: str) -> None:
    """Queue on ``pipe`` what takes ``group``'s next number: the reply of the INCR (the second of two)."""
    pipe.incr(_counter(pipe, group))


def current_seq(group: str) -> int:
    """The group's last number (starting its counter at the epoch if Redis has none)."""
    pipe = client().pipeline(transaction=False)
    pipe.get(_counter(pipe, group))
    value = cast(bytes | None, pipe.execute()[1])
    return int(value or 0)


def send_now(group: str, event_type: str, data: dict[str, Any]) -> int:
    """Send immediately (no transaction involved). Returns the event's seq."""
    pipe = client().pipeline(transaction=False)
    _next_seq(pipe, group)
    seq = int(pipe.execute()[1])
    envelope = {"type": event_type, "group": group, "seq": seq, "data": data}
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(channel_group(group), {"type": "portal.event", "event": envelope})
    return seq


async def send_many(messages: Sequence[tuple[str, str, dict[str, Any]]]) -> list[BaseException | None]:
    """Send ``(group, event_type, data)`` messages at once, for busy publishers (the watcher):
    one Redis round trip takes all their sequence numbers, the group sends run concurrently.
    Returns, per message, None or the exception its send raised."""
    pipe = client().pipeline(transaction=False)
    for group, _type, _data in messages:
        _next_seq(pipe, group)
    seqs = pipe.execute()[1::2]
    layer = get_channel_layer()
    if layer is None:
        return [None] * len(messages)
    sends = [
        layer.group_send(channel_group(group), {"type": "portal.event", "event": {
            "type": event_type, "group": group, "seq": int(seq), "data": data}})
        for (group, event_type, data), seq in zip(messages, seqs, strict=True)
    ]
    results = await asyncio.gather(*sends, return_exceptions=True)
    return [r if isinstance(r, BaseException) else None for r in results]


def publish(group: str, event_type: str, data: dict[str, Any]) -> None:
    """Send ``data`` to ``group`` once the current transaction commits (at once outside one)."""
    if not valid_group(group):
        raise ValueError(f"invalid event group name {group!r}")

    def _send() -> None:
        try:
            send_now(group, event_type, data)
        except Exception:  # a dead Redis must not fail the request that already committed
            logger.exception("event publish failed", extra={"group": group, "event_type": event_type})

    transaction.on_commit(_send, robust=True)


# ---------------------------------------------------------------------------- socket re-authorization
#
# A subscription is checked when it is made, but access can end while the socket stays open: a
# membership removed, a system role lowered, an account deactivated, a logout, a session that
# expires. Every socket of a user also listens on that user's *control* group (a channel group a
# browser cannot subscribe to); the actions that take access away send it ``portal.reauthorize``
# after commit, and the consumer re-checks its session and every group it holds.


def control_group(user_id: int) -> str:
    """The channel group every open socket of user ``user_id`` listens on for control messages."""
    return f"portal-control.user.{int(user_id)}"


def revoked_groups(user: AbstractBaseUser | AnonymousUser, groups: Iterable[str]) -> list[str]:
    """The groups among ``groups`` that ``user`` may no longer hear."""
    return sorted(g for g in groups if not can_subscribe(user, g))


def reauthorize(user_ids: Iterable[int], *, reason: str) -> None:
    """Once the current transaction commits (at once outside one), make every open socket of these
    users re-check its session and subscriptions. Call it from any action that may take access
    away; a socket whose access did not change re-checks and carries on."""
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        return

    async def _send_all() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "portal.reauthorize", "reason": reason}
        await asyncio.gather(*(layer.group_send(control_group(i), message) for i in ids))

    def _send() -> None:
        try:
            async_to_sync(_send_all)()
        except Exception:  # a dead Redis must not fail the request; sockets still re-check on their timer
            logger.exception("socket reauthorize failed", extra={"user_ids": ids, "reason": reason})

    transaction.on_commit(_send, robust=True)
