"""The ``alerts.manage`` grant (issue 14): the built-in manager and developer roles gain it. Backwards:
it leaves every role."""

from typing import Any

from django.db import migrations

GRANT = "alerts.manage"
ROLES = ("manager", "developer")


def _rewrite(apps: Any, change: Any) -> None:
    role_model = apps.get_model("workspaces", "Role")
    for role in role_model.objects.order_by("pk"):
        grants = sorted(set(change(role, list(role.grants or []))))
        if grants != sorted(set(role.grants or [])):
            role.grants = grants
            role.save(update_fields=["grants"])


def forwards(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, lambda role, grants: grants + [GRANT] if role.builtin and role.key in ROLES else grants)


def backwards(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, lambda role, grants: [g for g in grants if g != GRANT])


class Migration(migrations.Migration):

    dependencies = [
        ('workspaces', '0006_object_grants'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
