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
import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis
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
    """Send immediately (no transaction involved). Returns the event's seq; raises if Redis fails."""
    items = _numbered([(group, event_type, data)])
    layer = get_channel_layer()
    if layer is not None:
        if _batchable(layer):
            _deliver_sync(layer, items)
        else:
            async_to_sync(layer.group_send)(*items[0])
    return int(items[0][1]["event"]["seq"])


def _numbered(messages: Sequence[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Take every message's number in one Redis round trip; the (channel group, message) to send."""
    pipe = client().pipeline(transaction=False)
    for group, _type, _data in messages:
        _next_seq(pipe, group)
    seqs = pipe.execute()[1::2]
    return [(channel_group(group), {"type": "portal.event", "event": {
        "type": event_type, "group": group, "seq": int(seq), "data": data}})
        for (group, event_type, data), seq in zip(messages, seqs, strict=True)]


async def send_many(messages: Sequence[tuple[str, str, dict[str, Any]]]) -> list[BaseException | None]:
    """Send ``(group, event_type, data)`` messages at once, for busy publishers (the watcher): one
    Redis round trip takes all their sequence numbers, and on the Redis channel layer two more
    deliver them all (:func:`_deliver`). Returns, per message, None or the exception its send raised."""
    items = _numbered(messages)
    layer = get_channel_layer()
    if layer is None:
        return [None] * len(messages)
    if _batchable(layer):
        try:
            await _deliver(layer, items)
        except Exception as exc:  # Redis trouble: every message of the flush failed alike
            return [exc] * len(items)
        return [None] * len(items)
    results = await asyncio.gather(*(layer.group_send(g, m) for g, m in items), return_exceptions=True)
    return [r if isinstance(r, BaseException) else None for r in results]


def send_many_sync(messages: Sequence[tuple[str, str, dict[str, Any]]]) -> list[BaseException | None]:
    """:func:`send_many` for synchronous code (requests, tasks): on the Redis layer the same three
    round trips through a synchronous Redis client, without an event loop and a fresh connection
    per call (``async_to_sync`` made both for every commit that published)."""
    layer = get_channel_layer()
    if layer is None or not _batchable(layer):
        return async_to_sync(send_many)(messages)
    items = _numbered(messages)
    try:
        _deliver_sync(layer, items)
    except Exception as exc:
        return [exc] * len(items)
    return [None] * len(items)


# channels_redis's own group_send script (4.3.0): add the message to each member channel's sorted
# set unless the channel is at capacity, and refresh the set's expiry.
_GROUP_SEND_LUA = """
local over_capacity = 0
local current_time = ARGV[#ARGV - 1]
local expiry = ARGV[#ARGV]
for i=1,#KEYS do
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


def _batchable(layer: Any) -> bool:
    """A single-host ``channels_redis`` core layer, whose group sends :func:`_deliver` can batch."""
    from channels_redis.core import RedisChannelLayer

    return (isinstance(layer, RedisChannelLayer) and layer.ring_size == 1
            and all(hasattr(layer, name) for name in ("_group_key", "_map_channel_keys_to_connection", "hosts")))


def _queue_members(layer: Any, pipe: Any, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
    now = int(time.time())
    for group, _message in items:
        key = layer._group_key(group)
        pipe.zremrangebyscore(key, min=0, max=now - layer.group_expiry)
        pipe.zrange(key, 0, -1)


def _queue_sends(layer: Any, pipe: Any, items: Sequence[tuple[str, dict[str, Any]]],
                 members: Sequence[Any]) -> list[tuple[int, str, int]]:
    """Queue every member channel's message on ``pipe``; (reply index, group, members) of each script."""
    scripts: list[tuple[int, str, int]] = []
    queued = 0
    for (group, message), names in zip(items, members, strict=True):
        channels = [name.decode("utf8") for name in names]
        if not channels:
            continue
        by_connection, messages, capacities = layer._map_channel_keys_to_connection(channels, message)
        keys = by_connection[0]
        for key in keys:
            pipe.zremrangebyscore(key, min=0, max=int(time.time()) - int(layer.expiry))
        pipe.eval(_GROUP_SEND_LUA, len(keys), *keys, *[messages[k] for k in keys], *[capacities[k] for k in keys],
                  time.time(), layer.expiry)
        queued += len(keys) + 1
        scripts.append((queued - 1, group, len(channels)))
    return scripts


def _log_over_capacity(replies: Sequence[Any], scripts: Sequence[tuple[int, str, int]]) -> None:
    for index, group, count in scripts:
        if replies[index]:
            logger.info("%s of %s channels over capacity in group %s", replies[index], count, group)


async def _deliver(layer: Any, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """What ``group_send`` does for each item, in two pipelined round trips for all of them instead
    of three or four awaited commands each: first every group's members (dropping expired ones),
    then every member channel's message (dropping its expired ones) through the same script. At the
    watcher's rate (a message per busy group every 200 ms) this was most of the publisher's CPU."""
    connection = layer.connection(0)
    pipe = connection.pipeline(transaction=False)
    _queue_members(layer, pipe, items)
    members = (await pipe.execute())[1::2]
    pipe = connection.pipeline(transaction=False)
    scripts = _queue_sends(layer, pipe, items, members)
    if scripts:
        _log_over_capacity(await pipe.execute(), scripts)


@functools.cache
def _client_for(address: str) -> redis.Redis:
    """A synchronous client (thread-safe, pooled) to a channel layer's single Redis host."""
    return redis.Redis.from_url(address, socket_timeout=5.0, socket_connect_timeout=2.0)


def _deliver_sync(layer: Any, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """:func:`_deliver` through a synchronous client: the same two round trips, the same script."""
    connection = _client_for(str(layer.hosts[0]["address"]))
    pipe = connection.pipeline(transaction=False)
    _queue_members(layer, pipe, items)
    members = pipe.execute()[1::2]
    pipe = connection.pipeline(transaction=False)
    scripts = _queue_sends(layer, pipe, items, members)
    if scripts:
        _log_over_capacity(pipe.execute(), scripts)


class _Outbox:
    """Events published in one transaction at one savepoint level, sent together after it commits.

    One commit hook per level, not per event: a request or task that publishes a row of events
    pays one Redis round trip for their numbers and, on the Redis layer, two for their delivery
    (:func:`send_many`), not three or four awaited commands and an event loop each. The hook is
    registered at the level its events were published at, so Django drops it, with exactly those
    events, when that savepoint rolls back; events of an inner savepoint go in their own outbox.
    """

    __slots__ = ("hooks", "items", "sent", "sids")

    def __init__(self, hooks: list[Any], sids: tuple[Any, ...]) -> None:
        self.hooks = hooks  # the connection's list of commit hooks: a new list per transaction
        self.sids = sids
        self.items: list[tuple[str, str, dict[str, Any]]] = []
        self.sent = False

    def send(self) -> None:
        self.sent = True
        _send_batch(self.items)


_outbox = threading.local()


def _send_batch(items: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    try:
        results = send_many_sync(items)
    except Exception as exc:  # a dead Redis must not fail the request that already committed
        results = [exc] * len(items)
    for (group, event_type, _data), error in zip(items, results, strict=True):
        if error is not None:
            logger.error("event publish failed", exc_info=error, extra={"group": group, "event_type": event_type})


def publish(group: str, event_type: str, data: dict[str, Any]) -> None:
    """Send ``data`` to ``group`` once the current transaction commits (at once outside one)."""
    if not valid_group(group):
        raise ValueError(f"invalid event group name {group!r}")
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _send_batch([(group, event_type, data)])
        return
    sids = tuple(connection.savepoint_ids)
    box: _Outbox | None = getattr(_outbox, "box", None)
    if box is None or box.sent or box.hooks is not connection.run_on_commit or box.sids != sids:
        box = _outbox.box = _Outbox(connection.run_on_commit, sids)
        transaction.on_commit(box.send, robust=True)
    box.items.append((group, event_type, data))


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
