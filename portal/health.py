"""Health endpoints for load balancers and orchestrators.

``/healthz`` says the process is alive and never touches a dependency. ``/readyz`` says whether
*this web process* can serve: PostgreSQL (every request reads it) and Redis (sessions' throttling,
the Channels layer every WebSocket uses, the broker writes enqueue to) answer. It does not depend on
the Celery workers: with workers down the API still answers and writes keep their intents in
PostgreSQL (the reconcilers send them when workers return), so taking every web pod out of the load
balancer would turn a worker outage into a full outage. ``/readyz?full=1`` adds the workers (a
broadcast ping, one second at most) and fails when none answers: for monitoring, not for probes.
Each check names what failed.
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


def _full(request: HttpRequest) -> bool:
    return request.GET.get("full", "").strip().lower() in ("1", "true", "yes")


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check(_database), "redis": _check(_redis)}
    body: dict[str, Any] = {"checks": checks}
    if _full(request):
        if checks["redis"]["ok"]:
            checks["celery"] = _check(_celery)
        else:
            checks["celery"] = {"ok": False, "detail": "not checked: Redis (the broker) is unreachable", "ms": 0.0}
    else:
        body["workers"] = "not checked: the web process serves without them; GET /readyz?full=1 pings them"
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if ok else "fail", **body}, status=200 if ok else 503)
