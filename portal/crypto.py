"""Encryption at rest for secrets the portal must be able to read back (cluster tokens and
client keys, registry passwords).

AES-256-GCM (authenticated: a flipped bit fails loudly, never decrypts to garbage). The stored
form is ``v1:<key id>:<base64(nonce || ciphertext+tag)>``; the key id travels with the data so
keys can rotate: ``PORTAL_ENCRYPTION_KEYS`` lists ``kid:base64key`` pairs, the first encrypts,
all decrypt, and ``manage.py rotate_encryption_key`` re-encrypts every row under the first.
The row's identity is bound in as associated data, so a ciphertext copied onto another row does
not decrypt there.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "v1"


class DecryptionError(Exception):
    """The ciphertext is damaged, bound to another row, or its key is no longer configured."""


@dataclass(frozen=True)
class Keyring:
    primary: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, entries: list[str]) -> Keyring:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for entry in entries:
            kid, sep, b64 = entry.partition(":")
            if not sep or not kid or not kid.isalnum():
                raise ImproperlyConfigured(
                    f"PORTAL_ENCRYPTION_KEYS entry {kid!r}… must look like 'k1:<base64 of 32 bytes>'."
                )
            try:
                raw = base64.b64decode(b64, validate=True)
            except binascii.Error as exc:
                raise ImproperlyConfigured(f"PORTAL_ENCRYPTION_KEYS key {kid!r} is not valid base64.") from exc
            if len(raw) != 32:
                raise ImproperlyConfigured(f"PORTAL_ENCRYPTION_KEYS key {kid!r} must be 32 bytes, not {len(raw)}.")
            if kid in keys:
                raise ImproperlyConfigured(f"PORTAL_ENCRYPTION_KEYS lists key id {kid!r} twice.")
            keys[kid] = raw
            order.append(kid)
        if not order:
            raise ImproperlyConfigured("PORTAL_ENCRYPTION_KEYS is empty.")
        return cls(primary=order[0], keys=keys)


@cache
def _keyring(entries: tuple[str, ...]) -> Keyring:
    return Keyring.parse(list(entries))


def keyring() -> Keyring:
    return _keyring(tuple(settings.PORTAL_ENCRYPTION_KEYS))


def encrypt(plaintext: bytes, *, context: str) -> str:
    ring = keyring()
    nonce = os.urandom(12)
    sealed = AESGCM(ring.keys[ring.primary]).encrypt(nonce, plaintext, context.encode())
    return f"{VERSION}:{ring.primary}:{base64.b64encode(nonce + sealed).decode()}"


def key_id(stored: str) -> str:
    parts = stored.split(":", 2)
    return parts[1] if len(parts) == 3 else ""


def decrypt(stored: str, *, context: str) -> bytes:
    version, kid, b64 = [*stored.split(":", 2), "", ""][:3]
    if version != VERSION or not b64:
        raise DecryptionError("not an encrypted value of a known format")
    key = keyring().keys.get(kid)
    if key is None:
        raise DecryptionError(f"encryption key {kid!r} is not in PORTAL_ENCRYPTION_KEYS")
    try:
        blob = base64.b64decode(b64, validate=True)
        return AESGCM(key).decrypt(blob[:12], blob[12:], context.encode())
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise DecryptionError("ciphertext is damaged or belongs to another record") from exc


def encrypt_text(text: str, *, context: str) -> str:
    """An optional secret string (a password, a webhook secret) sealed to ``context``; ``""`` stays ``""``."""
    return encrypt(text.encode(), context=context) if text else ""


def decrypt_text(stored: str, *, context: str) -> str:
    """The string :func:`encrypt_text` sealed (``""`` for nothing stored)."""
    return decrypt(stored, context=context).decode() if stored else ""


def encrypt_json(value: dict[str, Any], *, context: str) -> str:
    return encrypt(json.dumps(value, separators=(",", ":")).encode(), context=context)


def decrypt_json(stored: str, *, context: str) -> dict[str, Any]:
    value = json.loads(decrypt(stored, context=context))
    if not isinstance(value, dict):
        raise DecryptionError("decrypted value is not an object")
    return value
