"""The users list (admins) sorts server-side by the console's columns and pages by keyset."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from portal.models import User
from portal.testing import make_user

pytestmark = pytest.mark.django_db


def _all(client: APIClient, **params: Any) -> list[str]:
    page = client.get("/api/users/", {"page_size": 2, **params})
    assert page.status_code == 200, page.content
    body = page.json()
    names = [u["username"] for u in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        names += [u["username"] for u in body["results"]]
    return names


def test_orderings_and_keyset_pages(admin_api: APIClient) -> None:
    for name, role in (("mina", "operator"), ("bora", "auditor"), ("chan", "user"), ("dana", "admin")):
        make_user(name, role=role)
    User.objects.filter(username="chan").update(is_active=False)
    everyone = list(User.objects.values_list("username", flat=True))
    assert _all(admin_api) == list(User.objects.order_by("-id").values_list("username", flat=True))
    assert _all(admin_api, ordering="username") == sorted(everyone)
    assert _all(admin_api, ordering="-username") == sorted(everyone, reverse=True)
    by_role = _all(admin_api, ordering="role")
    assert by_role == list(User.objects.order_by("role", "username", "id").values_list("username", flat=True))
    assert _all(admin_api, ordering="is_active")[0] == "chan"
    assert sorted(_all(admin_api, ordering="-last_login")) == sorted(everyone)


def test_unknown_ordering_is_400(admin_api: APIClient) -> None:
    response = admin_api.get("/api/users/", {"ordering": "password"})
    assert response.status_code == 400
    assert "ordering" in response.json()["errors"]
