"""Who may see and change which catalog sources and packages: the one place the catalog decides it.

* Shared sources (no workspace) and their packages are read by everyone signed in; system
  admins add, change, refresh and delete them.
* A workspace's sources and packages are read by whoever sees the workspace
  (:func:`workspaces.access.visible_workspaces`: its members, operators, admins) and changed by
  holders of ``servicemaps.manage`` there. Anyone else gets 404 (the querysets leave them out).

Registered access classes (see :mod:`portal.access`): :class:`CatalogSourceAccess`,
:class:`PackageAccess`, :class:`PackageVersionAccess`. A source about to be created is asked
about as an unsaved ``CatalogSource(workspace=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet

from catalog.models import CatalogSource, Move, Package, PackageVersion, Release
from portal import access as portal_access
from portal import errors
from workspaces import access as ws_access
from workspaces.models import Grant, ServiceMap, Workspace

MANAGE_GRANT = Grant.SERVICEMAPS_MANAGE


@portal_access.register
class CatalogSourceAccess(portal_access.Access[CatalogSource]):
    model = CatalogSource

    def visible(self, user: Any) -> QuerySet[CatalogSource]:
        if not portal_access.signed_in(user):
            return CatalogSource.objects.none()
        if ws_access.sees_all(user):
            return CatalogSource.objects.all()
        return CatalogSource.objects.filter(
            Q(workspace__isnull=True) | Q(workspace__in=ws_access.visible_workspaces(user).values("pk")))

    def can_manage(self, user: Any, source: CatalogSource | None) -> bool:
        """Add, change, refresh, upload to and delete: shared sources admins; a workspace's
        sources ``servicemaps.manage`` there."""
        workspace = source.workspace if source is not None else None
        if workspace is None:
            return ws_access.is_admin(user)
        return ws_access.allowed(user, workspace, MANAGE_GRANT)

    def denied(self, user: Any, action: str, obj: CatalogSource | None) -> errors.Forbidden:
        workspace = obj.workspace if obj is not None else None
        if action != "manage":
            return super().denied(user, action, obj)
        if workspace is None:
            return errors.Forbidden("Only system admins may change shared catalog sources.", code="admin_required",
                                    params={"what": "change shared catalog sources"})
        return portal_access.grant_missing(workspace.name, MANAGE_GRANT)


@portal_access.register
class PackageAccess(portal_access.Access[Package]):
    model = Package

    def visible(self, user: Any) -> QuerySet[Package]:
        return Package.objects.filter(source__in=source_access().visible(user).values("pk"))


@portal_access.register
class PackageVersionAccess(portal_access.Access[PackageVersion]):
    model = PackageVersion

    def visible(self, user: Any) -> QuerySet[PackageVersion]:
        return PackageVersion.objects.filter(package__source__in=source_access().visible(user).values("pk"))


def source_access() -> CatalogSourceAccess:
    access = portal_access.access_for(CatalogSource)
    assert isinstance(access, CatalogSourceAccess)
    return access


# ---------------------------------------------------------------------------- thin wrappers


def visible_sources(user: Any) -> QuerySet[CatalogSource]:
    return source_access().visible(user)


def visible_packages(user: Any) -> QuerySet[Package]:
    return portal_access.visible(user, Package)


def visible_versions(user: Any) -> QuerySet[PackageVersion]:
    return portal_access.visible(user, PackageVersion)


def can_manage(user: Any, workspace: Workspace | None) -> bool:
    """Shared sources: admins; a workspace's sources: ``servicemaps.manage`` there."""
    return source_access().can_manage(user, CatalogSource(workspace=workspace))


def require_manage(user: Any, workspace: Workspace | None) -> None:
    source_access().require(user, "manage", CatalogSource(workspace=workspace))


def may_fetch_plain_http(actor: Any) -> bool:
    """``http://`` repositories and registries outside development and test: system admins only
    (a repository on their own network); everyone else must use ``https://``."""
    return ws_access.is_admin(actor)


def usable_in(version: PackageVersion, workspace_id: int) -> bool:
    """May the version be installed into a service map of this workspace? Shared packages
    anywhere; a workspace's own packages only in that workspace."""
    source_workspace = version.package.source.workspace_id
    return source_workspace is None or source_workspace == workspace_id


# ---------------------------------------------------------------------------- releases


def visible_releases(user: Any) -> QuerySet[Release]:
    """The releases ``user`` may view: those of the workspaces they see (as the release views
    list them)."""
    return Release.objects.filter(workspace__in=ws_access.visible_workspaces(user).values("pk"))


def release_owner(user: Any, release_id: int, cluster_id: int, namespace: str) -> Mapping[str, Any] | None:
    """The release an object's ``portal.cluster-portal.io/release`` label names, for the
    clusters app (:func:`clusters.owners.set_release_resolver`): ``{id, name, service_map_id}``
    when ``user`` may view it and it deploys to ``cluster_id`` (and ``namespace``; "" for a
    cluster-scoped object), else None, so a label naming another team's release tells nothing."""
    rows = visible_releases(user).filter(pk=release_id, service_map__cluster_id=cluster_id)
    if namespace:
        rows = rows.filter(service_map__namespace=namespace)
    return rows.values("id", "name", "service_map_id").first()


# ---------------------------------------------------------------------------- service map moves

# what a move needs in the workspace: create the target service map, deploy its releases, write its config
MOVE_GRANTS = (Grant.SERVICEMAPS_MANAGE, Grant.WORKLOADS_DEPLOY, Grant.CONFIG_EDIT)


def require_move(user: Any, sm: ServiceMap) -> None:
    """403 ``grant_missing`` naming the first grant of :data:`MOVE_GRANTS` the user lacks in the
    service map's workspace."""
    for grant in MOVE_GRANTS:
        ws_access.require_grant(user, sm.workspace, grant)


def require_retire(user: Any, workspace: Workspace) -> None:
    """Retiring deletes the source service map: ``servicemaps.manage``, as deleting one does."""
    ws_access.require_grant(user, workspace, Grant.SERVICEMAPS_MANAGE)


def visible_moves(user: Any) -> QuerySet[Move]:
    """The moves of the workspaces ``user`` sees (others: 404)."""
    return Move.objects.filter(workspace__in=ws_access.visible_workspaces(user).values("pk"))
