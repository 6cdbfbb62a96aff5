"""Helpers shared by the test suites of every app (kept importable, unlike conftest modules)."""

from __future__ import annotations

from portal.models import User


def make_user(username: str, role: str = "user", password: str = "correct-horse-battery") -> User:  # noqa: S107
    return User.objects.create_user(username=username, password=password, role=role, email=f"{username}@example.com")


def backend_env(**overrides: str) -> dict[str, str]:
    """Environment for a backend process a test starts (uvicorn, Celery, ``runwatchers``): the
    test profile, on the test database pytest-django created, and the tests' Redis."""
    import os

    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env.update({
        "PORTAL_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    })
    env.update(overrides)
    return env
