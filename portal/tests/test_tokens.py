"""Personal API tokens: shown once, stored hashed, usable as Bearer, revocable, expiring."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from portal.models import ApiToken, AuditRecord

pytestmark = pytest.mark.django_db


def create_token(client: APIClient, name: str = "ci", **extra: object) -> dict[str, Any]:
    response = client.post("/api/auth/tokens/", {"name": name, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_token_shown_once_and_stored_hashed(user_api: APIClient) -> None:
    created = create_token(user_api, expires_in_days=30)
    raw = str(created["token"])
    assert raw.startswith("kp_")
    assert created["expires"] is not None
    listed = user_api.get("/api/auth/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["ci"]
    assert "token" not in listed[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM portal_apitoken")
        rows = cursor.fetchall()
    assert raw not in str(rows)
    assert raw not in str(list(AuditRecord.objects.values_list("detail", flat=True)))
    assert AuditRecord.objects.filter(action="token.create", outcome="success").count() == 1


def test_token_authenticates_api_calls(user_api: APIClient) -> None:
    raw = create_token(user_api)["token"]
    client = APIClient()
    response = client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert ApiToken.objects.get().last_used is not None
    # Token-authenticated unsafe calls need no CSRF token (no cookie is involved).
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/auth/tokens/", {"name": "second"}, format="json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 201


def test_revoked_token_is_refused_with_a_clear_message(user_api: APIClient) -> None:
    created = create_token(user_api)
    assert user_api.delete(f"/api/auth/tokens/{created['id']}/").status_code == 204
    assert user_api.get("/api/auth/tokens/").json()["results"] == []
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert AuditRecord.objects.filter(action="auth.token_rejected", outcome="denied").exists()
    assert AuditRecord.objects.filter(action="token.revoke", target_id=str(created["id"])).exists()


def test_expired_and_garbage_tokens_are_refused(user_api: APIClient) -> None:
    created = create_token(user_api)
    ApiToken.objects.filter(pk=created["id"]).update(expires=timezone.now() - timedelta(seconds=1))
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    for bad in ("kp_nothing", "kp_abcdefgh_wrongsecret", "Bearer", "x" * 300):
        response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {bad}")
        assert response.status_code == 401


def test_token_bad_input(user_api: APIClient) -> None:
    create_token(user_api, name="dup")
    response = user_api.post("/api/auth/tokens/", {"name": "dup"}, format="json")
    assert response.status_code == 400
    assert "already have an active token" in response.json()["errors"]["name"][0]
    response = user_api.post("/api/auth/tokens/", {"name": "x", "expires_in_days": 0}, format="json")
    assert response.status_code == 400
    assert "expires_in_days" in response.json()["errors"]
    response = user_api.post("/api/auth/tokens/", {"name": "x", "scope": "all"}, format="json")
    assert response.status_code == 400
    assert "scope" in response.json()["errors"]
    response = user_api.post("/api/auth/tokens/", ["not", "an", "object"], format="json")
    assert response.status_code == 400


def test_tokens_are_private_to_their_owner(user_api: APIClient, other_user: object) -> None:
    created = create_token(user_api)
    other = APIClient()
    other.force_authenticate(other_user)  # type: ignore[arg-type]
    assert other.get("/api/auth/tokens/").json()["results"] == []
    assert other.get(f"/api/auth/tokens/{created['id']}/").status_code == 404
    assert other.delete(f"/api/auth/tokens/{created['id']}/").status_code == 404
    assert ApiToken.objects.get(pk=created["id"]).revoked is None
