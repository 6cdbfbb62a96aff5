"""Saved column sets (``/api/account/table-views/``): own sets only, one default per table,
validation with stable codes, the per-table limit, no partial writes."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from portal.models import AuditRecord, TableView, User

pytestmark = pytest.mark.django_db

URL = "/api/account/table-views/"


def create(client: APIClient, name: str = "Capacity", table: str = "clusters", **extra: Any) -> dict[str, Any]:
    body = {"table": table, "name": name, "columns": ["name", "cpu", "memory"], **extra}
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def listed(client: APIClient, table: str = "clusters") -> list[dict[str, Any]]:
    response = client.get(URL, {"table": table})
    assert response.status_code == 200, response.content
    return response.json()


def test_save_list_rename_and_delete_own_sets(user_api: APIClient) -> None:
    created = create(user_api)
    assert created["columns"] == ["name", "cpu", "memory"]
    assert created["is_default"] is False
    create(user_api, "Pods", table="cluster.pods")
    assert [v["name"] for v in listed(user_api)] == ["Capacity"]
    assert [v["name"] for v in listed(user_api, "cluster.pods")] == ["Pods"]

    response = user_api.patch(f"{URL}{created['id']}/", {"name": "  Headroom ", "columns": ["name", "cpu", "cpu"]},
                              format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Headroom"
    assert response.json()["columns"] == ["name", "cpu"]  # duplicates dropped, order kept
    assert user_api.get(f"{URL}{created['id']}/").json()["name"] == "Headroom"

    assert user_api.delete(f"{URL}{created['id']}/").status_code == 204
    assert listed(user_api) == []
    # A preference, not a security event: nothing audited.
    assert not AuditRecord.objects.filter(action__startswith="table_view").exists()


def test_one_default_per_table(user_api: APIClient) -> None:
    first = create(user_api, "A", is_default=True)
    second = create(user_api, "B")
    other_table = create(user_api, "C", table="releases", is_default=True)
    response = user_api.patch(f"{URL}{second['id']}/", {"is_default": True}, format="json")
    assert response.status_code == 200
    defaults = {v["name"]: v["is_default"] for v in listed(user_api)}
    assert defaults == {"A": False, "B": True}
    assert TableView.objects.get(pk=other_table["id"]).is_default is True  # another table: untouched
    # A new set saved as default takes over too.
    create(user_api, "D", is_default=True)
    assert [v["name"] for v in listed(user_api) if v["is_default"]] == ["D"]
    # Stop using any saved set as the default.
    d = next(v for v in listed(user_api) if v["name"] == "D")
    assert user_api.patch(f"{URL}{d['id']}/", {"is_default": False}, format="json").status_code == 200
    assert not any(v["is_default"] for v in listed(user_api))
    assert TableView.objects.filter(pk=first["id"]).exists()


def test_others_sets_are_invisible(user_api: APIClient, other_user: User) -> None:
    mine = create(user_api)
    bob = APIClient()
    bob.force_authenticate(other_user)
    assert listed(bob) == []
    for method in ("get", "patch", "delete"):
        response = getattr(bob, method)(f"{URL}{mine['id']}/", {"name": "stolen"}, format="json")
        assert response.status_code == 404, (method, response.content)
        assert response.json()["code"] == "not_found"
    assert TableView.objects.get(pk=mine["id"]).name == "Capacity"
    # The same name is free for another user.
    create(bob)


def test_requires_authentication(api: APIClient) -> None:
    assert api.get(URL, {"table": "clusters"}).status_code in (401, 403)
    assert api.post(URL, {"table": "clusters", "name": "x", "columns": ["a"]}, format="json").status_code in (401, 403)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"table": "Clusters", "name": "x", "columns": ["a"]}, "table_view_table_invalid", "table"),
        ({"table": "1abc", "name": "x", "columns": ["a"]}, "table_view_table_invalid", "table"),
        ({"table": "a" * 65, "name": "x", "columns": ["a"]}, "table_view_table_invalid", "table"),
        ({"table": 5, "name": "x", "columns": ["a"]}, "table_view_table_invalid", "table"),
        ({"table": "clusters", "name": "   ", "columns": ["a"]}, "table_view_name_invalid", "name"),
        ({"table": "clusters", "name": "n" * 65, "columns": ["a"]}, "table_view_name_invalid", "name"),
        ({"table": "clusters", "name": ["x"], "columns": ["a"]}, "table_view_name_invalid", "name"),
        ({"table": "clusters", "name": "x", "columns": []}, "table_view_columns_invalid", "columns"),
        ({"table": "clusters", "name": "x", "columns": "name"}, "table_view_columns_invalid", "columns"),
        ({"table": "clusters", "name": "x", "columns": [f"c{i}" for i in range(61)]}, "table_view_columns_invalid",
         "columns"),
        ({"table": "clusters", "name": "x", "columns": ["ok", "bad id"]}, "table_view_column_invalid", "columns"),
        ({"table": "clusters", "name": "x", "columns": ["ok", {"id": 1}]}, "table_view_column_invalid", "columns"),
        ({"table": "clusters", "name": "x", "columns": ["c" * 65]}, "table_view_column_invalid", "columns"),
        ({"table": "clusters", "name": "x", "columns": ["a"], "is_default": "yes"}, "invalid", "is_default"),
        ({"table": "clusters", "name": "x", "columns": ["a"], "user": 2}, "table_view_unknown_field", "user"),
        ({"table": "clusters", "columns": ["a"]}, "required", "name"),
    ],
)
def test_bad_input_is_a_400_with_a_code(user_api: APIClient, body: dict[str, Any], code: str, field: str) -> None:
    response = user_api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == code
    assert field in payload["errors"]
    assert payload["detail"]
    assert not TableView.objects.exists()


def test_list_needs_a_valid_table(user_api: APIClient) -> None:
    response = user_api.get(URL)
    assert response.status_code == 400
    assert response.json()["code"] == "table_view_table_required"
    response = user_api.get(URL, {"table": "Bad Key"})
    assert response.status_code == 400
    assert response.json()["code"] == "table_view_table_invalid"


def test_duplicate_name_is_a_conflict_and_changes_nothing(user_api: APIClient) -> None:
    create(user_api, "A", is_default=True)
    b = create(user_api, "B")
    response = user_api.post(URL, {"table": "clusters", "name": "A", "columns": ["x"], "is_default": True},
                             format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "table_view_name_taken"
    # Renaming onto an existing name while becoming default: nothing half-written.
    response = user_api.patch(f"{URL}{b['id']}/", {"name": "A", "is_default": True}, format="json")
    assert response.status_code == 409
    assert {v["name"]: v["is_default"] for v in listed(user_api)} == {"A": True, "B": False}
    response = user_api.patch(f"{URL}{b['id']}/", {"table": "releases"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "table_view_table_fixed"


def test_at_most_twenty_sets_per_table(user_api: APIClient) -> None:
    for i in range(20):
        create(user_api, f"set {i}")
    response = user_api.post(URL, {"table": "clusters", "name": "one more", "columns": ["a"]}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "table_view_limit"
    assert response.json()["params"] == {"max": 20}
    assert len(listed(user_api)) == 20
    create(user_api, "elsewhere", table="releases")  # the limit is per table
