"""Helpers shared by the test suites of every app (kept importable, unlike conftest modules)."""

from __future__ import annotations

from portal.models import User


def make_user(username: str, role: str = "user", password: str = "correct-horse-battery") -> User:  # noqa: S107
    return User.objects.create_user(username=username, password=password, role=role, email=f"{username}@example.com")
