"""Who may see and act on which cluster: the one place the clusters app decides it.

System admins and operators see every cluster and every namespace in it; admins register,
change and delete clusters; operators (and admins) run node operations. Other users see the
clusters allocated to their workspaces and, in them, only the namespaces of their service maps.
The workspaces app owns that knowledge and plugs it in with :func:`set_member_scope` (the
clusters app does not import it), so every clusters view scopes through this module alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from clusters.models import Cluster
from portal.events import register_group

_CLUSTER_GROUP_KEY = re.compile(r"^(?P<id>[0-9]+)(\.ns\.(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?))?$")


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


def visible_clusters(user: Any) -> QuerySet[Cluster]:
    if sees_everything(user):
        return Cluster.objects.all()
    if user is None or not user.is_authenticated or not user.is_active or _member_scope is None:
        return Cluster.objects.none()
    return Cluster.objects.filter(pk__in=_member_scope.cluster_ids(user))


def visible_namespaces(user: Any, cluster_id: int) -> list[str] | None:
    """The namespaces of ``cluster_id`` whose objects ``user`` may see; None means all of them."""
    if sees_everything(user):
        return None
    if user is None or not user.is_authenticated or _member_scope is None:
        return []
    return _member_scope.namespaces(user).get(cluster_id, [])


def namespaced_filter(user: Any) -> Q | None:
    """A filter on objects with ``cluster`` and ``namespace`` for what ``user`` may see across
    clusters; None means no restriction."""
    if sees_everything(user):
        return None
    scopes = _member_scope.namespaces(user) if (_member_scope and user is not None and user.is_authenticated) else {}
    condition = Q(pk__in=[])
    for cluster_id, namespaces in scopes.items():
        condition |= Q(cluster_id=cluster_id, namespace__in=namespaces)
    return condition


def can_view_cluster(user: Any, cluster_id: int) -> bool:
    return visible_clusters(user).filter(pk=cluster_id).exists()


def can_manage_clusters(user: Any) -> bool:
    """Register, change credentials, disable and delete clusters."""
    return bool(user is not None and user.is_authenticated and getattr(user, "is_admin", False))


def can_operate_nodes(user: Any, cluster: Cluster) -> bool:
    """Cordon, uncordon and drain nodes."""
    return bool(user is not None and user.is_authenticated and getattr(user, "is_operator", False))


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
