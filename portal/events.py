"""Live events to browsers over Channels.

Every event is an envelope ``{"type", "group", "seq", "data"}``. ``seq`` increases by one per
group (a Redis counter that starts at an epoch, :func:`_epoch`), so a client that sees a jump
knows it missed something and refetches. Events are numbered and added to one Redis stream
(:data:`STREAM`) in the same step; every web process reads that stream once and hands each event
to its own sockets subscribed to the group (:mod:`portal.eventhub`).
Events are sent only after the surrounding transaction commits: a browser must never hear of a
change that was rolled back. Apps declare which groups exist and who may join them with
:func:`register_group`; the WebSocket consumer asks :func:`can_subscribe` before joining.
"""

from __future__ import annotations

import asyncio
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

from portal import fastjson
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


def current_seq(group: str) -> int:
    """The group's last number (starting its counter at the epoch if Redis has none)."""
    pipe = client().pipeline(transaction=False)
    pipe.get(_counter(pipe, group))
    value = cast(bytes | None, pipe.execute()[1])
    return int(value or 0)


# Every event goes on one Redis stream, a flush of events as one entry: the stream is what each web
# process reads (portal.eventhub) and fans out to its own sockets. One entry per flush, whatever the
# number of groups and of sockets listening, where the channel layer's ``group_send`` wrote a copy
# of every message into every member channel's queue (a command and a decode per socket).
STREAM = "portal:events"
# Entries older than this are trimmed when the next one is added: a reader further behind than
# this (a web process that lost Redis for longer) misses events, which its sockets see as a jump
# in ``seq`` and answer with a refetch, as for any missed event.
STREAM_KEEP_SECONDS = 30
_CHUNK = 500  # events per script call: Lua's unpack() takes a few thousand values at most

# Number each event and add the flush to the stream in one atomic step, so that a group's events
# enter the stream in the order of their numbers, whoever publishes them. A field's value is the
# group, a space and the frame a browser receives: the readers never parse an event. The frame is
# built here from the head (type and group, ending in ``"seq":``) and the tail (``,"data":…}``).
# string.format("%d") because tostring() would write a 16-digit seq as 1.7e+15.
_PUBLISH_LUA = """
local fields = {}
local seqs = {}
for i = 2, #KEYS do
    redis.call('SET', KEYS[i], ARGV[1], 'NX')
    local seq = redis.call('INCR', KEYS[i])
    local at = (i - 2) * 3 + 3
    seqs[i - 1] = seq
    fields[#fields + 1] = tostring(i - 1)
    fields[#fields + 1] = ARGV[at] .. ' ' .. ARGV[at + 1] .. string.format('%d', seq) .. ARGV[at + 2]
end
redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[2], '*', unpack(fields))
return seqs
"""


class RawJSON(str):
    """Event data already encoded as JSON, sent as it is: for a busy publisher (the watcher) whose
    parts are encoded already."""

    __slots__ = ()


EventData = dict[str, Any] | RawJSON


def _publish(messages: Sequence[tuple[str, str, EventData]]) -> list[int]:
    """Number ``(group, event_type, data)`` messages and add them to the stream, in one round
    trip; their numbers. Raises if Redis fails (then none of a chunk was numbered or added)."""
    if not messages:
        return []
    for group, _t, _d in messages:
        if not valid_group(group):  # it is written into the frame as it is
            raise ValueError(f"invalid event group name {group!r}")
    connection = client()
    script = _script(connection)
    pipe = connection.pipeline(transaction=False)
    minid = str(time.time_ns() // 1_000_000 - STREAM_KEEP_SECONDS * 1000)
    epoch = _epoch()
    for start in range(0, len(messages), _CHUNK):
        chunk = messages[start:start + _CHUNK]
        keys = [STREAM, *(_seq_key(group) for group, _t, _d in chunk)]
        args: list[Any] = [epoch, minid]
        for group, event_type, data in chunk:
            body = data if isinstance(data, RawJSON) else fastjson.dumps(data)
            args += [group, f'{{"type":{fastjson.dumps(event_type)},"group":"{group}","seq":', f',"data":{body}}}']
        script(keys=keys, args=args, client=pipe)
    return [int(seq) for reply in pipe.execute() for seq in reply]


_scripts: dict[int, Any] = {}


def _script(connection: redis.Redis) -> Any:
    """The publishing script registered on ``connection`` (redis-py loads it again after a restart)."""
    script = _scripts.get(id(connection))
    if script is None:
        script = _scripts[id(connection)] = connection.register_script(_PUBLISH_LUA)
    return script


def send_now(group: str, event_type: str, data: EventData) -> int:
    """Send immediately (no transaction involved). Returns the event's seq; raises if Redis fails."""
    return _publish([(group, event_type, data)])[0]


def send_many_sync(messages: Sequence[tuple[str, str, EventData]]) -> list[BaseException | None]:
    """Send ``(group, event_type, data)`` messages at once, for busy publishers (the watcher's
    flushes, a commit's row of events): one Redis round trip numbers them all and adds them to the
    stream. Returns, per message, None or the exception that kept it from being sent."""
    try:
        _publish(messages)
    except Exception as exc:  # Redis trouble: every message failed alike
        return [exc] * len(messages)
    return [None] * len(messages)


class _Outbox:
    """Events published in one transaction at one savepoint level, sent together after it commits.

    One commit hook per level, not per event: a request or task that publishes a row of events
    pays one Redis round trip for all of them (:func:`send_many_sync`). The hook is
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
# expires. Every socket of a user also listens on that user's *control* group (a group a browser
# cannot subscribe to); the actions that take access away send it ``portal.reauthorize`` after
# commit, and the consumer re-checks its session and every group it holds. The message goes on the
# event stream, where the events socket (portal.consumers) hears it in order with the events: an
# event published after access was taken away reaches the socket after the re-check that drops
# its group. The log and shell sockets, which hear no events, listen on the channel layer's group.


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
            _publish([(control_group(i), "portal.reauthorize", {"reason": reason}) for i in ids])
            async_to_sync(_send_all)()
        except Exception:  # a dead Redis must not fail the request; sockets still re-check on their timer
            logger.exception("socket reauthorize failed", extra={"user_ids": ids, "reason": reason})

    transaction.on_commit(_send, robust=True)
