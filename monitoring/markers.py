"""Reads: deploys, rollbacks, scale events and alerts of a chart's scope, as markers (issue 14, CHARTS).

A chart shows who changed what on its timeline. Three sources, read the way the activity timeline
reads them (:mod:`activity.sources`):

* catalog **revisions** (``Revision.created``): ``action == "rollback"`` is a rollback, anything
  else (install, upgrade) a deploy; placed by the release's service map, and for a workload or a
  pod by the revision's ``resources`` naming the workload;
* **object actions** asked through the portal on workloads (scale, restart, rollback, edit = apply,
  delete), placed by cluster, namespace, kind and name; failed and conflicting ones changed nothing
  and are left out;
* monitoring **alerts** of the scope: one marker when one fired and one when it resolved.

Each marker is ``{at (epoch s), kind, title, actor, severity, link, params}``; at most
:data:`MAX_MARKERS` per chart (the newest), in time order. Access is the caller's: the scope was
checked before.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Q

from catalog.models import Revision
from clusters.models import ObjectAction, ObjectActionStatus
from monitoring.models import Alert
from workspaces.models import ServiceMap

MAX_MARKERS = 200
WORKLOAD_KINDS: tuple[str, ...] = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
ACTION_KINDS: dict[str, str] = {"scale": "scale", "restart": "restart", "rollback": "rollback", "apply": "edit",
                                "delete": "edit"}
_NOTHING = Q(pk__in=[])


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _marker(at: datetime, kind: str, title: str, actor: str, severity: str, link: str,
            **params: Any) -> dict[str, Any]:
    return {"at": _epoch(at), "kind": kind, "title": title, "actor": actor, "severity": severity, "link": link,
            "params": params}


def for_chart(*, level: str, start: datetime, end: datetime, cluster_id: int | None = None, node: str = "",
              workspace_id: int | None = None, service_map_id: int | None = None, namespace: str = "",
              workload_kind: str = "", workload_name: str = "", pod: str = "",
              limit: int = MAX_MARKERS) -> list[dict[str, Any]]:
    """Markers of a chart at ``level`` between ``start`` and ``end`` (exclusive), the newest
    ``limit``, oldest first. ``servicemap`` charts pass the map's id, cluster and namespace; pod and
    container charts the pod's top owner as ``workload_kind``/``workload_name`` when known."""
    places = _namespaces(level, cluster_id=cluster_id, workspace_id=workspace_id, namespace=namespace)
    found = [
        *_revisions(level, start, end, limit, places=places, cluster_id=cluster_id, workspace_id=workspace_id,
                    service_map_id=service_map_id, namespace=namespace, workload_kind=workload_kind,
                    workload_name=workload_name),
        *_object_actions(level, start, end, limit, places=places, cluster_id=cluster_id, namespace=namespace,
                         workload_kind=workload_kind, workload_name=workload_name, pod=pod),
        *_alerts(level, start, end, limit, cluster_id=cluster_id, node=node, workspace_id=workspace_id,
                 service_map_id=service_map_id, namespace=namespace, workload_kind=workload_kind,
                 workload_name=workload_name, pod=pod),
    ]
    found.sort(key=lambda m: (m["at"], m["kind"], m["title"]))
    return found[-limit:]


def _namespaces(level: str, *, cluster_id: int | None, workspace_id: int | None,
                namespace: str) -> list[tuple[int, str]] | None:
    """(cluster, namespace) pairs of the scope; None: the whole cluster or fleet (or no namespace)."""
    if level == "workspace":
        return list(ServiceMap.objects.filter(Q(workspace_id=workspace_id)).values_list("cluster_id", "namespace"))
    if level in ("servicemap", "workload", "pod", "container") and cluster_id is not None:
        return [(cluster_id, namespace)]
    return None


def _in_places(places: list[tuple[int, str]], cluster: str, namespace: str) -> Q:
    q = _NOTHING
    for cid, ns in places:
        q |= Q(**{cluster: cid, namespace: ns})
    return q


def _revisions(level: str, start: datetime, end: datetime, limit: int, *, places: list[tuple[int, str]] | None,
               cluster_id: int | None, workspace_id: int | None, service_map_id: int | None, namespace: str,
               workload_kind: str, workload_name: str) -> list[dict[str, Any]]:
    qs = Revision.objects.filter(created__gte=start, created__lt=end)
    if level == "node":
        return []
    if level == "cluster":
        qs = qs.filter(Q(release__service_map__cluster_id=cluster_id))
    elif level == "workspace":
        qs = qs.filter(Q(release__workspace_id=workspace_id))
    elif level == "servicemap":
        qs = qs.filter(Q(release__service_map_id=service_map_id))
    elif level in ("workload", "pod", "container"):
        if not workload_kind or not workload_name:
            return []
        qs = qs.filter(_in_places(places or [], "release__service_map__cluster_id", "release__service_map__namespace"),
                       resources__contains=[{"kind": workload_kind, "name": workload_name}])
    rows = qs.order_by("-created", "-id").values(
        "id", "created", "number", "action", "rollback_of", "status", "created_by__username", "release_id",
        "release__name", "release__service_map__cluster_id", "release__service_map__namespace",
        "package_version__version", "package_version__package__name")[:limit]
    out = []
    for r in rows:
        rollback = r["action"] == "rollback"
        version = f"{r['package_version__package__name']} {r['package_version__version']}"
        if rollback:
            title = f"Rollback of {r['release__name']} to revision {r['rollback_of']} (revision {r['number']})"
        else:
            title = f"{r['action'].capitalize()} of {r['release__name']}: revision {r['number']} ({version})"
        if r["status"] == "failed":
            title += ", failed"
        out.append(_marker(r["created"], "rollback" if rollback else "deploy", title,
                           r["created_by__username"] or "", "warning" if r["status"] == "failed" else "info",
                           f"/releases/{r['release_id']}", release=r["release__name"], revision=r["number"],
                           action=r["action"], rollback_of=r["rollback_of"], status=r["status"], version=version,
                           cluster_id=r["release__service_map__cluster_id"],
                           namespace=r["release__service_map__namespace"]))
    return out


def _object_link(a: Mapping[str, Any]) -> str:
    if not a["plural"] or not a["name"] or a["action"] == "delete":
        return f"/clusters/{a['cluster_id']}"
    path = "/".join([a["group"] or "core", a["version"], a["plural"], a["name"]])
    return f"/clusters/{a['cluster_id']}/objects/{path}" + (f"?namespace={a['namespace']}" if a["namespace"] else "")


def _object_actions(level: str, start: datetime, end: datetime, limit: int, *,
                    places: list[tuple[int, str]] | None, cluster_id: int | None, namespace: str,
                    workload_kind: str, workload_name: str, pod: str) -> list[dict[str, Any]]:
    if level == "node":
        return []
    qs = ObjectAction.objects.filter(created__gte=start, created__lt=end, action__in=list(ACTION_KINDS),
                                     kind__in=WORKLOAD_KINDS).exclude(
        status__in=[ObjectActionStatus.FAILED, ObjectActionStatus.CONFLICT])
    if level == "cluster":
        qs = qs.filter(Q(cluster_id=cluster_id))
    elif level in ("workspace", "servicemap"):
        qs = qs.filter(_in_places(places or [], "cluster_id", "namespace"))
    elif level in ("workload", "pod", "container"):
        mine = _NOTHING
        if workload_kind and workload_name:
            mine |= Q(kind=workload_kind, name=workload_name)
        if pod:
            mine |= Q(kind="Pod", name=pod)
        qs = qs.filter(mine & Q(cluster_id=cluster_id, namespace=namespace))
    rows = qs.order_by("-created", "-id").values(
        "id", "created", "cluster_id", "group", "version", "plural", "kind", "namespace", "name", "action", "params",
        "status", "requested_username")[:limit]
    out = []
    for a in rows:
        where = f"{a['namespace']}/{a['name']}" if a["namespace"] else a["name"]
        title = f"{a['action'].capitalize()} {a['kind']} {where}"
        replicas = (a["params"] or {}).get("replicas") if a["action"] == "scale" else None
        if replicas is not None:
            title += f" to {replicas} replicas"
        out.append(_marker(a["created"], ACTION_KINDS[a["action"]], title, a["requested_username"], "info",
                           _object_link(a), action=a["action"], object_kind=a["kind"], namespace=a["namespace"],
                           name=a["name"], cluster_id=a["cluster_id"], replicas=replicas, status=a["status"]))
    return out


def _alerts(level: str, start: datetime, end: datetime, limit: int, *, cluster_id: int | None, node: str,
            workspace_id: int | None, service_map_id: int | None, namespace: str, workload_kind: str,
            workload_name: str, pod: str) -> list[dict[str, Any]]:
    in_range = Q(fired_at__gte=start, fired_at__lt=end) | Q(resolved_at__gte=start, resolved_at__lt=end)
    qs = Alert.objects.filter(in_range, fired_at__isnull=False)
    if level == "cluster":
        qs = qs.filter(Q(cluster_id=cluster_id))
    elif level == "node":
        qs = qs.filter(Q(cluster_id=cluster_id, subject_kind="Node", subject_name=node))
    elif level == "workspace":
        qs = qs.filter(Q(workspace_id=workspace_id))
    elif level == "servicemap":
        qs = qs.filter(Q(service_map_id=service_map_id) | Q(cluster_id=cluster_id, namespace=namespace))
    elif level in ("workload", "pod", "container"):
        mine = _NOTHING
        if workload_kind and workload_name:
            mine |= Q(subject_kind=workload_kind, subject_name=workload_name)
        if pod:
            mine |= Q(subject_kind="Pod", subject_name=pod)
        qs = qs.filter(mine & Q(cluster_id=cluster_id, namespace=namespace))
    rows = qs.order_by("-fired_at", "-id").values(
        "id", "fired_at", "resolved_at", "severity", "state", "message", "subject_kind", "subject_name",
        "namespace", "cluster_id", "rule__name", "resolved_by__username")[:limit]
    out = []
    for a in rows:
        subject = "/".join(p for p in (a["subject_kind"], a["namespace"], a["subject_name"]) if p)
        what = a["rule__name"] or "Alert"
        label = f"{what}: {subject}" if subject else what
        params = {"alert": a["id"], "rule": a["rule__name"] or "", "state": a["state"], "subject_kind": a["subject_kind"],
                  "subject_name": a["subject_name"], "namespace": a["namespace"], "cluster_id": a["cluster_id"]}
        fired, resolved = a["fired_at"], a["resolved_at"]
        if fired is not None and start <= fired < end:
            out.append(_marker(fired, "alert", f"Fired: {label}", "", a["severity"], f"/alerts/{a['id']}",
                               event="fired", **params))
        if resolved is not None and start <= resolved < end:
            out.append(_marker(resolved, "alert", f"Resolved: {label}", a["resolved_by__username"] or "",
                               a["severity"], f"/alerts/{a['id']}", event="resolved", **params))
    return out
