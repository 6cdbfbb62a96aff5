"""Login throttling in Redis: too many failures for one (ip, username), or too many attempts
from one ip, within a window answer 429 with Retry-After. Counters expire on their own."""

from __future__ import annotations

import hashlib
from typing import cast

from django.conf import settings

from portal.redis import client


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).lower().encode()).hexdigest()[:32]
    return f"portal:login:{kind}:{digest}"


def login_retry_after(ip: str, username: str) -> int | None:
    """Seconds the caller must wait before trying again, or None if the attempt may proceed.

    Counts this attempt against the per-ip budget.
    """
    window = settings.PORTAL_LOGIN_WINDOW_SECONDS
    r = client()
    ip_key = _key("ip", ip)
    pipe = r.pipeline()
    pipe.incr(ip_key)
    pipe.expire(ip_key, window, nx=True)
    pipe.get(_key("fail", ip, username))
    pipe.ttl(_key("fail", ip, username))
    attempts, _, failures, fail_ttl = pipe.execute()
    if int(failures or 0) >= settings.PORTAL_LOGIN_MAX_FAILURES:
        return max(int(fail_ttl), 1)
    if int(attempts) > settings.PORTAL_LOGIN_MAX_ATTEMPTS_PER_IP:
        return max(int(cast(int, r.ttl(ip_key))), 1)
    return None


def record_login_failure(ip: str, username: str) -> None:
    key = _key("fail", ip, username)
    pipe = client().pipeline()
    pipe.incr(key)
    pipe.expire(key, settings.PORTAL_LOGIN_WINDOW_SECONDS, nx=True)
    pipe.execute()


def clear_login_failures(ip: str, username: str) -> None:
    client().delete(_key("fail", ip, username))
