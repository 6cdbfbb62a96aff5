"""Socket sequence numbers and the event stream (portal/events.py, portal/eventhub.py): one by one
per group, never backwards when Redis loses its counters, every group's events in the order of
their numbers, and a web process's hub handing each event to exactly the sockets of its group."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast


def test_a_counter_lost_with_redis_starts_above_the_old_one() -> None:
    """Redis restarted without its data loses every group's counter. A browser that kept its socket
    remembers the old number: the next event must jump past it (the browser refetches), never
    restart below it (the browser would drop it and the following ones as duplicates)."""
    from portal.events import _seq_key, current_seq, send_many_sync, send_now
    from portal.redis import client

    group = f"user.{time.time_ns()}"
    first = send_now(group, "probe", {})
    assert first > 10**15  # started at the epoch, not at 1
    assert current_seq(group) == first
    assert send_now(group, "probe", {}) == first + 1
    client().delete(_seq_key(group))  # what a restart without persistence does
    after = send_many_sync([(group, "probe", {}), (group, "probe", {})])
    assert after == [None, None]
    assert current_seq(group) > first + 2  # a jump the browser sees, then one by one
    fresh = f"user.{time.time_ns()}"
    assert current_seq(fresh) > first  # a subscriber's first number starts the counter too
    assert send_now(fresh, "probe", {}) == current_seq(fresh)


def test_a_flush_is_one_stream_entry_whose_frames_are_what_browsers_receive() -> None:
    """send_many_sync numbers a flush and adds it to the stream as one entry, in order: each field a
    group and the exact JSON frame a browser receives, with its number; an invalid group refuses
    the whole flush before anything is numbered."""
    from portal.events import STREAM, current_seq, send_many_sync
    from portal.redis import client

    tag = time.time_ns()
    busy, other = f"user.{tag}", f"user.{tag + 1}"
    messages: list[tuple[str, str, dict[str, Any]]] = [(busy, "a", {"n": 1, "text": "서울 \"q\""}), (other, "b", {"n": 2}), (busy, "a", {"n": 3})]
    assert send_many_sync(messages) == [None, None, None]
    entry_id, fields = cast(list[Any], client().xrevrange(STREAM, count=1))[0]
    pairs = [value.partition(b" ") for value in fields.values()]
    assert [group.decode() for group, _, _ in pairs] == [busy, other, busy]
    frames = [json.loads(frame) for _, _, frame in pairs]
    assert [(f["type"], f["group"], f["data"]) for f in frames] == [
        ("a", busy, {"n": 1, "text": "서울 \"q\""}), ("b", other, {"n": 2}), ("a", busy, {"n": 3})]
    assert frames[2]["seq"] == frames[0]["seq"] + 1 == current_seq(busy)
    assert frames[1]["seq"] == current_seq(other) > 10**15  # exact, not 1.7e+15
    refused = send_many_sync([(busy, "a", {}), ('user.1","x', "a", {})])
    assert all(isinstance(error, ValueError) and "invalid event group" in str(error) for error in refused)
    assert cast(list[Any], client().xrevrange(STREAM, count=1))[0][0] == entry_id
    assert current_seq(busy) == frames[2]["seq"]


def test_the_hub_hands_each_event_to_the_listeners_of_its_group_and_stops_with_the_last() -> None:
    """One hub per loop reads the stream from the moment the first listener joined: each listener
    gets its groups' frames, in order, a group nobody joined costs nothing, and the reader stops
    once the last listener left."""
    from portal.eventhub import EventHub, hub
    from portal.events import send_many_sync

    tag = time.time_ns()
    busy, other, empty = f"user.{tag}", f"user.{tag + 1}", f"user.{tag + 2}"

    class Inbox:
        def __init__(self) -> None:
            self.got: list[tuple[str, dict[str, object]]] = []

        def offer(self, group: str, frame: str) -> None:
            self.got.append((group, json.loads(frame)))

    async def main() -> tuple[EventHub, Inbox, Inbox]:
        first, second = Inbox(), Inbox()
        send_many_sync([(busy, "before", {})])  # before anyone joined: not delivered
        events = hub()
        assert hub() is events
        await events.join(busy, first)
        await events.join(busy, second)
        await events.join(other, second)
        await asyncio.to_thread(send_many_sync, [(busy, "a", {"n": 1}), (other, "b", {"n": 2}), (empty, "c", {}),
                                                 (busy, "a", {"n": 3})])
        for _ in range(100):
            if len(first.got) == 2 and len(second.got) == 3:
                break
            await asyncio.sleep(0.05)
        events.leave(busy, first)
        events.leave(busy, second)
        assert events.task is not None  # `other` still has a listener
        events.leave(other, second)
        assert events.task is None
        assert not events.members
        return events, first, second

    events, first, second = asyncio.run(main())
    assert [(g, e["type"], e["data"]) for g, e in first.got] == [(busy, "a", {"n": 1}), (busy, "a", {"n": 3})]
    assert first.got[1][1]["seq"] == first.got[0][1]["seq"] + 1  # type: ignore[operator]
    assert [(g, e["data"]["n"]) for g, e in second.got] == [(busy, 1), (other, 2), (busy, 3)]  # type: ignore[index]
    assert events.delivered == 5


def test_events_of_a_transaction_go_out_together_after_commit_and_a_rolled_back_savepoint_drops_its_own(
        transactional_db: None) -> None:
    """publish() inside a transaction: nothing is sent before the commit; then the events go out in
    the order they were published, through one commit hook per savepoint level; the events of a
    savepoint that rolled back are never sent, those around it are."""
    from django.db import connection, transaction

    from portal.events import publish
    from portal.testing import Subscriber

    group = f"user.{time.time_ns()}"
    sub = Subscriber(group)
    try:
        with transaction.atomic():
            publish(group, "t", {"n": 1})
            publish(group, "t", {"n": 2})
            assert len(connection.run_on_commit) == 1  # one hook for the row of events
            try:
                with transaction.atomic():
                    publish(group, "t", {"n": "rolled back"})
                    raise RuntimeError("undo")
            except RuntimeError:
                pass
            with transaction.atomic():
                publish(group, "t", {"n": 3})  # a savepoint that is released: sent with the rest
            publish(group, "t", {"n": 4})
            assert sub.receive(timeout=0.3) is None  # nothing before the commit
        got = [sub.receive(timeout=5) for _ in range(4)]
        assert [e["data"]["n"] for e in got if e] == [1, 2, 3, 4]
        seqs = [e["seq"] for e in got if e]
        assert seqs == sorted(seqs)
        assert seqs[-1] - seqs[0] == 3  # the rolled-back event took no number
        assert sub.receive(timeout=0.3) is None
        publish(group, "t", {"n": 5})  # outside a transaction: at once
        late = sub.receive(timeout=5)
        assert late is not None
        assert late["data"] == {"n": 5}
    finally:
        sub.close()


async def test_a_control_message_that_finds_the_outbox_full_still_runs_before_the_next_event() -> None:
    """A socket whose outbox is full (a browser that stopped reading) drops events, which it
    answers with a refetch; it never drops a re-check: that runs before the next event is written,
    so an event of a group the user may no longer hear is not written after access ended."""
    from portal.consumers import PortalConsumer

    consumer = PortalConsumer()
    consumer.groups_joined, consumer.joining, consumer.revoked_joining = {"user.1"}, {}, set()
    consumer.outbox = asyncio.Queue(2)
    consumer.dropped, consumer.recheck_due, consumer.ended = 0, False, False
    consumer.control = "portal-control.user.1"
    written: list[str] = []
    checks: list[str] = []

    async def send(text_data: str) -> None:
        written.append(text_data)

    async def reauthorize(reason: str) -> None:
        checks.append(reason)
        consumer.groups_joined.clear()  # access to user.1 ended

    consumer.send = send
    consumer.reauthorize = reauthorize  # type: ignore[method-assign]
    for frame in ("a", "b"):
        consumer.offer("user.1", frame)
    consumer.offer(consumer.control, '{"type":"portal.reauthorize","data":{"reason":"membership"}}')
    consumer.offer("user.1", "c")
    consumer.offer("user.2", "never joined")
    assert (consumer.recheck_due, consumer.dropped, consumer.outbox.qsize()) == (True, 1, 2)
    writer = asyncio.create_task(consumer._write_events())
    await asyncio.sleep(0.05)
    writer.cancel()
    assert checks == ["control message over the outbox"]
    assert written == []


async def test_a_socket_whose_writer_fails_is_closed_so_the_browser_reconnects() -> None:
    """A re-check that cannot reach the database (or a write that fails) closes the socket with
    1011 rather than leaving it open and deaf: the browser reconnects and refetches."""
    from portal.consumers import CLOSE_INTERNAL_ERROR, PortalConsumer

    consumer = PortalConsumer()
    consumer.groups_joined, consumer.joining, consumer.revoked_joining = set(), {}, set()
    consumer.outbox = asyncio.Queue(10)
    consumer.dropped, consumer.recheck_due, consumer.ended = 0, False, False
    consumer.control = "portal-control.user.1"
    closed: list[int | bool | None] = []

    async def reauthorize(reason: str) -> None:
        raise OSError("the database went away")

    async def close(code: int | bool | None = None, reason: str | None = None) -> None:
        closed.append(code)

    consumer.reauthorize = reauthorize  # type: ignore[method-assign]
    consumer.close = close
    consumer.offer(consumer.control, '{"type":"portal.reauthorize","data":{"reason":"logout"}}')
    await asyncio.wait_for(consumer._write_events(), 5)
    assert closed == [CLOSE_INTERNAL_ERROR]
    assert consumer.ended
