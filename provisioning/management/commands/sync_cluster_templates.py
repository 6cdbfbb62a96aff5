"""``manage.py sync_cluster_templates``: store the builtin cluster templates of
provisioning/builtin/ (migrate does it too); a changed builtin becomes a new version."""

from typing import Any

from django.core.management.base import BaseCommand

from provisioning.actions import sync_builtin_templates


class Command(BaseCommand):
    help = "Store the builtin cluster templates (a changed one becomes a new version)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = sync_builtin_templates()
        for template in created:
            self.stdout.write(f"stored {template.name} v{template.version}")
        if not created:
            self.stdout.write("builtin cluster templates are up to date")
