"""Who sees which timeline entries: the one place the activity app decides it.

A timeline is asked for a scope (one object, a cluster, a service map, a workspace); this module
turns it into :class:`Scope`: the places (a cluster and the namespaces in it) whose entries the
caller may see, the releases and rollouts that belong to it, and the socket groups that carry its
live changes. Visibility comes from the owning apps' access modules only: clusters.access (which
clusters and namespaces) and workspaces.access (which service maps and workspaces). A member never
sees an entry from a namespace outside their service maps, whatever the scope asks; a scope the
caller may not see answers 404, as every foreign object does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from activity.timeline import Query
from clusters import access as clusters_access
from portal import errors
from workspaces import access as workspaces_access
from workspaces.models import ServiceMap

# A workspace with more service maps than this is followed live through its own group only.
MAX_LIVE_GROUPS = 20


@dataclass(frozen=True)
class Place:
    """A cluster, and the namespaces of it the timeline covers (None: all, and cluster-scoped objects)."""

    cluster_id: int
    namespaces: tuple[str, ...] | None


@dataclass(frozen=True)
class Scope:
    of: str  # object | cluster | service_map | workspace
    places: tuple[Place, ...]
    kind: str = ""  # one object: its kind and name (namespace: the one place's only namespace)
    name: str = ""
    service_map_ids: tuple[int, ...] = ()  # the revisions of these service maps' releases
    workspace_id: int | None = None  # the rollouts of this workspace (or, with service_map_ids, of those maps)
    releases: bool = False  # whether release revisions and rollouts belong to the scope
    groups: tuple[str, ...] = ()  # socket groups whose events may change the timeline

    @property
    def object_namespace(self) -> str | None:
        if not self.name or len(self.places) != 1 or not self.places[0].namespaces:
            return None
        return self.places[0].namespaces[0]


def _not_found(what: str) -> errors.NotFound:
    return errors.NotFound(f"No such {what}.", code="not_found")


def _narrow(user: Any, cluster_id: int, namespaces: Iterable[str]) -> tuple[str, ...]:
    """``namespaces`` of ``cluster_id`` that ``user`` may see."""
    visible = clusters_access.visible_namespaces(user, cluster_id)
    wanted = tuple(sorted(set(namespaces)))
    return wanted if visible is None else tuple(ns for ns in wanted if ns in visible)


def _ns_groups(cluster_id: int, namespaces: Iterable[str]) -> list[str]:
    return [f"cluster.{cluster_id}.ns.{ns}" for ns in namespaces if ns]


def resolve(user: Any, query: Query) -> Scope:
    """The :class:`Scope` of ``query`` for ``user``; raises NotFound for what they may not see."""
    if query.service_map is not None:
        return _service_map_scope(user, query.service_map)
    if query.workspace is not None:
        return _workspace_scope(user, query.workspace)
    assert query.cluster is not None
    if not clusters_access.can_view_cluster(user, query.cluster):
        raise _not_found("cluster")
    cluster_id = query.cluster
    visible = clusters_access.visible_namespaces(user, cluster_id)
    if query.namespace is not None:
        # One namespace (or one object in it; "" holds the cluster-scoped objects: operators only).
        if visible is not None and query.namespace not in visible:
            raise _not_found("namespace")
        group = f"cluster.{cluster_id}.ns.{query.namespace}" if query.namespace else f"cluster.{cluster_id}"
        return Scope(of="object" if query.name else "cluster", places=(Place(cluster_id, (query.namespace,)),), kind=query.kind, name=query.name,
                     groups=(group,))
    if visible is None:
        return Scope(of="cluster", places=(Place(cluster_id, None),), groups=(f"cluster.{cluster_id}",))
    namespaces = tuple(sorted(visible))
    return Scope(of="cluster", places=(Place(cluster_id, namespaces),), groups=tuple(_ns_groups(cluster_id, namespaces)))


def _service_map_scope(user: Any, service_map_id: int) -> Scope:
    sm = workspaces_access.visible_service_maps(user).filter(pk=service_map_id).values(
        "pk", "cluster_id", "namespace", "workspace_id").first()
    if sm is None:
        raise _not_found("service map")
    namespaces = _narrow(user, sm["cluster_id"], [sm["namespace"]])
    return Scope(of="service_map", places=(Place(sm["cluster_id"], namespaces),), service_map_ids=(sm["pk"],),
                 workspace_id=sm["workspace_id"], releases=True,
                 groups=(*_ns_groups(sm["cluster_id"], namespaces), f"workspace.{sm['workspace_id']}"))


def _workspace_scope(user: Any, workspace_id: int) -> Scope:
    if not workspaces_access.visible_workspaces(user).filter(pk=workspace_id).exists():
        raise _not_found("workspace")
    by_cluster: dict[int, list[str]] = {}
    ids: list[int] = []
    for pk, cluster_id, namespace in ServiceMap.objects.filter(workspace_id=workspace_id).values_list(
            "pk", "cluster_id", "namespace").order_by("pk"):
        by_cluster.setdefault(cluster_id, []).append(namespace)
        ids.append(pk)
    places = tuple(Place(cluster_id, _narrow(user, cluster_id, namespaces))
                   for cluster_id, namespaces in sorted(by_cluster.items()))
    groups = [f"workspace.{workspace_id}"]
    ns_groups = [g for place in places for g in _ns_groups(place.cluster_id, place.namespaces or ())]
    if len(ns_groups) <= MAX_LIVE_GROUPS:
        groups += ns_groups
    return Scope(of="workspace", places=places, service_map_ids=tuple(ids), workspace_id=workspace_id, releases=True,
                 groups=tuple(groups))


def may_see(user: Any, cluster_id: int, namespace: str, spanned: Iterable[str] = ()) -> bool:
    """May ``user`` see what happened to an object in ``namespace`` of ``cluster_id`` (or, for a
    change stored without a namespace that ``spanned`` several, in every one of them)?"""
    if not clusters_access.can_view_cluster(user, cluster_id):
        return False
    visible = clusters_access.visible_namespaces(user, cluster_id)
    if visible is None:
        return True
    if namespace == "":
        wanted = list(spanned)
        return bool(wanted) and all(ns in visible for ns in wanted)
    return namespace in visible
