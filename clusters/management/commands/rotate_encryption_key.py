"""``manage.py rotate_encryption_key``: re-encrypt every cluster's credentials under the first key
of ``PORTAL_ENCRYPTION_KEYS``.

Key rotation is: put the new key first (keep the old ones after it), run this, then remove the
old keys. Rows already under the primary key are left alone, so running it twice changes nothing
the second time; each row is rewritten in its own short transaction under a row lock, so it can
run while the portal is up. A row that cannot be decrypted (its key is gone, or it was tampered
with) is reported by id and left as it is; the command then exits non-zero.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from clusters.models import Cluster
from portal import crypto


class Command(BaseCommand):
    help = "Re-encrypt every cluster's stored credentials under the primary (first) encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        primary = crypto.keyring().primary
        rotated = current = empty = 0
        failed: list[int] = []
        for pk in Cluster.objects.order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                cluster = Cluster.objects.select_for_update().filter(pk=pk).first()
                if cluster is None:
                    continue
                if not cluster.credentials_encrypted:
                    empty += 1
                    continue
                if crypto.key_id(cluster.credentials_encrypted) == primary:
                    current += 1
                    continue
                try:
                    credentials = cluster.get_credentials()
                except crypto.DecryptionError as exc:
                    self.stderr.write(f"cluster {pk} ({cluster.name}): cannot decrypt: {exc}")
                    failed.append(pk)
                    continue
                if not options["dry_run"]:
                    cluster.set_credentials(credentials)
                    cluster.save(update_fields=["credentials_encrypted", "auth_method"])
                rotated += 1
        verb = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        self.stdout.write(
            f"Primary key {primary!r}: {verb} {rotated}, already current {current}, without credentials {empty}, "
            f"failed {len(failed)}."
        )
        if failed:
            raise CommandError(f"{len(failed)} cluster(s) could not be decrypted: ids {failed}.")
