"""API of the workload actions (issue 15): scale, restart, pause, resume, roll back and delete an
object, its revisions (``kubectl rollout history``) and what deleting it would take with it.
See docs/clusters-api.md, "Workload actions".

Every change is an intent: the view checks who may do it (:mod:`clusters.access`), what is asked
(bounds, type-to-confirm, a revision that exists: 4xx with a stable ``code`` and nothing written)
and that the object is there (one live read through :mod:`clusters.gateway`, which also yields
the uid a delete is pinned to and the release label, resolved by :mod:`clusters.owners`), then
writes an :class:`~clusters.models.ObjectAction` through :mod:`clusters.object_actions` and answers 202;
the task ``clusters.run_object_action`` carries it out (:mod:`clusters.workload_ops`).

Grants: scale ``workloads.scale``, restart ``workloads.restart``, rollback **and pause/resume**
``workloads.rollback`` (all three control how far a rollout goes, where a restart only starts
the same template again), delete ``objects.delete``. Reading revisions and dependents needs
only to see the namespace. The portal's own objects (a service map's Namespace, ResourceQuota,
LimitRange and pull secrets, :func:`clusters.access.portal_owned`) are refused to everyone (403
``portal_owned``): they change through the service map.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import browser, gateway, object_actions, owners, workload_ops
from clusters import workload_patches as wp
from clusters.access import (
    OBJECTS_DELETE,
    WORKLOADS_RESTART,
    WORKLOADS_ROLLBACK,
    WORKLOADS_SCALE,
    protected_namespace,
    require_not_portal_owned,
    require_object_action,
    require_object_visible,
    visible_clusters,
)
from clusters.api.objects import ObjectActionSerializer
from clusters.kube.discovery import ApiResource
from clusters.models import Cluster, KubeObject
from clusters.objects import action_row
from portal import errors

DEPENDENTS_LIMIT = 500


def max_replicas() -> int:
    return int(getattr(settings, "PORTAL_MAX_REPLICAS", wp.DEFAULT_MAX_REPLICAS))


# ---------------------------------------------------------------------------- shapes (schema)


class ScaleRequestSerializer(serializers.Serializer[Any]):
    replicas = serializers.IntegerField(min_value=0, help_text="0 to PORTAL_MAX_REPLICAS (default 1000).")


class RollbackRequestSerializer(serializers.Serializer[Any]):
    revision = serializers.IntegerField(min_value=0, help_text="The revision to return to (kubectl rollout history); "
                                                               "0 for the one before the current.")


class DeleteRequestSerializer(serializers.Serializer[Any]):
    confirm = serializers.CharField(max_length=253, help_text="The object's name, typed by the person deleting it.")
    propagation = serializers.ChoiceField(choices=wp.PROPAGATIONS, required=False, default="Background",
                                          help_text="What happens to what the object owns (kubectl --cascade): "
                                                    "Foreground, Background or Orphan.")


class ActionOwnerReleaseSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    service_map_id = serializers.IntegerField(allow_null=True)


class ActionControllerSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    name = serializers.CharField()


class ActionAcceptedSerializer(ObjectActionSerializer):
    """The 202 of a workload action: the ObjectAction row, and what may undo the change."""

    owner_release = ActionOwnerReleaseSerializer(
        allow_null=True, help_text="The catalog release that put the object there, when the caller may view it: "
                                   "its next deploy puts back what this action changes (act through the release "
                                   "instead).")
    controller = ActionControllerSerializer(
        allow_null=True, help_text="The object's controller (its controlling ownerReference): it may undo the change "
                                   "(a Deployment scales its ReplicaSets back).")
    warnings = serializers.ListField(child=serializers.CharField(),
                                     help_text="Codes: owned_by_release, owned_by_controller.")


class WorkloadRevisionSerializer(serializers.Serializer[Any]):
    revision = serializers.IntegerField()
    name = serializers.CharField(help_text="The ReplicaSet or ControllerRevision.")
    created = serializers.DateTimeField(allow_null=True)
    images = serializers.ListField(child=serializers.CharField())
    current = serializers.BooleanField()


class WorkloadRevisionsSerializer(serializers.Serializer[Any]):
    revisions = WorkloadRevisionSerializer(many=True)


class DependentSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()


class DependentsSerializer(serializers.Serializer[Any]):
    dependents = DependentSerializer(many=True)
    total = serializers.IntegerField(help_text=f"How many there are (the list stops at {DEPENDENTS_LIMIT}).")
    protected_by_service_map = serializers.CharField(
        allow_null=True, help_text="A namespace that holds this service map cannot be deleted.")
    owner_release = ActionOwnerReleaseSerializer(allow_null=True)


# ---------------------------------------------------------------------------- helpers


def _body(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    data = request.data if request.data is not None else {}
    if not isinstance(data, dict):
        raise errors.Invalid("Send a JSON object.", code="invalid")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        message = "Unknown field; allowed fields are: " + (", ".join(allowed) or "none") + "."
        raise errors.Invalid(message, code="invalid", errors={name: [message] for name in unknown})
    return dict(data)


def _resolve(cluster: Cluster, read: gateway.LiveRead, group: str, version: str, plural: str) -> ApiResource:
    try:
        return browser.resolve(cluster, read, group, version, plural)
    except browser.BrowserProblem as exc:
        raise errors.NotFound(str(exc), code=exc.code) from exc


def _visible_resource(request: Request, cluster: Cluster, read: gateway.LiveRead, group: str, version: str,
                      plural: str, name: str) -> tuple[ApiResource, str]:
    """The URL's resource and the ``?namespace=`` given for it, once the caller may see the object
    (outside their namespaces: 404 before anything else is told)."""
    resource = _resolve(cluster, read, group, version, plural)
    given = request.query_params.get("namespace", "") if resource.namespaced else ""
    require_object_visible(request.user, cluster, group=resource.group, plural=resource.plural,
                           namespaced=resource.namespaced, namespace=given, name=name)
    return resource, given


def _namespace_of(resource: ApiResource, namespace: str) -> str:
    if not resource.namespaced:
        return ""
    if not namespace:
        raise errors.Invalid(f"{resource.kind} is namespaced: give ?namespace=.", code="namespace_required",
                             errors={"namespace": ["Give the object's namespace."]})
    return namespace


def revisions_of(read: gateway.LiveRead, resource: ApiResource, live: dict[str, Any],
                 namespace: str) -> list[wp.Revision]:
    return workload_ops.revisions(read.client, resource.kind, live, namespace, timeout=read.budget)


NAMESPACE_PARAM = OpenApiParameter("namespace", OpenApiTypes.STR, description="The object's namespace (namespaced "
                                                                              "kinds).")
PATH_PARAMS = [
    OpenApiParameter("cluster_id", OpenApiTypes.INT, OpenApiParameter.PATH),
    OpenApiParameter("group", OpenApiTypes.STR, OpenApiParameter.PATH, description='API group, "core" for ""'),
    OpenApiParameter("version", OpenApiTypes.STR, OpenApiParameter.PATH),
    OpenApiParameter("plural", OpenApiTypes.STR, OpenApiParameter.PATH),
    OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH),
    NAMESPACE_PARAM,
]
FAILURES = {
    400: OpenApiResponse(description="replicas_invalid, confirm_mismatch, propagation_invalid, not_scalable, "
                                     "action_not_supported, revision_not_found, namespace_protected, "
                                     "namespace_required"),
    403: OpenApiResponse(description="grant_missing, operator_required or portal_owned (one of the portal's own "
                                     "objects: a service map's quota, limits, pull secrets) (clusters.access)"),
    404: OpenApiResponse(description="No such cluster, kind (unknown_resource) or object (object_not_found: also an "
                                     "object outside the caller's namespaces)"),
    409: OpenApiResponse(description="deployment_paused: resume the Deployment before restarting or rolling it back"),
    503: OpenApiResponse(description="cluster_unreachable or cluster_timeout"),
}


# ---------------------------------------------------------------------------- actions


class _ActionView(APIView):
    """The common path of every action: cluster, object scope, grant, kind, input, the live object, the intent."""

    permission_classes = (IsAuthenticated,)
    action: ClassVar[str] = ""
    grant: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()

    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        cluster = get_object_or_404(visible_clusters(request.user), pk=cluster_id)
        api_group = "" if group == browser.CORE else group
        with gateway.live_read(cluster, f"reading {plural}/{name}",
                               gone=f"{plural}/{name} does not exist in the cluster.") as read:
            # before anything else is told: outside the namespace 404, inside it without the grant 403
            resource, given = _visible_resource(request, cluster, read, group, version, plural, name)
            require_object_action(request.user, cluster, given, self.grant)
            namespace = _namespace_of(resource, given)
            if self.action != "delete":
                wp.require_kind(self.action, api_group, plural)
            body = _body(request, self.fields)
            params = self.check(body, cluster=cluster, resource=resource, name=name)
            # the portal's own objects (a service map's quota, limits, pull secrets) change through the
            # service map, for everyone (a Namespace that holds one is refused above as namespace_protected)
            require_not_portal_owned(cluster, namespace, resource.kind, name, api_version=resource.group_version)
            live = read.client.get_object(resource.kind, name, namespace, resource=workload_ops.kube_resource(resource),
                                          timeout=read.budget, attempts=1)
            params.update(self.prepare(live, read=read, resource=resource, namespace=namespace, params=params))
        metadata = live.get("metadata") or {}
        release = owners.release_owner(request.user, metadata.get("labels"), cluster_id=cluster.pk,
                                       namespace=namespace)
        controller = wp.controller_of(metadata)
        row = object_actions.request_action(
            request.user, cluster, group=api_group, version=resource.version, plural=resource.plural,
            kind=resource.kind, namespace=namespace, name=name, action=self.action, params=params, request=request,
            detail={"owner_release": release["id"]} if release else None)
        return Response({**action_row(row), "owner_release": release,
                         "controller": controller,
                         "warnings": [w for w, on in (("owned_by_release", release), ("owned_by_controller", controller))
                                      if on]}, status=202)

    def check(self, body: dict[str, Any], *, cluster: Cluster, resource: ApiResource, name: str) -> dict[str, Any]:
        """The action's parameters from the body (400 for bad ones), before the cluster is asked."""
        return {}

    def prepare(self, live: dict[str, Any], *, read: gateway.LiveRead, resource: ApiResource, namespace: str,
                params: dict[str, Any]) -> dict[str, Any]:
        """More parameters from the live object (and refusals its state causes)."""
        return {}


def _refuse_paused(live: dict[str, Any], resource: ApiResource, what: str) -> None:
    if resource.kind == "Deployment" and (live.get("spec") or {}).get("paused"):
        name = (live.get("metadata") or {}).get("name", "")
        raise errors.Conflict(f"Deployment {name} is paused: resume it before you {what} it.",
                              code="deployment_paused", params={"kind": resource.kind, "name": name, "action": what})


def _schema(request: type[serializers.Serializer[Any]] | None, summary: str, operation_id: str) -> Any:
    return extend_schema(parameters=PATH_PARAMS, request=request, summary=summary, operation_id=operation_id,
                         responses={202: ActionAcceptedSerializer, **FAILURES})


class ScaleView(_ActionView):
    """``kubectl scale``: the scale subresource's ``spec.replicas``, from 0 to ``PORTAL_MAX_REPLICAS``. 202 with
    the ObjectAction; ``params.previous`` is the count the object had."""

    action, grant, fields = "scale", WORKLOADS_SCALE, ("replicas",)

    @_schema(ScaleRequestSerializer, "Scale a Deployment, StatefulSet or ReplicaSet (kubectl scale)",
             "clusters_objects_scale")
    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        return super().post(request, cluster_id, group, version, plural, name)

    def check(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {"replicas": wp.check_replicas(body.get("replicas"), maximum=max_replicas())}

    def prepare(self, live: dict[str, Any], **_: Any) -> dict[str, Any]:
        previous = (live.get("spec") or {}).get("replicas")
        return {"previous": previous if isinstance(previous, int) else None}


class RestartView(_ActionView):
    """``kubectl rollout restart``: the pod template's ``kubectl.kubernetes.io/restartedAt``, its time fixed now
    (``params.restarted_at``). A paused Deployment is refused (409 ``deployment_paused``)."""

    action, grant = "restart", WORKLOADS_RESTART

    @_schema(None, "Restart a Deployment, StatefulSet or DaemonSet (kubectl rollout restart)",
             "clusters_objects_restart")
    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        return super().post(request, cluster_id, group, version, plural, name)

    def check(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        # fixed now, so a second run of the task writes the same annotation (and changes nothing)
        return {"restarted_at": wp.restart_timestamp(timezone.now())}

    def prepare(self, live: dict[str, Any], *, resource: ApiResource, **_: Any) -> dict[str, Any]:
        _refuse_paused(live, resource, "restart")
        return {}


class PauseView(_ActionView):
    """``kubectl rollout pause``: ``spec.paused`` true (grant ``workloads.rollback``)."""

    action, grant = "pause", WORKLOADS_ROLLBACK

    @_schema(None, "Pause a Deployment's rollout (kubectl rollout pause)", "clusters_objects_pause")
    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        return super().post(request, cluster_id, group, version, plural, name)


class ResumeView(_ActionView):
    """``kubectl rollout resume``: ``spec.paused`` false (grant ``workloads.rollback``)."""

    action, grant = "resume", WORKLOADS_ROLLBACK

    @_schema(None, "Resume a Deployment's rollout (kubectl rollout resume)", "clusters_objects_resume")
    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        return super().post(request, cluster_id, group, version, plural, name)


class RollbackView(_ActionView):
    """``kubectl rollout undo --to-revision``: back to an earlier ReplicaSet (Deployment) or ControllerRevision
    (StatefulSet, DaemonSet), chosen now and pinned by name (``params.target``)."""

    action, grant, fields = "rollback", WORKLOADS_ROLLBACK, ("revision",)

    @_schema(RollbackRequestSerializer, "Roll back to an earlier revision (kubectl rollout undo --to-revision)",
             "clusters_objects_rollback")
    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        return super().post(request, cluster_id, group, version, plural, name)

    def check(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {"revision": wp.check_revision(body.get("revision", 0))}

    def prepare(self, live: dict[str, Any], *, read: gateway.LiveRead, resource: ApiResource, namespace: str,
                params: dict[str, Any]) -> dict[str, Any]:
        _refuse_paused(live, resource, "roll back")
        chosen = wp.choose_revision(revisions_of(read, resource, live, namespace), int(params["revision"]))
        # the name pins the choice: a rollback renumbers the revision it restores
        return {"revision": chosen.revision, "target": chosen.name}


class DeleteView(_ActionView):
    """Delete any object: ``confirm`` must be its name; ``propagation`` says what becomes of what it owns. Pinned
    to the object's uid; a Namespace that holds a service map is refused (400 ``namespace_protected``)."""

    action, grant, fields = "delete", OBJECTS_DELETE, ("confirm", "propagation")

    @_schema(DeleteRequestSerializer, "Delete an object of any kind, with type-to-confirm and a propagation policy",
             "clusters_objects_delete")
    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        return super().post(request, cluster_id, group, version, plural, name)

    def check(self, body: dict[str, Any], *, cluster: Cluster, resource: ApiResource, name: str) -> dict[str, Any]:
        wp.check_confirm(body.get("confirm"), name)
        propagation = wp.check_propagation(body.get("propagation"))
        if resource.group == "" and resource.plural == "namespaces":
            service_map = protected_namespace(cluster.pk, name)
            if service_map:
                raise errors.Invalid(f"Namespace {name} holds the service map {service_map}: delete the service map "
                                     "instead (it owns the namespace).", code="namespace_protected",
                                     params={"namespace": name, "service_map": service_map})
        return {"propagation": propagation}

    def prepare(self, live: dict[str, Any], **_: Any) -> dict[str, Any]:
        # the delete is pinned to the object the person saw (a precondition on its uid)
        return {"uid": str((live.get("metadata") or {}).get("uid") or "")}


# ---------------------------------------------------------------------------- reads


class _ReadView(APIView):
    permission_classes = (IsAuthenticated,)


class RevisionsView(_ReadView):
    """``kubectl rollout history``: a Deployment's ReplicaSets or a StatefulSet's/DaemonSet's
    ControllerRevisions, newest first, read live."""

    @extend_schema(parameters=PATH_PARAMS, responses={200: WorkloadRevisionsSerializer, **FAILURES},
                   summary="Revisions a workload can roll back to (kubectl rollout history)",
                   operation_id="clusters_objects_revisions")
    def get(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        cluster = get_object_or_404(visible_clusters(request.user), pk=cluster_id)
        api_group = "" if group == browser.CORE else group
        with gateway.live_read(cluster, f"reading the revisions of {plural}/{name}",
                               gone=f"{plural}/{name} does not exist in the cluster.") as read:
            resource, given = _visible_resource(request, cluster, read, group, version, plural, name)
            namespace = _namespace_of(resource, given)
            wp.require_kind("rollback", api_group, plural)
            live = read.client.get_object(resource.kind, name, namespace, resource=workload_ops.kube_resource(resource),
                                          timeout=read.budget, attempts=1)
            revisions = revisions_of(read, resource, live, namespace)
        return Response({"revisions": [r.as_dict() for r in revisions]})


class DependentsView(_ReadView):
    """What deleting the object takes with it, from the read model: what it owns through
    controlling ownerReferences (a Deployment's ReplicaSets and their pods), a Namespace's
    contents (Events left out); and whether a service map protects the namespace."""

    @extend_schema(parameters=PATH_PARAMS, responses={200: DependentsSerializer, **FAILURES},
                   summary="What the object owns (what a delete takes with it), from the read model",
                   operation_id="clusters_objects_dependents")
    def get(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        cluster = get_object_or_404(visible_clusters(request.user), pk=cluster_id)
        with gateway.live_read(cluster, f"resolving {plural}") as read:  # the read model's kinds: no request
            resource, given = _visible_resource(request, cluster, read, group, version, plural, name)
        kind = resource.kind
        namespace = _namespace_of(resource, given)
        row = KubeObject.objects.filter(cluster=cluster, kind=kind, namespace=namespace, name=name).only(
            "labels").first()
        if kind == "Namespace":
            contents = KubeObject.objects.filter(cluster=cluster, namespace=name).exclude(kind="Event")
            total = contents.count()
            found = [{"kind": k, "namespace": ns, "name": n} for k, ns, n in
                     contents.order_by("kind", "name").values_list("kind", "namespace", "name")[:DEPENDENTS_LIMIT]]
            protected = protected_namespace(cluster.pk, name)
        else:
            owned = (KubeObject.objects.filter(cluster=cluster, namespace=namespace)
                     .filter(~Q(data__owner=None), data__has_key="owner")
                     .values_list("kind", "namespace", "name", "data__owner"))
            rows = [wp.Row(k, ns, n, (str(o.get("kind", "")), str(o.get("name", ""))) if isinstance(o, dict) else None)
                    for k, ns, n, o in owned]
            closure, total = wp.owned_closure(kind, namespace, name, rows, limit=DEPENDENTS_LIMIT)
            found = [{"kind": r.kind, "namespace": r.namespace, "name": r.name} for r in closure]
            protected = None
        return Response({"dependents": found, "total": total, "protected_by_service_map": protected,
                         "owner_release": owners.release_owner(request.user, row.labels if row is not None else None,
                                                               cluster_id=cluster.pk, namespace=namespace)})
