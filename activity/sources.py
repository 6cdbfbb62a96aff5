"""Reads of the timeline's sources: one query per source for a page, each in the timeline's order
below the cursor and at most a page plus one row long, merged by :func:`activity.timeline.merge`.

Each reader narrows its table to the :class:`~activity.access.Scope` (the places the caller may
see, the object, the releases) and turns rows into :class:`~activity.timeline.Entry` values; rows
are read with ``values()`` so no text the timeline does not show (manifests, snapshots, rendered
charts) leaves the database, and no query runs per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import BooleanField, DateTimeField, ExpressionWrapper, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, NullIf, Trunc

from activity.access import Place, Scope
from activity.models import ObjectChange
from activity.timeline import TABLES_OF_SOURCE, Entry, Key, Query, merge, seek
from catalog.models import Revision, Rollout
from clusters.models import KubeObject, ObjectAction
from portal.models import AuditRecord

WARNING_STATUSES = frozenset({"failed", "conflict"})
EXEC_ACTION = "pod.exec"  # a session as it ended, or a refusal; never "pod.exec.start" (one entry per session)


def _places(places: tuple[Place, ...], cluster: str = "cluster_id", namespace: str = "namespace") -> Q:
    """Rows in any of ``places`` (no place: none)."""
    condition = Q(pk__in=[])
    for place in places:
        here = Q(**{cluster: place.cluster_id})
        if place.namespaces is not None:
            here &= Q(**{f"{namespace}__in": list(place.namespaces)})
        condition |= here
    return condition


def _object(scope: Scope, kind: str = "kind", name: str = "name") -> Q:
    return Q(**{kind: scope.kind, name: scope.name}) if scope.name else Q()


def _second(expression: Any) -> Trunc:
    """A time to the second: what Kubernetes records (events, managedFields), so the portal's own
    rows (microseconds) and the cluster's compare on one footing; ties go to the tables' ranks."""
    return Trunc(expression, "second", output_field=DateTimeField())


def _username(value: str | None) -> str:
    return value or ""


# ----------------------------------------------------------------------------- readers


def _spanning_creates(places: tuple[Place, ...]) -> Q:
    """Creates of documents in several namespaces (stored without one, ``params.namespaces`` naming
    them) in places limited to some namespaces: only those whose every namespace is visible there."""
    condition = Q(pk__in=[])
    for place in places:
        if place.namespaces is not None and place.namespaces:
            condition |= (Q(cluster_id=place.cluster_id, namespace="",
                            params__namespaces__contained_by=list(place.namespaces))
                          & ~Q(params__namespaces=[]))
    return condition


def portal_actions(scope: Scope, cursor: Key | None, limit: int) -> list[Entry]:
    places = _places(scope.places) if scope.name else _places(scope.places) | _spanning_creates(scope.places)
    rows = (ObjectAction.objects.filter(places, _object(scope))
            .annotate(at=_second("created"), has_diff=ExpressionWrapper(~Q(diff=""), output_field=BooleanField()))
            .filter(seek(cursor, "portal", "at")).order_by("-at", "-id")
            .values("id", "at", "cluster_id", "namespace", "kind", "name", "action", "params", "status",
                    "message", "message_code", "message_params", "requested_username", "has_diff")[:limit])
    out = []
    for r in rows:
        where = f"{r['namespace']}/" if r["namespace"] else ""
        out.append(Entry(
            table="portal", pk=r["id"], time=r["at"], source="portal", actor=r["requested_username"],
            cluster=r["cluster_id"], namespace=r["namespace"], kind=r["kind"], name=r["name"], action=r["action"],
            status=r["status"],
            summary=f"{r['requested_username'] or 'someone'}: {r['action']} {r['kind']} {where}{r['name']} "
                    f"({r['status']})" + (f": {r['message']}" if r["message"] else ""),
            message_code=r["message_code"], message_params=r["message_params"] or {},
            type="Warning" if r["status"] in WARNING_STATUSES else "Normal", has_diff=bool(r["has_diff"]),
            detail={"params": r["params"] or {}}))
    return out


def exec_sessions(scope: Scope, cursor: Key | None, limit: int) -> list[Entry]:
    if scope.name and scope.kind != "Pod":
        return []
    places = Q(pk__in=[])
    for place in scope.places:  # the audit detail may carry the cluster id as a number or a string
        here = Q(detail__cluster=place.cluster_id) | Q(detail__cluster=str(place.cluster_id))
        if place.namespaces is not None:
            here &= Q(detail__namespace__in=list(place.namespaces))
        places |= here
    rows = (AuditRecord.objects.filter(places, action=EXEC_ACTION)
            .filter(Q(detail__pod=scope.name) if scope.name else Q())
            .annotate(at=_second("timestamp")).filter(seek(cursor, "exec", "at")).order_by("-at", "-id")
            .values("id", "at", "actor_username", "outcome", "detail")[:limit])
    out = []
    for r in rows:
        detail = r["detail"] if isinstance(r["detail"], dict) else {}
        pod = str(detail.get("pod", ""))
        cluster = detail.get("cluster")
        summary, code, params = _exec_outcome(r["actor_username"] or "someone", r["outcome"], detail)
        out.append(Entry(
            table="exec", pk=r["id"], time=r["at"], source="exec", actor=r["actor_username"],
            cluster=int(str(cluster)) if str(cluster).isdigit() else None, namespace=str(detail.get("namespace", "")),
            kind="Pod", name=pod, action="exec", status=r["outcome"], summary=summary,
            message_code=code, message_params=params,
            type="Normal" if r["outcome"] == "success" else "Warning",
            detail={k: detail[k] for k in EXEC_DETAIL if k in detail}))
    return out


EXEC_DETAIL = ("container", "command", "seconds", "exit_code", "ended", "reason")


def _exec_outcome(who: str, outcome: str, detail: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The summary and message of a ``pod.exec`` record by its outcome: a session (it ran, whatever
    its exit code), a refusal (``denied``: the reason's code) or a session that failed to start or
    broke (``failure``: how it ended). Only a session opened a shell."""
    pod, container = str(detail.get("pod", "")), str(detail.get("container", ""))
    where = f"{pod}/{container}"
    if outcome == "denied":
        reason = str(detail.get("reason") or "forbidden")
        return (f"{who} was refused a shell in {where} ({reason})", "exec_refused",
                {"pod": pod, "container": container, "reason": reason})
    if outcome == "failure":
        ended = str(detail.get("ended") or "failed")
        return (f"{who}'s shell in {where} failed ({ended})", "exec_session_failed",
                {"pod": pod, "container": container, "ended": ended})
    return f"{who} opened a shell in {where}", "", {}


def _event_time() -> Trunc:
    seen = NullIf(KeyTextTransform("last_seen", "data"), Value(""))
    return _second(Coalesce(Cast(seen, DateTimeField()), "created", "updated"))


def events(scope: Scope, cursor: Key | None, limit: int) -> list[Entry]:
    qs: QuerySet[KubeObject] = KubeObject.objects.filter(kind="Event")
    if scope.name and scope.object_namespace == "":
        # A cluster-scoped object's events live in some namespace (default): its cluster, then the object.
        qs = qs.filter(cluster_id=scope.places[0].cluster_id)
    else:
        qs = qs.filter(_places(scope.places))
    if scope.name:
        qs = qs.filter(data__involved__kind=scope.kind, data__involved__name=scope.name)
    rows = (qs.annotate(at=_event_time()).filter(seek(cursor, "event", "at"))
            .order_by("-at", "-id")
            .values("id", "at", "cluster_id", "namespace", "phase", "data")[:limit])
    out = []
    for r in rows:
        data = r["data"] if isinstance(r["data"], dict) else {}
        involved = data.get("involved") or {}
        out.append(Entry(
            table="event", pk=r["id"], time=r["at"], source="event", actor=str(data.get("source", "")),
            cluster=r["cluster_id"], namespace=str(involved.get("namespace") or r["namespace"]),
            kind=str(involved.get("kind", "")), name=str(involved.get("name", "")),
            action=str(data.get("reason", "")), summary=str(data.get("message", "")),
            type=str(data.get("type") or r["phase"] or "Normal"),
            detail={"count": data.get("count", 1), "first_seen": data.get("first_seen")}))
    return out


def outside_changes(scope: Scope, cursor: Key | None, limit: int) -> list[Entry]:
    rows = (ObjectChange.objects.filter(_places(scope.places), _object(scope), seek(cursor, "outside", "time"),
                                        outside=True)
            .order_by("-time", "-id")
            .values("id", "time", "cluster_id", "namespace", "kind", "name", "manager", "operation")[:limit])
    out = []
    for r in rows:
        where = f"{r['namespace']}/" if r["namespace"] else ""
        out.append(Entry(
            table="outside", pk=r["id"], time=r["time"], source="outside", actor=r["manager"],
            cluster=r["cluster_id"], namespace=r["namespace"], kind=r["kind"], name=r["name"],
            action=r["operation"].lower() or "update",
            summary=f"{r['kind']} {where}{r['name']} changed outside the portal by {r['manager']}",
            message_code="changed_outside_portal", message_params={"manager": r["manager"]}, has_diff=True))
    return out


def revisions(scope: Scope, cursor: Key | None, limit: int) -> list[Entry]:
    if not scope.releases or scope.name:
        return []
    rows = (Revision.objects.filter(release__service_map_id__in=list(scope.service_map_ids))
            .annotate(at=_second("created")).filter(seek(cursor, "revision", "at")).order_by("-at", "-id")
            .values("id", "at", "number", "action", "rollback_of", "status", "message", "message_code",
                    "message_params", "created_by__username", "release_id", "release__name",
                    "release__service_map_id", "release__service_map__cluster_id",
                    "release__service_map__namespace", "package_version__version",
                    "package_version__package__name")[:limit])
    out = []
    for r in rows:
        version = f"{r['package_version__package__name']} {r['package_version__version']}"
        out.append(Entry(
            table="revision", pk=r["id"], time=r["at"], source="release",
            actor=_username(r["created_by__username"]), cluster=r["release__service_map__cluster_id"],
            namespace=r["release__service_map__namespace"], kind="Release", name=r["release__name"],
            action=r["action"], status=r["status"],
            summary=f"{r['action']} of release {r['release__name']}: revision {r['number']} ({version}), "
                    f"{r['status']}",
            message_code=r["message_code"], message_params=r["message_params"] or {},
            type="Warning" if r["status"] == "failed" else "Normal",
            detail={"revision": r["number"], "rollback_of": r["rollback_of"], "version": version,
                    "release": r["release_id"], "service_map": r["release__service_map_id"]}))
    return out


def rollouts(scope: Scope, cursor: Key | None, limit: int) -> list[Entry]:
    if not scope.releases or scope.name:
        return []
    qs = Rollout.objects.all()
    if scope.of == "service_map":  # the rollouts that reached this service map
        qs = qs.filter(targets__service_map_id=scope.service_map_ids[0])
    else:
        qs = qs.filter(workspace_id=scope.workspace_id or 0)
    rows = (qs.annotate(at=_second("created")).filter(seek(cursor, "rollout", "at")).order_by("-at", "-id")
            .values("id", "at", "release_name", "version_label", "status", "message", "message_code",
                    "message_params", "created_by__username", "workspace_id")[:limit])
    out = []
    for r in rows:
        out.append(Entry(
            table="rollout", pk=r["id"], time=r["at"], source="release",
            actor=_username(r["created_by__username"]), kind="Rollout", name=r["release_name"], action="rollout",
            status=r["status"], summary=f"rollout of {r['release_name']} ({r['version_label']}): {r['status']}",
            message_code=r["message_code"], message_params=r["message_params"] or {},
            type="Warning" if r["status"] == "failed" else "Normal",
            detail={"version": r["version_label"], "workspace": r["workspace_id"]}))
    return out


READERS: dict[str, Callable[[Scope, Key | None, int], list[Entry]]] = {
    "portal": portal_actions, "exec": exec_sessions, "event": events, "outside": outside_changes,
    "revision": revisions, "rollout": rollouts,
}


def page(scope: Scope, query: Query) -> tuple[list[Entry], Key | None]:
    """One page of ``scope``'s timeline after ``query.cursor``, and the cursor of the next."""
    streams = [READERS[table](scope, query.cursor, query.page_size + 1)
               for source in sorted(query.sources) for table in TABLES_OF_SOURCE[source]]
    return merge(streams, query.page_size)
