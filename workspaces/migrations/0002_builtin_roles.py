"""The built-in roles: manager, developer, viewer (grants as in workspaces.models at the time)."""

from typing import Any

from django.db import migrations

BUILTIN = {
    "manager": ("Manager", [
        "members.manage", "servicemaps.manage", "workloads.deploy", "workloads.scale", "workloads.restart",
        "workloads.rollback", "workloads.edit", "workloads.delete", "workloads.exec", "config.edit",
        "secrets.reveal", "builds.run"]),
    "developer": ("Developer", [
        "workloads.deploy", "workloads.scale", "workloads.restart", "workloads.rollback", "workloads.edit",
        "workloads.delete", "workloads.exec", "config.edit", "builds.run"]),
    "viewer": ("Viewer", []),
}


def create(apps: Any, schema_editor: Any) -> None:
    role = apps.get_model("workspaces", "Role")
    for key, (name, grants) in BUILTIN.items():
        role.objects.update_or_create(key=key, defaults={"name": name, "grants": sorted(grants), "builtin": True})


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("workspaces", "Role").objects.filter(key__in=list(BUILTIN), builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
