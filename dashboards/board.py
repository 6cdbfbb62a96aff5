"""The dashboard of one user: which dashboard roles they hold, the tiles of each (the union for a
user with several), ordered by what needs action first (attention, then role, then the role's own
order).

Dashboard roles: ``admin`` (system admins), ``operator`` (operators and auditors, who read every
cluster; admins hold it too), ``developer`` (anyone who is a member of a workspace, admins
included: their member workspaces, not every workspace).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from clusters.rows import iso
from dashboards.tiles import ROLES, Context, Tile, delivery, fleet, monitoring, portal, workspaces
from portal import access as portal_access
from workspaces import access as ws_access
from workspaces.models import Membership

NAMESPACE_GROUPS_MAX = 20


def roles_of(user: Any, member_workspace_ids: list[int]) -> list[str]:
    roles = []
    if portal_access.is_admin(user):
        roles.append("admin")
    if portal_access.reads_all_clusters(user):
        roles.append("operator")
    if member_workspace_ids:
        roles.append("developer")
    return roles


def member_workspace_ids(user: Any) -> list[int]:
    """The workspaces ``user`` is a member of and may see (one query)."""
    if not portal_access.signed_in(user):
        return []
    visible = ws_access.visible_workspaces(user).values("pk")
    return sorted(Membership.objects.filter(user=user, workspace__in=visible)
                  .values_list("workspace_id", flat=True).distinct())


def build(user: Any) -> dict[str, Any]:
    now = timezone.now()
    ctx = Context(user=user, now=now, member_workspace_ids=member_workspace_ids(user))
    roles = roles_of(user, ctx.member_workspace_ids)
    producers: list[Callable[[], Tile | None]] = []
    if "admin" in roles or "operator" in roles:
        producers += _infrastructure(ctx, roles, fleet.Fleet(ctx))
    if "developer" in roles:
        producers += [lambda: workspaces.service_maps_tile(ctx), lambda: delivery.releases_tile(ctx),
                      lambda: delivery.builds_tile(ctx), lambda: workspaces.my_quota_tile(ctx)]
    tiles = [t for t in (p() for p in producers) if t is not None]
    position = {id(t): i for i, t in enumerate(tiles)}
    tiles.sort(key=lambda t: (-t.attention, ROLES.index(t.role), position[id(t)]))
    return {"generated_at": iso(now), "roles": roles, "groups": groups(ctx, roles), "tiles": [t.row() for t in tiles]}


def groups(ctx: Context, roles: list[str]) -> list[str]:
    """The socket groups whose events change the figures (the console refetches on them): the
    fleet and every alert for those who read every cluster, the audit log for admins, and for
    members their workspaces (releases, builds, alerts, quota) and the namespaces of their first
    :data:`NAMESPACE_GROUPS_MAX` service maps (workload readiness)."""
    out: list[str] = []
    if "operator" in roles or "admin" in roles:
        out += ["fleet", "alerts"]
    if "admin" in roles:
        out.append("audit")
    if "developer" in roles:
        out += [f"workspace.{pk}" for pk in ctx.member_workspace_ids]
        pairs = (ws_access.visible_service_maps(ctx.user).filter(workspace_id__in=ctx.member_workspace_ids)
                 .order_by("workspace__name", "namespace").values_list("cluster_id", "namespace"))
        out += [f"cluster.{cluster_id}.ns.{namespace}" for cluster_id, namespace in pairs[:NAMESPACE_GROUPS_MAX]]
    return out


def _infrastructure(ctx: Context, roles: list[str], f: fleet.Fleet) -> list[Callable[[], Tile | None]]:
    """The admin's and the operator's tiles, over one read of the fleet."""
    out: list[Callable[[], Tile | None]] = []
    if "admin" in roles:
        out += [lambda: fleet.fleet_tile(ctx, f), lambda: workspaces.quota_tile(ctx),
                lambda: monitoring.cost_tile(ctx), lambda: monitoring.alerts_tile(ctx),
                lambda: portal.audit_tile(ctx), lambda: portal.health_tile(ctx, f)]
    if "operator" in roles:
        if "admin" not in roles:  # the admin's fleet tile already says it
            out.append(lambda: fleet.clusters_tile(ctx, f))
        out += [lambda: fleet.capacity_tile(ctx, f), lambda: monitoring.firing_tile(ctx),
                lambda: monitoring.events_tile(ctx), lambda: fleet.nodes_tile(ctx, f)]
    return out
