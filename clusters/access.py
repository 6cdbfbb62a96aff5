"""Who may see and act on which cluster: the one place the clusters app decides it.

System admins, operators and auditors see every cluster and every namespace in it; admins
register, change and delete clusters; operators (and admins) run node operations and act on any
object; auditors change nothing. Other users see the
clusters allocated to their workspaces and, in them, only the namespaces of their service maps
(plus the few cluster-scoped kinds members may list, :data:`MEMBER_CLUSTER_KINDS`).
The workspaces app owns that knowledge and plugs it in with :func:`set_member_scope` (the
clusters app does not import it), so every clusters view scopes through this module alone.

:class:`ClusterAccess` is the registered answer for :class:`~clusters.models.Cluster` (see
:mod:`portal.access`); the module-level functions are the same answers for callers that have
no object at hand (a socket group key, a cluster id).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from clusters.models import Cluster, KubeObject, NodeOperation, ObjectAction
from portal import access as portal_access
from portal import errors
from portal.events import register_group

_CLUSTER_GROUP_KEY = re.compile(r"^(?P<id>[0-9]+)(\.ns\.(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?))?$")

# Kinds without a namespace that members (who see only their namespaces) may still list.
MEMBER_CLUSTER_KINDS = frozenset({"StorageClass"})
# Cluster-scoped kinds members never see (they would tell about other teams' workloads).
OPERATOR_ONLY_KINDS = frozenset({"Node", "PersistentVolume"})
# The same rule for the resource browser, by (API group, plural): Namespace (their own) and StorageClass.
MEMBER_CLUSTER_RESOURCES = frozenset({("", "namespaces"), ("storage.k8s.io", "storageclasses")})


@dataclass(frozen=True)
class MemberScope:
    """How the workspaces app answers for members: the ids of the clusters a user's workspaces
    are allocated (a queryset of ids, so it composes into one query) and the namespaces of the
    user's service maps per cluster."""

    cluster_ids: Callable[[Any], QuerySet[Any]]
    namespaces: Callable[[Any], dict[int, list[str]]]
    # (user, cluster id, namespace) -> (workspace name, the grants of the user's role there) for the
    # service map that holds the namespace, or None when the user is no member of its workspace
    # (or no service map holds it). One query.
    grants_in: Callable[[Any, int, str], tuple[str, frozenset[str]] | None] | None = None
    # (cluster id, namespace) -> the name of the service map that holds the namespace, or None.
    service_map_of: Callable[[int, str], str | None] | None = None


_member_scope: MemberScope | None = None


def set_member_scope(scope: MemberScope | None) -> None:
    global _member_scope
    _member_scope = scope


def sees_everything(user: Any) -> bool:
    """Reads every cluster and namespace: operators, admins and auditors (who change nothing)."""
    return portal_access.reads_all_clusters(user)


def _operator_only(what: str) -> errors.Forbidden:
    return errors.Forbidden(f"Only operators and system admins may {what}.", code="operator_required",
                            params={"what": what})


@portal_access.register
class ClusterAccess(portal_access.Access[Cluster]):
    """Clusters: read by whoever the scope above allows; managed by admins; nodes operated by operators."""

    model = Cluster

    def visible(self, user: Any) -> QuerySet[Cluster]:
        if sees_everything(user):
            return Cluster.objects.all()
        if not portal_access.signed_in(user) or _member_scope is None:
            return Cluster.objects.none()
        return Cluster.objects.filter(pk__in=_member_scope.cluster_ids(user))

    def namespaces(self, user: Any, cluster_id: int) -> list[str] | None:
        """The namespaces of ``cluster_id`` whose objects ``user`` may see; None means all of them."""
        if sees_everything(user):
            return None
        if user is None or not user.is_authenticated or _member_scope is None:
            return []
        return _member_scope.namespaces(user).get(cluster_id, [])

    def scope_objects(self, user: Any, cluster: Cluster, queryset: QuerySet[KubeObject],
                      kinds: tuple[str, ...]) -> QuerySet[KubeObject]:
        """Narrow ``queryset`` (objects of ``kinds`` in ``cluster``) to what ``user`` may see."""
        namespaces = self.namespaces(user, cluster.pk)
        if namespaces is None:
            return queryset
        if kinds == ("Namespace",):
            return queryset.filter(name__in=namespaces)
        if all(k in MEMBER_CLUSTER_KINDS for k in kinds):
            return queryset
        if any(k in OPERATOR_ONLY_KINDS for k in kinds):
            return queryset.none()
        return queryset.filter(namespace__in=namespaces)

    def may_see_resource(self, namespaces: list[str] | None, *, group: str, plural: str, namespaced: bool) -> bool:
        """May a caller who sees ``namespaces`` (None: all) of a cluster browse this API resource?
        Namespaced ones (within those namespaces) and the few cluster-scoped ones members may list."""
        return namespaces is None or namespaced or (group, plural) in MEMBER_CLUSTER_RESOURCES

    def node_operations(self, user: Any, cluster: Cluster) -> QuerySet[NodeOperation]:
        """Node operations are for operators: members see none."""
        if not sees_everything(user):
            return NodeOperation.objects.none()
        return NodeOperation.objects.filter(cluster=cluster)

    def namespaced_filter(self, user: Any) -> Q | None:
        """A filter on objects with ``cluster`` and ``namespace`` for what ``user`` may see across
        clusters; None means no restriction."""
        if sees_everything(user):
            return None
        scopes = _member_scope.namespaces(user) if (_member_scope and user is not None and user.is_authenticated) else {}
        condition = Q(pk__in=[])
        for cluster_id, namespaces in scopes.items():
            condition |= Q(cluster_id=cluster_id, namespace__in=namespaces)
        return condition

    def can_view(self, user: Any, cluster: Cluster | None) -> bool:
        return cluster is not None and self.visible(user).filter(pk=cluster.pk).exists()

    def can_manage(self, user: Any, cluster: Cluster | None) -> bool:
        """Register, change credentials, re-check, disable and delete clusters."""
        return portal_access.is_admin(user)

    def can_allow_insecure(self, user: Any, cluster: Cluster | None) -> bool:
        """Register or reconnect a cluster without TLS verification."""
        return portal_access.is_admin(user)

    def can_operate_nodes(self, user: Any, cluster: Cluster | None) -> bool:
        """Cordon, uncordon and drain nodes (never auditors, who read everything but change nothing)."""
        return portal_access.is_operator(user)

    def can_preview_drain(self, user: Any, cluster: Cluster | None) -> bool:
        return self.can_operate_nodes(user, cluster)

    def denied(self, user: Any, action: str, obj: Cluster | None) -> errors.Forbidden:
        if action == "operate_nodes":
            return _operator_only("cordon, uncordon or drain nodes")
        if action == "preview_drain":
            return _operator_only("drain nodes")
        if action == "manage":
            return portal_access.admin_only("register, change or delete clusters")
        return super().denied(user, action, obj)


def cluster_access() -> ClusterAccess:
    access = portal_access.access_for(Cluster)
    assert isinstance(access, ClusterAccess)
    return access


# ---------------------------------------------------------------------------- thin wrappers


def visible_clusters(user: Any) -> QuerySet[Cluster]:
    return cluster_access().visible(user)


def visible_namespaces(user: Any, cluster_id: int) -> list[str] | None:
    """The namespaces of ``cluster_id`` whose objects ``user`` may see; None means all of them."""
    return cluster_access().namespaces(user, cluster_id)


def namespaced_filter(user: Any) -> Q | None:
    return cluster_access().namespaced_filter(user)


def can_view_cluster(user: Any, cluster_id: int) -> bool:
    return visible_clusters(user).filter(pk=cluster_id).exists()


def can_manage_clusters(user: Any) -> bool:
    """Register, change credentials, disable and delete clusters."""
    return cluster_access().can_manage(user, None)


def can_operate_nodes(user: Any, cluster: Cluster) -> bool:
    """Cordon, uncordon and drain nodes."""
    return cluster_access().can_operate_nodes(user, cluster)


# ---------------------------------------------------------------------------- socket groups


def _cluster_group(user: Any, key: str) -> bool:
    """``cluster.<id>`` carries every namespace's changes: operators only. Members may follow
    the namespaces of their service maps."""
    match = _CLUSTER_GROUP_KEY.match(key)
    if match is None:
        return False
    if sees_everything(user):
        return True
    namespace = match["namespace"]
    return namespace is not None and namespace in (visible_namespaces(user, int(match["id"])) or [])


def _fleet_group(user: Any, key: str) -> bool:
    return key == "" and sees_everything(user)


def register_groups() -> None:
    register_group(
        "cluster", _cluster_group,
        "`cluster.<id>` and `cluster.<id>.ns.<namespace>`: changes of one cluster's objects and status.",
    )
    register_group("fleet", _fleet_group, "`fleet`: cluster status and summary changes across the fleet.")


# ---------------------------------------------------------------------------- actions on objects
# Edit, scale, restart, roll back, delete, exec and logs on one object (issue 15). Operators and
# admins act on whole clusters (every grant everywhere, cluster-scoped objects included); members
# act in the namespaces of their service maps as their workspace role grants; auditors read logs.

OBJECTS_EDIT = "objects.edit"
OBJECTS_DELETE = "objects.delete"
WORKLOADS_SCALE = "workloads.scale"
WORKLOADS_RESTART = "workloads.restart"
WORKLOADS_ROLLBACK = "workloads.rollback"
PODS_EXEC = "pods.exec"
PODS_LOGS = "pods.logs"
SECRETS_REVEAL = "secrets.reveal"

# The workspace grants that guard actions on objects (the same strings as workspaces.models.Grant,
# which the clusters app does not import; a test keeps the two in step).
OBJECT_GRANTS: tuple[str, ...] = (OBJECTS_EDIT, OBJECTS_DELETE, WORKLOADS_SCALE, WORKLOADS_RESTART,
                                  WORKLOADS_ROLLBACK, PODS_EXEC, PODS_LOGS, SECRETS_REVEAL)
# What auditors may do on any namespaced object: read, and read logs.
AUDITOR_GRANTS = frozenset({PODS_LOGS})
# grant -> what it lets one do, in the words of the refusal ("Only operators … may <what>.")
_GRANT_WHAT = {
    OBJECTS_EDIT: "edit objects",
    OBJECTS_DELETE: "delete objects",
    WORKLOADS_SCALE: "scale workloads",
    WORKLOADS_RESTART: "restart workloads",
    WORKLOADS_ROLLBACK: "roll back workloads",
    PODS_EXEC: "open a shell in containers",
    PODS_LOGS: "read container logs",
    SECRETS_REVEAL: "reveal secret values",
}


def _grant_what(grant: str) -> str:
    return _GRANT_WHAT.get(grant, grant)


def _member_grants(user: Any, cluster_id: int, namespace: str) -> tuple[str, frozenset[str]] | None:
    if _member_scope is None or _member_scope.grants_in is None or not portal_access.signed_in(user):
        return None
    return _member_scope.grants_in(user, cluster_id, namespace)


def _lookup(user: Any, cluster: Cluster | int, namespace: str) -> tuple[str, frozenset[str]] | None:
    """The membership lookup when an answer needs it (never for operators or cluster-scoped objects)."""
    if not namespace or portal_access.is_operator(user):
        return None
    return _member_grants(user, _cluster_id(cluster), namespace)


def _cluster_id(cluster: Cluster | int) -> int:
    return cluster if isinstance(cluster, int) else int(cluster.pk)


def _decide(user: Any, cluster: Cluster | int, namespace: str,
            grant: str, member: tuple[str, frozenset[str]] | None) -> errors.Forbidden | None:
    """The answer for one grant; ``member`` is what :func:`_lookup` found."""
    if portal_access.is_operator(user):
        return None
    if not namespace:
        return _operator_only(f"{_grant_what(grant)} outside a namespace (cluster-scoped objects)")
    if portal_access.is_auditor(user):  # reads everything, changes nothing: a workspace role adds no grant
        if grant in AUDITOR_GRANTS:
            return None
        return _operator_only(_grant_what(grant))
    if member is not None and grant in member[1]:
        return None
    if member is None:
        return errors.Forbidden(
            f"Namespace {namespace} is not in any of your service maps on this cluster.",
            code="namespace_forbidden", params={"cluster": _cluster_id(cluster), "namespace": namespace})
    return portal_access.grant_missing(member[0], grant)


def object_grants(user: Any, cluster: Cluster | int, namespace: str) -> frozenset[str]:
    """The grants of :data:`OBJECT_GRANTS` ``user`` holds on objects of ``namespace`` in ``cluster``
    (``namespace`` "": a cluster-scoped object, operators only). Operators and admins: all; auditors:
    :data:`AUDITOR_GRANTS` only, whatever workspace role they also hold (the auditor reads and
    changes nothing); members: their role's grants in the workspace whose service map holds the namespace."""
    member = _lookup(user, cluster, namespace)
    return frozenset(g for g in OBJECT_GRANTS if _decide(user, cluster, namespace, g, member) is None)


def object_action_denied(user: Any, cluster: Cluster | int, namespace: str, grant: str) -> errors.Forbidden | None:
    """Why ``user`` may not use ``grant`` on an object of ``namespace`` in ``cluster``, or None if
    they may: ``operator_required`` (a cluster-scoped object, or an auditor asking to change
    something), ``namespace_forbidden`` (no service map of theirs holds the namespace) or
    ``grant_missing`` (their role in that workspace lacks it)."""
    return _decide(user, cluster, namespace, grant, _lookup(user, cluster, namespace))


def require_object_action(user: Any, cluster: Cluster | int, namespace: str, grant: str) -> None:
    """Raise :class:`portal.errors.Forbidden` unless ``user`` may use ``grant`` there."""
    refusal = object_action_denied(user, cluster, namespace, grant)
    if refusal is not None:
        raise refusal


def object_permissions(user: Any, cluster: Cluster | int, namespace: str, *, kind: str = "", name: str = "",
                       api_version: str = "v1") -> dict[str, dict[str, Any]]:
    """``{grant: {"allowed", "code", "reason", "params"}}`` for every grant of :data:`OBJECT_GRANTS`,
    so the console can leave out or disable each action with the reason (``codes.<code>`` filled
    with ``params``; one membership lookup). Given the object's ``kind`` and ``name``: the grants
    that change it are refused with ``portal_owned`` when it is one of the portal's own objects."""
    member = _lookup(user, cluster, namespace)
    owned = portal_owned_refusal(cluster, namespace, kind, name, api_version=api_version)
    out: dict[str, dict[str, Any]] = {}
    for grant in OBJECT_GRANTS:
        refusal = _decide(user, cluster, namespace, grant, member)
        if refusal is None and owned is not None and grant in CHANGE_GRANTS:
            refusal = owned
        out[grant] = ({"allowed": True, "code": "", "reason": "", "params": {}} if refusal is None else
                      {"allowed": False, "code": refusal.code, "reason": refusal.message,
                       "params": refusal.params})
    return out


def protected_namespace(cluster_id: int, namespace: str) -> str | None:
    """The name of the service map that holds ``namespace`` in the cluster (deleting the namespace
    is refused while it does), or None."""
    if not namespace or _member_scope is None or _member_scope.service_map_of is None:
        return None
    return _member_scope.service_map_of(cluster_id, namespace)


# ---------------------------------------------------------------------------- the portal's own objects
# A service map's Namespace, its ResourceQuota and LimitRange (the enforced quota) and the pull
# secrets the portal puts there are the portal's: changing them through the object editor or a
# workload action would get around the quota until drift repair puts them back (and a quota never
# evicts pods that already run). Nobody changes them here, admins included: the service map's own
# API does. The workspaces app knows these objects and plugs the rule in with :func:`set_portal_owned`.

PORTAL_OWNED = "portal_owned"
# The grants that change an object: what the permissions answer refuses for the portal's own objects.
CHANGE_GRANTS: tuple[str, ...] = (OBJECTS_EDIT, OBJECTS_DELETE, WORKLOADS_SCALE, WORKLOADS_RESTART,
                                  WORKLOADS_ROLLBACK)

# (cluster id, namespace ("" for a cluster-scoped object), kind, name) -> why the portal owns the
# object (a sentence that says where to change it instead), or None.
PortalOwnedRule = Callable[[int, str, str, str], str | None]
_portal_owned: PortalOwnedRule | None = None


def set_portal_owned(rule: PortalOwnedRule | None) -> None:
    global _portal_owned
    _portal_owned = rule


def portal_owned(cluster_id: int, namespace: str, kind: str, name: str) -> str | None:
    """Why the object (a core-group ``kind``) is the portal's own and may not be changed here, or None."""
    if _portal_owned is None or not kind or not name:
        return None
    return _portal_owned(cluster_id, namespace, kind, name)


def portal_owned_refusal(cluster: Cluster | int, namespace: str, kind: str, name: str, *,
                         api_version: str = "v1") -> errors.Forbidden | None:
    """The 403 ``portal_owned`` for changing the object, or None (objects of other API groups
    than the core one are never the portal's own)."""
    if api_version != "v1":
        return None
    why = portal_owned(_cluster_id(cluster), namespace, kind, name)
    if why is None:
        return None
    return errors.Forbidden(why, code=PORTAL_OWNED, params={"kind": kind, "name": name, "namespace": namespace})


def require_not_portal_owned(cluster: Cluster | int, namespace: str, kind: str, name: str, *,
                             api_version: str = "v1") -> None:
    """Raise 403 ``portal_owned`` for any change of one of the portal's own objects, whoever asks."""
    refusal = portal_owned_refusal(cluster, namespace, kind, name, api_version=api_version)
    if refusal is not None:
        raise refusal


def visible_object_actions(user: Any) -> QuerySet[ObjectAction]:
    """The object actions ``user`` may follow: those on objects they may see (the namespaces of
    their service maps in the clusters they see; everything for operators, admins and auditors),
    and their own requests."""
    rows = ObjectAction.objects.filter(cluster__in=visible_clusters(user))
    condition = namespaced_filter(user)
    if condition is None:
        return rows
    own = Q(requested_by=user.pk) if getattr(user, "pk", None) else Q(pk__in=[])
    return rows.filter(condition | own)


def require_object_visible(user: Any, cluster: Cluster | int, *, group: str, plural: str, namespaced: bool,
                           namespace: str, name: str) -> None:
    """Raise 404 ``object_not_found`` unless ``user`` may see the object, as the resource browser
    decides (namespaced objects of their namespaces, their Namespaces, storage classes; everything
    for those who see everything): a caller outside the namespace learns nothing, not even that
    the object exists. Actions then ask :func:`require_object_action` for the grant."""
    namespaces = visible_namespaces(user, _cluster_id(cluster))
    if namespaces is None:
        return
    if (not cluster_access().may_see_resource(namespaces, group=group, plural=plural, namespaced=namespaced)
            or (namespaced and namespace not in namespaces)
            or (group == "" and plural == "namespaces" and name not in namespaces)):
        raise errors.NotFound("No such object, or not one you may see.", code="object_not_found")
