"""Who may see and act on which cluster: the one place the clusters app decides it.

System admins and operators see every cluster and every namespace in it; admins register,
change and delete clusters; operators (and admins) run node operations. Other users see the
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

from clusters.models import Cluster, KubeObject, NodeOperation
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


_member_scope: MemberScope | None = None


def set_member_scope(scope: MemberScope | None) -> None:
    global _member_scope
    _member_scope = scope


def sees_everything(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and getattr(user, "is_operator", False))


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
        """Cordon, uncordon and drain nodes."""
        return bool(user is not None and user.is_authenticated and getattr(user, "is_operator", False))

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
    return key == "" and bool(getattr(user, "is_operator", False))


def register_groups() -> None:
    register_group(
        "cluster", _cluster_group,
        "`cluster.<id>` and `cluster.<id>.ns.<namespace>`: changes of one cluster's objects and status.",
    )
    register_group("fleet", _fleet_group, "`fleet`: cluster status and summary changes across the fleet.")
