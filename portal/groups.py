"""The WebSocket groups the portal core offers: ``audit`` for admins, ``user.<id>`` for oneself."""

from __future__ import annotations

from typing import Any

from portal.events import register_group


def _audit(user: Any, key: str) -> bool:
    return key == "" and bool(user.is_admin)


def _user(user: Any, key: str) -> bool:
    return key == str(user.pk)


def register() -> None:
    register_group("audit", _audit, "New audit records (system admins only). Event: audit.created.")
    register_group("user", _user, "Events for one user, `user.<id>`, only that user. Event: token.created, token.revoked.")
