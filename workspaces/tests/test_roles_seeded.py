"""Built-in roles are seeded by migration and again after every flush (``post_migrate``), not by
a read: a GET of the roles writes nothing and does not bring back a deleted built-in role."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from workspaces.models import BUILTIN_ROLES, Role


@pytest.mark.django_db(transaction=True)
def test_builtin_roles_survive_a_flush() -> None:
    Role.objects.create(key="custom", name="Custom", grants=[])
    call_command("flush", interactive=False, verbosity=0)  # what every transactional test ends with
    assert set(Role.objects.filter(builtin=True).values_list("key", flat=True)) == set(BUILTIN_ROLES)
    assert not Role.objects.filter(key="custom").exists()


@pytest.mark.django_db
def test_reading_roles_does_not_seed_them(user_api: APIClient) -> None:
    Role.objects.filter(key="viewer").delete()
    response = user_api.get("/api/workspaces/roles/")
    assert response.status_code == 200
    assert {r["key"] for r in response.json()} == set(BUILTIN_ROLES) - {"viewer"}
    assert not Role.objects.filter(key="viewer").exists()
