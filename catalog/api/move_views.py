"""Moving a service map to another cluster (docs/moves.md): plan, start, follow, retire the source.

* ``POST /api/catalog/moves/plan/`` (200): what the move would do, read from both clusters through
  :mod:`clusters.gateway` (one time budget each); ``ok`` false with ``problems`` when it cannot start.
* ``POST /api/catalog/moves/`` (202): the move, started (the target service map created, the task
  enqueued), or a 4xx with the first problem's stable code, nothing written.
* ``GET /api/catalog/moves/`` (``?service_map=&workspace=``, keyset by ``-created``) and
  ``GET /api/catalog/moves/{id}/``: the move with its ledger (``steps``) and release lines.
* ``POST /api/catalog/moves/{id}/retire-source/`` ``{confirm: "<source namespace>"}`` (202).

Moves are seen by whoever sees their workspace (others: 404). Starting needs
:data:`catalog.access.MOVE_GRANTS` in the workspace, retiring ``servicemaps.manage``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from catalog import access, move_actions, moving
from catalog.models import Move, MoveStatus, MoveStepState
from clusters import gateway
from clusters.api.pagination import KeysetPagination
from portal import errors
from portal.api.params import id_param
from portal.api.serializers import StrictSerializer
from workspaces import access as ws_access
from workspaces.models import ServiceMap

ERRORS = {
    400: OpenApiResponse(description="Invalid input: move_same_cluster, move_no_allocation, move_quota_exceeded, "
                                     "move_release_invalid, namespace_invalid, namespace_reserved, confirm_mismatch"),
    403: OpenApiResponse(description="Your role lacks a grant (servicemaps.manage, workloads.deploy, config.edit)"),
    404: OpenApiResponse(description="No such move or service map (or not visible to you)"),
    409: OpenApiResponse(description="move_in_progress, move_target_exists, move_not_finished, servicemap_deleting"),
}
READ_ERRORS = {**ERRORS, 503: OpenApiResponse(description="cluster_unreachable or cluster_timeout (a live read)")}


# ---------------------------------------------------------------------------- serializers


class MoveRequestSerializer(StrictSerializer):
    service_map = serializers.IntegerField()
    target_cluster = serializers.IntegerField()
    target_namespace = serializers.CharField(required=False, allow_blank=True, max_length=63, default="")


class RetireSerializer(StrictSerializer):
    confirm = serializers.CharField(max_length=63, allow_blank=True)


class MoveStepSerializer(serializers.Serializer[Any]):
    key = serializers.ChoiceField(choices=list(move_actions.STEP_KEYS))
    state = serializers.ChoiceField(choices=MoveStepState.choices)
    message = serializers.CharField()
    message_code = serializers.CharField()
    message_params = serializers.DictField()
    started = serializers.CharField(allow_null=True)
    finished = serializers.CharField(allow_null=True)


class MoveReleaseSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    version = serializers.CharField()
    source_release = serializers.IntegerField(allow_null=True)
    source_revision = serializers.IntegerField()
    target_release = serializers.IntegerField(allow_null=True)
    revision = serializers.IntegerField(allow_null=True)
    state = serializers.CharField(help_text="pending, applying, progressing, healthy, failed or skipped")
    message = serializers.CharField()
    message_code = serializers.CharField()
    message_params = serializers.DictField()


class MoveSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    workspace = serializers.IntegerField()
    source = serializers.IntegerField(allow_null=True)  # type: ignore[assignment]
    target = serializers.IntegerField(allow_null=True)
    source_cluster = serializers.IntegerField(allow_null=True)
    target_cluster = serializers.IntegerField(allow_null=True)
    source_cluster_name = serializers.CharField()
    target_cluster_name = serializers.CharField()
    source_namespace = serializers.CharField()
    target_namespace = serializers.CharField()
    quota = serializers.DictField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=MoveStatus.choices)
    message = serializers.CharField()
    message_code = serializers.CharField()
    message_params = serializers.DictField()
    steps = MoveStepSerializer(many=True)
    releases = MoveReleaseSerializer(many=True)
    created = serializers.CharField()
    updated = serializers.CharField(allow_null=True)
    finished = serializers.CharField(allow_null=True)
    retired = serializers.CharField(allow_null=True)
    created_by = serializers.CharField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return move_actions.move_row(instance, lines=instance.releases.all())


class MovePlanEndSerializer(serializers.Serializer[Any]):
    namespace = serializers.CharField()
    cluster = serializers.IntegerField()
    cluster_name = serializers.CharField()


class MovePlanSourceSerializer(MovePlanEndSerializer):
    id = serializers.IntegerField()


class MoveDryRunSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class MovePlanReleaseSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    package = serializers.CharField()
    version = serializers.CharField()
    source_revision = serializers.IntegerField()
    ok = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())
    pull_secrets = serializers.ListField(child=serializers.CharField())
    objects = serializers.IntegerField()
    dry_run = MoveDryRunSerializer(allow_null=True)


class MovePlanConfigSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()  # "ConfigMap" or "Secret"
    name = serializers.CharField()
    keys = serializers.ListField(child=serializers.CharField())


class MovePlanAutoscalerSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    kind = serializers.CharField()
    workload = serializers.CharField()
    min_replicas = serializers.IntegerField()
    max_replicas = serializers.IntegerField()


class MovePlanQuotaSerializer(serializers.Serializer[Any]):
    needed = serializers.DictField(child=serializers.CharField())
    available = serializers.DictField(child=serializers.CharField())
    ok = serializers.BooleanField()


class MovePlanProblemSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    params = serializers.DictField()


class MovePlanSerializer(serializers.Serializer[Any]):
    source = MovePlanSourceSerializer()  # type: ignore[assignment]
    target = MovePlanEndSerializer()
    releases = MovePlanReleaseSerializer(many=True)
    configs = MovePlanConfigSerializer(many=True)
    autoscalers = MovePlanAutoscalerSerializer(many=True)
    quota = MovePlanQuotaSerializer()
    pull_secrets = serializers.ListField(child=serializers.CharField())
    problems = MovePlanProblemSerializer(many=True)
    ok = serializers.BooleanField()


# ---------------------------------------------------------------------------- views


def _source(user: Any, pk: int) -> ServiceMap:
    sm = ws_access.visible_service_maps(user).select_related("workspace", "cluster").filter(pk=pk).first()
    if sm is None:
        message = f"No service map {pk} that you can see."
        raise errors.Invalid(f"Invalid input: service_map: {message}", errors={"service_map": [message]})
    return sm


FILTERS = [OpenApiParameter("service_map", OpenApiTypes.INT, description="Moves from or to this service map"),
           OpenApiParameter("workspace", OpenApiTypes.INT, description="Moves of this workspace")]


@extend_schema_view(
    list=extend_schema(parameters=FILTERS, summary="Moves of service maps, newest first"),
    retrieve=extend_schema(summary="A move with its ledger (steps) and release lines"),
)
class MoveViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Move]):
    queryset = Move.objects.none()
    serializer_class = MoveSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"created": ("created", "id")}
    default_ordering = "-created"
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Move]:
        queryset = access.visible_moves(self.request.user)
        workspace = id_param(self.request, "workspace")
        if workspace is not None:
            queryset = queryset.filter(workspace_id=workspace)
        sm = id_param(self.request, "service_map")
        if sm is not None:
            queryset = queryset.filter(Q(source_id=sm) | Q(target_id=sm))
        return queryset.select_related("created_by").prefetch_related("releases")

    @extend_schema(request=MoveRequestSerializer, responses={200: MovePlanSerializer, **READ_ERRORS},
                   summary="Plan a move: quota room, releases dry-run on the target, configs, autoscalers, pull "
                           "secrets (reads both clusters)")
    @action(detail=False, methods=["post"], pagination_class=None)
    def plan(self, request: Request) -> Response:
        data = MoveRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        source = _source(request.user, v["service_map"])
        access.require_move(request.user, source)
        checked = moving.check(user=request.user, source=source, target_cluster_id=v["target_cluster"],
                               target_namespace=v["target_namespace"] or None)
        with gateway.live_read(source.cluster, f"reading what {source.namespace} holds") as src, \
                gateway.live_read(checked.target_cluster, "dry-running the releases") as dst:
            return Response(moving.plan(checked, source_client=src.client, target_client=dst.client))

    @extend_schema(request=MoveRequestSerializer, responses={202: MoveSerializer, **ERRORS},
                   summary="Start a move: create the target service map, copy config, deploy the releases there")
    def create(self, request: Request) -> Response:
        data = MoveRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        source = _source(request.user, v["service_map"])
        move = moving.start(user=request.user, source=source, target_cluster_id=v["target_cluster"],
                            target_namespace=v["target_namespace"] or None, request=request._request)
        return Response(MoveSerializer(Move.objects.prefetch_related("releases").get(pk=move.pk)).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RetireSerializer, responses={202: MoveSerializer, **ERRORS},
                   summary="Retire the source once the move is healthy: deletes the source service map "
                           "(type its namespace to confirm)")
    @action(detail=True, methods=["post"], url_path="retire-source", pagination_class=None)
    def retire_source(self, request: Request, pk: str) -> Response:
        move = self.get_object()
        access.require_retire(request.user, move.workspace)  # the grant before the body: no hints
        data = RetireSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        done = move_actions.retire_source(move=move, confirm=data.validated_data["confirm"], user=request.user,
                                          request=request._request)
        return Response(MoveSerializer(Move.objects.prefetch_related("releases").get(pk=done.pk)).data,
                        status=status.HTTP_202_ACCEPTED)
