"""Socket sequence numbers (portal/events.py): one by one per group, and never backwards when Redis
loses its counters."""

from __future__ import annotations

import asyncio
import time


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
