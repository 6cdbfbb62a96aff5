"""Delivery tiles of the developer dashboard: recent releases and rollouts with their state, failed
deploys first (``releases``), and builds running and failed (``builds``), in the workspaces the
user is a member of, through ``catalog.access.visible_releases`` and the builds access classes.

There is no approval flow in the portal (no catalog approvals exist), so there is no "pending
approvals" tile; failed deploys are what the releases tile raises.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q

from builds.access import BuildRunAccess
from builds.models import BuildRun, RunStatus
from catalog import access as catalog_access
from catalog.models import ReleaseStatus, Rollout, RolloutStatus
from clusters.rows import iso
from dashboards.tiles import ATTENTION_NONE, ATTENTION_NOTICE, ATTENTION_WARNING, Context, Tile
from workspaces import access as ws_access

LIST_MAX = 6
FAILED_WINDOW_HOURS = 24
ACTIVE_BUILD = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING)


def _workspace_link(base: str, ids: list[int]) -> str:
    return f"{base}?workspace={ids[0]}" if len(ids) == 1 else base


def releases_tile(ctx: Context) -> Tile:
    """Releases of my workspaces by status, the failed and moving ones first, and recent rollouts."""
    qs = catalog_access.visible_releases(ctx.user).filter(workspace_id__in=ctx.member_workspace_ids)
    counts = {row["status"]: row["n"] for row in qs.order_by().values("status").annotate(n=Count("id"))}
    rank = {str(ReleaseStatus.FAILED): 0, str(ReleaseStatus.DEPLOYING): 1, str(ReleaseStatus.PENDING): 2,
            str(ReleaseStatus.DELETING): 3, str(ReleaseStatus.DEPLOYED): 4}
    recent = sorted(qs.select_related("service_map", "workspace", "package_version__package")
                    .order_by("-updated", "-id")[:30],
                    key=lambda r: (rank.get(r.status, 9), -r.updated.timestamp()))[:LIST_MAX]
    rows: list[dict[str, Any]] = [{
        "id": r.pk, "name": r.name, "status": r.status, "revision": r.revision, "deployed_revision": r.deployed_revision,
        "package": r.package_version.package.name, "version": r.package_version.version,
        "workspace": {"id": r.workspace_id, "name": r.workspace.name},
        "service_map": {"id": r.service_map_id, "namespace": r.service_map.namespace},
        "message_code": r.message_code, "message_params": r.message_params or {}, "message": r.message,
        "updated": iso(r.updated), "link": f"/releases/{r.pk}"} for r in recent]
    rollouts = list(Rollout.objects.filter(workspace__in=ws_access.visible_workspaces(ctx.user).values("pk"))
                    .filter(workspace_id__in=ctx.member_workspace_ids).order_by("-created", "-id")[:LIST_MAX])
    rollout_rows = [{"id": r.pk, "release_name": r.release_name, "status": r.status, "version": r.version_label,
                     "created": iso(r.created), "finished": iso(r.finished), "link": f"/rollouts/{r.pk}"}
                    for r in rollouts]
    failed = counts.get(str(ReleaseStatus.FAILED), 0) + sum(1 for r in rollouts if r.status == RolloutStatus.FAILED)
    moving = counts.get(str(ReleaseStatus.DEPLOYING), 0) + counts.get(str(ReleaseStatus.PENDING), 0) \
        + sum(1 for r in rollouts if r.status == RolloutStatus.RUNNING)
    attention = ATTENTION_WARNING if failed else ATTENTION_NOTICE if moving else ATTENTION_NONE
    return Tile(key="releases", role="developer", attention=attention, as_of=ctx.now,
                link=_workspace_link("/releases", ctx.member_workspace_ids), data={
                    "by_status": counts, "total": sum(counts.values()), "failed": failed, "in_progress": moving,
                    "releases": rows, "rollouts": rollout_rows})


def builds_tile(ctx: Context) -> Tile:
    """Builds of my workspaces: running and queued now, failed in the last day, the newest few."""
    qs = BuildRunAccess().visible(ctx.user).filter(workspace_id__in=ctx.member_workspace_ids)
    since = ctx.now - timedelta(hours=FAILED_WINDOW_HOURS)
    figures = qs.order_by().aggregate(
        active=Count("id", filter=_in(ACTIVE_BUILD)),
        failed=Count("id", filter=_in((RunStatus.FAILED,)) & _since(since)),
        succeeded=Count("id", filter=_in((RunStatus.SUCCEEDED,)) & _since(since)))
    recent: list[BuildRun] = list(qs.select_related("definition").order_by("-created", "-id")[:LIST_MAX])
    rows = [{"id": r.pk, "definition": {"id": r.definition_id, "name": r.definition.name}, "number": r.number,
             "status": r.status, "created": iso(r.created), "finished": iso(r.finished),
             "message_code": r.message_code, "message_params": r.message_params or {},
             "link": f"/builds/runs/{r.pk}"} for r in recent]
    attention = ATTENTION_WARNING if figures["failed"] else ATTENTION_NOTICE if figures["active"] else ATTENTION_NONE
    # The builds list filters definitions by their last run's status.
    link = _workspace_link("/builds", ctx.member_workspace_ids)
    if figures["failed"] or figures["active"]:
        link += ("&" if "?" in link else "?") + ("status=failed" if figures["failed"] else "status=running")
    return Tile(key="builds", role="developer", attention=attention, as_of=ctx.now, link=link, data={
                    "running": figures["active"], "failed": figures["failed"], "succeeded": figures["succeeded"],
                    "window_hours": FAILED_WINDOW_HOURS, "runs": rows})



def _in(statuses: tuple[str, ...]) -> Q:
    return Q(status__in=[str(s) for s in statuses])


def _since(since: Any) -> Q:
    return Q(created__gte=since)
