"""Health endpoints for load balancers and orchestrators.

``/healthz`` says the process is alive and never touches a dependency. ``/readyz`` checks
PostgreSQL, Redis and that at least one Celery worker answers, and names what failed.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app
from portal.redis import client as redis_client


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check(fn: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        detail = fn()
        ok = True
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return {"ok": ok, "detail": detail, "ms": round((time.monotonic() - started) * 1000, 1)}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "PostgreSQL answered"


def _redis() -> str:
    redis_client().ping()
    return "Redis answered"


def _celery() -> str:
    replies = celery_app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("no Celery worker answered within 1 s (is `celery -A portal worker` running?)")
    return f"{len(replies)} worker(s) answered"


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check(_database), "redis": _check(_redis)}
    if checks["redis"]["ok"]:
        checks["celery"] = _check(_celery)
    else:
        checks["celery"] = {"ok": False, "detail": "not checked: Redis (the broker) is unreachable", "ms": 0.0}
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503)
