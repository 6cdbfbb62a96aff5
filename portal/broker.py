"""The Celery broker's transport: kombu's Redis transport, with one Redis client per channel.

kombu's Redis channel builds a new ``redis.Redis`` around its connection pool for every publish,
every delivery it records for a late ack, and every ack. Building one costs more CPU than the
Redis command it sends (it fills a table of about 200 response callbacks each time): about 2 % of
a deploy worker's CPU while a wide rollout fans out, and a share of every web request and watcher
hook that queues a task. A ``redis.Redis`` is safe to share between threads (each command takes a
connection from the pool), so the channel keeps one per pool and builds another only when its
pool is replaced (kombu drops a channel's pool when it closes or reconnects).

Selected for ``redis://`` and ``rediss://`` broker URLs (``CELERY_BROKER_TRANSPORT`` in
:mod:`portal.settings`); SSL, the visibility timeout and every other option behave as in kombu.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis  # type: ignore[attr-defined]  # no stubs for it


class Channel(kombu_redis.Channel):
    _kept_client: tuple[Any, Any] | None = None  # (pool, client)

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:  # the consumer's BRPOP client: kombu keeps that one itself
            return super()._create_client(asynchronous=True)
        pool = self.pool
        kept = self._kept_client
        if kept is None or kept[0] is not pool:
            kept = (pool, self.Client(connection_pool=pool))
            self._kept_client = kept
        return kept[1]


class Transport(kombu_redis.Transport):
    Channel = Channel
