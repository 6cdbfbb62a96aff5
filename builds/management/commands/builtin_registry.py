"""Register the built-in registry (``make run``, compose, the test fixtures): create or refresh the
``Registry(builtin=True, name="builtin")`` row from the ``PORTAL_BUILTIN_REGISTRY_*`` settings.

Idempotent: run it after every start; a changed password is stored and renews the pull secrets
made from it, a changed CA is taken. Without a configured host (production's default) it says so
and does nothing.

For docker-compose, whose ``registry`` service (the ``registry:2`` image) needs an htpasswd file:
``--generate-password`` writes a random password to PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE (0600)
when there is none yet, and ``--htpasswd PATH`` writes the bcrypt htpasswd line of the user.
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds import registry_actions
from portal.errors import PortalError


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path.with_suffix(path.suffix + ".new"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(path.with_suffix(path.suffix + ".new"), path)


def htpasswd_line(username: str, password: str) -> str:
    """``username:<bcrypt hash>`` for a distribution registry's htpasswd file (bcrypt is the only
    scheme it accepts), made with the C library's crypt (libxcrypt knows bcrypt)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # Python 3.11; the portal's image and Debian have libxcrypt

    # bcrypt is what the registry requires, and a sound password hash (S324 is about MD5/DES crypt).
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))  # noqa: S324
    if not hashed or not hashed.startswith("$2"):
        raise CommandError("This system's crypt cannot make bcrypt hashes.")
    return f"{username}:{hashed}"


class Command(BaseCommand):
    help = "Create or refresh the built-in registry's record from the PORTAL_BUILTIN_REGISTRY_* settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--generate-password", action="store_true",
                            help="write a random password to the password file if it has none")
        parser.add_argument("--htpasswd", type=Path, default=None,
                            help="also write the registry's htpasswd file (bcrypt) here")

    def handle(self, *args: Any, **options: Any) -> None:
        password_file = settings.PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE
        if settings.PORTAL_BUILTIN_REGISTRY_HOST and password_file:
            path = Path(password_file)
            if options["generate_password"] and not (path.exists() and path.read_text().strip()):
                _write_private(path, secrets.token_hex(24) + "\n")
                self.stdout.write(f"Generated the built-in registry's password in {path}.")
            if options["htpasswd"] is not None:
                try:
                    password = path.read_text().strip()
                except OSError as exc:
                    raise CommandError(f"Cannot read {path}; use --generate-password.") from exc
                _write_private(options["htpasswd"], htpasswd_line(
                    settings.PORTAL_BUILTIN_REGISTRY_USERNAME, password) + "\n")
                os.chmod(options["htpasswd"], 0o644)  # the registry's own user reads it; it holds a hash
        try:
            registry = registry_actions.ensure_builtin()
        except PortalError as exc:
            raise CommandError(exc.message) from exc
        if registry is None:
            self.stdout.write("No built-in registry configured (PORTAL_BUILTIN_REGISTRY_HOST is empty).")
            return
        self.stdout.write(f"Built-in registry ready: {registry.host} (user {registry.username or '-'}).")
