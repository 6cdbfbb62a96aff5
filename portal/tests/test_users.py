"""User administration (admins only), the last-admin guard, and changing one's own password."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from portal.models import AuditRecord, User

pytestmark = pytest.mark.django_db

STRONG = "a-long-and-unusual-passphrase"


def test_admin_creates_lists_and_updates_users(admin_api: APIClient) -> None:
    response = admin_api.post("/api/users/", {"username": "kim", "email": "kim@example.com", "role": "operator",
                                              "password": STRONG}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["role"] == "operator"
    assert "password" not in created
    assert User.objects.get(username="kim").check_password(STRONG)
    assert STRONG not in str(list(AuditRecord.objects.values_list("detail", flat=True)))
    listed = admin_api.get("/api/users/", {"role": "operator"}).json()["results"]
    assert [u["username"] for u in listed] == ["kim"]
    assert [u["username"] for u in admin_api.get("/api/users/", {"q": "KIM@"}).json()["results"]] == ["kim"]
    response = admin_api.patch(f"/api/users/{created['id']}/", {"role": "user", "is_active": False}, format="json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    response = admin_api.patch(f"/api/users/{created['id']}/", {"username": "renamed"}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()["errors"]
    assert AuditRecord.objects.filter(action="user.create", target_id=str(created["id"])).exists()
    assert AuditRecord.objects.filter(action="user.update", target_id=str(created["id"])).exists()


def test_user_input_errors_are_named(admin_api: APIClient, user: User) -> None:
    response = admin_api.post("/api/users/", {"username": "ALICE", "password": STRONG}, format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["errors"]["username"][0]
    response = admin_api.post("/api/users/", {"username": "lee", "password": "123"}, format="json")
    assert response.status_code == 400
    assert any("too short" in m for m in response.json()["errors"]["password"])
    response = admin_api.post("/api/users/", {"username": "lee", "password": STRONG, "role": "god"}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_last_admin_cannot_be_demoted_or_deactivated(admin_api: APIClient, admin_user: User) -> None:
    for change in ({"role": "user"}, {"is_active": False}):
        response = admin_api.patch(f"/api/users/{admin_user.pk}/", change, format="json")
        assert response.status_code == 409
        assert "last active system admin" in response.json()["detail"]
    admin_user.refresh_from_db()
    assert admin_user.is_admin
    other = User.objects.create_user(username="second", password=STRONG, role="admin")
    assert admin_api.patch(f"/api/users/{admin_user.pk}/", {"role": "operator"}, format="json").status_code == 200
    assert other.is_admin


def test_non_admins_cannot_manage_users(user_api: APIClient, other_user: User) -> None:
    assert user_api.get("/api/users/").status_code == 403
    assert user_api.patch(f"/api/users/{other_user.pk}/", {"role": "admin"}, format="json").status_code == 403
    other_user.refresh_from_db()
    assert other_user.role == "user"


def test_admin_sets_a_password(admin_api: APIClient, user: User) -> None:
    response = admin_api.post(f"/api/users/{user.pk}/set-password/", {"password": "short"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert admin_api.post(f"/api/users/{user.pk}/set-password/", {"password": STRONG}, format="json").status_code == 204
    user.refresh_from_db()
    assert user.check_password(STRONG)


def test_change_own_password(user: User) -> None:
    client = APIClient()
    client.force_login(user)
    response = client.post("/api/auth/password/", {"current_password": "wrong", "password": STRONG}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["current_password"] == ["The current password is not right."]
    response = client.post("/api/auth/password/", {"current_password": "correct-horse-battery", "password": STRONG},
                           format="json")
    assert response.status_code == 204
    assert client.get("/api/auth/me/").status_code == 200  # this session survives
    user.refresh_from_db()
    assert user.check_password(STRONG)
