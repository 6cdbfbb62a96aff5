"""Per-account login lockout: failures from any address count against the account; an admin lifts it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from portal.models import AuditRecord
from portal.testing import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _small_limits(settings: Any) -> None:
    settings.PORTAL_LOGIN_ACCOUNT_MAX_FAILURES = 3
    settings.PORTAL_LOGIN_MAX_FAILURES = 100  # the per-(ip, user) limit stays out of the way
    settings.PORTAL_LOGIN_LOCKOUT_SECONDS = 600


def attempt(username: str, password: str, ip: str) -> Any:
    client = APIClient()  # CSRF is tested in test_auth; here each address is its own client
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json",
                       REMOTE_ADDR=ip)


def lock(username: str) -> None:
    """Three failures, each from a different address."""
    for i in range(3):
        assert attempt(username, "wrong-guess", f"198.51.100.{i + 1}").status_code == 401


def test_a_second_address_gets_no_fresh_tries(user: object) -> None:
    assert attempt("alice", "wrong-guess", "198.51.100.1").status_code == 401
    assert attempt("alice", "wrong-guess", "198.51.100.1").status_code == 401
    assert attempt("alice", "wrong-guess", "198.51.100.2").status_code == 401  # the third locks it
    # Even the right password, from an address that never failed, is refused.
    response = attempt("alice", PASSWORD, "203.0.113.9")
    assert response.status_code == 429
    assert response.json()["code"] == "account_locked"
    assert "ask an administrator to unlock it" in response.json()["detail"]
    assert 0 < int(response["Retry-After"]) <= 600
    assert AuditRecord.objects.filter(action="auth.account_locked", actor_username="alice").count() == 1
    # Another account from the same addresses is not affected.
    make_user("bob")
    assert attempt("bob", PASSWORD, "198.51.100.1").status_code == 200


def test_the_answers_do_not_tell_whether_the_account_exists(user: object) -> None:
    lock("alice")
    lock("nobody-here")
    real, unknown = attempt("alice", "x", "203.0.113.9"), attempt("nobody-here", "x", "203.0.113.9")
    assert real.status_code == unknown.status_code == 429
    # the same answer but for the seconds left, which may straddle a second between the two locks
    assert re.sub(r"\d+", "N", json.dumps(real.json())) == re.sub(r"\d+", "N", json.dumps(unknown.json()))
    assert abs(int(real["Retry-After"]) - int(unknown["Retry-After"])) <= 1


def test_a_successful_login_forgives_earlier_failures(user: object) -> None:
    assert attempt("alice", "wrong-guess", "198.51.100.1").status_code == 401
    assert attempt("alice", "wrong-guess", "198.51.100.2").status_code == 401
    assert attempt("alice", PASSWORD, "198.51.100.3").status_code == 200
    assert attempt("alice", "wrong-guess", "198.51.100.1").status_code == 401
    assert attempt("alice", "wrong-guess", "198.51.100.2").status_code == 401
    assert attempt("alice", PASSWORD, "198.51.100.3").status_code == 200


def test_admin_sees_the_lock_and_lifts_it(user: Any, admin_api: APIClient) -> None:
    lock("alice")
    rows = {row["username"]: row for row in admin_api.get("/api/users/").json()["results"]}
    assert rows["alice"]["locked_until"] is not None
    assert rows["root"]["locked_until"] is None
    assert admin_api.get(f"/api/users/{user.pk}/").json()["locked_until"] is not None

    response = admin_api.post(f"/api/users/{user.pk}/unlock/")
    assert response.status_code == 200, response.content
    assert response.json()["locked_until"] is None
    record = AuditRecord.objects.get(action="user.unlock")
    assert (record.actor_username, record.target_id, record.detail["was_locked"]) == ("root", str(user.pk), True)
    # Unlocked, with its failures forgotten: from an address that failed before, it logs in.
    assert attempt("alice", PASSWORD, "198.51.100.1").status_code == 200
    # Unlocking an account that is not locked is harmless, and audited as such.
    assert admin_api.post(f"/api/users/{user.pk}/unlock/").status_code == 200
    assert AuditRecord.objects.filter(action="user.unlock").latest("id").detail["was_locked"] is False


def test_only_admins_unlock(user: Any, operator_user: Any) -> None:
    lock("alice")
    for who in (user, operator_user):
        client = APIClient()
        client.force_authenticate(who)
        assert client.post(f"/api/users/{user.pk}/unlock/").status_code == 403
    assert APIClient().post(f"/api/users/{user.pk}/unlock/").status_code == 401
    assert attempt("alice", PASSWORD, "203.0.113.9").status_code == 429
