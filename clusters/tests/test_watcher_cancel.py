"""Stopping the watcher's tasks: Python 3.11's ``asyncio.wait_for`` drops a cancellation that
arrives as the awaited future completes (gh-86296), so a loop around ``wait_for(event.wait())``
whose event is set at that moment carries on. ``cancel_all`` cancels again until every task ended
(a stopped engine that never ended was seen in CI)."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from clusters.watcher.engine import cancel_all


async def _looping(event: asyncio.Event, rounds: list[int]) -> None:
    while True:  # the shape of the engine's refresher and probe loops
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=5)
        event.clear()
        rounds.append(1)


def test_a_cancel_dropped_by_wait_for_is_sent_again() -> None:
    async def main() -> tuple[bool, int]:
        event = asyncio.Event()
        rounds: list[int] = []
        plain = asyncio.create_task(_looping(event, rounds))
        await asyncio.sleep(0.01)
        event.set()
        plain.cancel()  # the event completes as the cancel arrives
        await asyncio.wait({plain}, timeout=0.3)
        survived = not plain.done()

        task = asyncio.create_task(_looping(event, rounds))
        await asyncio.sleep(0.01)
        event.set()
        await asyncio.wait_for(cancel_all([task]), timeout=5)
        assert task.cancelled()
        if survived:
            await asyncio.wait_for(cancel_all([plain]), timeout=5)
        return survived, len(rounds)

    survived, rounds = asyncio.run(main())
    if sys.version_info < (3, 12):
        assert survived, "on 3.11 the plain cancel is dropped: the case cancel_all exists for"
        assert rounds >= 2


def test_cancel_all_collects_what_the_tasks_raised() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    async def main() -> None:
        task = asyncio.create_task(fails())
        await asyncio.sleep(0)
        await cancel_all([task, asyncio.create_task(asyncio.sleep(10))])
        assert isinstance(task.exception(), ValueError)

    asyncio.run(main())
