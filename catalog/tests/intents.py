"""Test helper: follow a 202 that answered with a cluster intent until its task (the session's
real Celery worker) has finished it, and return the finished intent."""

from __future__ import annotations

import time
from typing import Any

from rest_framework.test import APIClient


def settle(api: APIClient, response: Any, timeout: float = 60.0) -> dict[str, Any]:
    """The intent of ``response`` (a 202) once finished, read back as who asked for it."""
    assert response.status_code == 202, response.content
    url = f"/api/catalog/intents/{response.json()['id']}/"
    assert response["Location"] == url
    deadline = time.monotonic() + timeout
    while True:
        got = api.get(url)
        assert got.status_code == 200, got.content
        body: dict[str, Any] = got.json()
        if body["status"] in ("succeeded", "failed"):
            return body
        assert time.monotonic() < deadline, f"intent {body['id']} still {body['status']} after {timeout} s"
        time.sleep(0.1)


def result(api: APIClient, response: Any, timeout: float = 60.0) -> dict[str, Any]:
    """The result of a succeeded intent."""
    body = settle(api, response, timeout)
    assert body["status"] == "succeeded", body
    out: dict[str, Any] = body["result"]
    return out
