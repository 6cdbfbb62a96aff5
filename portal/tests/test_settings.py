"""Production settings fail safe: no start with default secrets, secure cookies on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import portal.settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"PORTAL_ENV", "SECRET_KEY", "PORTAL_ENCRYPTION_KEYS", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_production_is_the_default_and_refuses_a_missing_secret() -> None:
    result = run({})
    assert result.returncode != 0
    assert "Refusing to start in production without a real SECRET_KEY" in result.stderr


def test_production_refuses_the_development_secret() -> None:
    result = run({"PORTAL_ENV": "production", "SECRET_KEY": "dev-insecure-secret-key-do-not-use-in-production"})
    assert "without a real SECRET_KEY" in result.stderr


def test_production_needs_an_encryption_key() -> None:
    result = run({"PORTAL_ENV": "production", "SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://a:b@h/d",
                  "REDIS_URL": "redis://h:1/0"})
    assert result.returncode != 0
    assert "PORTAL_ENCRYPTION_KEYS" in result.stderr


def test_production_with_real_secrets_is_locked_down() -> None:
    result = run({"PORTAL_ENV": "production", "SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://a:b@h/d",
                  "REDIS_URL": "redis://h:1/0", "PORTAL_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "="})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "31536000"]


def test_bad_values_are_named() -> None:
    assert "PORTAL_ENV='staging'" in run({"PORTAL_ENV": "staging"}).stderr
    assert "DEBUG='maybe'" in run({"PORTAL_ENV": "development", "DEBUG": "maybe"}).stderr
    result = run({"PORTAL_ENV": "development", "DATABASE_URL": "sqlite:///x.db"})
    assert "Only PostgreSQL is supported" in result.stderr


POOL_PROBE = """
from concurrent.futures import ThreadPoolExecutor
import portal.asgi  # noqa: F401 - the web process's entry point chooses the pool
from django.db import connection

def query(_):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    connection.close()  # what the end of a request does: back to the pool
    return pid

with ThreadPoolExecutor(8) as threads:
    pids = set(threads.map(query, range(64)))
print(connection.settings_dict["CONN_MAX_AGE"], connection.pool.max_size, len(pids))
"""


def test_the_web_process_shares_a_pool_of_connections_among_its_request_threads() -> None:
    """portal.asgi (uvicorn's entry point) runs each request in a thread of its own: 64 queries from 8
    threads use at most PORTAL_DB_POOL_MAX connections, not one per thread or per request."""
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "PORTAL_DB_POOL_MAX"}}
    result = subprocess.run([sys.executable, "-c", POOL_PROBE], cwd=ROOT, capture_output=True, text=True,
                            env={**base, "PORTAL_ENV": "test", "PORTAL_DB_POOL_MAX": "3"}, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    max_age, max_size, connections = result.stdout.split()
    assert (max_age, max_size) == ("0", "3")
    assert 1 <= int(connections) <= 3


def test_the_web_defaults_do_not_leak_into_processes_the_web_process_starts() -> None:
    """portal.asgi chooses the pool for its own settings only: a worker started from a process that
    imported it (a test process, a management shell) keeps the worker's defaults."""
    probe = ("import os, portal.asgi; from django.conf import settings; "
             "print(settings.DB_POOL_MAX, os.environ.get('PORTAL_DB_POOL_MAX'), os.environ.get('PORTAL_DB_CONN_MAX_AGE'))")
    base = {k: v for k, v in os.environ.items()
            if k not in {"DJANGO_SETTINGS_MODULE", "PORTAL_DB_POOL_MAX", "PORTAL_DB_CONN_MAX_AGE"}}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            env={**base, "PORTAL_ENV": "test"}, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["20", "None", "None"]


def test_the_broker_visibility_timeout_is_configurable_and_refused_when_too_short() -> None:
    probe = "import portal.settings as s; print(s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'])"
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "PORTAL_BROKER_VISIBILITY_TIMEOUT"}}

    def settings_with(value: str | None) -> subprocess.CompletedProcess[str]:
        extra = {"PORTAL_BROKER_VISIBILITY_TIMEOUT": value} if value is not None else {}
        return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                              env={**base, "PORTAL_ENV": "test", **extra}, timeout=60, check=False)

    assert settings_with(None).stdout.split() == ["3600"]
    assert settings_with("7200").stdout.split() == ["7200"]
    short = settings_with("60")
    assert short.returncode != 0
    assert "PORTAL_BROKER_VISIBILITY_TIMEOUT=60 is below 300 seconds" in short.stderr


def test_parameters_are_bound_on_the_server_unless_turned_off() -> None:
    """Server-side binding (prepared statements after a few runs) by default; 0 turns it off for a
    pooler that cannot keep prepared statements."""
    probe = "import portal.settings as s; print(s.DATABASES['default']['OPTIONS'].get('server_side_binding'))"
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "PORTAL_DB_SERVER_SIDE_BINDING"}}

    def settings_with(value: str | None) -> subprocess.CompletedProcess[str]:
        extra = {"PORTAL_DB_SERVER_SIDE_BINDING": value} if value is not None else {}
        return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False,
                              env={**base, "PORTAL_ENV": "test", **extra}, timeout=60)

    assert settings_with(None).stdout.strip() == "True"
    assert settings_with("0").stdout.strip() == "None"
    assert settings_with("false").stdout.strip() == "None"  # the same words as every boolean setting
    refused = settings_with("sometimes")
    assert refused.returncode != 0
    assert "PORTAL_DB_SERVER_SIDE_BINDING='sometimes' is not a boolean" in refused.stderr


@pytest.mark.django_db
def test_the_connection_binds_on_the_server() -> None:
    """What the setting gives: a cursor that sends parameters apart from the SQL."""
    import psycopg
    from django.db import connection

    with connection.cursor() as cursor:
        assert not isinstance(cursor.cursor, psycopg.ClientCursor)
        cursor.execute("SELECT %s::int + 1", [41])
        assert cursor.fetchone() == (42,)
