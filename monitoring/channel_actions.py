"""Writers of notification channels (NOTIFY, issue 14): create, change, delete, and send a test
notification through the outbox.

Every write validates before it touches a row (a 400 naming the field with a stable ``code``),
asks :mod:`monitoring.access` whether the user may manage channels of that workspace (global
channels: admins), runs in one transaction and audits (``describe`` inside API requests, ``record``
otherwise). Secrets: a webhook's URL (a Slack or Teams URL is itself a credential) and its HMAC
secret are stored encrypted, bound to the row's id, and never returned, logged or broadcast: rows
show the URL's host (``url_host``) and ``has_secret`` only.

A test (:func:`send_test`) records a :class:`~monitoring.models.Notification` like any other,
about the channel's own test alert (one resolved alert per channel, labelled ``portal.test``), and
the same task delivers it, so the test proves the whole path: outbox, claim, send, delivery log.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from monitoring import access, outbox
from monitoring.models import (
    Alert,
    AlertState,
    ChannelKind,
    Notification,
    NotificationChannel,
    Severity,
)
from portal import access as portal_access
from portal import audit, errors, outbound
from portal.addresses import AddressError
from portal.models import AuditOutcome
from workspaces.models import Workspace

MAX_RECIPIENTS = 50
NAME_MAX = 100
URL_MAX = 2000
SECRET_MAX = 200
WEBHOOK_KINDS = (ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.WEBHOOK)
TEST_LABEL = "portal.test"
FIELDS = ("name", "kind", "workspace", "enabled", "min_severity", "notify_resolved", "recipients", "url", "secret")


def _invalid(field: str, message: str, *, code: str, params: dict[str, Any] | None = None) -> errors.Invalid:
    return errors.Invalid(f"Invalid input: {field}: {message}", code=code, params=params, errors={field: [message]})


def _audit(request: HttpRequest | None, *, action: str, target: Any, user: Any, detail: dict[str, Any]) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail)
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, actor=user, target=target, detail=detail)


def may_use_plain_http(user: Any) -> bool:
    """A webhook over plain ``http://``: anyone in development and test, system admins elsewhere
    (a receiver on their own network), as builds' registries and repositories."""
    return settings.PORTAL_ENV in ("development", "test") or portal_access.is_admin(user)


# ---------------------------------------------------------------------------- checks


def _name(value: Any) -> str:
    name = str(value or "").strip() if isinstance(value, str) or value is None else ""
    if not name or len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        raise _invalid("name", f"Give a name of 1 to {NAME_MAX} characters on one line.", code="channel_name_invalid")
    return name


def _kind(value: Any) -> str:
    if value not in ChannelKind.values:
        raise _invalid("kind", f"Choose one of {', '.join(ChannelKind.values)}.", code="channel_kind_invalid")
    return str(value)


def _severity(value: Any) -> str:
    if value not in Severity.values:
        raise _invalid("min_severity", f"Choose one of {', '.join(Severity.values)}.", code="severity_invalid")
    return str(value)


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid(field, "Give true or false.", code="invalid")
    return value


def _recipients(value: Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RECIPIENTS:
        raise _invalid("recipients", f"Give a list of 1 to {MAX_RECIPIENTS} e-mail addresses.",
                       code="recipients_invalid")
    out: list[str] = []
    for raw in value:
        address = raw.strip() if isinstance(raw, str) else ""
        try:
            if not address or len(address) > 254 or any(c in address for c in "\r\n,;<>\"") or " " in address:
                raise ValidationError("bad")
            validate_email(address)
        except ValidationError:
            raise _invalid("recipients", f"{str(raw)[:254]!r} is no e-mail address (name@example.com).",
                           code="recipients_invalid", params={"address": str(raw)[:254]}) from None
        if address.lower() not in (a.lower() for a in out):
            out.append(address)
    return out


def _url(value: Any, user: Any) -> tuple[str, str]:
    """The webhook URL as given and its host; 400 ``invalid_host``/``address_not_allowed``… from the
    address policy, ``webhook_plain_http_refused`` for http:// in production by a non-admin."""
    url = value.strip() if isinstance(value, str) else ""
    if not url or len(url) > URL_MAX:
        raise _invalid("url", f"Give the webhook's https:// address (at most {URL_MAX} characters).",
                       code="webhook_url_invalid")
    try:
        host = outbound.validate_url(url, schemes=("http", "https"))
    except AddressError as exc:
        raise _invalid("url", str(exc), code=exc.code) from exc
    if urlsplit(url).fragment:
        raise _invalid("url", "A webhook address has no #fragment.", code="webhook_url_invalid")
    if urlsplit(url).scheme == "http" and not may_use_plain_http(user):
        raise _invalid("url", "Use https:// (only system admins may send notifications over plain http://).",
                       code="webhook_plain_http_refused")
    return url, host


def _secret(value: Any) -> str:
    if not isinstance(value, str) or len(value) > SECRET_MAX or any(ord(c) < 32 for c in value):
        raise _invalid("secret", f"Give a secret of at most {SECRET_MAX} characters on one line (empty removes it).",
                       code="channel_secret_invalid")
    return value


def _workspace(user: Any, value: Any) -> Workspace | None:
    if value is None or value == "":
        return None
    try:
        return access.workspace(user, value)
    except errors.NotFound:
        raise _invalid("workspace", "No such workspace (or not visible to you).", code="not_found",
                       params={"what": "workspace"}) from None


def _unknown(data: Mapping[str, Any]) -> None:
    extra = sorted(set(data) - set(FIELDS))
    if extra:
        raise _invalid(extra[0], "Unknown field; allowed fields are: " + ", ".join(sorted(FIELDS)) + ".",
                       code="invalid", params={"field": extra[0]})


# ---------------------------------------------------------------------------- writers


def create_channel(*, user: Any, data: Mapping[str, Any], request: HttpRequest | None = None) -> NotificationChannel:
    _unknown(data)
    workspace = _workspace(user, data.get("workspace"))
    access.require_manage_channel(user, workspace)
    name = _name(data.get("name"))
    kind = _kind(data.get("kind"))
    fields: dict[str, Any] = {
        "name": name, "kind": kind, "workspace": workspace,
        "enabled": _bool("enabled", data.get("enabled", True)),
        "min_severity": _severity(data.get("min_severity", Severity.WARNING)),
        "notify_resolved": _bool("notify_resolved", data.get("notify_resolved", True)),
    }
    url = secret = ""
    if kind == ChannelKind.EMAIL:
        for field in ("url", "secret"):
            if data.get(field):
                raise _invalid(field, "E-mail channels have recipients, not a URL or secret.",
                               code="channel_field_unused", params={"field": field})
        fields["recipients"] = _recipients(data.get("recipients"))
    else:
        if data.get("recipients"):
            raise _invalid("recipients", "Webhook channels have a URL, not recipients.", code="channel_field_unused",
                           params={"field": "recipients"})
        url, fields["url_host"] = _url(data.get("url"), user)
        secret = _secret(data.get("secret", ""))
    with transaction.atomic():
        channel = NotificationChannel.objects.create(created_by=user if portal_access.signed_in(user) else None,
                                                     **fields)
        if url:
            channel.set_url(url)
        if secret:
            channel.set_secret(secret)
        channel.save(update_fields=["url_encrypted", "secret_encrypted"])
        _audit(request, action="monitoring.channel.create", target=channel, user=user,
               detail={"kind": kind, "workspace": workspace.pk if workspace else None})
    return channel


def update_channel(*, user: Any, channel: NotificationChannel, data: Mapping[str, Any],
                   request: HttpRequest | None = None) -> NotificationChannel:
    access.require_manage_channel(user, channel.workspace)
    _unknown(data)
    if "kind" in data and data["kind"] != channel.kind:
        raise _invalid("kind", "A channel's kind cannot change; create another channel.",
                       code="channel_kind_immutable")
    if "workspace" in data and (data["workspace"] or None) != channel.workspace_id:
        raise _invalid("workspace", "A channel's workspace cannot change; create another channel.",
                       code="channel_workspace_immutable")
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = _name(data["name"])
    if "enabled" in data:
        changes["enabled"] = _bool("enabled", data["enabled"])
    if "min_severity" in data:
        changes["min_severity"] = _severity(data["min_severity"])
    if "notify_resolved" in data:
        changes["notify_resolved"] = _bool("notify_resolved", data["notify_resolved"])
    url: str | None = None
    secret: str | None = None
    if channel.kind == ChannelKind.EMAIL:
        for field in ("url", "secret"):
            if data.get(field):
                raise _invalid(field, "E-mail channels have recipients, not a URL or secret.",
                               code="channel_field_unused", params={"field": field})
        if "recipients" in data:
            changes["recipients"] = _recipients(data["recipients"])
    else:
        if data.get("recipients"):
            raise _invalid("recipients", "Webhook channels have a URL, not recipients.", code="channel_field_unused",
                           params={"field": "recipients"})
        if "url" in data:
            url, changes["url_host"] = _url(data["url"], user)
        if "secret" in data:
            secret = _secret(data["secret"])
    with transaction.atomic():
        locked = NotificationChannel.objects.select_for_update().get(pk=channel.pk)
        for key, value in changes.items():
            setattr(locked, key, value)
        if url is not None:
            locked.set_url(url)
        if secret is not None:
            if secret:
                locked.set_secret(secret)
            else:
                locked.secret_encrypted = ""
        locked.save()
        changed = sorted([*changes, *(["url"] if url is not None else []), *(["secret"] if secret is not None else [])])
        _audit(request, action="monitoring.channel.update", target=locked, user=user,
               detail={"fields": [f for f in changed if f != "url_host"]})
    return locked


def delete_channel(*, user: Any, channel: NotificationChannel, request: HttpRequest | None = None) -> None:
    """Delete a channel and its outbox rows and delivery log (an unsent notification goes with it)."""
    access.require_manage_channel(user, channel.workspace)
    with transaction.atomic():
        _audit(request, action="monitoring.channel.delete", target=channel, user=user,
               detail={"kind": channel.kind, "name": channel.name})
        NotificationChannel.objects.filter(pk=channel.pk).delete()


def _test_alert(channel: NotificationChannel) -> Alert:
    """The channel's test alert: one resolved alert per channel, labelled ``portal.test``."""
    fingerprint = hashlib.sha256(f"portal.test:channel:{channel.pk}".encode()).hexdigest()
    now = timezone.now()
    alert = Alert.objects.filter(fingerprint=fingerprint).order_by("id").first()
    message = f"Test notification of channel {channel.name}"
    if alert is None:
        alert = Alert.objects.create(
            rule=None, fingerprint=fingerprint, state=AlertState.RESOLVED, severity=Severity.INFO,
            workspace=channel.workspace, subject_kind="NotificationChannel", subject_name=channel.name,
            labels={TEST_LABEL: True, "channel": channel.pk}, message=message, message_code="notification_test",
            message_params={"channel": channel.name}, started_at=now, last_seen_at=now, resolved_at=now)
    elif alert.message != message:
        Alert.objects.filter(pk=alert.pk).update(message=message, subject_name=channel.name,
                                                 message_params={"channel": channel.name})
        alert.refresh_from_db()
    return alert


def send_test(*, user: Any, channel: NotificationChannel, request: HttpRequest | None = None) -> Notification:
    """Record a test notification of ``channel`` (sent by the delivery task after commit)."""
    access.require_manage_channel(user, channel.workspace)
    with transaction.atomic():
        locked = NotificationChannel.objects.select_for_update().get(pk=channel.pk)
        notification = outbox.record_test(_test_alert(locked), locked, secrets.token_hex(8))
        _audit(request, action="monitoring.channel.test", target=locked, user=user,
               detail={"notification": notification.pk})
    return notification
