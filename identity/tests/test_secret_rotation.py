"""Provider secrets follow key rotation (manage.py rotate_identity_secrets): rewritten under the
new primary key, still the same secret, a second run changes nothing, and a secret whose key is
gone is reported by id without its value."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from identity.models import IdentityProvider
from portal import crypto

pytestmark = pytest.mark.django_db
K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()
K3 = "k3:" + base64.b64encode(b"3" * 32).decode()


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_identity_secrets", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_rotation_rewrites_secrets_under_the_new_key(settings: object) -> None:
    settings.PORTAL_ENCRYPTION_KEYS = [K1]  # type: ignore[attr-defined]
    with_secret = IdentityProvider.objects.create(name="rot-a", kind="oidc")
    with_secret.set_secret("client-secret-a")
    with_secret.save()
    IdentityProvider.objects.create(name="rot-b", kind="ldap")  # no secret
    settings.PORTAL_ENCRYPTION_KEYS = [K2, K1]  # type: ignore[attr-defined]
    assert "would re-encrypt 1" in run("--dry-run")
    assert crypto.key_id(IdentityProvider.objects.get(pk=with_secret.pk).secret_encrypted) == "k1"
    assert "re-encrypted 1, already current 0, without a secret 1" in run()
    assert "re-encrypted 0, already current 1" in run()
    settings.PORTAL_ENCRYPTION_KEYS = [K2]  # type: ignore[attr-defined]
    assert IdentityProvider.objects.get(pk=with_secret.pk).get_secret() == "client-secret-a"


def test_a_secret_whose_key_is_gone_is_reported_and_kept(settings: object) -> None:
    settings.PORTAL_ENCRYPTION_KEYS = [K1]  # type: ignore[attr-defined]
    provider = IdentityProvider.objects.create(name="rot-c", kind="oidc")
    provider.set_secret("client-secret-c")
    provider.save()
    stored = provider.secret_encrypted
    settings.PORTAL_ENCRYPTION_KEYS = [K3]  # type: ignore[attr-defined]
    err = io.StringIO()
    with pytest.raises(CommandError, match=f"ids \\[{provider.pk}\\]"):
        call_command("rotate_identity_secrets", stdout=io.StringIO(), stderr=err)
    assert "client-secret-c" not in err.getvalue()
    assert IdentityProvider.objects.get(pk=provider.pk).secret_encrypted == stored
