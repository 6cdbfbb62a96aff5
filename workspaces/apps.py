"""App config for workspaces: installs the access scope and drift hooks, and seeds the built-in
roles after every ``migrate`` and every flush (both send ``post_migrate``), so no read has to."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def seed_builtin_roles(sender: Any, *, using: str = "default", apps: Any = None, **kwargs: Any) -> None:
    from workspaces.models import Role

    try:
        model = apps.get_model("workspaces", "Role") if apps is not None else None
    except LookupError:  # migrated back to before roles existed
        return
    Role.ensure_builtin(model=model, using=using)


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    verbose_name = "Workspaces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from workspaces import access, drift

        access.install()
        drift.install()
        post_migrate.connect(seed_builtin_roles, sender=self, dispatch_uid="workspaces.seed_builtin_roles")
