"""``manage.py rotate_identity_secrets``: re-encrypt every identity provider's secret (OIDC client
secret, LDAP bind password) under the first key of ``PORTAL_ENCRYPTION_KEYS``.

The companion of ``rotate_encryption_key`` (cluster credentials), with the same rules: put the new
key first, run both, then remove the old keys. Rows already under the primary key are left alone
(running it twice changes nothing the second time); each row is rewritten in its own short
transaction under a row lock; a row that cannot be decrypted is reported by id (never its value)
and left as it is, and the command then exits non-zero.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identity import actions
from identity.models import IdentityProvider
from portal import crypto


class Command(BaseCommand):
    help = "Re-encrypt every identity provider's secret under the primary (first) encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = {"rotated": 0, "current": 0, "empty": 0}
        failed: list[int] = []
        for pk in IdentityProvider.objects.order_by("pk").values_list("pk", flat=True):
            outcome = actions.rotate_secret(pk, dry_run=options["dry_run"])
            if outcome == "failed":
                self.stderr.write(f"identity provider {pk}: its secret cannot be decrypted")
                failed.append(pk)
            elif outcome in counts:
                counts[outcome] += 1
        verb = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        self.stdout.write(
            f"Primary key {crypto.keyring().primary!r}: {verb} {counts['rotated']}, already current "
            f"{counts['current']}, without a secret {counts['empty']}, failed {len(failed)}.")
        if failed:
            raise CommandError(f"{len(failed)} identity provider(s) could not be decrypted: ids {failed}.")
