"""Who may see and do what in which workspace: the one place the workspaces app decides it.

* Admins, operators and auditors see every workspace; admins may do everything in any of them.
* A member sees their workspace and may do what their role grants (:class:`~workspaces.models.Grant`).
* Everyone else sees nothing of it (views answer 404, never 403, for foreign objects).

One registered access class per model (see :mod:`portal.access`): :class:`WorkspaceAccess`,
:class:`ServiceMapAccess` (the grants a service map's workloads, config and secrets need),
:class:`RoleAccess`, and the nested :class:`MembershipAccess`, :class:`ClusterAllocationAccess`
and :class:`RegistryAllocationAccess`. The module-level functions (:func:`require_grant`,
:func:`visible_workspaces` …) are the same answers for callers that hold a workspace, not an
object of a model.

It also tells the clusters app which clusters and namespaces members may see
(:func:`clusters.access.set_member_scope`) and which objects in them are the portal's own, changed
by nobody through the object editor or workload actions (:func:`clusters.access.set_portal_owned`),
and authorizes the ``workspace.<id>`` socket group.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet

from clusters.access import MemberScope, set_member_scope, set_portal_owned
from portal import access as portal_access
from portal import errors
from portal.events import register_group
from workspaces.models import (
    ClusterAllocation,
    Grant,
    Membership,
    RegistryAllocation,
    Role,
    ServiceMap,
    Workspace,
)

ALL_GRANTS = frozenset(g.value for g in Grant)


def _signed_in(user: Any) -> bool:
    return portal_access.signed_in(user)


def is_admin(user: Any) -> bool:
    return portal_access.is_admin(user)


def sees_all(user: Any) -> bool:
    """Sees every workspace: operators, admins and auditors (who read everything, change nothing)."""
    return portal_access.reads_all_clusters(user)


def membership(user: Any, workspace: Workspace) -> Membership | None:
    if not _signed_in(user):
        return None
    cache: dict[int, Membership | None] = user.__dict__.setdefault("_workspace_memberships", {})
    if workspace.pk not in cache:
        cache[workspace.pk] = (Membership.objects.select_related("role")
                               .filter(workspace=workspace, user=user).first())
    return cache[workspace.pk]


AUDITOR_GRANTS = frozenset({str(Grant.PODS_LOGS)})


def grants(user: Any, workspace: Workspace) -> frozenset[str]:
    """The grants ``user`` holds in ``workspace`` (admins: all; auditors: reading logs only, whatever
    workspace role they also hold: the auditor system role reads everything and changes nothing)."""
    if is_admin(user):
        return ALL_GRANTS
    if portal_access.is_auditor(user):
        return AUDITOR_GRANTS
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


# ---------------------------------------------------------------------------- access classes

ALLOCATIONS = "change allocations and registries"


@portal_access.register
class WorkspaceAccess(portal_access.Access[Workspace]):
    """Workspaces. Actions on the workspace itself are for admins; the actions on what it holds
    (members, service maps) follow the caller's role in it."""

    model = Workspace
    # action -> what only an admin may do (the refusal says it)
    ADMIN_ACTIONS = {
        "create": "create workspaces",
        "change": "change workspaces",
        "delete": "delete workspaces",
        "allocate": ALLOCATIONS,
    }
    # action -> the grant it needs in the workspace
    GRANT_ACTIONS = {
        "manage_members": Grant.MEMBERS_MANAGE,
        "manage_service_maps": Grant.SERVICEMAPS_MANAGE,
        "deploy": Grant.WORKLOADS_DEPLOY,
    }

    def visible(self, user: Any) -> QuerySet[Workspace]:
        if sees_all(user):
            return Workspace.objects.all()
        if not _signed_in(user):
            return Workspace.objects.none()
        return Workspace.objects.filter(memberships__user=user)

    def can(self, user: Any, action: str, obj: Workspace | None = None) -> bool:
        if action in self.ADMIN_ACTIONS:
            return is_admin(user)
        if action in self.GRANT_ACTIONS:
            return obj is not None and allowed(user, obj, self.GRANT_ACTIONS[action])
        return super().can(user, action, obj)

    def can_view(self, user: Any, obj: Workspace | None) -> bool:
        return obj is not None and self.visible(user).filter(pk=obj.pk).exists()

    def denied(self, user: Any, action: str, obj: Workspace | None) -> errors.Forbidden:
        if action in self.ADMIN_ACTIONS:
            return portal_access.admin_only(self.ADMIN_ACTIONS[action])
        if action in self.GRANT_ACTIONS and obj is not None:
            return portal_access.grant_missing(obj.name, self.GRANT_ACTIONS[action])
        return super().denied(user, action, obj)


@portal_access.register
class ServiceMapAccess(portal_access.Access[ServiceMap]):
    """A service map and what runs in it: each action needs one grant in the map's workspace."""

    model = ServiceMap
    GRANTS = {
        "manage": Grant.SERVICEMAPS_MANAGE,
        "deploy": Grant.WORKLOADS_DEPLOY,
        "rollback": Grant.WORKLOADS_ROLLBACK,
        "scale": Grant.WORKLOADS_SCALE,
        "restart": Grant.WORKLOADS_RESTART,
        "edit_workloads": Grant.OBJECTS_EDIT,
        "delete_workloads": Grant.OBJECTS_DELETE,
        "exec": Grant.PODS_EXEC,
        "read_logs": Grant.PODS_LOGS,
        "edit_config": Grant.CONFIG_EDIT,
        "reveal_secrets": Grant.SECRETS_REVEAL,
    }

    def visible(self, user: Any) -> QuerySet[ServiceMap]:
        if sees_all(user):
            return ServiceMap.objects.all()
        if not _signed_in(user):
            return ServiceMap.objects.none()
        return ServiceMap.objects.filter(workspace__memberships__user=user)

    def _holds(self, user: Any, sm: ServiceMap | None, action: str) -> bool:
        return sm is not None and allowed(user, sm.workspace, self.GRANTS[action])

    def can_view(self, user: Any, sm: ServiceMap | None) -> bool:
        return sm is not None and self.visible(user).filter(pk=sm.pk).exists()

    def can_manage(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "manage")

    def can_deploy(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "deploy")

    def can_rollback(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "rollback")

    def can_scale(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "scale")

    def can_restart(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "restart")

    def can_edit_workloads(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "edit_workloads")

    def can_delete_workloads(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "delete_workloads")

    def can_exec(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "exec")

    def can_read_logs(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "read_logs")

    def can_edit_config(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "edit_config")

    def can_reveal_secrets(self, user: Any, sm: ServiceMap | None) -> bool:
        return self._holds(user, sm, "reveal_secrets")

    def can_deploy_cluster_scoped(self, user: Any, sm: ServiceMap | None) -> bool:
        """Objects outside any namespace (a ClusterRole, a CRD) reach past the service map: admins only."""
        return is_admin(user)

    def denied(self, user: Any, action: str, obj: ServiceMap | None) -> errors.Forbidden:
        if action in self.GRANTS and obj is not None:
            return portal_access.grant_missing(obj.workspace.name, self.GRANTS[action])
        return super().denied(user, action, obj)


class _InWorkspaceAccess(portal_access.Access[Any]):
    """Objects nested in a workspace: seen with it; changed as its access class says for ``action_in_workspace``."""

    action_in_workspace = ""

    def visible(self, user: Any) -> QuerySet[Any]:
        return self.model.objects.filter(workspace__in=visible_workspaces(user).values("pk"))  # type: ignore[attr-defined]

    def can_change(self, user: Any, obj: Any) -> bool:
        return obj is not None and workspace_access().can(user, self.action_in_workspace, obj.workspace)

    def can_delete(self, user: Any, obj: Any) -> bool:
        return self.can_change(user, obj)

    def denied(self, user: Any, action: str, obj: Any) -> errors.Forbidden:
        if obj is not None:
            return workspace_access().denied(user, self.action_in_workspace, obj.workspace)
        return super().denied(user, action, obj)


@portal_access.register
class MembershipAccess(_InWorkspaceAccess):
    model = Membership
    action_in_workspace = "manage_members"


@portal_access.register
class ClusterAllocationAccess(_InWorkspaceAccess):
    model = ClusterAllocation
    action_in_workspace = "allocate"


@portal_access.register
class RegistryAllocationAccess(_InWorkspaceAccess):
    model = RegistryAllocation
    action_in_workspace = "allocate"


@portal_access.register
class RoleAccess(portal_access.Access[Role]):
    """Roles are read by everyone signed in (to pick one for a member); admins define them."""

    model = Role

    def visible(self, user: Any) -> QuerySet[Role]:
        return Role.objects.all() if _signed_in(user) else Role.objects.none()

    def can_create(self, user: Any, obj: Role | None) -> bool:
        return is_admin(user)

    def can_change(self, user: Any, obj: Role | None) -> bool:
        return is_admin(user)

    def can_delete(self, user: Any, obj: Role | None) -> bool:
        return is_admin(user)

    def denied(self, user: Any, action: str, obj: Role | None) -> errors.Forbidden:
        return portal_access.admin_only(f"{action} roles")


def workspace_access() -> WorkspaceAccess:
    access = portal_access.access_for(Workspace)
    assert isinstance(access, WorkspaceAccess)
    return access


def service_map_access() -> ServiceMapAccess:
    access = portal_access.access_for(ServiceMap)
    assert isinstance(access, ServiceMapAccess)
    return access


# ---------------------------------------------------------------------------- thin wrappers


def visible_workspaces(user: Any) -> QuerySet[Workspace]:
    return workspace_access().visible(user)


def visible_service_maps(user: Any) -> QuerySet[ServiceMap]:
    return service_map_access().visible(user)


# ---------------------------------------------------------------------------- clusters scope


def _member_cluster_ids(user: Any) -> QuerySet[Any]:
    return ClusterAllocation.objects.filter(workspace__memberships__user=user).values("cluster_id")


def _member_namespaces(user: Any) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    rows = ServiceMap.objects.filter(workspace__memberships__user=user).values_list("cluster_id", "namespace")
    for cluster_id, namespace in rows.order_by():
        out.setdefault(cluster_id, []).append(namespace)
    return out


def _member_grants_in(user: Any, cluster_id: int, namespace: str) -> tuple[str, frozenset[str]] | None:
    """The workspace whose service map holds ``namespace`` and the grants of ``user``'s role in it
    (one query), or None when no service map of a workspace ``user`` belongs to holds it."""
    row = (Membership.objects.filter(user=user, workspace__service_maps__cluster_id=cluster_id,
                                     workspace__service_maps__namespace=namespace)
           .values_list("workspace__name", "role__grants").first())
    if row is None:
        return None
    return row[0], frozenset(row[1] or ())


def _service_map_of(cluster_id: int, namespace: str) -> str | None:
    """The name of the service map that holds ``namespace`` (its display name, else its namespace)."""
    row = ServiceMap.objects.filter(cluster_id=cluster_id, namespace=namespace).values_list(
        "display_name", "namespace").first()
    return (row[0] or row[1]) if row is not None else None


# ---------------------------------------------------------------------------- the portal's own objects
# What the portal keeps in a service map's namespace (workspaces.services.desired_objects: the
# Namespace, ResourceQuota portal-quota, LimitRange portal-limits) and the names it reserves there:
# any ResourceQuota or LimitRange named portal-…, Secrets named portal-pull-… (its pull secrets).
# The same rule as catalog.releases refuses in a release; here the object editor and workload
# actions ask it through clusters.access.portal_owned.

RESERVED_PREFIX = "portal-"
PULL_SECRET_PREFIX = "portal-pull-"
_PUT_BACK = "the portal manages it and would put it back"


def _portal_owned(cluster_id: int, namespace: str, kind: str, name: str) -> str | None:
    """Why the object is the portal's own (a sentence naming the service map and where to change
    it instead), or None. One query, and only for the kinds and names the portal keeps."""
    if kind == "Namespace" and not namespace:
        held = name
    elif namespace and ((kind in ("ResourceQuota", "LimitRange") and name.startswith(RESERVED_PREFIX))
                        or (kind == "Secret" and name.startswith(PULL_SECRET_PREFIX))):
        held = namespace
    else:
        return None
    row = (ServiceMap.objects.filter(cluster_id=cluster_id, namespace=held)
           .values_list("display_name", "namespace", "workspace__name").first())
    if row is None:
        return None
    where = f"the service map {row[0] or row[1]} of workspace {row[2]}"
    if kind == "Namespace":
        return (f"Namespace/{name} is the namespace of {where}; the portal manages it. Change or delete the service "
                "map in the portal instead.")
    if kind == "Secret":
        return (f"Secret/{name} is a name reserved for the portal's pull secrets ({PULL_SECRET_PREFIX}…) in {where}; "
                f"{_PUT_BACK}. Change the workspace's registries in the portal instead.")
    return (f"{kind}/{name} is a {kind} name reserved for the portal ({RESERVED_PREFIX}…), part of the quota and "
            f"limits of {where}; {_PUT_BACK}. Change the service map's quota and limits in the portal instead.")


_WORKSPACE_KEY = re.compile(r"^[0-9]+$")


def _workspace_group(user: Any, key: str) -> bool:
    return bool(_WORKSPACE_KEY.match(key)) and visible_workspaces(user).filter(pk=int(key)).exists()


def install() -> None:
    set_member_scope(MemberScope(cluster_ids=_member_cluster_ids, namespaces=_member_namespaces,
                                 grants_in=_member_grants_in, service_map_of=_service_map_of))
    set_portal_owned(_portal_owned)
    register_group(
        "workspace", _workspace_group,
        "`workspace.<id>`: a workspace's allocations, service maps (with live quota usage) and members.",
    )
