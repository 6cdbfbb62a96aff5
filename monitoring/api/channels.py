"""Views of notification channels and their deliveries, under /api/monitoring/ (NOTIFY, issue 14;
docs/notifications.md).

* ``/channels/``: list (``?workspace=<id>|global``, ``?kind=``), create, retrieve, PATCH, DELETE,
  and ``POST /channels/{id}/test/`` (202: a test notification recorded in the outbox; its delivery
  shows in ``/notifications/?channel=<id>``).
* ``/notifications/``: the outbox rows with their delivery log (``attempts``), filtered by
  ``?alert=<id>``, ``?channel=<id>``, ``?state=``.

Who sees and changes what is :mod:`monitoring.access`'s: members see their workspaces' channels,
admins, operators and auditors every channel; a workspace's channels are changed with
``alerts.manage`` there, global ones by admins. A channel nobody may see answers 404. Deliveries
are shown of alerts the caller sees, to channels the caller sees. The webhook URL and the HMAC
secret are write-only: rows carry ``url_host``, ``has_url`` and ``has_secret``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import access, channel_actions
from monitoring.models import (
    ChannelKind,
    DeliveryAttempt,
    Notification,
    NotificationChannel,
    NotificationState,
    Severity,
)
from portal import errors
from portal.api.serializers import StrictCharField, StrictSerializer

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field"),
    403: OpenApiResponse(description="`grant_missing` (alerts.manage in the channel's workspace) or "
                                     "`admin_required` (global channels)"),
    404: OpenApiResponse(description="No such channel (or not visible to you)"),
}
URL_HELP = ("The webhook's address (Slack incoming webhook, Teams Workflows trigger, any JSON receiver). Write-only: "
            "answers show its host (`url_host`). It must pass the address policy; plain http:// only outside "
            "production or for system admins.")
SECRET_HELP = ("Optional HMAC key: each request then carries `X-Portal-Signature: sha256=<hex HMAC-SHA256 of the "
               "body>`. Write-only (`has_secret`); an empty string removes it.")


class ChannelWorkspaceSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()


class NotificationChannelSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    workspace = ChannelWorkspaceSerializer(allow_null=True, help_text="null: a global channel (every alert)")
    enabled = serializers.BooleanField()
    min_severity = serializers.ChoiceField(choices=Severity.choices)
    notify_resolved = serializers.BooleanField()
    recipients = serializers.ListField(child=StrictCharField(), help_text="e-mail channels")
    url_host = StrictCharField(help_text="webhook channels: the host of the (secret) URL")
    has_url = serializers.BooleanField()
    has_secret = serializers.BooleanField()
    created_by = StrictCharField()
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()


class NotificationChannelCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=channel_actions.NAME_MAX)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    workspace = serializers.IntegerField(required=False, allow_null=True,
                                         help_text="null or absent: a global channel (admins only)")
    enabled = serializers.BooleanField(required=False, default=True)
    min_severity = serializers.ChoiceField(choices=Severity.choices, required=False, default=Severity.WARNING)
    notify_resolved = serializers.BooleanField(required=False, default=True)
    recipients = serializers.ListField(child=StrictCharField(max_length=254), required=False,
                                       help_text="e-mail channels: 1 to 50 addresses")
    url = StrictCharField(max_length=channel_actions.URL_MAX, required=False, write_only=True, help_text=URL_HELP)
    secret = StrictCharField(max_length=channel_actions.SECRET_MAX, required=False, allow_blank=True,
                             write_only=True, trim_whitespace=False, help_text=SECRET_HELP)


class NotificationChannelUpdateSerializer(StrictSerializer):
    name = StrictCharField(max_length=channel_actions.NAME_MAX, required=False)
    enabled = serializers.BooleanField(required=False)
    min_severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    notify_resolved = serializers.BooleanField(required=False)
    recipients = serializers.ListField(child=StrictCharField(max_length=254), required=False)
    url = StrictCharField(max_length=channel_actions.URL_MAX, required=False, write_only=True, help_text=URL_HELP)
    secret = StrictCharField(max_length=channel_actions.SECRET_MAX, required=False, allow_blank=True,
                             write_only=True, trim_whitespace=False, help_text=SECRET_HELP)


class DeliveryAttemptSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    ok = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True, help_text="HTTP status, or the SMTP reply code")
    error = StrictCharField()
    duration_ms = serializers.IntegerField()


class NotificationChannelRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()
    kind = serializers.ChoiceField(choices=ChannelKind.choices)


class NotificationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    alert = serializers.IntegerField()
    channel = NotificationChannelRefSerializer()
    event = StrictCharField(help_text="firing | acknowledged | resolved | test")
    idempotency_key = StrictCharField()
    state = serializers.ChoiceField(choices=NotificationState.choices)
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_error = StrictCharField()
    created = serializers.DateTimeField()
    attempts = DeliveryAttemptSerializer(many=True, help_text="the delivery log, oldest first")


def channel_row(channel: NotificationChannel) -> dict[str, Any]:
    ws = channel.workspace
    return {
        "id": channel.pk, "name": channel.name, "kind": channel.kind,
        "workspace": {"id": ws.pk, "name": ws.name} if ws is not None else None,
        "enabled": channel.enabled, "min_severity": channel.min_severity, "notify_resolved": channel.notify_resolved,
        "recipients": list(channel.recipients or []) if channel.kind == ChannelKind.EMAIL else [],
        "url_host": channel.url_host, "has_url": bool(channel.url_encrypted),
        "has_secret": bool(channel.secret_encrypted),
        "created_by": channel.created_by.get_username() if channel.created_by is not None else "",
        "created": channel.created, "updated": channel.updated,
    }


def notification_row(n: Notification) -> dict[str, Any]:
    return {
        "id": n.pk, "alert": n.alert_id,
        "channel": {"id": n.channel_id, "name": n.channel.name, "kind": n.channel.kind},
        "event": n.event, "idempotency_key": n.idempotency_key, "state": n.state, "attempt_count": n.attempts,
        "next_attempt_at": n.next_attempt_at, "delivered_at": n.delivered_at, "last_error": n.last_error,
        "created": n.created,
        "attempts": [{"at": a.at, "ok": a.ok, "status_code": a.status_code, "error": a.error,
                      "duration_ms": a.duration_ms} for a in n.attempt_log.all()],
    }


def _id(request: Request, name: str) -> int | None:
    raw = str(request.query_params.get(name, "")).strip()
    if raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise errors.Invalid(f"Invalid input: {name}: Give a number.", code="invalid",
                             errors={name: ["Give a number."]})
    return int(raw)


def _body(request: Request) -> Mapping[str, Any]:
    if not isinstance(request.data, Mapping):
        raise errors.Invalid("Invalid input: give a JSON object.", code="invalid", errors={"non_field_errors": [
            "Give a JSON object."]})
    return request.data


class NotificationChannelViewSet(viewsets.GenericViewSet[NotificationChannel]):
    """Notification channels: e-mail, Slack, Microsoft Teams (Workflows), generic JSON webhooks."""

    queryset = NotificationChannel.objects.none()
    serializer_class = NotificationChannelSerializer
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def get_queryset(self) -> QuerySet[NotificationChannel]:
        return access.visible_channels(self.request.user).select_related("workspace", "created_by").order_by("-pk")

    def _filtered(self, request: Request) -> QuerySet[NotificationChannel]:
        qs = self.get_queryset()
        workspace = str(request.query_params.get("workspace", "")).strip()
        if workspace == "global":
            qs = qs.filter(workspace__isnull=True)
        elif workspace:
            qs = qs.filter(workspace_id=_id(request, "workspace") or 0)
        kind = str(request.query_params.get("kind", "")).strip()
        if kind:
            if kind not in ChannelKind.values:
                raise errors.Invalid(f"Invalid input: kind: choose one of {', '.join(ChannelKind.values)}.",
                                     code="channel_kind_invalid", errors={"kind": ["Unknown kind."]})
            qs = qs.filter(kind=kind)
        return qs

    def _row(self, channel: NotificationChannel) -> dict[str, Any]:
        return channel_row(self.get_queryset().get(pk=channel.pk))

    @extend_schema(parameters=[
        OpenApiParameter("workspace", OpenApiTypes.STR, description="a workspace id, or `global`"),
        OpenApiParameter("kind", OpenApiTypes.STR, enum=list(ChannelKind.values))],
        responses={200: NotificationChannelSerializer(many=True)}, summary="Notification channels you see")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self._filtered(request))
        return self.get_paginated_response([channel_row(c) for c in page or []])

    @extend_schema(responses={200: NotificationChannelSerializer, **ERRORS})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(channel_row(self.get_object()))

    @extend_schema(request=NotificationChannelCreateSerializer, responses={201: NotificationChannelSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        channel = channel_actions.create_channel(user=request.user, data=_body(request), request=request._request)
        return Response(self._row(channel), status=status.HTTP_201_CREATED)

    @extend_schema(request=NotificationChannelUpdateSerializer, responses={200: NotificationChannelSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        channel = channel_actions.update_channel(user=request.user, channel=self.get_object(), data=_body(request),
                                                 request=request._request)
        return Response(self._row(channel))

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str) -> Response:
        channel_actions.delete_channel(user=request.user, channel=self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: NotificationSerializer, **ERRORS},
                   summary="Send a test notification through the outbox (202; see its delivery log)")
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        notification = channel_actions.send_test(user=request.user, channel=self.get_object(),
                                                    request=request._request)
        return Response(notification_row(_notifications().get(pk=notification.pk)), status=status.HTTP_202_ACCEPTED)


def _notifications() -> QuerySet[Notification]:
    return Notification.objects.select_related("channel").prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("at", "id")))


class NotificationViewSet(viewsets.GenericViewSet[Notification]):
    """The outbox: one row per (alert transition, channel) with its delivery log."""

    queryset = Notification.objects.none()
    serializer_class = NotificationSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Notification]:
        user = self.request.user
        return _notifications().filter(alert__in=access.visible_alerts(user).values("pk"),
                                       channel__in=access.visible_channels(user).values("pk")).order_by("-pk")

    @extend_schema(parameters=[
        OpenApiParameter("alert", OpenApiTypes.INT), OpenApiParameter("channel", OpenApiTypes.INT),
        OpenApiParameter("state", OpenApiTypes.STR, enum=list(NotificationState.values))],
        responses={200: NotificationSerializer(many=True)},
        summary="Notifications (newest first) with their delivery log")
    def list(self, request: Request) -> Response:
        qs = self.get_queryset()
        alert = _id(request, "alert")
        if alert is not None:
            if not access.visible_alerts(request.user).filter(pk=alert).exists():
                raise errors.NotFound("No such alert.", code="not_found", params={"what": "alert"})
            qs = qs.filter(alert_id=alert)
        channel = _id(request, "channel")
        if channel is not None:
            if not access.visible_channels(request.user).filter(pk=channel).exists():
                raise errors.NotFound("No such channel.", code="not_found", params={"what": "channel"})
            qs = qs.filter(channel_id=channel)
        state = str(request.query_params.get("state", "")).strip()
        if state:
            if state not in NotificationState.values:
                raise errors.Invalid(f"Invalid input: state: choose one of {', '.join(NotificationState.values)}.",
                                     code="invalid", errors={"state": ["Unknown state."]})
            qs = qs.filter(state=state)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response([notification_row(n) for n in page or []])

    @extend_schema(responses={200: NotificationSerializer, 404: OpenApiResponse(description="No such notification")})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(notification_row(self.get_object()))
