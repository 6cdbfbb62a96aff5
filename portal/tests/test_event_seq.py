"""Socket sequence numbers (portal/events.py): one by one per group, and never backwards when Redis
loses its counters."""

from __future__ import annotations

import asyncio
import time

import pytest


def test_a_counter_lost_with_redis_starts_above_the_old_one() -> None:
    """Redis restarted without its data loses every group's counter. A browser that kept its socket
    remembers the old number: the next event must jump past it (the browser refetches), never
    restart below it (the browser would drop it and the following ones as duplicates)."""
    from portal.events import _seq_key, current_seq, send_many, send_now
    from portal.redis import client

    group = f"user.{time.time_ns()}"
    first = send_now(group, "probe", {})
    assert first > 10**15  # started at the epoch, not at 1
    assert current_seq(group) == first
    assert send_now(group, "probe", {}) == first + 1
    client().delete(_seq_key(group))  # what a restart without persistence does
    after = asyncio.run(send_many([(group, "probe", {}), (group, "probe", {})]))
    assert after == [None, None]
    assert current_seq(group) > first + 2  # a jump the browser sees, then one by one
    fresh = f"user.{time.time_ns()}"
    assert current_seq(fresh) > first  # a subscriber's first number starts the counter too
    assert send_now(fresh, "probe", {}) == current_seq(fresh)


@pytest.mark.parametrize("way", ["async", "sync"])
def test_send_many_delivers_like_group_send(way: str) -> None:
    """The batched delivery, of the watcher (async) and of commits (sync, no event loop): each member
    channel of each group gets its message, with its number, in order; a group nobody listens to
    costs nothing and fails nothing."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from portal.events import channel_group, send_many, send_many_sync

    tag = time.time_ns()
    busy, other, empty = f"user.{tag}", f"user.{tag + 1}", f"user.{tag + 2}"
    layer = get_channel_layer()
    assert layer is not None

    async def main() -> list[list[dict[str, object]]]:
        first, second = await layer.new_channel(), await layer.new_channel()
        await layer.group_add(channel_group(busy), first)
        await layer.group_add(channel_group(busy), second)
        await layer.group_add(channel_group(other), second)
        messages = [(busy, "a", {"n": 1}), (other, "b", {"n": 2}), (empty, "c", {}), (busy, "a", {"n": 3})]
        if way == "async":
            results = await send_many(messages)
        else:
            results = await sync_to_async(send_many_sync)(messages)
        assert results == [None, None, None, None]
        got = []
        for channel, count in ((first, 2), (second, 3)):
            got.append([(await asyncio.wait_for(layer.receive(channel), 5))["event"] for _ in range(count)])
        await layer.group_discard(channel_group(busy), first)
        await layer.group_discard(channel_group(busy), second)
        await layer.group_discard(channel_group(other), second)
        return got

    first, second = asyncio.run(main())
    assert [(e["type"], e["data"]) for e in first] == [("a", {"n": 1}), ("a", {"n": 3})]
    assert first[1]["seq"] == first[0]["seq"] + 1  # type: ignore[operator]
    assert sorted((e["group"], e["data"]["n"]) for e in second) == [  # type: ignore[index]
        (busy, 1), (busy, 3), (other, 2)]


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
