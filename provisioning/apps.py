"""App config for provisioning: clusters created, grown, upgraded and retired through Cluster API
on a registered management cluster (docs/provisioning.md)."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_builtin_templates(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """After migrations (and a test database's flush): store the shipped cluster templates; a
    changed builtin file becomes a new version (idempotent)."""
    from django.db import connections

    from provisioning.actions import sync_builtin_templates
    from provisioning.models import ClusterTemplate

    if ClusterTemplate._meta.db_table in connections[using].introspection.table_names():  # not migrated back
        sync_builtin_templates()


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from provisioning import access, tasks_lifecycle  # noqa: F401  (celery finds only provisioning.tasks)

        access.install()
        post_migrate.connect(_sync_builtin_templates, sender=self, dispatch_uid="provisioning.builtin_templates")
