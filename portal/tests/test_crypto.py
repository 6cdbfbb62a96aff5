"""Authenticated encryption of stored secrets, key ids and rotation."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import crypto

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()


def test_roundtrip_and_no_plaintext(settings: object) -> None:
    settings.PORTAL_ENCRYPTION_KEYS = [K1]  # type: ignore[attr-defined]
    stored = crypto.encrypt_json({"token": "s3cr3t-token"}, context="cluster:1")
    assert stored.startswith("v1:k1:")
    assert "s3cr3t" not in stored
    assert crypto.decrypt_json(stored, context="cluster:1") == {"token": "s3cr3t-token"}
    assert crypto.encrypt(b"x", context="a") != crypto.encrypt(b"x", context="a")  # fresh nonce


def test_ciphertext_is_bound_to_its_row_and_tamper_evident(settings: object) -> None:
    settings.PORTAL_ENCRYPTION_KEYS = [K1]  # type: ignore[attr-defined]
    stored = crypto.encrypt(b"secret", context="cluster:1")
    with pytest.raises(crypto.DecryptionError, match="another record"):
        crypto.decrypt(stored, context="cluster:2")
    prefix, blob = stored.rsplit(":", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(prefix + ":" + base64.b64encode(bytes(raw)).decode(), context="cluster:1")
    with pytest.raises(crypto.DecryptionError, match="known format"):
        crypto.decrypt("plain text", context="cluster:1")


def test_rotation_keeps_old_keys_readable(settings: object) -> None:
    settings.PORTAL_ENCRYPTION_KEYS = [K1]  # type: ignore[attr-defined]
    old = crypto.encrypt(b"secret", context="c")
    settings.PORTAL_ENCRYPTION_KEYS = [K2, K1]  # type: ignore[attr-defined]
    assert crypto.decrypt(old, context="c") == b"secret"
    assert crypto.key_id(crypto.encrypt(b"secret", context="c")) == "k2"
    settings.PORTAL_ENCRYPTION_KEYS = [K2]  # type: ignore[attr-defined]
    with pytest.raises(crypto.DecryptionError, match="'k1' is not in"):
        crypto.decrypt(old, context="c")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["nokey"], "must look like"),
        (["k1:not-base64!"], "not valid base64"),
        (["k1:" + base64.b64encode(b"short").decode()], "must be 32 bytes"),
        ([K1, K1], "twice"),
    ],
)
def test_bad_key_configuration_is_named(entries: list[str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.Keyring.parse(entries)
