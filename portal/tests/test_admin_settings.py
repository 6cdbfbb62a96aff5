"""GET /api/admin/settings/: the effective configuration in sections, admins only, and never a
secret (secret key, encryption keys, database/Redis/SMTP passwords, tokens) in the body."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from portal.testing import make_user, unique

pytestmark = pytest.mark.django_db

SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|ENCRYPTION", re.IGNORECASE)


def _entries(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["key"]: e for section in body["sections"] for e in section["entries"]}


def test_sections_and_entries(admin_api: APIClient) -> None:
    response = admin_api.get("/api/admin/settings/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["environment"] == "test"
    assert body["version"] == settings.VERSION
    keys = [s["key"] for s in body["sections"]]
    for section in ("environment", "versions", "address_policy", "retention", "intervals", "watcher", "limits",
                    "sessions", "secrets"):
        assert section in keys
    entries = _entries(body)
    loopback = entries["PORTAL_CLUSTER_ALLOW_LOOPBACK"]
    assert loopback["value"] is settings.PORTAL_CLUSTER_ALLOW_LOOPBACK
    assert loopback["env"] == "PORTAL_CLUSTER_ALLOW_LOOPBACK"
    assert "169.254.0.0/16" in entries["ALWAYS_DENIED_NETWORKS"]["value"]
    activity = entries["PORTAL_ACTIVITY_RETENTION_DAYS"]
    assert activity["value"] == settings.PORTAL_ACTIVITY_RETENTION_DAYS
    assert activity["unit"] == "days"
    assert activity["default"] == 90
    assert entries["PORTAL_METRICS_5M_RETENTION_DAYS"]["value"] == settings.PORTAL_METRICS_5M_RETENTION_DAYS
    assert entries["PORTAL_WATCHER_LEASE_SECONDS"]["unit"] == "seconds"
    assert entries["PORTAL_WATCHER_WATCH_TIMEOUT"]["default"] == 300
    assert entries["METRICS_ROLLUP_SECONDS"]["value"] == 60.0
    assert entries["POSTGRESQL_VERSION"]["value"]
    assert entries["DATABASE"]["value"].endswith(settings.DATABASES["default"]["NAME"])


@override_settings(PORTAL_ACTIVITY_RETENTION_DAYS=30, PORTAL_CLUSTER_DENY_NETWORKS=["10.0.0.0/8"])
def test_is_default_follows_the_value(admin_api: APIClient) -> None:
    entries = _entries(admin_api.get("/api/admin/settings/").json())
    assert entries["PORTAL_ACTIVITY_RETENTION_DAYS"]["value"] == 30
    assert entries["PORTAL_ACTIVITY_RETENTION_DAYS"]["is_default"] is False
    assert entries["PORTAL_CLUSTER_DENY_NETWORKS"]["value"] == ["10.0.0.0/8"]
    assert entries["PORTAL_EVENT_RETENTION_DAYS"]["is_default"] is (settings.PORTAL_EVENT_RETENTION_DAYS == 7)


def test_no_secret_ever_appears(admin_api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    db_password = "db-Pa55word-never-shown"
    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", db_password)  # read only, no reconnect here
    secrets = {
        "SECRET_KEY": "sk-" + "x9" * 30,
        "PORTAL_ENCRYPTION_KEYS": ["k2:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=", "k1:MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXY="],
        "EMAIL_HOST_PASSWORD": "smtp-pass-never-shown",
        "PORTAL_METRICS_TOKEN": "metrics-token-never-shown",
        "REDIS_URL": "redis://:redis-pass-never-shown@127.0.0.1:63799/4",
        # a secret pasted into an ordinary setting by mistake is redacted too
        "PORTAL_BASE_URL": "https://admin:metrics-token-never-shown@portal.example",
    }
    with override_settings(**secrets):
        response = admin_api.get("/api/admin/settings/")
    assert response.status_code == 200
    text = response.content.decode()
    forbidden = [db_password, secrets["SECRET_KEY"], "smtp-pass-never-shown", "metrics-token-never-shown",
                 "redis-pass-never-shown", settings.SECRET_KEY]
    for key in secrets["PORTAL_ENCRYPTION_KEYS"]:
        forbidden += [key, key.partition(":")[2]]
    for key in settings.PORTAL_ENCRYPTION_KEYS:
        forbidden += [key, key.partition(":")[2]]
    for value in forbidden:
        assert value not in text, f"a secret leaked: {value[:6]}…"
    entries = _entries(json.loads(text))
    assert entries["PORTAL_BASE_URL"]["value"] == "[redacted]"
    assert entries["REDIS"]["value"] == "redis://127.0.0.1:63799/4"
    for key, entry in entries.items():
        if entry["secret"]:
            assert isinstance(entry["value"], bool), key
            assert entry["default"] is None, key
        elif SECRET_NAME.search(key):
            pytest.fail(f"{key} looks like a secret but is not marked as one")
    assert entries["SECRET_KEY"]["value"] is True
    assert entries["EMAIL_HOST_PASSWORD"]["value"] is True
    assert entries["DATABASE_PASSWORD"]["value"] is True


def test_only_admins(api: APIClient, user_api: APIClient) -> None:
    assert api.get("/api/admin/settings/").status_code in (401, 403)
    assert user_api.get("/api/admin/settings/").status_code == 403
    for role in ("operator", "auditor"):
        client = APIClient()
        client.force_authenticate(make_user(unique(role), role=role))
        response = client.get("/api/admin/settings/")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert user_api.post("/api/admin/settings/", {}, format="json").status_code == 403
