"""Who may see and do what in monitoring (issue 14).

* **Infrastructure** (the fleet, a cluster, a node; idle capacity; events and alerts about a whole
  cluster or a node) is for those who read every cluster: admins, operators and auditors. A
  workspace member asking for them gets 404 (``not_found``), as for a cluster they do not see.
* **Applications** (a workspace, a service map, a workload, a pod, a container; their alerts,
  events, metering) are seen by the members of the workspace that holds the service map, and by
  those who read every cluster.
* **Alerts**: acknowledging, silencing and resolving by hand need ``alerts.manage`` in the alert's
  workspace, or an admin or operator (an alert with no workspace: admins and operators only).
  **Rules** and **silences** scoped to a workspace, a service map or a workload are managed with
  ``alerts.manage`` there; fleet- and cluster-scoped ones and the built-in rules by admins and
  operators. Built-in rules are never deleted, only disabled or retuned.
* **Notification channels**: a workspace's with ``alerts.manage`` there; global ones (every
  alert) by admins. Members see their workspaces' channels, admins and operators all.
* **Price sheets** are read by everyone signed in (no secret in them) and changed by admins.
* **Logs** need ``pods.logs`` where the pod runs (:func:`clusters.access.require_object_action`).
* **/metrics** (the portal's own health): admins, or a bearer token equal to
  ``PORTAL_METRICS_TOKEN`` (:mod:`portal.metrics` asks :func:`may_scrape`).

Socket groups: ``alerts`` (every alert change, for those who read every cluster); workspace alerts
also go to the existing ``workspace.<id>`` group.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from clusters.models import Cluster
from monitoring.models import Alert, AlertRule, NotificationChannel, PriceSheet, Silence
from portal import access as portal_access
from portal import errors
from portal.events import register_group
from workspaces import access as ws_access
from workspaces.models import Grant, ServiceMap, Workspace

ALERTS_MANAGE = str(Grant.ALERTS_MANAGE)
PODS_LOGS = str(Grant.PODS_LOGS)


def _not_found(what: str = "object") -> errors.NotFound:
    return errors.NotFound(f"No such {what}.", code="not_found", params={"what": what})


def operators_only(what: str) -> errors.Forbidden:
    return errors.Forbidden(f"Only operators and system admins may {what}.", code="operator_required",
                            params={"what": what})


def sees_infrastructure(user: Any) -> bool:
    """Fleet, cluster and node figures, idle capacity, alerts without a workspace."""
    return portal_access.reads_all_clusters(user)


def manages_infrastructure(user: Any) -> bool:
    """Fleet- and cluster-scoped rules and silences, built-in rules, acting on any alert."""
    return portal_access.is_admin(user) or portal_access.is_operator(user)


def require_infrastructure(user: Any, what: str = "cluster") -> None:
    if not sees_infrastructure(user):
        raise _not_found(what)


def cluster(user: Any, cluster_id: Any) -> Cluster:
    """A cluster for infrastructure figures, or 404."""
    require_infrastructure(user)
    try:
        return Cluster.objects.get(pk=int(cluster_id))
    except (TypeError, ValueError, Cluster.DoesNotExist):
        raise _not_found("cluster") from None


def workspace(user: Any, workspace_id: Any) -> Workspace:
    try:
        return ws_access.visible_workspaces(user).get(pk=int(workspace_id))
    except (TypeError, ValueError, Workspace.DoesNotExist):
        raise _not_found("workspace") from None


def service_map(user: Any, service_map_id: Any) -> ServiceMap:
    try:
        return ws_access.visible_service_maps(user).select_related("cluster", "workspace").get(
            pk=int(service_map_id))
    except (TypeError, ValueError, ServiceMap.DoesNotExist):
        raise _not_found("service map") from None


def namespace_place(user: Any, cluster_id: Any, namespace: str) -> ServiceMap | None:
    """The service map holding ``namespace`` when ``user`` may see application figures there: those
    who read every cluster see any namespace (None when no service map holds it); a member only
    their service maps' namespaces (404 otherwise, naming nothing)."""
    try:
        cid = int(cluster_id)
    except (TypeError, ValueError):
        raise _not_found("cluster") from None
    if sees_infrastructure(user):
        if not Cluster.objects.filter(pk=cid).exists():
            raise _not_found("cluster")
        return ServiceMap.objects.filter(cluster_id=cid, namespace=namespace).select_related("workspace").first()
    sm = ws_access.visible_service_maps(user).filter(cluster_id=cid, namespace=namespace).select_related(
        "workspace").first()
    if sm is None:
        raise _not_found("namespace")
    return sm


def member_workspace_ids(user: Any) -> QuerySet[Any]:
    return ws_access.visible_workspaces(user).values("pk")


def member_service_map_ids(user: Any) -> QuerySet[Any]:
    return ws_access.visible_service_maps(user).values("pk")


# ---------------------------------------------------------------------------- alerts


def visible_alerts(user: Any) -> QuerySet[Alert]:
    if sees_infrastructure(user):
        return Alert.objects.all()
    if not portal_access.signed_in(user):
        return Alert.objects.none()
    return Alert.objects.filter(Q(workspace__in=member_workspace_ids(user))
                                | Q(service_map__in=member_service_map_ids(user)))


def may_act_on_alert(user: Any, alert: Alert) -> bool:
    if manages_infrastructure(user):
        return True
    ws = alert.workspace
    return ws is not None and ws_access.allowed(user, ws, ALERTS_MANAGE)


def require_act_on_alert(user: Any, alert: Alert) -> None:
    if not may_act_on_alert(user, alert):
        if alert.workspace is None:
            raise operators_only("act on alerts about a whole cluster")
        raise portal_access.grant_missing(alert.workspace.name, ALERTS_MANAGE)


# ---------------------------------------------------------------------------- rules and silences


def _scope_workspace(workspace: Workspace | None, service_map: ServiceMap | None) -> Workspace | None:
    if service_map is not None:
        return service_map.workspace
    return workspace


def visible_rules(user: Any) -> QuerySet[AlertRule]:
    if sees_infrastructure(user):
        return AlertRule.objects.all()
    if not portal_access.signed_in(user):
        return AlertRule.objects.none()
    return AlertRule.objects.filter(Q(workspace__in=member_workspace_ids(user))
                                    | Q(service_map__in=member_service_map_ids(user)))


def require_manage_scope(user: Any, *, workspace: Workspace | None, service_map: ServiceMap | None,
                         builtin: bool = False, what: str = "alert rules") -> None:
    """403 unless ``user`` may manage a rule or silence with this scope: ``alerts.manage`` in the
    scope's workspace, or an admin or operator; fleet, cluster and built-in ones admins and operators only."""
    if manages_infrastructure(user):
        return
    ws = _scope_workspace(workspace, service_map)
    if builtin or ws is None:
        raise operators_only(f"manage {what} for a whole cluster, the fleet or built-in rules")
    if not ws_access.allowed(user, ws, ALERTS_MANAGE):
        raise portal_access.grant_missing(ws.name, ALERTS_MANAGE)


def require_manage_rule(user: Any, rule: AlertRule) -> None:
    require_manage_scope(user, workspace=rule.workspace, service_map=rule.service_map, builtin=bool(rule.builtin))


def visible_silences(user: Any) -> QuerySet[Silence]:
    if sees_infrastructure(user):
        return Silence.objects.all()
    if not portal_access.signed_in(user):
        return Silence.objects.none()
    return Silence.objects.filter(Q(workspace__in=member_workspace_ids(user))
                                  | Q(service_map__in=member_service_map_ids(user)))


def require_manage_silence(user: Any, silence: Silence) -> None:
    require_manage_scope(user, workspace=silence.workspace, service_map=silence.service_map, what="silences")


# ---------------------------------------------------------------------------- channels


def visible_channels(user: Any) -> QuerySet[NotificationChannel]:
    if manages_infrastructure(user) or portal_access.is_auditor(user):
        return NotificationChannel.objects.all()
    if not portal_access.signed_in(user):
        return NotificationChannel.objects.none()
    return NotificationChannel.objects.filter(workspace__in=member_workspace_ids(user))


def require_manage_channel(user: Any, workspace: Workspace | None) -> None:
    """Global channels: admins. A workspace's: ``alerts.manage`` there (or an admin)."""
    if portal_access.is_admin(user):
        return
    if workspace is None:
        raise portal_access.admin_only("manage global notification channels")
    if not ws_access.allowed(user, workspace, ALERTS_MANAGE):
        raise portal_access.grant_missing(workspace.name, ALERTS_MANAGE)


# ---------------------------------------------------------------------------- metering and prices


def visible_price_sheets(user: Any) -> QuerySet[PriceSheet]:
    """Provider sheets to everyone signed in (no secret in a price); a cluster's sheet only to those
    who see the cluster (it names the cluster)."""
    if sees_infrastructure(user):
        return PriceSheet.objects.all()
    if not portal_access.signed_in(user):
        return PriceSheet.objects.none()
    return PriceSheet.objects.filter(Q(cluster__isnull=True) | Q(cluster__in=portal_access.visible(user, Cluster)))


def require_manage_prices(user: Any) -> None:
    if not portal_access.is_admin(user):
        raise portal_access.admin_only("manage price sheets")


def metering_workspace_ids(user: Any) -> list[int] | None:
    """The workspaces whose metering ``user`` sees: None for all (and idle capacity), else theirs."""
    if sees_infrastructure(user):
        return None
    return list(ws_access.visible_workspaces(user).values_list("pk", flat=True))


# ---------------------------------------------------------------------------- /metrics


def may_scrape(user: Any, bearer: str | None, token: str) -> bool:
    """Whether a /metrics request may read: an admin's session or API token, or the configured
    scrape token (compared in constant time). An empty ``token`` setting accepts no bearer."""
    import hmac

    if portal_access.is_admin(user):
        return True
    return bool(token) and bearer is not None and hmac.compare_digest(bearer.encode(), token.encode())


def install() -> None:
    register_group("alerts", lambda user, key: key == "" and sees_infrastructure(user),
                   "`alerts`: every alert's changes (those who read every cluster).")
