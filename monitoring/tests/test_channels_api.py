"""The channels API (/api/monitoring/channels/) and the deliveries API (/api/monitoring/notifications/):
who may see and change which channel, validation with stable codes, write-only URL and secret,
the test notification through the outbox, audit records, and secrets kept out of every answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from monitoring import deliver, outbox
from monitoring.models import Notification, NotificationChannel
from monitoring.testing import HttpReceiver, seed_alert, seed_channel
from portal.models import AuditRecord
from portal.testing import make_user, unique
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db
URL = "/api/monitoring/channels/"
SLACK = "https://hooks.slack.com/services/T000/B000/SECRETPATHxyz"


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def team() -> Workspace:
    return Workspace.objects.create(name=unique("team"))


def _member(workspace: Workspace, role: str) -> APIClient:
    user = make_user(unique(role))
    Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))
    return _client(user)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as r:
        yield r


def _no_secrets(response: Any, *secrets: str) -> None:
    text = json.dumps(response.json()) if response.content else ""
    for secret in secrets:
        assert secret not in text


def test_manager_creates_reads_updates_and_deletes_a_webhook_channel(team: Workspace) -> None:
    manager = _member(team, "manager")
    r = manager.post(URL, {"name": "team slack", "kind": "slack", "workspace": team.pk, "url": SLACK,
                           "secret": "hmac-secret-1", "min_severity": "critical"}, format="json")
    assert r.status_code == 201, r.json()
    row = r.json()
    assert row["url_host"] == "hooks.slack.com"
    assert row["has_url"]
    assert row["has_secret"]
    assert row["workspace"] == {"id": team.pk, "name": team.name}
    assert (row["kind"], row["min_severity"], row["enabled"], row["notify_resolved"]) == ("slack", "critical", True,
                                                                                         True)
    assert "url" not in row
    assert "secret" not in row
    _no_secrets(r, "SECRETPATH", "hmac-secret-1")
    channel = NotificationChannel.objects.get(pk=row["id"])
    assert channel.get_url() == SLACK
    assert channel.get_secret() == "hmac-secret-1"
    assert "SECRETPATH" not in channel.url_encrypted

    r = manager.get(f"{URL}{row['id']}/")
    assert r.status_code == 200
    _no_secrets(r, "SECRETPATH", "hmac-secret-1")
    listed = manager.get(URL)
    assert [c["id"] for c in listed.json()["results"]] == [row["id"]]
    _no_secrets(listed, "SECRETPATH", "hmac-secret-1")

    r = manager.patch(f"{URL}{row['id']}/", {"secret": "", "enabled": False, "name": "renamed"}, format="json")
    assert r.status_code == 200, r.json()
    assert (r.json()["has_secret"], r.json()["enabled"], r.json()["name"]) == (False, False, "renamed")
    r = manager.patch(f"{URL}{row['id']}/", {"url": "https://other.example.com/hook"}, format="json")
    assert r.json()["url_host"] == "other.example.com"
    r = manager.patch(f"{URL}{row['id']}/", {"kind": "teams"}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "channel_kind_immutable")

    audits = AuditRecord.objects.filter(target_type="monitoring.notificationchannel", target_id=str(row["id"]))
    actions = set(audits.values_list("action", flat=True))
    assert {"monitoring.channel.create", "monitoring.channel.update"} <= actions
    for record in audits:
        assert "SECRETPATH" not in json.dumps(record.detail)
        assert "hmac-secret" not in json.dumps(record.detail)

    assert manager.delete(f"{URL}{row['id']}/").status_code == 204
    assert not NotificationChannel.objects.filter(pk=row["id"]).exists()
    assert AuditRecord.objects.filter(action="monitoring.channel.delete", target_id=str(row["id"])).exists()


def test_email_channel_validation(team: Workspace) -> None:
    manager = _member(team, "manager")
    base = {"name": "mail", "kind": "email", "workspace": team.pk}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({}, "recipients", "recipients_invalid"),
        ({"recipients": []}, "recipients", "recipients_invalid"),
        ({"recipients": ["not-an-address"]}, "recipients", "recipients_invalid"),
        ({"recipients": ["a@example.com\r\nBcc: x@evil.example"]}, "recipients", "recipients_invalid"),
        ({"recipients": ["ops@example.com"], "url": SLACK}, "url", "channel_field_unused"),
        ({"recipients": ["ops@example.com"], "min_severity": "loud"}, "min_severity", "severity_invalid"),
        ({"recipients": ["ops@example.com"], "name": ""}, "name", "channel_name_invalid"),
        ({"recipients": ["ops@example.com"], "kind": "pager"}, "kind", "channel_kind_invalid"),
        ({"recipients": ["ops@example.com"], "colour": "red"}, "colour", "invalid"),
        ({"recipients": ["ops@example.com"], "enabled": "yes"}, "enabled", "invalid"),
    ]
    for extra, field, code in cases:
        r = manager.post(URL, {**base, **extra}, format="json")
        assert r.status_code == 400, (extra, r.json())
        assert r.json()["code"] == code, (extra, r.json())
        assert field in r.json()["errors"], (extra, r.json())
    assert not NotificationChannel.objects.exists()
    r = manager.post(URL, {**base, "recipients": ["ops@example.com", "OPS@example.com", "dev@example.com"]},
                     format="json")
    assert r.status_code == 201
    assert r.json()["recipients"] == ["ops@example.com", "dev@example.com"]
    assert r.json()["url_host"] == ""
    assert not r.json()["has_url"]


def test_webhook_url_validation(team: Workspace) -> None:
    manager = _member(team, "manager")
    base = {"name": "hook", "kind": "webhook", "workspace": team.pk}
    for url, code in [("", "webhook_url_invalid"), ("ftp://example.com/x", "invalid_host"),
                      ("https://user:pw@example.com/x", "invalid_host"),
                      ("http://169.254.169.254/latest", "address_not_allowed")]:
        r = manager.post(URL, {**base, "url": url}, format="json")
        assert r.status_code == 400, (url, r.json())
        assert r.json()["code"] == code, (url, r.json())
        assert "url" in r.json()["errors"], (url, r.json())
    # Plain http:// is for development and test, or system admins.
    with override_settings(PORTAL_ENV="production"):
        r = manager.post(URL, {**base, "url": "http://hooks.example.com/x"}, format="json")
        assert (r.status_code, r.json()["code"]) == (400, "webhook_plain_http_refused")
    r = manager.post(URL, {**base, "url": "http://hooks.example.com/x"}, format="json")
    assert r.status_code == 201


def test_who_may_see_and_change_which_channel(team: Workspace, admin_api: APIClient) -> None:
    other = Workspace.objects.create(name=unique("other"))
    ours = seed_channel(workspace=team, url=SLACK)
    theirs = seed_channel(workspace=other, url=SLACK)
    global_channel = seed_channel(url=SLACK)
    viewer, manager, outsider = _member(team, "viewer"), _member(team, "manager"), _member(other, "viewer")

    assert {c["id"] for c in viewer.get(URL).json()["results"]} == {ours.pk}
    assert viewer.get(f"{URL}{theirs.pk}/").status_code == 404
    assert viewer.get(f"{URL}{global_channel.pk}/").status_code == 404
    r = viewer.patch(f"{URL}{ours.pk}/", {"enabled": False}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "grant_missing")
    r = viewer.post(URL, {"name": "x", "kind": "slack", "workspace": team.pk, "url": SLACK}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "grant_missing")
    assert viewer.post(f"{URL}{ours.pk}/test/").status_code == 403
    assert outsider.delete(f"{URL}{ours.pk}/").status_code == 404
    r = outsider.post(URL, {"name": "x", "kind": "slack", "workspace": team.pk, "url": SLACK}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "not_found")

    r = manager.post(URL, {"name": "global", "kind": "slack", "url": SLACK}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "admin_required")
    assert manager.patch(f"{URL}{ours.pk}/", {"enabled": False}, format="json").status_code == 200

    r = admin_api.post(URL, {"name": "global", "kind": "teams", "url": SLACK, "workspace": None}, format="json")
    assert r.status_code == 201
    assert r.json()["workspace"] is None
    assert {c["id"] for c in admin_api.get(URL).json()["results"]} >= {ours.pk, theirs.pk, global_channel.pk}
    assert {c["id"] for c in admin_api.get(URL, {"workspace": "global"}).json()["results"]} == {
        global_channel.pk, r.json()["id"]}
    assert {c["id"] for c in admin_api.get(URL, {"workspace": team.pk}).json()["results"]} == {ours.pk}
    assert admin_api.get(URL, {"kind": "pager"}).status_code == 400
    operator = _client(make_user(unique("op"), role="operator"))
    assert operator.get(f"{URL}{global_channel.pk}/").status_code == 200
    assert operator.patch(f"{URL}{global_channel.pk}/", {"enabled": False}, format="json").status_code == 403


def test_test_notification_goes_through_the_outbox(team: Workspace, receiver: HttpReceiver) -> None:
    manager = _member(team, "manager")
    r = manager.post(URL, {"name": "hook", "kind": "webhook", "workspace": team.pk, "url": receiver.url("/t"),
                           "secret": "sig-secret"}, format="json")
    channel_id = r.json()["id"]
    r = manager.post(f"{URL}{channel_id}/test/")
    assert r.status_code == 202, r.json()
    row = r.json()
    assert (row["event"], row["state"], row["channel"]["id"], row["attempts"]) == ("test", "pending", channel_id, [])
    # The delivery task (enqueued after commit) does this in a worker:
    assert deliver.deliver(row["id"]) == "delivered"
    [req] = receiver.accepted
    assert req.json()["event"] == "test"
    assert req.headers["idempotency-key"] == row["idempotency_key"]
    assert req.json()["alert"]["labels"]["portal.test"] is True
    r = manager.get("/api/monitoring/notifications/", {"channel": channel_id})
    [listed] = r.json()["results"]
    assert listed["state"] == "delivered"
    assert listed["attempt_count"] == 1
    assert [(a["ok"], a["status_code"]) for a in listed["attempts"]] == [(True, 200)]
    # A second test reuses the channel's test alert, with a new notification.
    second = manager.post(f"{URL}{channel_id}/test/").json()
    assert second["alert"] == row["alert"]
    assert second["idempotency_key"] != row["idempotency_key"]
    assert AuditRecord.objects.filter(action="monitoring.channel.test", target_id=str(channel_id)).count() == 2


def test_notifications_of_an_alert_with_their_delivery_log(team: Workspace, receiver: HttpReceiver,
                                                           admin_api: APIClient) -> None:
    other = Workspace.objects.create(name=unique("other"))
    hook = seed_channel(workspace=team, url=receiver.url("/SECRETPATH"), secret="hmac-secret-2")
    seed_channel(url=receiver.url("/global"))  # global: admins see its rows, members do not
    alert = seed_alert(workspace=team)
    assert outbox.record(alert, "firing") == 2
    for n in Notification.objects.filter(alert=alert):
        deliver.deliver(n.pk)

    viewer = _member(team, "viewer")
    r = viewer.get("/api/monitoring/notifications/", {"alert": alert.pk})
    assert r.status_code == 200
    [row] = r.json()["results"]
    assert row["channel"] == {"id": hook.pk, "name": hook.name, "kind": "webhook"}
    assert row["alert"] == alert.pk
    assert row["event"] == "firing"
    assert row["state"] == "delivered"
    assert row["attempts"][0]["ok"] is True
    assert row["attempts"][0]["status_code"] == 200
    _no_secrets(r, "SECRETPATH", "hmac-secret-2")
    assert viewer.get(f"/api/monitoring/notifications/{row['id']}/").status_code == 200
    assert len(admin_api.get("/api/monitoring/notifications/", {"alert": alert.pk}).json()["results"]) == 2
    outsider = _member(other, "manager")
    assert outsider.get("/api/monitoring/notifications/", {"alert": alert.pk}).status_code == 404
    assert outsider.get(f"/api/monitoring/notifications/{row['id']}/").status_code == 404
    assert outsider.get("/api/monitoring/notifications/").json()["results"] == []
    r = viewer.get("/api/monitoring/notifications/", {"alert": "x"})
    assert r.status_code == 400
    assert viewer.get("/api/monitoring/notifications/", {"state": "lost"}).status_code == 400
    assert APIClient().get("/api/monitoring/notifications/").status_code == 401


def _queries(client: APIClient, path: str, params: dict[str, Any] | None = None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path, params or {}).status_code == 200
    return len(ctx.captured_queries)


def test_list_queries_do_not_grow_with_rows(team: Workspace, receiver: HttpReceiver) -> None:
    manager = _member(team, "manager")
    seed_channel(workspace=team, url=receiver.url())
    alert = seed_alert(workspace=team)
    outbox.record(alert, "firing")
    deliver.deliver(Notification.objects.get(alert=alert).pk)
    few_channels = _queries(manager, URL)
    few_notifications = _queries(manager, "/api/monitoring/notifications/")
    for _ in range(4):
        seed_channel(workspace=team, url=receiver.url(), secret="x")
    for n in range(3):
        more = seed_alert(workspace=team, message=f"more {n}")
        outbox.record(more, "firing")
        for row in Notification.objects.filter(alert=more):
            deliver.deliver(row.pk)
    assert _queries(manager, URL) == few_channels
    assert _queries(manager, "/api/monitoring/notifications/") == few_notifications


def test_deleting_a_channel_drops_its_unsent_notifications(team: Workspace, receiver: HttpReceiver) -> None:
    manager = _member(team, "manager")
    channel = seed_channel(workspace=team, url=receiver.url())
    alert = seed_alert(workspace=team)
    outbox.record(alert, "firing")
    row = Notification.objects.get(alert=alert)
    assert manager.delete(f"{URL}{channel.pk}/").status_code == 204
    assert not Notification.objects.filter(pk=row.pk).exists()
    assert deliver.deliver(row.pk) == "skipped"  # a task still queued for it finds nothing
    assert receiver.requests == []
