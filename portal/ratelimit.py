"""Login throttling in Redis, at three levels, each with counters that expire on their own.

* Per (ip, username): a few failures from one address answer 429 for a short window.
* Per ip: too many attempts from one address, whatever the usernames, answer 429.
* Per account: too many failures for one username, from any number of addresses, lock the
  account for a while (a second address gets no fresh tries). An admin can clear the lock.

Counters are keyed by the username as typed (lower-cased), whether or not such an account
exists, so the answers (and the lockout) say nothing about which accounts exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from django.conf import settings

from portal.redis import client

PREFIX = "portal:login"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).lower().encode()).hexdigest()[:32]


def _ip_key(ip: str) -> str:
    return f"{PREFIX}:ip:{_digest(ip)}"


def _fail_key(ip: str, username: str) -> str:
    # Grouped under the account so an unlock can find every address's counter of it.
    return f"{PREFIX}:fail:{_digest(username)}:{_digest(ip)}"


def _account_key(username: str) -> str:
    return f"{PREFIX}:acct:{_digest(username)}"


def _lock_key(username: str) -> str:
    return f"{PREFIX}:lock:{_digest(username)}"


@dataclass(frozen=True)
class Throttled:
    """Why an attempt is refused, and for how long."""

    retry_after: int
    code: str  # "account_locked" or "login_throttled"

    @property
    def detail(self) -> str:
        if self.code == "account_locked":
            return (f"Too many failed logins for this account: it is locked for {self.retry_after} seconds. "
                    "Try again later, or ask an administrator to unlock it.")
        return f"Too many login attempts. Try again in {self.retry_after} seconds."


def login_throttled(ip: str, username: str) -> Throttled | None:
    """Why this attempt may not proceed, or None if it may. Counts it against the per-ip budget."""
    window = settings.PORTAL_LOGIN_WINDOW_SECONDS
    r = client()
    ip_key = _ip_key(ip)
    pipe = r.pipeline()
    pipe.incr(ip_key)
    pipe.expire(ip_key, window, nx=True)
    pipe.ttl(_lock_key(username))
    pipe.get(_fail_key(ip, username))
    pipe.ttl(_fail_key(ip, username))
    attempts, _, lock_ttl, failures, fail_ttl = pipe.execute()
    if int(lock_ttl) > 0:
        return Throttled(retry_after=int(lock_ttl), code="account_locked")
    if int(failures or 0) >= settings.PORTAL_LOGIN_MAX_FAILURES:
        return Throttled(retry_after=max(int(fail_ttl), 1), code="login_throttled")
    if int(attempts) > settings.PORTAL_LOGIN_MAX_ATTEMPTS_PER_IP:
        return Throttled(retry_after=max(int(cast(int, r.ttl(ip_key))), 1), code="login_throttled")
    return None


def record_login_failure(ip: str, username: str) -> bool:
    """Count a failed attempt; True if it is the one that locked the account."""
    fail_key, account_key = _fail_key(ip, username), _account_key(username)
    pipe = client().pipeline()
    pipe.incr(fail_key)
    pipe.expire(fail_key, settings.PORTAL_LOGIN_WINDOW_SECONDS, nx=True)
    pipe.incr(account_key)
    pipe.expire(account_key, settings.PORTAL_LOGIN_ACCOUNT_WINDOW_SECONDS, nx=True)
    _, _, account_failures, _ = pipe.execute()
    if int(account_failures) < settings.PORTAL_LOGIN_ACCOUNT_MAX_FAILURES:
        return False
    pipe = client().pipeline()
    pipe.set(_lock_key(username), "1", ex=settings.PORTAL_LOGIN_LOCKOUT_SECONDS, nx=True)
    pipe.delete(account_key)
    locked, _ = pipe.execute()
    return bool(locked)


def clear_login_failures(ip: str, username: str) -> None:
    """After a successful login: this address's and the account's failures are forgiven."""
    client().delete(_fail_key(ip, username), _account_key(username))


def account_lockouts(usernames: Iterable[str]) -> dict[str, int]:
    """Seconds left of the lock of each of these usernames that is locked (one round trip)."""
    names = list(dict.fromkeys(usernames))
    if not names:
        return {}
    pipe = client().pipeline()
    for name in names:
        pipe.ttl(_lock_key(name))
    return {name: int(ttl) for name, ttl in zip(names, pipe.execute(), strict=True) if int(ttl) > 0}


def unlock_account(username: str) -> bool:
    """Clear the account's lock and every failure counter of it; True if it was locked."""
    r = client()
    keys = [_lock_key(username), _account_key(username)]
    keys += list(r.scan_iter(f"{PREFIX}:fail:{_digest(username)}:*", count=500))
    pipe = r.pipeline()
    pipe.exists(_lock_key(username))
    pipe.delete(*keys)
    was_locked, _ = pipe.execute()
    return bool(was_locked)
