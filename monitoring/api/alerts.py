"""Views of alerts, alert rules and silences (docs/alerts.md), mounted at /api/monitoring/.

* ``/alerts/``: the alerts the caller sees (:func:`monitoring.access.visible_alerts`: everything
  for those who read every cluster, else their workspaces' and service maps'), newest first,
  keyset-paginated, filtered by ``state``, ``severity``, ``cluster``, ``workspace``,
  ``service_map``, ``rule`` and ``open=true``; one alert with its transitions;
  ``POST …/{id}/acknowledge/`` and ``POST …/{id}/resolve/`` with a note
  (:func:`monitoring.access.require_act_on_alert`: ``alerts.manage`` in its workspace, or an admin
  or operator).
* ``/rules/``: built-in and custom rules; custom ones created, changed and deleted; built-ins only
  retuned (``enabled``, ``severity``, ``params``) by admins and operators
  (:func:`monitoring.access.require_manage_scope` / ``require_manage_rule``).
* ``/silences/``: create, change (reason, end), delete and ``POST …/{id}/expire/``.

A foreign id answers 404; ids in a body that the caller cannot see are a 400 naming the field.
The writes and the checks of their input are :mod:`monitoring.alert_actions` and
:mod:`monitoring.rules`; authorization is :mod:`monitoring.access` only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Case, Count, IntegerField, Prefetch, QuerySet, Value, When
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clusters.models import Cluster
from monitoring import access, alert_actions, rules
from monitoring.models import (
    OPEN_STATES,
    SEVERITY_RANK,
    Alert,
    AlertRule,
    AlertState,
    AlertTransition,
    Severity,
    Silence,
)
from portal import errors
from portal.api.pagination import KeysetPagination
from portal.api.params import bool_param, id_param
from portal.api.serializers import StrictCharField, StrictSerializer
from portal.limits import DESCRIPTION_MAX_LENGTH
from workspaces.models import ServiceMap, Workspace

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field and `code` says what is wrong"),
    403: OpenApiResponse(description="Your role lacks alerts.manage there (or only operators may do this)"),
    404: OpenApiResponse(description="No such object (or not visible to you)"),
    409: OpenApiResponse(description="Conflicts with the current state (a resolved alert, an ended silence, "
                                     "a built-in rule)"),
}


def _invalid(field_name: str, message: str, code: str = "invalid") -> errors.Invalid:
    return errors.Invalid(f"Invalid input: {field_name}: {message}", code=code, errors={field_name: [message]})


def _choice(request: Request, name: str, choices: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value not in choices:
        raise exceptions.ValidationError({name: [f"{name} is one of: {', '.join(choices)}."]})
    return value


# ---------------------------------------------------------------------------- shapes


class RefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()


class ServiceMapRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    namespace = StrictCharField()


class RuleRefSerializer(RefSerializer):
    builtin = StrictCharField()


class AlertSerializer(serializers.Serializer[Any]):
    """An alert (:func:`monitoring.alert_actions.alert_row`, also the ``alert.updated`` payload)."""

    id = serializers.IntegerField()
    rule = RuleRefSerializer(allow_null=True)
    fingerprint = StrictCharField()
    state = serializers.ChoiceField(choices=AlertState.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    cluster = RefSerializer(allow_null=True)
    workspace = RefSerializer(allow_null=True)
    service_map = ServiceMapRefSerializer(allow_null=True)
    namespace = StrictCharField()
    subject_kind = StrictCharField()
    subject_name = StrictCharField()
    labels = serializers.DictField(child=StrictCharField())
    value = serializers.FloatField(allow_null=True)
    message = StrictCharField()
    message_code = StrictCharField()
    message_params = serializers.DictField()
    started_at = serializers.DateTimeField()
    fired_at = serializers.DateTimeField(allow_null=True)
    last_seen_at = serializers.DateTimeField()
    acknowledged_by = StrictCharField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledge_note = StrictCharField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolved_by = StrictCharField(allow_null=True, help_text="null with resolved_at set: resolved by the evaluator")
    updated = serializers.DateTimeField()


class TransitionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    from_state = StrictCharField(help_text='"" for the first transition')
    to_state = serializers.ChoiceField(choices=AlertState.choices)
    actor = StrictCharField(allow_null=True, help_text="null: the evaluator")
    note = StrictCharField()
    at = serializers.DateTimeField()


class AlertPermissionsSerializer(serializers.Serializer[Any]):
    act = serializers.BooleanField(help_text="may acknowledge, resolve and silence it")


class AlertDetailSerializer(AlertSerializer):
    transitions = TransitionSerializer(many=True)
    permissions = AlertPermissionsSerializer()


class NoteSerializer(StrictSerializer):
    note = StrictCharField(max_length=alert_actions.NOTE_MAX, required=False, allow_blank=True, default="")


class ParamSpecSerializer(serializers.Serializer[Any]):
    name = StrictCharField()
    kind = StrictCharField()
    default = serializers.FloatField()
    minimum = serializers.FloatField()
    maximum = serializers.FloatField()
    description = StrictCharField()


class RulePermissionsSerializer(serializers.Serializer[Any]):
    change = serializers.BooleanField()
    delete = serializers.BooleanField()


class RuleSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()
    description = StrictCharField()
    builtin = StrictCharField(help_text='the built-in key, "" for a custom rule')
    enabled = serializers.BooleanField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    params = serializers.DictField(help_text="built-in: its parameters; custom: {level}")
    param_specs = ParamSpecSerializer(many=True, help_text="built-in: the parameters it takes, with bounds")
    metric = StrictCharField()
    aggregation = StrictCharField()
    operator = StrictCharField()
    threshold = serializers.FloatField(allow_null=True)
    window_seconds = serializers.IntegerField()
    for_seconds = serializers.IntegerField()
    level = StrictCharField()
    workspace = RefSerializer(allow_null=True)
    cluster = RefSerializer(allow_null=True)
    service_map = ServiceMapRefSerializer(allow_null=True)
    workload_namespace = StrictCharField()
    workload_kind = StrictCharField()
    workload_name = StrictCharField()
    open_alerts = serializers.IntegerField()
    created_by = StrictCharField(allow_null=True)
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()
    permissions = RulePermissionsSerializer()


class RuleWriteSerializer(StrictSerializer):
    """A custom rule (PATCH: any subset; a built-in takes only enabled, severity, params)."""

    name = StrictCharField(max_length=100)
    description = StrictCharField(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False)
    enabled = serializers.BooleanField(required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    params = serializers.DictField(required=False)
    metric = serializers.ChoiceField(choices=[*rules.SAMPLE_METRICS, *rules.POINT_METRICS])
    aggregation = serializers.ChoiceField(choices=list(rules.AGGREGATIONS), required=False)
    operator = serializers.ChoiceField(choices=list(rules.OPERATORS))
    threshold = serializers.FloatField()
    window_seconds = serializers.IntegerField(min_value=rules.WINDOW_MIN, max_value=rules.WINDOW_MAX, required=False)
    for_seconds = serializers.IntegerField(min_value=0, max_value=rules.FOR_MAX, required=False)
    level = serializers.ChoiceField(choices=list(rules.LEVELS), required=False)
    workspace = serializers.IntegerField(allow_null=True, required=False)
    cluster = serializers.IntegerField(allow_null=True, required=False)
    service_map = serializers.IntegerField(allow_null=True, required=False)
    workload_namespace = StrictCharField(max_length=63, allow_blank=True, required=False)
    workload_kind = StrictCharField(max_length=40, allow_blank=True, required=False)
    workload_name = StrictCharField(max_length=253, allow_blank=True, required=False)


class SilenceSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    rule = RuleRefSerializer(allow_null=True)
    cluster = RefSerializer(allow_null=True)
    workspace = RefSerializer(allow_null=True)
    service_map = ServiceMapRefSerializer(allow_null=True)
    fingerprint = StrictCharField()
    reason = StrictCharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    expired_early_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()
    created_by = StrictCharField(allow_null=True)
    created = serializers.DateTimeField()


class SilenceCreateSerializer(StrictSerializer):
    rule = serializers.IntegerField(allow_null=True, required=False)
    cluster = serializers.IntegerField(allow_null=True, required=False)
    workspace = serializers.IntegerField(allow_null=True, required=False)
    service_map = serializers.IntegerField(allow_null=True, required=False)
    fingerprint = serializers.RegexField(r"^[0-9a-f]{64}$", max_length=64, required=False, allow_blank=True)
    reason = StrictCharField(max_length=alert_actions.NOTE_MAX)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField()


class SilenceUpdateSerializer(StrictSerializer):
    reason = StrictCharField(max_length=alert_actions.NOTE_MAX, required=False)
    ends_at = serializers.DateTimeField(required=False)


# ---------------------------------------------------------------------------- rows


def _ref(obj: Any) -> dict[str, Any] | None:
    return {"id": obj.pk, "name": obj.name} if obj is not None else None


def _sm_ref(sm: ServiceMap | None) -> dict[str, Any] | None:
    return {"id": sm.pk, "namespace": sm.namespace} if sm is not None else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _allowed(check: Any) -> bool:
    try:
        check()
    except errors.Forbidden:
        return False
    return True


def rule_rows(found: list[AlertRule], user: Any) -> list[dict[str, Any]]:
    open_counts: dict[int, int] = dict(
        Alert.objects.filter(rule__in=[r.pk for r in found], state__in=OPEN_STATES).order_by().values("rule_id")
        .annotate(n=Count("id")).values_list("rule_id", "n"))
    may: dict[tuple[Any, ...], bool] = {}
    out = []
    for r in found:
        key = (r.workspace_id, r.service_map_id, bool(r.builtin))
        if key not in may:
            may[key] = _allowed(lambda r=r: access.require_manage_rule(user, r))
        builtin = rules.BUILTINS.get(r.builtin)
        out.append({
            "id": r.pk, "name": r.name, "description": r.description, "builtin": r.builtin, "enabled": r.enabled,
            "severity": r.severity, "params": dict(r.params or {}),
            "param_specs": [{"name": p.name, "kind": p.kind, "default": p.default, "minimum": p.minimum,
                             "maximum": p.maximum, "description": p.description}
                            for p in (builtin.params if builtin else ())],
            "metric": r.metric, "aggregation": r.aggregation, "operator": r.operator, "threshold": r.threshold,
            "window_seconds": r.window_seconds, "for_seconds": r.for_seconds,
            "level": "" if r.builtin else str((r.params or {}).get("level") or "pod"),
            "workspace": _ref(r.workspace), "cluster": _ref(r.cluster), "service_map": _sm_ref(r.service_map),
            "workload_namespace": r.workload_namespace, "workload_kind": r.workload_kind,
            "workload_name": r.workload_name, "open_alerts": open_counts.get(r.pk, 0),
            "created_by": r.created_by.get_username() if r.created_by else None,
            "created": _iso(r.created), "updated": _iso(r.updated),
            "permissions": {"change": may[key], "delete": may[key] and not r.builtin},
        })
    return out


def silence_row(s: Silence, now: Any) -> dict[str, Any]:
    return {"id": s.pk,
            "rule": {"id": s.rule.pk, "name": s.rule.name, "builtin": s.rule.builtin} if s.rule else None,
            "cluster": _ref(s.cluster), "workspace": _ref(s.workspace), "service_map": _sm_ref(s.service_map),
            "fingerprint": s.fingerprint, "reason": s.reason, "starts_at": _iso(s.starts_at),
            "ends_at": _iso(s.ends_at), "expired_early_at": _iso(s.expired_early_at),
            "active": s.expired_early_at is None and s.starts_at <= now < s.ends_at,
            "created_by": s.created_by.get_username() if s.created_by else None, "created": _iso(s.created)}


# ---------------------------------------------------------------------------- scope lookups (bodies)


def _body_workspace(user: Any, value: Any) -> Workspace | None:
    if value is None:
        return None
    try:
        return access.workspace(user, value)
    except errors.NotFound:
        raise _invalid("workspace", "No workspace that you can see has this id.") from None


def _body_service_map(user: Any, value: Any) -> ServiceMap | None:
    if value is None:
        return None
    try:
        return access.service_map(user, value)
    except errors.NotFound:
        raise _invalid("service_map", "No service map that you can see has this id.") from None


def _body_cluster(user: Any, value: Any) -> Cluster | None:
    if value is None:
        return None
    try:
        return access.cluster(user, value)
    except errors.NotFound:
        raise _invalid("cluster", "No cluster that you can see has this id (members scope a rule to their "
                                  "service map instead).") from None


# ---------------------------------------------------------------------------- alerts

ALERT_FILTERS = [
    OpenApiParameter("state", OpenApiTypes.STR, enum=AlertState.values),
    OpenApiParameter("severity", OpenApiTypes.STR, enum=Severity.values),
    OpenApiParameter("open", OpenApiTypes.BOOL, description="only pending, firing and acknowledged alerts"),
    OpenApiParameter("cluster", OpenApiTypes.INT),
    OpenApiParameter("workspace", OpenApiTypes.INT),
    OpenApiParameter("service_map", OpenApiTypes.INT),
    OpenApiParameter("rule", OpenApiTypes.INT),
]


@extend_schema_view(
    list=extend_schema(summary="Alerts you see, newest first (paginated)", parameters=ALERT_FILTERS,
                       responses={200: AlertSerializer(many=True), 400: ERRORS[400]}),
    retrieve=extend_schema(summary="One alert with its transitions", responses={200: AlertDetailSerializer,
                                                                                404: ERRORS[404]}),
)
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Alert]):
    queryset = Alert.objects.none()
    serializer_class = AlertSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"started": ("started_at", "id"), "updated": ("updated", "id"),
                                                       "severity": ("severity_rank", "started_at", "id")}
    default_ordering = "-started"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "head", "options"]  # type: ignore[misc]

    def get_queryset(self) -> QuerySet[Alert]:
        queryset = access.visible_alerts(self.request.user)
        if self.action != "list":
            return queryset.select_related(*alert_actions.ROW_RELATED)
        # A channel's test notification hangs on a resolved alert of its own (monitoring.channel_actions):
        # not an alert anyone should see in the list.
        queryset = queryset.exclude(labels__has_key="portal.test")
        state = _choice(self.request, "state", list(AlertState.values))
        if state:
            queryset = queryset.filter(state=state)
        severity = _choice(self.request, "severity", list(Severity.values))
        if severity:
            queryset = queryset.filter(severity=severity)
        if bool_param(self.request, "open"):
            queryset = queryset.filter(state__in=OPEN_STATES)
        for name in ("cluster", "workspace", "service_map", "rule"):
            value = id_param(self.request, name)
            if value is not None:
                queryset = queryset.filter(**{f"{name}_id": value})
        rank = Case(*(When(severity=key, then=Value(value)) for key, value in SEVERITY_RANK.items()),
                    default=Value(0), output_field=IntegerField())
        return queryset.select_related(*alert_actions.ROW_RELATED).annotate(severity_rank=rank)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response([alert_actions.alert_row(a) for a in page])

    def _detail(self, alert: Alert) -> dict[str, Any]:
        alert = (Alert.objects.select_related(*alert_actions.ROW_RELATED)
                 .prefetch_related(Prefetch("transitions", AlertTransition.objects.select_related("actor")))
                 .get(pk=alert.pk))
        row = alert_actions.alert_row(alert)
        row["transitions"] = [alert_actions.transition_row(t) for t in alert.transitions.all()]
        row["permissions"] = {"act": access.may_act_on_alert(self.request.user, alert)}
        return row

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._detail(self.get_object()))

    @extend_schema(request=NoteSerializer, responses={200: AlertDetailSerializer, **ERRORS},
                   summary="Acknowledge a firing alert (by you, with a note); 409 alert_resolved, "
                           "alert_already_acknowledged, alert_pending")
    @action(detail=True, methods=["post"], pagination_class=None)
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = self.get_object()
        access.require_act_on_alert(request.user, alert)
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        done = alert_actions.acknowledge(alert, user=request.user, note=body.validated_data["note"],
                                         request=request._request)
        return Response(self._detail(done))

    @extend_schema(request=NoteSerializer, responses={200: AlertDetailSerializer, **ERRORS},
                   summary="Resolve an open alert by hand (a condition that still holds opens a new alert)")
    @action(detail=True, methods=["post"], pagination_class=None)
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        alert = self.get_object()
        access.require_act_on_alert(request.user, alert)
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        done = alert_actions.resolve(alert, user=request.user, note=body.validated_data["note"],
                                     request=request._request)
        return Response(self._detail(done))


# ---------------------------------------------------------------------------- rules

RULE_RELATED = ("workspace", "cluster", "service_map", "created_by")


@extend_schema_view(
    list=extend_schema(summary="Alert rules you see: built-in and custom (paginated, by name)", parameters=[
        OpenApiParameter("builtin", OpenApiTypes.BOOL, description="true: built-in only; false: custom only"),
        OpenApiParameter("workspace", OpenApiTypes.INT), OpenApiParameter("cluster", OpenApiTypes.INT)],
        responses={200: RuleSerializer(many=True), 400: ERRORS[400]}),
    retrieve=extend_schema(summary="One alert rule", responses={200: RuleSerializer, 404: ERRORS[404]}),
)
class RuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[AlertRule]):
    queryset = AlertRule.objects.none()
    serializer_class = RuleSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"name": ("name", "id"), "updated": ("updated", "id")}
    default_ordering = "name"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def get_queryset(self) -> QuerySet[AlertRule]:
        queryset = access.visible_rules(self.request.user)
        if self.action == "list":
            raw = self.request.query_params.get("builtin", "")
            if raw != "":
                queryset = queryset.exclude(builtin="") if bool_param(self.request, "builtin") else queryset.filter(
                    builtin="")
            for name in ("workspace", "cluster"):
                value = id_param(self.request, name)
                if value is not None:
                    queryset = queryset.filter(**{f"{name}_id": value})
        return queryset.select_related(*RULE_RELATED)

    def _row(self, rule: AlertRule) -> dict[str, Any]:
        return rule_rows([AlertRule.objects.select_related(*RULE_RELATED).get(pk=rule.pk)], self.request.user)[0]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response(rule_rows(list(page), request.user))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(rule_rows([self.get_object()], request.user)[0])

    def _scope(self, data: dict[str, Any]) -> tuple[Workspace | None, Cluster | None, ServiceMap | None]:
        user = self.request.user
        return (_body_workspace(user, data.get("workspace")), _body_cluster(user, data.get("cluster")),
                _body_service_map(user, data.get("service_map")))

    @extend_schema(request=RuleWriteSerializer, responses={201: RuleSerializer, **ERRORS},
                   summary="Create a custom rule (alerts.manage in its workspace; fleet and cluster scope: operators)")
    def create(self, request: Request) -> Response:
        body = RuleWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        workspace, cluster, service_map = self._scope(data)
        access.require_manage_scope(request.user, workspace=workspace, service_map=service_map)
        rule = alert_actions.create_rule(data, user=request.user, workspace=workspace, cluster=cluster,
                                         service_map=service_map, request=request._request)
        return Response(self._row(rule), status=status.HTTP_201_CREATED)

    @extend_schema(request=RuleWriteSerializer, responses={200: RuleSerializer, **ERRORS},
                   summary="Change a rule (built-ins: enabled, severity and params only)")
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        access.require_manage_rule(request.user, rule)
        body = RuleWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        workspace, cluster, service_map = self._scope(data)
        if any(k in data for k in ("workspace", "service_map")):  # moving it: may manage the new scope too
            access.require_manage_scope(request.user, workspace=workspace, service_map=service_map)
        done = alert_actions.update_rule(rule, data, user=request.user, request=request._request,
                                         workspace=workspace, cluster=cluster, service_map=service_map)
        return Response(self._row(done))

    @extend_schema(responses={204: None, **ERRORS}, summary="Delete a custom rule (its open alerts are resolved); "
                                                             "409 rule_builtin_undeletable")
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        access.require_manage_rule(request.user, rule)
        alert_actions.delete_rule(rule, user=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------- silences

SILENCE_RELATED = ("rule", "cluster", "workspace", "service_map", "created_by")


@extend_schema_view(
    list=extend_schema(summary="Silences you see, latest end first (paginated)", parameters=[
        OpenApiParameter("active", OpenApiTypes.BOOL, description="only silences in force now"),
        OpenApiParameter("workspace", OpenApiTypes.INT), OpenApiParameter("cluster", OpenApiTypes.INT),
        OpenApiParameter("rule", OpenApiTypes.INT)],
        responses={200: SilenceSerializer(many=True), 400: ERRORS[400]}),
    retrieve=extend_schema(summary="One silence", responses={200: SilenceSerializer, 404: ERRORS[404]}),
)
class SilenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Silence]):
    queryset = Silence.objects.none()
    serializer_class = SilenceSerializer
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {"ends": ("ends_at", "id"), "created": ("created", "id")}
    default_ordering = "-ends"
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def get_queryset(self) -> QuerySet[Silence]:
        queryset = access.visible_silences(self.request.user)
        if self.action == "list":
            if bool_param(self.request, "active"):
                now = timezone.now()
                queryset = queryset.filter(starts_at__lte=now, ends_at__gt=now, expired_early_at__isnull=True)
            for name in ("workspace", "cluster", "rule"):
                value = id_param(self.request, name)
                if value is not None:
                    queryset = queryset.filter(**{f"{name}_id": value})
        return queryset.select_related(*SILENCE_RELATED)

    def _row(self, silence: Silence) -> dict[str, Any]:
        return silence_row(Silence.objects.select_related(*SILENCE_RELATED).get(pk=silence.pk), timezone.now())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        now = timezone.now()
        return self.get_paginated_response([silence_row(s, now) for s in page])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(silence_row(self.get_object(), timezone.now()))

    @extend_schema(request=SilenceCreateSerializer, responses={201: SilenceSerializer, **ERRORS},
                   summary="Silence the notifications of matching alerts until ends_at (every matcher given must "
                           "match; a fingerprint silences one alert)")
    def create(self, request: Request) -> Response:
        body = SilenceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        user = request.user
        workspace = _body_workspace(user, data.get("workspace"))
        service_map = _body_service_map(user, data.get("service_map"))
        cluster = _body_cluster(user, data.get("cluster"))
        rule = None
        if data.get("rule") is not None:
            rule = access.visible_rules(user).filter(pk=data["rule"]).first()
            if rule is None:
                raise _invalid("rule", "No alert rule that you can see has this id.")
        fingerprint = str(data.get("fingerprint") or "")
        if fingerprint:
            alert = access.visible_alerts(user).filter(fingerprint=fingerprint).order_by("-id").first()
            if alert is None:
                raise _invalid("fingerprint", "No alert that you can see has this fingerprint.")
            if workspace is None and service_map is None and alert.workspace_id is not None:
                workspace = alert.workspace
        access.require_manage_scope(user, workspace=workspace, service_map=service_map, what="silences")
        silence = alert_actions.create_silence(data, user=user, rule=rule, cluster=cluster, workspace=workspace,
                                               service_map=service_map, fingerprint=fingerprint,
                                               request=request._request)
        return Response(self._row(silence), status=status.HTTP_201_CREATED)

    @extend_schema(request=SilenceUpdateSerializer, responses={200: SilenceSerializer, **ERRORS},
                   summary="Change a silence's reason or end; 409 silence_ended")
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        silence = self.get_object()
        access.require_manage_silence(request.user, silence)
        body = SilenceUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        done = alert_actions.update_silence(silence, dict(body.validated_data), user=request.user,
                                            request=request._request)
        return Response(self._row(done))

    @extend_schema(responses={204: None, **ERRORS}, summary="Delete a silence")
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        silence = self.get_object()
        access.require_manage_silence(request.user, silence)
        alert_actions.delete_silence(silence, user=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: SilenceSerializer, **ERRORS},
                   summary="End a silence now; 409 silence_ended")
    @action(detail=True, methods=["post"], pagination_class=None)
    def expire(self, request: Request, pk: str | None = None) -> Response:
        silence = self.get_object()
        access.require_manage_silence(request.user, silence)
        done = alert_actions.expire_silence(silence, user=request.user, request=request._request)
        return Response(self._row(done))
