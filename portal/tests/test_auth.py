"""Session login (CSRF, throttling, audit) and the current-user endpoint."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from portal.models import AuditRecord

pytestmark = pytest.mark.django_db


def csrf_client() -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    response = client.get("/api/auth/csrf/")
    assert response.status_code == 200
    token = response.json()["csrfToken"]
    assert client.cookies["csrftoken"].value
    return client, token


def test_login_requires_csrf(user: object) -> None:
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/auth/login/", {"username": "alice", "password": "correct-horse-battery"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_login_logout_roundtrip_is_audited(user: object) -> None:
    client, token = csrf_client()
    response = client.post("/api/auth/login/", {"username": "alice", "password": "correct-horse-battery"},
                           format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "alice"
    assert response.json()["role"] == "user"
    me = client.get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json()["is_admin"] is False
    # login rotates the CSRF token; the SPA fetches a fresh one
    token = client.get("/api/auth/csrf/").json()["csrfToken"]
    assert client.post("/api/auth/logout/", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/api/auth/me/").status_code == 401
    actions = list(AuditRecord.objects.order_by("id").values_list("action", "outcome", "actor_username"))
    assert ("auth.login", "success", "alice") in actions
    assert ("auth.logout", "success", "alice") in actions


def test_wrong_password_is_401_and_audited_without_the_password(user: object) -> None:
    client, token = csrf_client()
    response = client.post("/api/auth/login/", {"username": "alice", "password": "guess-1234"},
                           format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong username or password.", "code": "invalid_credentials"}
    record = AuditRecord.objects.get(action="auth.login_failed")
    assert record.outcome == "denied"
    assert record.actor_username == "alice"
    assert "guess-1234" not in str(AuditRecord.objects.values_list("detail", flat=True))


def test_login_is_rate_limited(user: object, settings: object) -> None:
    client, token = csrf_client()
    for _ in range(5):
        response = client.post("/api/auth/login/", {"username": "alice", "password": "nope-nope"},
                               format="json", HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 401
    # Even the right password is refused while throttled.
    response = client.post("/api/auth/login/", {"username": "alice", "password": "correct-horse-battery"},
                           format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Try again in" in response.json()["detail"]
    assert AuditRecord.objects.filter(action="auth.login_throttled", outcome="denied").exists()


def test_login_bad_input_names_the_field() -> None:
    client, token = csrf_client()
    response = client.post("/api/auth/login/", {"username": "alice"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400
    assert response.json()["errors"] == {"password": ["This field is required."]}
    response = client.post("/api/auth/login/", {"username": "a", "password": "b", "remember": True},
                           format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400
    assert "remember" in response.json()["errors"]


def test_inactive_user_cannot_log_in(user: object) -> None:
    user.is_active = False  # type: ignore[attr-defined]
    user.save()  # type: ignore[attr-defined]
    client, token = csrf_client()
    response = client.post("/api/auth/login/", {"username": "alice", "password": "correct-horse-battery"},
                           format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 401


def test_me_requires_authentication(api: APIClient) -> None:
    response = api.get("/api/auth/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}


def test_roles(admin_user: object, operator_user: object) -> None:
    assert admin_user.is_admin  # type: ignore[attr-defined]
    assert admin_user.is_operator  # type: ignore[attr-defined]
    assert operator_user.is_operator  # type: ignore[attr-defined]
    assert not operator_user.is_admin  # type: ignore[attr-defined]
    client = APIClient()
    client.force_authenticate(operator_user)  # type: ignore[arg-type]
    assert client.get("/api/auth/me/").json()["role"] == "operator"
