"""A web process's one reader of the event stream, fanning events out to its own sockets.

Publishers number each event and add it to one Redis stream (:data:`portal.events.STREAM`). Each
event loop of a web process that has sockets subscribed to something runs one :class:`EventHub`:
a task reading that stream (``XREAD BLOCK``) and handing each event's frame, already the text a
browser receives, to the sockets of this process that joined the event's group. A message costs
Redis one stream entry however many sockets listen, and a web process one read and a dictionary
lookup, where the channel layer's ``group_send`` wrote and each socket decoded a copy per member.

Membership lives in the process: the hub maps a group to the listeners (sockets) that joined it.
A hub starts reading at the stream's newest entry when its first listener joins, and stops when
its last one leaves. A listener joins before it reads the group's current ``seq``
(:func:`portal.events.current_seq`), so every event numbered after that reaches it. If Redis goes
away the hub reads again from where it stopped once Redis is back; events trimmed meanwhile
(older than :data:`portal.events.STREAM_KEEP_SECONDS`) are missed, which sockets see as a jump in
``seq`` and answer with a refetch, as for any event they miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Protocol

import redis.asyncio as aioredis
from django.conf import settings

from portal.events import STREAM

logger = logging.getLogger(__name__)

READ_COUNT = 500  # entries per XREAD
BLOCK_MS = 1000
CLOSE_SECONDS = 2.0  # at most this long to close a stream connection (see EventHub._run)
READY_TIMEOUT = 5.0


class Listener(Protocol):
    def offer(self, group: str, frame: str) -> None:
        """Take ``frame`` (an event of ``group``, as a browser receives it) without waiting."""


class EventHub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.members: dict[bytes, set[Listener]] = {}
        self.task: asyncio.Task[None] | None = None
        self.ready: asyncio.Future[None] | None = None
        self.last_id: bytes | None = None
        self.entries = 0
        self.delivered = 0

    async def join(self, group: str, listener: Listener) -> None:
        """Hand ``listener`` every event of ``group`` added to the stream from now on. Returns once
        the hub knows where it reads from; raises TimeoutError if Redis does not answer."""
        self.members.setdefault(group.encode(), set()).add(listener)
        if self.task is None or self.task.done():
            self.last_id = None
            self.ready = self.loop.create_future()
            self.task = self.loop.create_task(self._run(), name="portal-eventhub")
        assert self.ready is not None
        await asyncio.wait_for(asyncio.shield(self.ready), READY_TIMEOUT)

    def leave(self, group: str, listener: Listener) -> None:
        key = group.encode()
        listeners = self.members.get(key)
        if listeners is None:
            return
        listeners.discard(listener)
        if not listeners:
            del self.members[key]
        if not self.members and self.task is not None:  # nobody listens: stop reading
            self.task.cancel()
            self.task = None

    def dispatch(self, fields: dict[bytes, bytes]) -> None:
        """Hand a stream entry's events to the listeners of their groups (in the entry's order)."""
        members = self.members
        for value in fields.values():
            group, _, frame = value.partition(b" ")
            listeners = members.get(group)
            if not listeners:
                continue
            text, name = frame.decode(), group.decode()
            for listener in tuple(listeners):
                listener.offer(name, text)
                self.delivered += 1

    async def _run(self) -> None:
        delay = 0.2
        while True:
            connection = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2.0,
                                                 socket_timeout=BLOCK_MS / 1000 + 5.0)
            try:
                if self.last_id is None:
                    newest = await connection.xrevrange(STREAM, count=1)
                    self.last_id = newest[0][0] if newest else b"0-0"
                if self.ready is not None and not self.ready.done():
                    self.ready.set_result(None)
                while True:
                    reply = await connection.xread({STREAM: self.last_id}, count=READ_COUNT, block=BLOCK_MS)
                    for _stream, entries in reply or ():
                        for entry_id, fields in entries:
                            self.last_id = entry_id
                            self.entries += 1
                            self.dispatch(fields)
                    delay = 0.2
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: read on from where we stopped once it is back
                logger.warning("event stream read failed; retrying in %.1f s", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
            finally:
                # Bounded: closing a connection whose read was just cancelled can wait on it for
                # a socket timeout at a time, and a loop shutting down (a test's, a web process's)
                # must not wait for that. A close that does not finish leaves the socket to the
                # garbage collector.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.aclose(), timeout=CLOSE_SECONDS)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EventHub] = weakref.WeakKeyDictionary()


def hub() -> EventHub:
    """The running event loop's hub (a web process has one loop; tests may run several)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = EventHub(loop)
    return found
