"""Who may see and change which catalog sources and packages: the one place the catalog decides it.

* Shared sources (no workspace) and their packages are read by everyone signed in; system
  admins add, change, refresh and delete them.
* A workspace's sources and packages are read by whoever sees the workspace
  (:func:`workspaces.access.visible_workspaces`: its members, operators, admins) and changed by
  holders of ``servicemaps.manage`` there. Anyone else gets 404 (the querysets leave them out).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from rest_framework import exceptions

from catalog.models import CatalogSource, Package, PackageVersion
from workspaces import access as ws_access
from workspaces.models import Grant, Workspace

MANAGE_GRANT = Grant.SERVICEMAPS_MANAGE


def visible_sources(user: Any) -> QuerySet[CatalogSource]:
    if not (user is not None and user.is_authenticated and user.is_active):
        return CatalogSource.objects.none()
    if ws_access.sees_all(user):
        return CatalogSource.objects.all()
    return CatalogSource.objects.filter(
        Q(workspace__isnull=True) | Q(workspace__in=ws_access.visible_workspaces(user).values("pk")))


def visible_packages(user: Any) -> QuerySet[Package]:
    return Package.objects.filter(source__in=visible_sources(user).values("pk"))


def visible_versions(user: Any) -> QuerySet[PackageVersion]:
    return PackageVersion.objects.filter(package__source__in=visible_sources(user).values("pk"))


def can_manage(user: Any, workspace: Workspace | None) -> bool:
    """Shared sources: admins; a workspace's sources: ``servicemaps.manage`` there."""
    if workspace is None:
        return ws_access.is_admin(user)
    return ws_access.allowed(user, workspace, MANAGE_GRANT)


def require_manage(user: Any, workspace: Workspace | None) -> None:
    if can_manage(user, workspace):
        return
    if workspace is None:
        raise exceptions.PermissionDenied("Only system admins may change shared catalog sources.")
    raise exceptions.PermissionDenied(
        f"Your role in workspace {workspace.name} does not grant {MANAGE_GRANT}; ask a manager of the workspace.")


def usable_in(version: PackageVersion, workspace_id: int) -> bool:
    """May the version be installed into a service map of this workspace? Shared packages
    anywhere; a workspace's own packages only in that workspace."""
    source_workspace = version.package.source.workspace_id
    return source_workspace is None or source_workspace == workspace_id
