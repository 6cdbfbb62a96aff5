"""Who may see and do what in which workspace: the one place the workspaces app decides it.

* Admins and operators see every workspace; admins may do everything in any of them.
* A member sees their workspace and may do what their role grants (:class:`~workspaces.models.Grant`).
* Everyone else sees nothing of it (views answer 404, never 403, for foreign objects).

It also tells the clusters app which clusters and namespaces members may see
(:func:`clusters.access.set_member_scope`) and authorizes the ``workspace.<id>`` socket group.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet

from clusters.access import MemberScope, set_member_scope
from portal import access as portal_access
from portal.events import register_group
from workspaces.models import ClusterAllocation, Grant, Membership, ServiceMap, Workspace

ALL_GRANTS = frozenset(g.value for g in Grant)


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_admin(user: Any) -> bool:
    return _signed_in(user) and bool(getattr(user, "is_admin", False))


def sees_all(user: Any) -> bool:
    return _signed_in(user) and bool(getattr(user, "is_operator", False))


def visible_workspaces(user: Any) -> QuerySet[Workspace]:
    if sees_all(user):
        return Workspace.objects.all()
    if not _signed_in(user):
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)


def visible_service_maps(user: Any) -> QuerySet[ServiceMap]:
    if sees_all(user):
        return ServiceMap.objects.all()
    if not _signed_in(user):
        return ServiceMap.objects.none()
    return ServiceMap.objects.filter(workspace__memberships__user=user)


def membership(user: Any, workspace: Workspace) -> Membership | None:
    if not _signed_in(user):
        return None
    cache: dict[int, Membership | None] = user.__dict__.setdefault("_workspace_memberships", {})
    if workspace.pk not in cache:
        cache[workspace.pk] = (Membership.objects.select_related("role")
                               .filter(workspace=workspace, user=user).first())
    return cache[workspace.pk]


def grants(user: Any, workspace: Workspace) -> frozenset[str]:
    """The grants ``user`` holds in ``workspace`` (admins: all)."""
    if is_admin(user):
        return ALL_GRANTS
    member = membership(user, workspace)
    return frozenset(member.role.grants) if member is not None else frozenset()


def allowed(user: Any, workspace: Workspace, grant: str) -> bool:
    return grant in grants(user, workspace)


def require_grant(user: Any, workspace: Workspace, grant: str) -> None:
    """Raise :class:`portal.errors.Forbidden` (``grant_missing``) unless ``user`` holds ``grant`` there."""
    if not allowed(user, workspace, grant):
        raise portal_access.grant_missing(workspace.name, grant)


def require_admin(user: Any, what: str) -> None:
    """Raise :class:`portal.errors.Forbidden` (``admin_required``) unless ``user`` is a system admin."""
    if not is_admin(user):
        raise portal_access.admin_only(what)


def forget(user: Any) -> None:
    """Drop the per-request membership cache (after a membership change)."""
    user.__dict__.pop("_workspace_memberships", None)


# ---------------------------------------------------------------------------- clusters scope


def _member_cluster_ids(user: Any) -> QuerySet[Any]:
    return ClusterAllocation.objects.filter(workspace__memberships__user=user).values("cluster_id")


def _member_namespaces(user: Any) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    rows = ServiceMap.objects.filter(workspace__memberships__user=user).values_list("cluster_id", "namespace")
    for cluster_id, namespace in rows.order_by():
        out.setdefault(cluster_id, []).append(namespace)
    return out


_WORKSPACE_KEY = re.compile(r"^[0-9]+$")


def _workspace_group(user: Any, key: str) -> bool:
    return bool(_WORKSPACE_KEY.match(key)) and visible_workspaces(user).filter(pk=int(key)).exists()


def install() -> None:
    set_member_scope(MemberScope(cluster_ids=_member_cluster_ids, namespaces=_member_namespaces))
    register_group(
        "workspace", _workspace_group,
        "`workspace.<id>`: a workspace's allocations, service maps (with live quota usage) and members.",
    )
