"""/healthz and /readyz against the real PostgreSQL, Redis and a real Celery worker."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client


def test_healthz_needs_nothing(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_names_the_missing_worker(client: Client) -> None:
    from portal.celery import app

    if app.control.ping(timeout=0.5):
        pytest.skip("a Celery worker is already running against this Redis")
    assert client.get("/readyz").status_code == 200  # the web process is ready without workers
    response = client.get("/readyz?full=1")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["celery"]["ok"] is False
    assert "no Celery worker" in body["checks"]["celery"]["detail"]


@pytest.mark.django_db
def test_readyz_ok_with_everything_up(client: Client, celery_worker_process: subprocess.Popen[bytes]) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_reports_unreachable_redis(client: Client, settings: object) -> None:
    import portal.redis

    saved = portal.redis._client
    portal.redis._client = None
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # type: ignore[attr-defined]
    try:
        response = client.get("/readyz?full=1")
    finally:
        portal.redis._client = saved
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["redis"]["ok"] is False
    assert "not checked" in body["checks"]["celery"]["detail"]
