"""Action-level grants for actions on objects (issue 15): ``workloads.edit`` becomes
``objects.edit``, ``workloads.delete`` becomes ``objects.delete`` and ``workloads.exec`` becomes
``pods.exec`` in every role, and the built-in manager, developer and viewer roles gain the new
``pods.logs``. Backwards: the old names again, and ``pods.logs`` (unknown before) leaves every role."""

from typing import Any

from django.db import migrations

RENAMES = {"workloads.edit": "objects.edit", "workloads.delete": "objects.delete", "workloads.exec": "pods.exec"}
LOGS = "pods.logs"
LOGS_ROLES = ("manager", "developer", "viewer")


def _rewrite(apps: Any, change: Any) -> None:
    role_model = apps.get_model("workspaces", "Role")
    for role in role_model.objects.order_by("pk"):
        grants = sorted(set(change(role, list(role.grants or []))))
        if grants != list(role.grants or []):
            role.grants = grants
            role.save(update_fields=["grants"])


def forwards(apps: Any, schema_editor: Any) -> None:
    def change(role: Any, grants: list[str]) -> list[str]:
        grants = [RENAMES.get(g, g) for g in grants]
        if role.builtin and role.key in LOGS_ROLES:
            grants.append(LOGS)
        return grants

    _rewrite(apps, change)


def backwards(apps: Any, schema_editor: Any) -> None:
    old = {new: old for old, new in RENAMES.items()}

    def change(role: Any, grants: list[str]) -> list[str]:
        return [old.get(g, g) for g in grants if g != LOGS]

    _rewrite(apps, change)


class Migration(migrations.Migration):

    dependencies = [
        ('workspaces', '0005_message_codes'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
