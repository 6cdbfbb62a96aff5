"""The built-in registry's record: ``manage.py builtin_registry`` registers what scripts/registry.sh
runs, idempotently, and the portal reads it with the generated password and CA."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from builds.models import Registry, RegistryKind

pytestmark = pytest.mark.django_db(transaction=True)


def test_builtin_registry_row_is_idempotent(builtin_registry: Any) -> None:
    assert builtin_registry.builtin
    assert builtin_registry.kind == RegistryKind.BUILTIN
    assert builtin_registry.name == "builtin"
    assert builtin_registry.username == "portal"
    assert builtin_registry.get_password()
    assert "BEGIN CERTIFICATE" in builtin_registry.ca_pem
    changed = builtin_registry.password_changed
    out = StringIO()
    call_command("builtin_registry", stdout=out)
    assert "Built-in registry ready" in out.getvalue()
    assert Registry.objects.filter(builtin=True).count() == 1
    assert Registry.objects.get(builtin=True).password_changed == changed  # same password: no rotation
