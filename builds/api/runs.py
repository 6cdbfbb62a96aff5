"""Views of build runs (docs/builds.md, "Runs"): the history newest first, one run with its steps,
a step's kept log from a byte offset, cancel and rebuild.

Scoped once: runs of workspaces the caller may see (:class:`builds.access.BuildRunAccess`), so a
foreign id answers 404. Cancel and rebuild need ``builds.run`` in the run's workspace (403
``grant_missing``), asked of the access class before anything is written; the writes are DEFS'
:func:`builds.actions.request_cancel` and :func:`builds.actions.rebuild`. Rows are
:mod:`builds.rows` (the same the ``buildrun.updated`` events carry), a page in a fixed number of
queries (steps loaded without their logs).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from builds import actions, rows, run_actions
from builds.api.definitions import RunRowSerializer
from builds.models import BuildRun, BuildStep, RunStatus, StepName, StepStatus
from portal import errors
from portal.api.pagination import KeysetPagination
from portal.api.params import id_param
from portal.api.serializers import StrictCharField
from portal.api.viewsets import AccessMixin

ERRORS = {
    403: OpenApiResponse(description="Your role lacks builds.run in the run's workspace"),
    404: OpenApiResponse(description="No such run or step (or not visible to you)"),
    409: OpenApiResponse(description="The run has finished (nothing to cancel)"),
}
FILTERS = [
    OpenApiParameter("workspace", OpenApiTypes.INT, description="Runs of this workspace"),
    OpenApiParameter("definition", OpenApiTypes.INT, description="Runs of this build definition"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in RunStatus],
                     description="Runs in this status"),
]
MAX_OFFSET = 1 << 40


class BuildStepSerializer(serializers.Serializer[Any]):
    """A step of a run (:func:`builds.rows.step_row`); its log is read with the log endpoint."""

    name = serializers.ChoiceField(choices=StepName.choices)
    position = serializers.IntegerField()
    status = serializers.ChoiceField(choices=StepStatus.choices)
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)
    exit_code = serializers.IntegerField(allow_null=True)
    message = StrictCharField()
    message_code = StrictCharField()
    message_params = serializers.DictField()
    log_size = serializers.IntegerField(help_text="Bytes of the kept log (the offset the next buildrun.log starts at)")
    log_truncated = serializers.BooleanField(help_text="Only the newest PORTAL_BUILD_LOG_MAX_BYTES are kept")


class RunDetailSerializer(RunRowSerializer):
    """RUN_ROW with its steps (and the ``buildrun.updated`` payload of ``buildrun.<id>``)."""

    steps = BuildStepSerializer(many=True)


class BuildStepLogSerializer(serializers.Serializer[Any]):
    run = serializers.IntegerField()
    step = StrictCharField()
    offset = serializers.IntegerField(help_text="The byte offset `text` starts at (the one asked, clamped)")
    text = StrictCharField()
    size = serializers.IntegerField(help_text="Bytes of the kept log")
    truncated = serializers.BooleanField(help_text="Older output was dropped (only the newest bytes are kept)")
    running = serializers.BooleanField(help_text="The step may still write more")


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0") or "0"
    if not raw.isdigit() or int(raw) > MAX_OFFSET:
        raise exceptions.ValidationError({"offset": ["offset is a byte offset: a whole number from 0."]})
    return int(raw)


@extend_schema_view(
    list=extend_schema(summary="Build runs of the workspaces you see, newest first (paginated)", parameters=FILTERS),
    retrieve=extend_schema(summary="One build run with its steps", responses={200: RunDetailSerializer, **ERRORS}),
)
class RunViewSet(AccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[BuildRun]):
    """Build runs: history, one run, a step's log, cancel, rebuild."""

    queryset = BuildRun.objects.none()
    access_model = BuildRun
    serializer_class = RunRowSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"created": ("created", "id")}
    default_ordering = "-created"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "head", "options"]  # type: ignore[misc]

    def scope_queryset(self, queryset: QuerySet[BuildRun]) -> QuerySet[BuildRun]:
        for name in ("workspace", "definition"):
            value = id_param(self.request, name)
            if value is not None:
                queryset = queryset.filter(**{f"{name}_id": value})
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in RunStatus.values:
                raise exceptions.ValidationError(
                    {"status": [f"status is one of: {', '.join(RunStatus.values)}."]})
            queryset = queryset.filter(status=wanted)
        return queryset.select_related(*rows.RUN_RELATED).prefetch_related(rows.steps_prefetch())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response([rows.run_row(run) for run in page])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(rows.run_detail(self.get_object()))

    @extend_schema(summary="A step's kept log from byte `offset` (the live tail comes as buildrun.log events)",
                   parameters=[OpenApiParameter("offset", OpenApiTypes.INT, description="Byte offset (default 0)"),
                               OpenApiParameter("step", OpenApiTypes.STR, OpenApiParameter.PATH,
                                                enum=[s.value for s in StepName])],
                   responses={200: BuildStepLogSerializer, **ERRORS})
    @action(detail=True, methods=["get"], url_path=r"steps/(?P<step>[^/]{1,64})/log", pagination_class=None)
    def log(self, request: Request, pk: str | None = None, step: str = "") -> Response:
        run = self.get_object()
        offset = _offset(request)
        found = BuildStep.objects.filter(run=run, name=step).first()
        if found is None:
            raise errors.NotFound(f"Build #{run.number} has no step {step}.", code="build_step_not_found",
                                  params={"step": step})
        text, size = run_actions.read_log(found, offset)
        active = run.status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING)
        return Response({"run": run.pk, "step": found.name, "offset": size - len(text.encode()), "text": text,
                         "size": size, "truncated": found.log_truncated,
                         "running": active and found.status in (StepStatus.PENDING, StepStatus.RUNNING)})

    @extend_schema(request=None, responses={202: RunRowSerializer, **ERRORS},
                   summary="Cancel a queued or running build (its Jobs and pods are deleted; cancelling until then)")
    @action(detail=True, methods=["post"], pagination_class=None)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        self.require("cancel", run)
        done = actions.request_cancel(run, user=request.user, request=request._request)
        return Response(rows.run_row(done), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: RunRowSerializer, **ERRORS},
                   summary="Build again with this run's spec and ref (a new run, trigger rebuild)")
    @action(detail=True, methods=["post"], pagination_class=None)
    def rebuild(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        self.require("rebuild", run)
        made = actions.rebuild(run, user=request.user, request=request._request)
        return Response(rows.run_row(made), status=status.HTTP_202_ACCEPTED)
