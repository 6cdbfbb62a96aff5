"""Views of the clusters API: clusters (register, change, credentials, check, delete), the
inventory read model per cluster, cross-cluster search, and node operations.

Declarative where possible: a queryset scoped by :class:`clusters.access.ClusterAccess` (through
:class:`portal.api.viewsets.AccessMixin`), a serializer, a filterset and an ordering table for
keyset pagination; who may see which namespaces and operate nodes is asked of the same class. Writes call
:mod:`clusters.actions`. Lists read only the read model; the pod detail and the drain preview ask
the cluster inline, through :mod:`clusters.gateway` (one strict time budget; 503
``cluster_timeout``/``cluster_unreachable`` when it does not answer), and registration tries the
endpoint once so it can refuse what will not work.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from django.db.models import BigIntegerField, Case, FloatField, IntegerField, QuerySet, TextField, Value, When
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from clusters import actions, gateway, services
from clusters.access import ClusterAccess, cluster_access
from clusters.api.pagination import InventoryPagination, KeysetPagination
from clusters.api.serializers import (
    ClusterDetailSerializer,
    ClusterRegisterSerializer,
    ClusterSerializer,
    ClusterUpdateSerializer,
    ConnectionSerializer,
    DrainOptionsSerializer,
    DrainPreviewSerializer,
    KubeconfigContextsSerializer,
    KubeconfigSerializer,
    KubeObjectSerializer,
    NodeDetailSerializer,
    NodeOperationSerializer,
    NodeSerializer,
    PodDetailSerializer,
    SearchResultSerializer,
)
from clusters.filtersets import (
    WORKLOAD_KINDS,
    ClusterFilterSet,
    EventFilterSet,
    NamespacedFilterSet,
    NamespaceFilterSet,
    NodeFilterSet,
    PodFilterSet,
    SearchFilterSet,
    WorkloadFilterSet,
)
from clusters.models import Cluster, KubeObject, NodeOperation, NodeOperationKind
from clusters.readmodel import cluster_freshness, kind_freshness, node_pod_figures
from portal import audit
from portal.api.exceptions import Conflict
from portal.api.permissions import IsSystemAdmin
from portal.api.viewsets import AccessMixin


def _connect(data: dict[str, Any], request: Request) -> tuple[services.ValidatedConnection, str]:
    """Validate the connection fields with the client layer and try them once; a 400 on the
    field to fix if anything is wrong."""
    insecure_permitted = cluster_access().can(request.user, "allow_insecure")
    try:
        connection = services.validate_connection(data, insecure_permitted=insecure_permitted)
        version = services.probe(connection, namespaces=list(data.get("namespaces") or []))
    except services.FieldProblem as problem:
        raise exceptions.ValidationError({problem.field: [problem.message]}) from problem
    return connection, version


ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field"),
    403: OpenApiResponse(description="Not allowed"),
    404: OpenApiResponse(description="No such cluster (or not visible to you)"),
}
CLUSTER_ID = OpenApiParameter("cluster_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The cluster's id.")


def _summary_number(path: str, output: Any) -> Any:
    return Coalesce(Cast(KT(f"summary__{path}"), output), Value(0), output_field=output)


# ---------------------------------------------------------------------------- clusters


@extend_schema_view(
    list=extend_schema(summary="List clusters with status, freshness and summary figures"),
    retrieve=extend_schema(responses=ClusterDetailSerializer),
)
class ClusterViewSet(AccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Cluster]):
    """Registered clusters. Everyone sees the clusters :class:`ClusterAccess` allows; system
    admins register, change, re-check and delete them."""

    queryset = Cluster.objects.none()
    access_model = Cluster
    serializer_class = ClusterSerializer
    filterset_class = ClusterFilterSet
    pagination_class = KeysetPagination
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {
        "name": ("name",),
        "status": ("status", "name"),
        "provider": ("provider", "name"),
        "region": ("region", "name"),
        "stage": ("stage", "name"),
        "kubernetes_version": ("kubernetes_version", "name"),
        "nodes_ready": ("o_nodes_ready", "name"),
        "cpu_capacity": ("o_cpu_capacity", "name"),
        "memory_capacity": ("o_memory_capacity", "name"),
        "pods_running": ("o_pods_running", "name"),
        "last_sync": ("last_sync", "name"),
    }
    nullable_ordering_fields = ("last_sync",)
    default_ordering = "name"

    def get_permissions(self) -> list[BasePermission]:
        if self.action in ("list", "retrieve"):
            return [IsAuthenticated()]
        return [IsSystemAdmin()]

    def scope_queryset(self, queryset: QuerySet[Cluster]) -> QuerySet[Cluster]:
        queryset = queryset.annotate(
            o_nodes_ready=_summary_number("nodes_ready", IntegerField()),
            o_cpu_capacity=_summary_number("cpu__capacity", FloatField()),
            o_memory_capacity=_summary_number("memory__capacity", BigIntegerField()),
            o_pods_running=_summary_number("pods__running", IntegerField()),
        )
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("syncs")
        elif self.action == "list":  # rows never show these; the ciphertext need not even be read
            queryset = queryset.defer("ca_pem", "credentials_encrypted", "tls_server_name")
        return queryset

    def get_serializer_class(self) -> type[Any]:
        return ClusterDetailSerializer if self.action == "retrieve" else ClusterSerializer

    def _rows(self, clusters: list[Cluster], serializer: type[ClusterSerializer] = ClusterSerializer) -> Any:
        return serializer(clusters, many=True, context={"freshness": cluster_freshness(clusters)}).data

    def _row(self, cluster: Cluster, serializer: type[ClusterSerializer] = ClusterSerializer) -> Any:
        return serializer(cluster, context={"freshness": cluster_freshness([cluster])}).data

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        assert page is not None
        return self.get_paginated_response(self._rows(list(page)))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._row(self.get_object(), ClusterDetailSerializer))

    @extend_schema(request=ClusterRegisterSerializer, responses={202: ClusterSerializer, **ERROR_RESPONSES},
                   summary="Register a cluster (checked in the background)")
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ClusterRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        connection, version = _connect(data, request)
        cluster = actions.register_cluster(
            fields=data, spec=connection.spec, source=connection.source, actor=request.user,
            request=request._request, kubernetes_version=version,
        )
        return Response(self._row(cluster), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ClusterUpdateSerializer, responses={200: ClusterSerializer, **ERROR_RESPONSES},
                   summary="Change a cluster's description, labels, or enable/disable it")
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        cluster = self.get_object()
        serializer = ClusterUpdateSerializer(cluster, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        cluster = actions.update_cluster(cluster=cluster, changes=dict(serializer.validated_data), actor=request.user,
                                         request=request._request)
        return Response(self._row(cluster))

    @extend_schema(responses={204: None, 403: OpenApiResponse(description="Not allowed"),
                              404: OpenApiResponse(description="No such cluster")},
                   summary="Delete a cluster and its read model (audit history stays)")
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        actions.delete_cluster(cluster=self.get_object(), actor=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ConnectionSerializer, responses={202: ClusterSerializer, **ERROR_RESPONSES},
                   summary="Replace the connection and credentials")
    @action(detail=True, methods=["post"])
    def credentials(self, request: Request, pk: str | None = None) -> Response:
        cluster = self.get_object()
        serializer = ConnectionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection, _version = _connect({**serializer.validated_data, "namespaces": cluster.namespaces}, request)
        cluster = actions.replace_credentials(cluster=cluster, spec=connection.spec, source=connection.source,
                                              actor=request.user, request=request._request)
        return Response(self._row(cluster), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ClusterSerializer, **ERROR_RESPONSES},
                   summary="Re-run the connectivity and permission check")
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        cluster = actions.request_check(cluster=self.get_object(), actor=request.user, request=request._request)
        return Response(self._row(cluster), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=KubeconfigSerializer, responses={200: KubeconfigContextsSerializer, **ERROR_RESPONSES},
                   summary="List a kubeconfig's contexts (nothing is stored or contacted)")
    @action(detail=False, methods=["post"], url_path="kubeconfig-contexts", pagination_class=None,
            filterset_class=None)
    def kubeconfig_contexts(self, request: Request) -> Response:
        serializer = KubeconfigSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        audit.describe(request, action="cluster.inspect_kubeconfig")
        try:
            result = services.list_kubeconfig_contexts(serializer.validated_data["kubeconfig"])
        except services.FieldProblem as problem:
            raise exceptions.ValidationError({problem.field: [problem.message]}) from problem
        return Response(KubeconfigContextsSerializer(result).data)


# ---------------------------------------------------------------------------- inventory


class ClusterScopedMixin:
    """Resolves ``cluster_id`` from the URL through :class:`ClusterAccess` (404 otherwise), and
    narrows objects to what the caller may see there (:meth:`ClusterAccess.scope_objects`)."""

    kwargs: dict[str, Any]
    request: Any

    @property
    def cluster_access(self) -> ClusterAccess:
        return cluster_access()

    @cached_property
    def cluster(self) -> Cluster:
        return get_object_or_404(self.cluster_access.visible(self.request.user), pk=self.kwargs["cluster_id"])

    @cached_property
    def namespaces(self) -> list[str] | None:
        return self.cluster_access.namespaces(self.request.user, self.cluster.pk)

    def scope_objects(self, queryset: QuerySet[KubeObject], kinds: tuple[str, ...]) -> QuerySet[KubeObject]:
        return self.cluster_access.scope_objects(self.request.user, self.cluster, queryset, kinds)


@extend_schema_view(list=extend_schema(parameters=[CLUSTER_ID]))
class InventoryViewSet(ClusterScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet[KubeObject]):
    """One kind (or family of kinds) of the read model of one cluster. Never calls the cluster."""

    kinds: ClassVar[tuple[str, ...]] = ()
    queryset = KubeObject.objects.none()
    serializer_class = KubeObjectSerializer
    pagination_class = InventoryPagination
    filterset_class: Any = NamespacedFilterSet
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {
        "name": ("name", "namespace"),
        "namespace": ("namespace", "name"),
    }
    default_ordering = "namespace"

    def get_queryset(self) -> QuerySet[KubeObject]:
        return self.scope_objects(KubeObject.objects.filter(cluster=self.cluster, kind__in=self.kinds), self.kinds)

    def get_freshness(self) -> dict[str, Any]:
        return kind_freshness(self.cluster, self.kinds)


class NamespaceViewSet(InventoryViewSet):
    kinds = ("Namespace",)
    filterset_class = NamespaceFilterSet
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "namespace")}
    default_ordering = "name"


class WorkloadViewSet(InventoryViewSet):
    kinds = WORKLOAD_KINDS
    filterset_class = WorkloadFilterSet
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {
        "name": ("name", "namespace", "kind"),
        "namespace": ("namespace", "name", "kind"),
        "kind": ("kind", "namespace", "name"),
    }


class ServiceViewSet(InventoryViewSet):
    kinds = ("Service",)


class IngressViewSet(InventoryViewSet):
    kinds = ("Ingress",)


class VolumeViewSet(InventoryViewSet):
    kinds = ("PersistentVolume",)
    default_ordering = "name"


class ClaimViewSet(InventoryViewSet):
    kinds = ("PersistentVolumeClaim",)


class StorageClassViewSet(InventoryViewSet):
    kinds = ("StorageClass",)
    default_ordering = "name"


class QuotaViewSet(InventoryViewSet):
    kinds = ("ResourceQuota",)


class HorizontalPodAutoscalerViewSet(InventoryViewSet):
    kinds = ("HorizontalPodAutoscaler",)


class EventViewSet(InventoryViewSet):
    """Events, Warnings first and then newest (``-importance``, the default)."""

    kinds = ("Event",)
    filterset_class = EventFilterSet
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"importance": ("o_warning", "o_last_seen", "id")}
    default_ordering = "-importance"

    def get_queryset(self) -> QuerySet[KubeObject]:
        return super().get_queryset().annotate(
            o_warning=Case(When(phase="Warning", then=Value(1)), default=Value(0), output_field=IntegerField()),
            o_last_seen=Coalesce(KT("data__last_seen"), Value(""), output_field=TextField()),
        )


class PodViewSet(InventoryViewSet):
    """Pods, server-side filtered and sorted, with keyset pagination that stays fast at 100k."""

    kinds = ("Pod",)
    filterset_class = PodFilterSet
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {
        "name": ("name", "namespace"),
        "namespace": ("namespace", "name"),
        "created": ("created", "id"),
        "restarts": ("o_restarts", "id"),
        "phase": ("phase", "id"),
        "node_name": ("node_name", "id"),
    }
    nullable_ordering_fields = ("created",)

    def get_queryset(self) -> QuerySet[KubeObject]:
        # The same expression as the kubeobject_page_restarts index, so ordering by it seeks.
        return super().get_queryset().annotate(o_restarts=Cast(KeyTextTransform("restarts", "data"), IntegerField()))


@extend_schema_view(
    list=extend_schema(parameters=[CLUSTER_ID]),
    retrieve=extend_schema(parameters=[CLUSTER_ID], responses={200: NodeDetailSerializer, 404: OpenApiResponse(
        description="No such node in the read model")}),
)
class NodeViewSet(mixins.RetrieveModelMixin, InventoryViewSet):
    """Nodes with ``requests`` and ``pod_count`` aggregated from their pods (one query per page),
    and the node operations cordon, uncordon and drain."""

    kinds = ("Node",)
    filterset_class = NodeFilterSet
    serializer_class = NodeSerializer
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "namespace")}
    default_ordering = "name"

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        figures = node_pod_figures(self.cluster.pk, [n.name for n in page])
        return self.get_paginated_response(NodeSerializer(page, many=True, context={"node_figures": figures}).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        node = get_object_or_404(self.get_queryset(), name=self.kwargs["name"])
        pods = list(KubeObject.objects.filter(cluster=self.cluster, kind="Pod", node_name=node.name)
                    .order_by("namespace", "name")[:1000])
        context = {"node_figures": node_pod_figures(self.cluster.pk, [node.name]), "pods": pods}
        return Response(NodeDetailSerializer(node, context=context).data)

    def _operate(self, request: Request, kind: str, options: dict[str, bool] | None = None) -> Response:
        self.cluster_access.require(request.user, "operate_nodes", self.cluster)
        node = get_object_or_404(self.get_queryset(), name=self.kwargs["name"])
        try:
            op = actions.start_node_operation(cluster=self.cluster, node=node.name, kind=kind, actor=request.user,
                                              request=request._request, options=options)
        except actions.OperationInProgress as exc:
            raise Conflict(str(exc)) from exc
        return Response(NodeOperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, parameters=[CLUSTER_ID], responses={202: NodeOperationSerializer, **ERROR_RESPONSES,
                   409: OpenApiResponse(description="Another operation on this node is running")})
    @action(detail=True, methods=["post"], pagination_class=None, filterset_class=None)
    def cordon(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._operate(request, NodeOperationKind.CORDON)

    @extend_schema(request=None, parameters=[CLUSTER_ID], responses={202: NodeOperationSerializer, **ERROR_RESPONSES,
                   409: OpenApiResponse(description="Another operation on this node is running")})
    @action(detail=True, methods=["post"], pagination_class=None, filterset_class=None)
    def uncordon(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._operate(request, NodeOperationKind.UNCORDON)

    @extend_schema(request=DrainOptionsSerializer, parameters=[CLUSTER_ID], responses={
        202: NodeOperationSerializer, **ERROR_RESPONSES,
        409: OpenApiResponse(description="Another operation on this node is running")},
        description="Cordon, then evict the node's pods. As `kubectl drain`, pods that declare no controller need "
                    "`force` and pods with emptyDir volumes need `delete_emptydir_data`; without them the operation "
                    "fails before evicting anything, with those pods in `progress.blocked`. See drain-preview.")
    @action(detail=True, methods=["post"], pagination_class=None, filterset_class=None)
    def drain(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        options = DrainOptionsSerializer(data=request.data if request.data else {})
        options.is_valid(raise_exception=True)
        return self._operate(request, NodeOperationKind.DRAIN, options=dict(options.validated_data))

    @extend_schema(parameters=[
        CLUSTER_ID,
        OpenApiParameter("force", OpenApiTypes.BOOL, description="Plan with force (default false)"),
        OpenApiParameter("delete_emptydir_data", OpenApiTypes.BOOL,
                         description="Plan with delete_emptydir_data (default false)")],
        responses={200: DrainPreviewSerializer, **ERROR_RESPONSES,
                   502: OpenApiResponse(description="The cluster answered with an error"),
                   503: OpenApiResponse(description="cluster_timeout or cluster_unreachable")},
        summary="What a drain with these options would do to each pod on the node, read live from the cluster")
    @action(detail=True, methods=["get"], url_path="drain-preview", pagination_class=None, filterset_class=None)
    def drain_preview(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.cluster_access.require(request.user, "preview_drain", self.cluster)
        node = get_object_or_404(self.get_queryset(), name=self.kwargs["name"])
        query = DrainOptionsSerializer(data={k: request.query_params[k] for k in ("force", "delete_emptydir_data")
                                             if k in request.query_params})
        query.is_valid(raise_exception=True)
        options = services.DrainOptions.of(query.validated_data)
        with gateway.live_read(self.cluster, "listing the node's pods") as read:
            pods = services.drain_preview(read.client, node.name, options)
        return Response({
            "node": node.name, "options": dict(query.validated_data), "pods": pods,
            "blocked": sum(1 for p in pods if p["action"] == "blocked"),
            "lost": [p["pod"] for p in pods if p["action"] == "evict" and p["needs"]],
        })


@extend_schema_view(
    retrieve=extend_schema(
        parameters=[CLUSTER_ID, OpenApiParameter("namespace", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={200: PodDetailSerializer, 404: OpenApiResponse(description="No such pod"),
                   502: OpenApiResponse(description="The cluster answered with an error"),
                   503: OpenApiResponse(description="cluster_timeout or cluster_unreachable")},
    )
)
class PodDetailViewSet(ClusterScopedMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[KubeObject]):
    """One pod: its projection from the read model plus the full object fetched live."""

    queryset = KubeObject.objects.none()
    serializer_class = PodDetailSerializer
    lookup_field = "name"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[KubeObject]:
        pods = KubeObject.objects.filter(cluster=self.cluster, kind="Pod", namespace=self.kwargs["namespace"])
        return self.scope_objects(pods, ("Pod",))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pod = self.get_object()
        with gateway.live_read(self.cluster, "fetching the pod",
                               gone=f"Pod {pod.namespace}/{pod.name} no longer exists in the cluster.") as read:
            live = services.fetch_pod(read.client, namespace=pod.namespace, name=pod.name)
        return Response(PodDetailSerializer(pod, context={"object": live}).data)


@extend_schema_view(retrieve=extend_schema(parameters=[CLUSTER_ID]))
class NodeOperationViewSet(ClusterScopedMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[NodeOperation]):
    """A node operation and its progress."""

    queryset = NodeOperation.objects.none()
    serializer_class = NodeOperationSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[NodeOperation]:
        return self.cluster_access.node_operations(self.request.user, self.cluster)


# ---------------------------------------------------------------------------- search

SEARCH_KINDS = {"pods": ("Pod",), "workloads": WORKLOAD_KINDS, "services": ("Service",)}


class SearchViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[KubeObject]):
    """Pods, workloads and services by name prefix or label selector across every cluster the
    caller may see."""

    queryset = KubeObject.objects.none()
    serializer_class = SearchResultSerializer
    filterset_class = SearchFilterSet
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "id")}
    default_ordering = "name"

    def get_queryset(self) -> QuerySet[KubeObject]:
        params = self.request.query_params
        if not params.get("q") and not params.get("label_selector"):
            raise exceptions.ValidationError({"q": ["Give a name prefix (q) or a label_selector."]})
        wanted: list[str] = []
        for value in params.getlist("kind") or list(SEARCH_KINDS):
            for part in value.split(","):
                if part.strip() not in SEARCH_KINDS:
                    raise exceptions.ValidationError({"kind": [f"Search one or more of: {', '.join(SEARCH_KINDS)}."]})
                wanted.extend(SEARCH_KINDS[part.strip()])
        access = cluster_access()
        queryset = KubeObject.objects.filter(cluster__in=access.visible(self.request.user), kind__in=wanted)
        scope = access.namespaced_filter(self.request.user)
        if scope is not None:
            queryset = queryset.filter(scope)
        return queryset.select_related("cluster")

    @extend_schema(parameters=[OpenApiParameter(
        "kind", OpenApiTypes.STR, description="pods, workloads and/or services (comma-separated); default all.")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)
