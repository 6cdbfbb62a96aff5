"""``manage.py restore FILE --yes``: put a ``manage.py backup`` dump back into the portal's
database with ``pg_restore --clean --if-exists`` in **one transaction** (``--single-transaction
--exit-on-error``): the database ends as the dump, or unchanged if anything fails.

Stop every portal process that writes (web, workers, beat, watchers) first, restore, then run
``manage.py migrate`` (a dump of an older version is brought forward) and start them again, with
the same ``PORTAL_ENCRYPTION_KEYS`` (or a list that still holds every key id the backup named).
Objects the dump does not have (tables of a newer version) are left alone: restore into an empty
database, or one of the same version, as docs/operations.md describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from portal.management.commands.backup import binary, pg_env, run


class Command(BaseCommand):
    help = "Replace the portal's database with the dump in FILE (from manage.py backup)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A dump written by manage.py backup.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database alias (default: default).")
        parser.add_argument("--yes", action="store_true",
                            help="Confirm: the database's objects are replaced by the dump's.")

    def handle(self, *args: Any, **options: Any) -> None:
        source: Path = options["file"]
        if not source.is_file():
            raise CommandError(f"{source} is not a file.")
        env = pg_env(options["database"])
        restore = binary("pg_restore")
        run([restore, "--list", str(source)], env, f"{source} is not a pg_dump custom-format dump: pg_restore --list")
        if not options["yes"]:
            raise CommandError(f"This replaces the objects in database {env.get('PGDATABASE', '')!r} with those in "
                               f"{source}. Stop the portal's processes, then run again with --yes.")
        connections[options["database"]].close()  # our own session must not hold locks pg_restore needs
        run([restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
             "--exit-on-error", f"--dbname={env.get('PGDATABASE', '')}", str(source)], env, "pg_restore")
        self.stdout.write(f"Restored {source} into {env.get('PGDATABASE', '')!r}. Run manage.py migrate, then start "
                          f"the portal's processes with the same PORTAL_ENCRYPTION_KEYS.")
