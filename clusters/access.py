"""Who may see and act on which cluster: the one place the clusters app decides it.

Today: system admins and operators see every cluster; admins register, change and delete them;
operators (and admins) run node operations. Plain users see no cluster until the workspaces
issue grants them the clusters allocated to their workspaces (through ``visible_clusters``).
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet

from clusters.models import Cluster
from portal.events import register_group

_CLUSTER_GROUP_KEY = re.compile(r"^(?P<id>[0-9]+)(\.ns\.(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?))?$")


def visible_clusters(user: Any) -> QuerySet[Cluster]:
    if user is not None and user.is_authenticated and getattr(user, "is_operator", False):
        return Cluster.objects.all()
    return Cluster.objects.none()


def can_view_cluster(user: Any, cluster_id: int) -> bool:
    return visible_clusters(user).filter(pk=cluster_id).exists()


def can_manage_clusters(user: Any) -> bool:
    """Register, change credentials, disable and delete clusters."""
    return bool(user is not None and user.is_authenticated and getattr(user, "is_admin", False))


def can_operate_nodes(user: Any, cluster: Cluster) -> bool:
    """Cordon, uncordon and drain nodes."""
    return bool(user is not None and user.is_authenticated and getattr(user, "is_operator", False))


def _cluster_group(user: Any, key: str) -> bool:
    match = _CLUSTER_GROUP_KEY.match(key)
    return match is not None and can_view_cluster(user, int(match["id"]))


def _fleet_group(user: Any, key: str) -> bool:
    return key == "" and bool(getattr(user, "is_operator", False))


def register_groups() -> None:
    register_group(
        "cluster", _cluster_group,
        "`cluster.<id>` and `cluster.<id>.ns.<namespace>`: changes of one cluster's objects and status.",
    )
    register_group("fleet", _fleet_group, "`fleet`: cluster status and summary changes across the fleet.")
