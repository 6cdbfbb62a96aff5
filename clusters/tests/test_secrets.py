"""Credentials stay secret: never in API responses, never in the audit log, never in clear in a
database dump; and ``rotate_encryption_key`` re-encrypts them under a new key, idempotently."""

from __future__ import annotations

import base64
import glob
import io
import os
import subprocess
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from rest_framework.test import APIClient

from clusters.kube.connection import Credentials
from clusters.models import Cluster
from portal import crypto
from portal.models import AuditRecord

NEW_KEY = "k2:" + base64.b64encode(b"n" * 32).decode()


def pg_dump() -> str:
    binary = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))[-1]
    s = connection.settings_dict
    env = dict(os.environ, PGPASSWORD=str(s["PASSWORD"] or ""))
    result = subprocess.run(
        [binary, "--data-only", "-h", str(s["HOST"]), "-p", str(s["PORT"]), "-U", str(s["USER"]), str(s["NAME"])],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )
    return result.stdout


@pytest.mark.django_db(transaction=True)  # committed, so pg_dump's own connection sees the rows
def test_token_is_nowhere_in_clear(admin_user: Any, sandbox: Any) -> None:
    handle = sandbox.cluster("cluster-1")
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post("/api/clusters/", {"name": "secret-check", "kubeconfig": handle.kubeconfig.read_text()},
                        format="json")
    assert response.status_code == 202, response.json()
    cluster_id = response.json()["id"]
    replaced = api.post(f"/api/clusters/{cluster_id}/credentials/", {
        "server": handle.server, "ca_pem": handle.ca_path.read_text(), "token": handle.token}, format="json")
    assert replaced.status_code == 202

    token = handle.token
    dump = pg_dump()
    assert "secret-check" in dump  # the row is in the dump...
    assert token not in dump  # ...its token is not
    assert base64.b64encode(token.encode()).decode() not in dump

    bodies = [api.get("/api/clusters/").content, api.get(f"/api/clusters/{cluster_id}/").content,
              api.get("/api/audit/").content, response.content, replaced.content]
    assert all(token.encode() not in body for body in bodies)
    records = AuditRecord.objects.filter(target_id=str(cluster_id))
    assert {"cluster.register", "cluster.credentials"} <= set(records.values_list("action", flat=True))
    assert all(token not in str(r.detail) and token not in r.target_repr for r in records)


@pytest.mark.django_db
def test_rotate_encryption_key(settings: Any) -> None:
    old_kid = crypto.keyring().primary
    clusters = []
    for i in range(3):
        c = Cluster.objects.create(name=f"rot-{i}", server="https://k8s.example.com")
        c.set_credentials(Credentials(token=f"token-{i}"))
        c.save()
        clusters.append(c)
    Cluster.objects.create(name="rot-empty", server="https://k8s.example.com")

    settings.PORTAL_ENCRYPTION_KEYS = [NEW_KEY, *settings.PORTAL_ENCRYPTION_KEYS]
    out = io.StringIO()
    call_command("rotate_encryption_key", "--dry-run", stdout=out)
    assert "would re-encrypt 3" in out.getvalue()
    assert all(crypto.key_id(Cluster.objects.get(pk=c.pk).credentials_encrypted) == old_kid for c in clusters)

    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "re-encrypted 3, already current 0, without credentials 1, failed 0" in out.getvalue()
    for i, c in enumerate(clusters):
        c.refresh_from_db()
        assert crypto.key_id(c.credentials_encrypted) == "k2"
        assert c.get_credentials().token == f"token-{i}"

    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)  # idempotent
    assert "re-encrypted 0, already current 3" in out.getvalue()

    settings.PORTAL_ENCRYPTION_KEYS = [NEW_KEY]  # the old key is gone now
    assert Cluster.objects.get(pk=clusters[0].pk).get_credentials().token == "token-0"


@pytest.mark.django_db
def test_rotate_reports_rows_it_cannot_decrypt(settings: Any) -> None:
    c = Cluster.objects.create(name="rot-broken", server="https://k8s.example.com")
    c.set_credentials(Credentials(token="t"))
    c.save()
    settings.PORTAL_ENCRYPTION_KEYS = [NEW_KEY]  # the key that encrypted it is missing
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 cluster"):
        call_command("rotate_encryption_key", stdout=io.StringIO(), stderr=err)
    assert f"cluster {c.pk} (rot-broken): cannot decrypt" in err.getvalue()
