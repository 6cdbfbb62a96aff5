"""``POST /api/builds/webhooks/{definition_id}/``: a git host announces a push; a verified push of a
ref the definition builds queues a run (docs/image-policy.md, "Webhooks").

No session and no CSRF: the signature over the body is the credential (:mod:`builds.webhooks`).
Nothing is read from the URL but the definition's id, and every refusal before the signature is
verified is the same 401 whether or not the definition exists or takes webhooks. The delivery id
is stored in the same transaction as the run (a unique constraint per definition), so a replay, or
two copies racing, make one run and a 409.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import actions, rows, webhooks
from builds.api.definitions import RunRowSerializer
from builds.models import BuildDefinition, Trigger, WebhookDelivery
from portal import audit
from portal.api.serializers import StrictCharField
from portal.errors import Conflict, Invalid

IGNORED_PING = "webhook_ping"
IGNORED_EVENT = "webhook_event_ignored"
IGNORED_REF = "webhook_ref_ignored"
IGNORED_DELETED = "webhook_ref_deleted"
REPLAYED = "webhook_replayed"


def _body(request: Request) -> bytes:
    """The raw body, at most :data:`~builds.webhooks.MAX_BODY` bytes (400 beyond)."""
    django_request = request._request
    declared = django_request.META.get("CONTENT_LENGTH") or "0"
    too_big = webhooks.payload_invalid(f"the body is larger than {webhooks.MAX_BODY} bytes.")
    if not declared.isdigit() or int(declared) > webhooks.MAX_BODY:
        raise too_big
    body = django_request.read(webhooks.MAX_BODY + 1)
    if len(body) > webhooks.MAX_BODY:
        raise too_big
    return bytes(body)


def _definition(definition_id: int) -> BuildDefinition | None:
    return (BuildDefinition.objects.select_related("workspace").filter(pk=definition_id, webhook_enabled=True)
            .first())


def _ignored(why: str, code: str, **params: Any) -> Response:
    return Response({"ignored": why, "code": code, **({"params": params} if params else {})},
                    status=status.HTTP_200_OK)


IgnoredSerializer = inline_serializer("WebhookIgnored", fields={
    "ignored": StrictCharField(), "code": StrictCharField(),
    "params": serializers.DictField(required=False)})
AcceptedSerializer = inline_serializer("WebhookAccepted", fields={"run": RunRowSerializer()})


class WebhookView(APIView):
    """A push from GitHub (``X-Hub-Signature-256``), GitLab (``X-Gitlab-Token``) or any sender of the
    generic form (``X-Portal-Signature: sha256=<HMAC-SHA256 of the body>``, ``X-Portal-Delivery``)."""

    authentication_classes: ClassVar[list[Any]] = []  # type: ignore[misc]
    permission_classes: ClassVar[list[Any]] = [AllowAny]  # type: ignore[misc]

    @extend_schema(
        request=None, operation_id="builds_webhooks_create",
        responses={202: AcceptedSerializer, 200: IgnoredSerializer,
                   400: OpenApiResponse(description="webhook_payload_invalid, webhook_delivery_missing"),
                   401: OpenApiResponse(description="webhook_signature_missing or webhook_signature_invalid (the "
                                                    "same for a definition that does not exist or takes no webhooks)"),
                   409: OpenApiResponse(description="webhook_replayed: this delivery id was accepted before")})
    def post(self, request: Request, definition_id: int) -> Response:
        body = _body(request)
        headers = request._request.headers
        signed = webhooks.signed_by(headers)
        definition = _definition(definition_id)
        secret = definition.get_webhook_secret() if definition is not None else ""
        if definition is None or not webhooks.verify(signed, secret, body):
            raise webhooks.unauthenticated(webhooks.INVALID_CODE)
        push = webhooks.parse(signed, headers, body)
        if push.event == "ping":
            return _ignored("A ping: the webhook reaches the portal and its secret matches.", IGNORED_PING)
        if not push.is_push:
            return _ignored(f"The {push.event} event does not start builds; send push events.", IGNORED_EVENT,
                            event=push.event)
        if push.deleted:
            return _ignored(f"{push.ref} was deleted; nothing to build.", IGNORED_DELETED, ref=push.ref)
        if not webhooks.builds_ref(definition.trigger_refs or [], definition.git_ref, push.ref):
            return _ignored(f"{definition.name} does not build {push.ref}.", IGNORED_REF, ref=push.ref,
                            refs=", ".join(webhooks.trigger_refs(definition.trigger_refs or [], definition.git_ref)))
        run = self._start(request, definition, push)
        return Response({"run": rows.run_row(run)}, status=status.HTTP_202_ACCEPTED)

    def _start(self, request: Request, definition: BuildDefinition, push: webhooks.Push) -> Any:
        replayed = Conflict(f"Delivery {push.delivery_id} was accepted before; a replay starts nothing.",
                            code=REPLAYED, params={"delivery": push.delivery_id})
        if WebhookDelivery.objects.filter(definition=definition, delivery_id=push.delivery_id).exists():
            raise replayed
        try:
            with transaction.atomic():
                # first: a concurrent copy of the delivery waits here on the unique index, then fails
                delivery = WebhookDelivery.objects.create(definition=definition, delivery_id=push.delivery_id,
                                                          provider=push.provider, ref=push.ref[:255],
                                                          commit=push.commit[:64])
                run = actions.create_run(definition, trigger=Trigger.WEBHOOK, user=None, ref=push.short_ref,
                                         commit=push.commit)
                WebhookDelivery.objects.filter(pk=delivery.pk).update(run=run)
                audit.describe(request, action="build.webhook", target=definition,
                               detail={"provider": push.provider, "delivery": push.delivery_id, "ref": push.ref,
                                       "commit": push.commit, "run": run.pk})
        except IntegrityError as exc:
            raise replayed from exc
        except Invalid as exc:  # a ref the definition cannot take (create_run's checks)
            raise webhooks.payload_invalid(exc.message) from exc
        return run
