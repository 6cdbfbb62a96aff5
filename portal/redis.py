"""One lazily created Redis client per process, shared by rate limiting, event sequence numbers
and health checks. Short timeouts: Redis being down must never hang a request."""

from __future__ import annotations

import redis
from django.conf import settings

_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
        )
    return _client
