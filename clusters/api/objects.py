"""API of editing and creating objects from YAML (issue 15): the edit view of any object, the
server-side dry-run preview with its diff, apply and create as intents, and the ObjectAction rows
the console follows. See docs/clusters-api.md, "Editing and creating objects".

Reads of the cluster a person waits on (the live object, a dry run: it changes nothing) go
through :func:`clusters.gateway.live_read`, within its time budget; changes are
:class:`~clusters.models.ObjectAction` rows written by :mod:`clusters.object_actions` and carried
out by the ``clusters.run_object_action`` task (202). Before a change is accepted it is checked
here, so bad input is a 4xx with a stable code and nothing is applied: the YAML parses
(``yaml_invalid``), is one document where one is expected (``multiple_documents``), names the
object of the URL (``name_changed``, ``kind_changed``, ``api_version_changed``,
``namespace_changed``), its kind is served (``kind_not_served``), the caller holds the grant in
that namespace (:mod:`clusters.access`: ``objects.edit``, and ``secrets.reveal`` for a Secret),
the object is not one of the portal's own (``portal_owned``: a service map's Namespace, quota,
limits or pull secrets, for everyone), and the API server accepts it in a dry run
(``api_invalid``, its causes on their YAML lines).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import access, browser, gateway, object_actions, objects, owners
from clusters.kube import errors as kube
from clusters.kube.discovery import ApiResource
from clusters.models import Cluster, ObjectAction, ObjectActionKind, ObjectActionStatus
from portal import errors
from portal.api.pagination import KeysetPagination
from portal.limits import NAME_MAX_LENGTH, YAML_MAX_LENGTH

# ---------------------------------------------------------------------------- serializers


class YamlRequestSerializer(serializers.Serializer[Any]):
    yaml = serializers.CharField(max_length=YAML_MAX_LENGTH, trim_whitespace=False, allow_blank=True,
                                 help_text="The object(s) as YAML (or JSON), at most 1 MiB.")


class ApplyRequestSerializer(YamlRequestSerializer):
    force = serializers.BooleanField(default=False, help_text="Take over fields other field managers own "
                                                              "(after a conflict).")


class ConflictSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(help_text="The field path, e.g. .spec.replicas.")
    manager = serializers.CharField(help_text="The field manager that owns it.")
    message = serializers.CharField()


class FieldErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    line = serializers.IntegerField(allow_null=True, help_text="1-based line of the submitted YAML, if known.")
    message = serializers.CharField()


class OwnerReleaseSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    service_map_id = serializers.IntegerField(allow_null=True)


class ManagerSerializer(serializers.Serializer[Any]):
    manager = serializers.CharField()
    operation = serializers.CharField(help_text="Apply or Update.")
    time = serializers.CharField(allow_null=True)
    subresource = serializers.CharField()


class PermissionSerializer(serializers.Serializer[Any]):
    allowed = serializers.BooleanField()
    code = serializers.CharField()
    reason = serializers.CharField()
    params = serializers.DictField(required=False, help_text="What the translation of code fills in.")


class ObjectEditSerializer(serializers.Serializer[Any]):
    api_version = serializers.CharField()
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    resource_version = serializers.CharField()
    yaml = serializers.CharField(help_text="The live object as kubectl edit shows it (apiVersion, kind, metadata "
                                           "first) without managedFields, status and server-written metadata; a "
                                           "Secret's values read (hidden): left so, they are kept.")
    owner_release = OwnerReleaseSerializer(allow_null=True, help_text="The catalog release that put the object "
                                                                      "there (its next deploy puts back edits), when "
                                                                      "the caller may view it; else null.")
    owners = serializers.ListField(child=serializers.DictField(), help_text="metadata.ownerReferences.")
    permissions = serializers.DictField(child=PermissionSerializer(), help_text="Per grant: allowed, or why not.")
    managers = ManagerSerializer(many=True)


class PreviewSerializer(serializers.Serializer[Any]):
    changed = serializers.BooleanField()
    diff = serializers.CharField(help_text="Unified diff live → result (a Secret's values masked).")
    live_yaml = serializers.CharField()
    result_yaml = serializers.CharField(help_text="The object as the API server would store it (dry run; with "
                                                  "conflicts: as a forced apply would).")
    conflicts = ConflictSerializer(many=True, help_text="Fields other managers own: apply with force to take "
                                                        "them over.")


class DocumentPreviewSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    line = serializers.IntegerField()
    api_version = serializers.CharField()
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    exists = serializers.BooleanField()
    changed = serializers.BooleanField()
    diff = serializers.CharField()
    conflicts = ConflictSerializer(many=True)
    # "errors" would shadow Serializer.errors: declared below under its wire name


DocumentPreviewSerializer._declared_fields["errors"] = FieldErrorSerializer(
    many=True, help_text="Why the document cannot be applied (the API server's causes, on their lines).")


class CreatePreviewSerializer(serializers.Serializer[Any]):
    documents = DocumentPreviewSerializer(many=True)


class ObjectActionSerializer(serializers.Serializer[Any]):
    """An ObjectAction (the ``objects.action`` event carries the same row)."""

    id = serializers.IntegerField()
    cluster = serializers.IntegerField()
    group = serializers.CharField()
    version = serializers.CharField()
    plural = serializers.CharField()
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    action = serializers.ChoiceField(choices=ObjectActionKind.choices)
    params = serializers.DictField()
    status = serializers.ChoiceField(choices=ObjectActionStatus.choices)
    message = serializers.CharField()
    message_code = serializers.CharField()
    message_params = serializers.DictField()
    result = serializers.DictField(help_text="conflicts [{field, manager, message}], errors [{field, line, "
                                             "message}], documents (create), resource_version.")
    diff = serializers.CharField()
    requested_by = serializers.CharField()
    created = serializers.DateTimeField()
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return objects.action_row(instance) if isinstance(instance, ObjectAction) else dict(instance)


# ---------------------------------------------------------------------------- helpers


def _body(request: Request, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _cluster(request: Request, cluster_id: str) -> Cluster:
    return get_object_or_404(access.visible_clusters(request.user), pk=cluster_id)


def _resolve(cluster: Cluster, read: gateway.LiveRead, group: str, version: str, plural: str) -> ApiResource:
    try:
        return browser.resolve(cluster, read, group, version, plural)
    except browser.BrowserProblem as exc:
        raise errors.NotFound(str(exc), code=exc.code) from exc


def _namespace(user: Any, cluster: Cluster, resource: ApiResource, request: Request, name: str) -> str:
    """The object's namespace from ``?namespace=``, once the caller is known to see the object
    (so a caller outside the namespace learns nothing but 404, whatever else is wrong)."""
    namespace = str(request.query_params.get("namespace") or "")[:NAME_MAX_LENGTH] if resource.namespaced else ""
    _require_read(user, cluster, resource, namespace, name)
    if resource.namespaced and not namespace:
        message = f"{resource.kind} is namespaced: give ?namespace=."
        raise errors.Invalid(message, code="namespace_required", errors={"namespace": [message]})
    return namespace


def _require_read(user: Any, cluster: Cluster, resource: ApiResource, namespace: str, name: str) -> None:
    """The object must be one the caller may see (as the resource browser decides)."""
    namespaces = access.visible_namespaces(user, cluster.pk)
    if namespaces is None:
        return
    may_list = access.cluster_access().may_see_resource(namespaces, group=resource.group, plural=resource.plural,
                                                        namespaced=resource.namespaced)
    if not may_list or (resource.namespaced and namespace not in namespaces) or (
            resource.group == "" and resource.plural == "namespaces" and name not in namespaces):
        raise errors.NotFound("No such object, or not one you may see.", code="object_not_found")


def _require_edit(user: Any, cluster: Cluster, namespace: str, kind: str, api_version: str, *, name: str) -> None:
    """The grants to change the object (``objects.edit``; ``secrets.reveal`` too for a Secret), and
    that it is not one of the portal's own (403 ``portal_owned``, for everyone, admins included)."""
    access.require_object_action(user, cluster, namespace, access.OBJECTS_EDIT)
    if kind == "Secret" and api_version == "v1":
        access.require_object_action(user, cluster, namespace, access.SECRETS_REVEAL)
    access.require_not_portal_owned(cluster, namespace, kind, name, api_version=api_version)


def _get_live(read: gateway.LiveRead, resource: ApiResource, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        return read.client.get_object(resource.kind, name, namespace, resource=objects.client_resource(resource),
                                      timeout=read.budget, attempts=1)
    except kube.NotFound:
        return None


def _dry_run(read: gateway.LiveRead, resource: ApiResource, obj: dict[str, Any], manager: str, *, text: str,
             document: int = 0) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The object as a dry-run apply would leave it, and the conflicts an unforced apply meets
    (then the result is the forced one's, so the diff shows what forcing would do). A 422 is
    ``api_invalid`` with its causes on their lines of ``text``."""
    target = objects.client_resource(resource)
    try:
        try:
            return read.client.apply(obj, field_manager=manager, force=False, dry_run=True, resource=target,
                                     timeout=read.budget, attempts=1), []
        except kube.Conflict as exc:
            found = objects.conflicts(exc.body, str(exc))
            return read.client.apply(obj, field_manager=manager, force=True, dry_run=True, resource=target,
                                     timeout=read.budget, attempts=1), found
    except kube.Invalid as exc:
        raise objects.api_invalid(exc.body, str(exc), text=text, document=document) from exc
    except kube.KubeError as exc:
        if exc.status == 400:  # the API server could not decode the object (a field of the wrong type)
            raise objects.api_invalid(exc.body, str(exc), text=text, document=document) from exc
        raise


def _manager(request: Request) -> str:
    return objects.field_manager(request.user.get_username())


CLUSTER_ID = OpenApiParameter("cluster_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The cluster's id.")
OBJECT_PARAMS = [
    CLUSTER_ID,
    OpenApiParameter("group", OpenApiTypes.STR, OpenApiParameter.PATH, description='API group, "core" for ""'),
    OpenApiParameter("version", OpenApiTypes.STR, OpenApiParameter.PATH),
    OpenApiParameter("plural", OpenApiTypes.STR, OpenApiParameter.PATH, description="Resource, e.g. deployments"),
    OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH),
    OpenApiParameter("namespace", OpenApiTypes.STR, description="The object's namespace (namespaced kinds)."),
]
BAD_INPUT = OpenApiResponse(description="yaml_invalid (errors.yaml: [{line, message}]), multiple_documents, "
                                        "name_changed, kind_changed, api_version_changed, namespace_changed, "
                                        "kind_not_served, namespace_required, api_invalid (the API server's "
                                        "causes: errors.yaml [{field, line, message}])")
FAILURES = {
    400: BAD_INPUT,
    403: OpenApiResponse(description="grant_missing, namespace_forbidden, operator_required or portal_owned (one "
                                     "of the portal's own objects: a service map's Namespace, quota, limits, pull "
                                     "secrets) (clusters.access)"),
    404: OpenApiResponse(description="No such cluster, kind (unknown_resource) or object (object_not_found)"),
    502: OpenApiResponse(description="The cluster answered with an error or refused the credentials"),
    503: OpenApiResponse(description="cluster_unreachable or cluster_timeout"),
}


class _ObjectView(APIView):
    permission_classes = (IsAuthenticated,)

    def edited(self, request: Request, resource: ApiResource, name: str, namespace: str, text: str
               ) -> dict[str, Any]:
        doc = objects.parse_one(text)
        return objects.check_identity(doc, api_version=resource.group_version, kind=resource.kind, name=name,
                                      namespace=namespace)


# ---------------------------------------------------------------------------- one object


class ObjectView(_ObjectView):
    """The object as the YAML editor starts from it, with who manages it and what the caller may do."""

    @extend_schema(parameters=OBJECT_PARAMS, responses={200: ObjectEditSerializer, **FAILURES},
                   operation_id="clusters_objects_retrieve", summary="One object for the YAML editor")
    def get(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        cluster = _cluster(request, cluster_id)
        with gateway.live_read(cluster, f"reading {plural}/{name}", gone=f"There is no {plural} {name}.") as read:
            resource = _resolve(cluster, read, group, version, plural)
            namespace = _namespace(request.user, cluster, resource, request, name)
            live = read.client.get_object(resource.kind, name, namespace, resource=objects.client_resource(resource),
                                          timeout=read.budget, attempts=1)
        metadata = live.get("metadata") or {}
        return Response({
            "api_version": resource.group_version, "kind": resource.kind, "namespace": namespace, "name": name,
            "resource_version": str(metadata.get("resourceVersion") or ""),
            "yaml": objects.edit_yaml(live, api_version=resource.group_version, kind=resource.kind),
            "owner_release": owners.release_owner(request.user, metadata.get("labels"), cluster_id=cluster.pk,
                                                  namespace=namespace),
            "owners": list(metadata.get("ownerReferences") or []),
            "permissions": access.object_permissions(request.user, cluster, namespace, kind=resource.kind, name=name,
                                                     api_version=resource.group_version),
            "managers": objects.managers(live),
        })


class ObjectPreviewView(_ObjectView):
    """A server-side dry run of the edited object: the diff against live and any conflicts."""

    @extend_schema(parameters=OBJECT_PARAMS, request=YamlRequestSerializer,
                   responses={200: PreviewSerializer, **FAILURES}, operation_id="clusters_objects_preview",
                   summary="Dry-run an edit (server-side apply, nothing is changed)")
    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        cluster = _cluster(request, cluster_id)
        with gateway.live_read(cluster, f"previewing {plural}/{name}", gone=f"There is no {plural} {name}.") as read:
            resource = _resolve(cluster, read, group, version, plural)
            namespace = _namespace(request.user, cluster, resource, request, name)
            _require_edit(request.user, cluster, namespace, resource.kind, resource.group_version, name=name)
            text = str(_body(request, YamlRequestSerializer)["yaml"])
            obj = self.edited(request, resource, name, namespace, text)
            live = read.client.get_object(resource.kind, name, namespace, resource=objects.client_resource(resource),
                                          timeout=read.budget, attempts=1)
            obj = objects.unmask_secret(obj, live)
            result, found = _dry_run(read, resource, obj, _manager(request), text=text)
        changed = objects.diff(live, result, name=name)
        kind = {"api_version": resource.group_version, "kind": resource.kind}
        return Response({"changed": bool(changed), "diff": changed, "live_yaml": objects.edit_yaml(live, **kind),
                         "result_yaml": objects.edit_yaml(result, **kind), "conflicts": found})


class ObjectApplyView(_ObjectView):
    """Apply the edited object (202): an ObjectAction the console follows."""

    @extend_schema(parameters=OBJECT_PARAMS, request=ApplyRequestSerializer,
                   responses={202: ObjectActionSerializer, **FAILURES}, operation_id="clusters_objects_apply",
                   summary="Apply an edit with server-side apply under portal:<username>",
                   description="Checked first (YAML, identity, grants, a forced dry run for the API server's "
                               "validation); the apply itself is not forced unless `force`: a field another "
                               "manager owns ends the action with status `conflict` and `result.conflicts`.")
    def post(self, request: Request, cluster_id: str, group: str, version: str, plural: str, name: str) -> Response:
        cluster = _cluster(request, cluster_id)
        with gateway.live_read(cluster, f"checking {plural}/{name}", gone=f"There is no {plural} {name}.") as read:
            resource = _resolve(cluster, read, group, version, plural)
            namespace = _namespace(request.user, cluster, resource, request, name)
            _require_edit(request.user, cluster, namespace, resource.kind, resource.group_version, name=name)
            body = _body(request, ApplyRequestSerializer)
            text = str(body["yaml"])
            obj = self.edited(request, resource, name, namespace, text)
            live = read.client.get_object(resource.kind, name, namespace, resource=objects.client_resource(resource),
                                          timeout=read.budget, attempts=1)
            _dry_run(read, resource, objects.unmask_secret(obj, live), _manager(request), text=text)
        action = object_actions.request_action(
            request.user, cluster, group=resource.group, version=resource.version, plural=resource.plural,
            kind=resource.kind, namespace=namespace, name=name, action=ObjectActionKind.APPLY,
            params={"force": bool(body.get("force"))}, manifest=text, request=request._request)
        return Response(objects.action_row(action), status=202)


# ---------------------------------------------------------------------------- create from YAML


def _create_namespace(request: Request) -> str:
    return str(request.query_params.get("namespace") or "")[:NAME_MAX_LENGTH]


class _CreateView(APIView):
    """Creating needs ``objects.edit`` in the namespace the request names (``?namespace=``: where
    documents without one go; without it, only operators may create, documents without a
    namespace going to ``default``), checked before the body is read, and in every document's
    namespace."""

    permission_classes = (IsAuthenticated,)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        cluster = _cluster(request, str(kwargs["cluster_id"]))
        access.require_object_action(request.user, cluster, _create_namespace(request), access.OBJECTS_EDIT)

    def plan(self, request: Request, cluster: Cluster, read: gateway.LiveRead, text: str
             ) -> list[tuple[objects.Document, ApiResource, str, dict[str, Any]]]:
        """Each document with its served kind, namespace and the object to apply; refused as a
        whole (nothing applied) when one names a kind the cluster does not serve or a namespace
        the caller may not change."""
        docs = objects.parse_documents(text, many=True)
        default = _create_namespace(request) or "default"
        out = []
        for doc in docs:
            try:
                served = read.client.resource(doc.api_version, doc.kind, timeout=read.budget)
            except kube.UnknownKind as exc:
                message = f"Document {doc.index + 1} (line {doc.line}): {exc}"
                raise errors.Invalid(message, code="kind_not_served",
                                     params={"kind": doc.kind, "api_version": doc.api_version, "document": doc.index,
                                             "line": doc.line,
                                             "lines": [{"line": doc.line, "message": message, "document": doc.index}]},
                                     errors={"yaml": [message]}) from exc
            group, _, version = served.api_version.rpartition("/")
            resource = ApiResource(group=group, version=version, plural=served.plural, kind=served.kind,
                                   namespaced=served.namespaced)
            namespace = (doc.namespace or default) if served.namespaced else ""
            _require_edit(request.user, cluster, namespace, doc.kind, doc.api_version, name=doc.name)
            obj = dict(doc.obj)
            obj["metadata"] = {k: v for k, v in doc.obj["metadata"].items() if k != "namespace"}
            if namespace:
                obj["metadata"]["namespace"] = namespace
            out.append((doc, resource, namespace, obj))
        return out


class CreatePreviewView(_CreateView):
    """A dry run of every document: whether it exists, the diff, conflicts and errors."""

    @extend_schema(parameters=[CLUSTER_ID, OpenApiParameter("namespace", OpenApiTypes.STR, description=(
        "Where documents without a namespace go (default: default)."))], request=YamlRequestSerializer,
        responses={200: CreatePreviewSerializer, **FAILURES}, operation_id="clusters_objects_create_preview",
        summary="Dry-run creating (or applying) objects from YAML: one or many documents")
    def post(self, request: Request, cluster_id: str) -> Response:
        cluster = _cluster(request, cluster_id)
        text = str(_body(request, YamlRequestSerializer)["yaml"])
        rows = []
        with gateway.live_read(cluster, "previewing the objects") as read:
            plan = self.plan(request, cluster, read, text)
            created_namespaces = {d.name for d, r, _n, _o in plan if r.plural == "namespaces" and r.group == ""}
            for doc, resource, namespace, obj in plan:
                row: dict[str, Any] = {"index": doc.index, "line": doc.line, "api_version": doc.api_version,
                                       "kind": doc.kind, "namespace": namespace, "name": doc.name, "exists": False,
                                       "changed": False, "diff": "", "conflicts": [], "errors": []}
                rows.append(row)
                live = _get_live(read, resource, doc.name, namespace)
                row["exists"] = live is not None
                try:
                    result, row["conflicts"] = _dry_run(read, resource, objects.unmask_secret(obj, live),
                                                        _manager(request), text=text, document=doc.index)
                except errors.Invalid as exc:
                    row["errors"] = exc.params.get("lines") or [{"field": "", "line": doc.line,
                                                                  "message": exc.message}]
                    continue
                except kube.NotFound as exc:
                    if namespace in created_namespaces:  # created by an earlier document
                        result = obj
                    else:
                        row["errors"] = [{"field": "metadata.namespace", "line": doc.line, "message": str(exc)}]
                        continue
                row["diff"] = objects.diff(live, result, name=f"{doc.kind}/{doc.name}")
                row["changed"] = bool(row["diff"])
        return Response({"documents": rows})


class CreateView(_CreateView):
    """Create (or apply) every document (202): an ObjectAction with per-document results."""

    @extend_schema(parameters=[CLUSTER_ID, OpenApiParameter("namespace", OpenApiTypes.STR, description=(
        "Where documents without a namespace go (default: default)."))], request=ApplyRequestSerializer,
        responses={202: ObjectActionSerializer, **FAILURES}, operation_id="clusters_objects_create",
        summary="Create objects from YAML (server-side apply of each document)",
        description="Every document is dry-run by the task before any is applied: one that fails leaves "
                    "everything unapplied, `result.documents` says which and why.")
    def post(self, request: Request, cluster_id: str) -> Response:
        cluster = _cluster(request, cluster_id)
        body = _body(request, ApplyRequestSerializer)
        text = str(body["yaml"])
        with gateway.live_read(cluster, "checking the objects") as read:
            plan = self.plan(request, cluster, read, text)
        default = _create_namespace(request) or "default"
        namespaces = sorted({namespace for _d, _r, namespace, _o in plan if namespace})
        one = plan[0] if len(plan) == 1 else None
        action = object_actions.request_action(
            request.user, cluster, group=one[1].group if one else "", version=one[1].version if one else "",
            plural=one[1].plural if one else "", kind=one[0].kind if one else "",
            namespace=one[2] if one else (namespaces[0] if len(namespaces) == 1 else ""),
            name=one[0].name if one else "", action=ObjectActionKind.CREATE,
            # targets: where each document goes, as checked here; the task applies it exactly there.
            params={"force": bool(body.get("force")), "namespace": default, "documents": len(plan),
                    "namespaces": namespaces, "targets": [{"index": d.index, "namespace": n} for d, _r, n, _o in plan]},
            manifest=text, secret=any(d.is_secret for d, _r, _n, _o in plan), request=request._request,
            detail={"documents": [{"kind": d.kind, "namespace": n, "name": d.name} for d, _r, n, _o in plan]})
        return Response(objects.action_row(action), status=202)


# ---------------------------------------------------------------------------- actions


class ObjectActionPagination(KeysetPagination):
    page_size = 50


class ObjectActionListView(generics.ListAPIView[ObjectAction]):
    """A cluster's object actions, newest first; filter by namespace, kind, name, action, status."""

    permission_classes = (IsAuthenticated,)
    queryset = ObjectAction.objects.none()
    serializer_class = ObjectActionSerializer
    pagination_class = ObjectActionPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"created": ("created", "id")}
    default_ordering = "-created"
    FILTERS: ClassVar[tuple[str, ...]] = ("namespace", "kind", "name", "action", "status")

    @extend_schema(parameters=[CLUSTER_ID, *[OpenApiParameter(f, OpenApiTypes.STR) for f in FILTERS]],
                   operation_id="clusters_actions_list", summary="Object actions of a cluster (keyset paged)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ObjectAction]:
        cluster = _cluster(self.request, self.kwargs["cluster_id"])
        rows = access.visible_object_actions(self.request.user).filter(cluster=cluster)
        for name in self.FILTERS:
            value = self.request.query_params.get(name)
            if value is not None:
                rows = rows.filter(**{name: value[:NAME_MAX_LENGTH]})
        return rows


class ObjectActionDetailView(generics.RetrieveAPIView[ObjectAction]):
    """One object action (the console follows it until it finishes, and by the objects.action event)."""

    permission_classes = (IsAuthenticated,)
    queryset = ObjectAction.objects.none()
    serializer_class = ObjectActionSerializer

    @extend_schema(operation_id="clusters_actions_retrieve", summary="One object action")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ObjectAction]:
        return access.visible_object_actions(self.request.user)
