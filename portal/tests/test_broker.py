"""portal.broker: Celery's connections use kombu's Redis transport with one Redis client per
channel and pool; messages go through the real Redis as before, late acks included."""

from __future__ import annotations

from typing import Any

from kombu import Connection, Exchange, Queue

from portal import broker
from portal.celery import app as celery_app
from portal.testing import unique


def test_celery_uses_the_transport_for_redis_urls() -> None:
    conn: Any
    with celery_app.connection_for_write() as conn:
        assert isinstance(conn.transport, broker.Transport)


def test_a_channel_keeps_one_client_per_pool_and_messages_still_flow() -> None:
    url = celery_app.conf.broker_url
    name = unique("test-broker")
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    conn: Any
    with Connection(url, transport="portal.broker:Transport") as conn:  # type: ignore[arg-type]
        channel = conn.channel()
        assert isinstance(channel, broker.Channel)
        first = channel._create_client()
        assert channel._create_client() is first  # kept: not built again for each command
        assert channel._create_client(asynchronous=True) is not first  # the consumer's own
        producer = conn.Producer(channel)
        for n in range(3):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key=name, declare=[queue])
        got: list[int] = []

        def received(body: Any, message: Any) -> None:
            got.append(body["n"])
            message.ack()

        with conn.Consumer(queue, callbacks=[received], no_ack=False):
            while len(got) < 3:
                conn.drain_events(timeout=5)
        assert got == [0, 1, 2]
        assert not any(name.encode() in raw for raw in channel.client.hvals(channel.unacked_key))  # acked
        channel._pool = None  # kombu drops the pool when the channel reconnects: a new client then
        assert channel._create_client() is not first
        bound: Any = queue(channel)  # type: ignore[operator]  # a Queue binds to a channel by call
        bound.delete()
