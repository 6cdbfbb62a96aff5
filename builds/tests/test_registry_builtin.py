"""The built-in registry's record: ``manage.py builtin_registry`` registers what scripts/registry.sh
runs, idempotently, and the portal reads it with the generated password and CA."""

from __future__ import annotations

import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import CommandError, call_command

from builds import registries
from builds.models import Registry, RegistryKind
from builds.tasks_registry import check_registry
from portal.testing import wait_for
from sandbox.testing import registry_server

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


def test_builtin_registry_answers_with_its_credentials(builtin_registry: Any) -> None:
    check_registry(builtin_registry.pk)
    builtin_registry.refresh_from_db()
    assert builtin_registry.status == "ok", builtin_registry.message
    assert builtin_registry.checked is not None
    assert registries.location(builtin_registry).base == f"https://{builtin_registry.host}"


def test_a_changed_password_file_rotates(builtin_registry: Any, tmp_path: Path, settings: Any) -> None:
    (tmp_path / "password").write_text("another-password\n")
    settings.PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE = str(tmp_path / "password")
    before = builtin_registry.password_changed
    call_command("builtin_registry", stdout=StringIO())
    row = Registry.objects.get(builtin=True)
    assert row.get_password() == "another-password"
    assert row.password_changed > before
    check_registry(row.pk)
    row.refresh_from_db()
    assert row.message_code == "registry_refused"


def test_missing_files_say_how_to_start_it(builtin_registry: Any, settings: Any) -> None:
    settings.PORTAL_BUILTIN_REGISTRY_CA_FILE = "/nonexistent/ca.crt"
    with pytest.raises(CommandError, match=r"scripts/registry\.sh start"):
        call_command("builtin_registry", stdout=StringIO())
    settings.PORTAL_BUILTIN_REGISTRY_HOST = ""
    out = StringIO()
    call_command("builtin_registry", stdout=out)
    assert "No built-in registry configured" in out.getvalue()


def test_compose_setup_generates_a_password_and_an_htpasswd_the_registry_accepts(
        builtin_registry: Any, tmp_path: Path, settings: Any) -> None:
    """What docker-compose's registry-setup service runs: a password made once (0600), an htpasswd
    that a real registry (registry:2 reads the same file) accepts, and the row registered with it."""
    settings.PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE = str(tmp_path / "auth" / "password")
    htpasswd = tmp_path / "auth" / "htpasswd"
    call_command("builtin_registry", "--generate-password", "--htpasswd", str(htpasswd), stdout=StringIO())
    password = (tmp_path / "auth" / "password").read_text().strip()
    assert len(password) == 48
    assert stat.S_IMODE((tmp_path / "auth" / "password").stat().st_mode) == 0o600
    call_command("builtin_registry", "--generate-password", stdout=StringIO())
    assert (tmp_path / "auth" / "password").read_text().strip() == password  # made once
    assert Registry.objects.get(builtin=True).get_password() == password
    with registry_server(tmp_path / "reg", extra_config={
            "auth": {"htpasswd": {"realm": "compose", "path": str(htpasswd)}}}) as server:
        assert requests.get(f"{server.url}/v2/", auth=("portal", password), timeout=5).status_code == 200
        assert requests.get(f"{server.url}/v2/", auth=("portal", "nope"), timeout=5).status_code == 401


def test_a_worker_checks_the_registry_when_asked(builtin_registry: Any, admin_api: Any,
                                                 celery_worker_process: Any) -> None:
    Registry.objects.filter(pk=builtin_registry.pk).update(status="unknown", checked=None)
    response = admin_api.post(f"/api/builds/registries/{builtin_registry.pk}/check/")
    assert response.status_code == 202
    row = wait_for(lambda: Registry.objects.filter(pk=builtin_registry.pk, checked__isnull=False).first(),
                   what="the worker's check of the built-in registry")
    assert row.status == "ok", row.message
