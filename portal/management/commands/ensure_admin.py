"""Create the first system admin if no admin exists yet, for `make run` and fresh installs.

The password comes from ``PORTAL_ADMIN_PASSWORD`` or is generated; a generated one is written to
``--password-file`` (mode 0600) so the person who ran `make run` can read it, and is never logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from portal.models import SystemRole, User


class Command(BaseCommand):
    help = "Create a system admin account if none exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=os.environ.get("PORTAL_ADMIN_USERNAME", "admin"))
        parser.add_argument("--password-file", type=Path, required=True,
                            help="Where to store a generated password (read it to log in).")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        password_file: Path = options["password_file"]
        if User.objects.filter(is_active=True, role=SystemRole.ADMIN).exists() or User.objects.filter(
            is_active=True, is_superuser=True
        ).exists():
            self.stdout.write("An admin account already exists; nothing to do.")
            return
        password = os.environ.get("PORTAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, password=password, role=SystemRole.ADMIN,
                                        is_staff=True, is_superuser=True)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(f"{user.username}\n{password}\n")
        password_file.chmod(0o600)
        self.stdout.write(f"Created admin account '{user.username}'; its password is in {password_file}.")
