"""``manage.py backup FILE``: the portal's PostgreSQL database as one ``pg_dump --format=custom``
file (the state of record: clusters and their encrypted credentials, workspaces, releases and their
revisions, audit). Restore it with ``manage.py restore FILE`` (docs/operations.md, "Backups").

The dump holds ciphertexts, not keys: keep ``PORTAL_ENCRYPTION_KEYS`` (every key id the command
names) with the backup, or the restored credentials cannot be decrypted. Redis is not backed up:
nothing of record lives there.

Needs the PostgreSQL client binaries (``pg_dump``, ``pg_restore``) of the server's major version or
newer on ``PATH`` (or ``PG_BIN`` naming their directory). The password goes to them through
``PGPASSWORD`` in their environment, never on a command line. The dump is written next to ``FILE``
and renamed into place when complete, so ``FILE`` is either a whole dump or absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from portal import crypto

TIMEOUT = 6 * 3600.0  # seconds one pg_dump/pg_restore may run


def binary(name: str) -> str:
    """The path of ``pg_dump``/``pg_restore``: in ``$PG_BIN``, on ``PATH``, or the newest
    ``/usr/lib/postgresql/<major>/bin``."""
    directories = [os.environ["PG_BIN"]] if os.environ.get("PG_BIN") else []
    found = shutil.which(name, path=os.pathsep.join(directories)) if directories else shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0)
    for directory in reversed(versions):
        if (directory / name).is_file():
            return str(directory / name)
    raise CommandError(f"{name} is not installed: install the PostgreSQL client (the server's major version or "
                       f"newer), or set PG_BIN to the directory that holds it.")


def pg_env(alias: str = DEFAULT_DB_ALIAS) -> dict[str, str]:
    """The libpq environment for the database ``alias`` (password included, for the child only)."""
    db: dict[str, Any] = settings.DATABASES[alias]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    pairs = {"PGHOST": db.get("HOST"), "PGPORT": db.get("PORT"), "PGUSER": db.get("USER"),
             "PGPASSWORD": db.get("PASSWORD"), "PGDATABASE": db.get("NAME")}
    options = db.get("OPTIONS") or {}
    pairs.update({"PGSSLMODE": options.get("sslmode"), "PGSSLROOTCERT": options.get("sslrootcert"),
                  "PGCONNECT_TIMEOUT": options.get("connect_timeout")})
    env.update({k: str(v) for k, v in pairs.items() if v not in (None, "")})
    return env


def run(command: list[str], env: dict[str, str], what: str) -> None:
    """Run a client binary; its error output (never the password, which is not on its command
    line) becomes the CommandError."""
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)  # noqa: S603 - pg_dump/pg_restore, argument list
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"{what} took longer than {TIMEOUT:g} s and was stopped.") from exc
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-2000:]
        raise CommandError(f"{what} failed (exit {result.returncode}): {detail}")


class Command(BaseCommand):
    help = "Write the portal's PostgreSQL database to FILE (pg_dump custom format)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="Where to write the dump (e.g. portal-2026-12-02.dump).")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database alias (default: default).")
        parser.add_argument("--force", action="store_true", help="Overwrite FILE if it exists.")

    def handle(self, *args: Any, **options: Any) -> None:
        target: Path = options["file"]
        if target.exists() and not options["force"]:
            raise CommandError(f"{target} exists; give another file or --force to overwrite it.")
        if not target.parent.is_dir():
            raise CommandError(f"The directory {target.parent} does not exist.")
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        command = [binary("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--compress=6",
                   f"--file={partial}"]
        try:
            run(command, pg_env(options["database"]), "pg_dump")
            os.chmod(partial, 0o600)  # the dump holds password hashes and ciphertexts
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        kids = ", ".join(crypto.keyring().keys)
        self.stdout.write(f"Backup written to {target} ({target.stat().st_size} bytes). Keep the encryption keys "
                          f"{kids} (PORTAL_ENCRYPTION_KEYS) with it: the credentials in it are encrypted with them.")
