"""The secrets scanner: plant known canary secrets through the real API, use the portal, then
look for the canaries in every API response body and every log line the test produced.

Canaries: a cluster bearer token and a client certificate key (two cluster registrations; the
registration checks them against the sandbox cluster, so they are real ones, random enough), a
catalog source password, the values of a config Secret, Secret values given to a release plan and
to an installed release (rendered into a Secret by the chart), and an API token. After planting,
the tasks the API enqueued for them run in this process (cluster checks, a source refresh that
fails to connect and says so in the log), then every GET operation of the schema is called as
the system admin and as the workspace developer (with the world's identifiers in the path), and
the planted objects' own pages besides.

A canary may appear in exactly one place: the API token in the response that creates it (it is
shown once). Nowhere else: not in a response, not in a log record at any level (message,
arguments, exception text), not in an audit record.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from portal.models import AuditRecord
from tests.security.world import World, fill


@dataclass
class Recorder:
    """Every response the scanner's clients received: (who, method, path, status, body)."""

    responses: list[tuple[str, str, str, int, str]] = field(default_factory=list)

    def call(self, client: APIClient, who: str, method: str, path: str, body: Any = None) -> Any:
        response: Any
        if method == "get":
            response = client.get(path)
        else:
            response = client.generic(method.upper(), path, json.dumps(body if body is not None else {}),
                                      content_type="application/json")
        # a file download (the audit log's CSV export) streams its body: read it whole, once
        raw = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
        self.responses.append((who, method.upper(), path, response.status_code, raw.decode("utf-8", "replace")))
        return response


def canary(kind: str) -> str:
    return f"canary{kind}{secrets.token_hex(12)}"


def _kubeconfig(server: str, ca_pem: bytes, *, token: str | None = None, cert: bytes | None = None,
                key: bytes | None = None) -> str:
    user: dict[str, str] = {}
    if token:
        user["token"] = token
    if cert and key:
        user["client-certificate-data"] = base64.b64encode(cert).decode()
        user["client-key-data"] = base64.b64encode(key).decode()
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server,
                                               "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    })


def _key_needles(key_pem: bytes) -> list[str]:
    """Recognisable pieces of a PEM key: its base64 body lines and the base64 of the whole PEM."""
    body = [line for line in key_pem.decode().splitlines() if line and not line.startswith("-----")]
    return [*body[1:3], base64.b64encode(key_pem).decode()[20:80]]


def test_no_canary_secret_in_any_response_or_log(secworld: World, sandbox: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = Recorder()
    admin, dev, manager = secworld.client("admin"), secworld.client("developer"), secworld.client("manager")
    needles: dict[str, list[str]] = {}
    handle = sandbox.cluster("cluster-3")
    ca_pem = handle.ca_path.read_bytes()

    # A cluster token and a client key, through both registration forms and the credentials update.
    # (Registration checks them against the cluster, so these are the sandbox cluster's real ones.)
    token = handle.token
    needles["cluster token"] = [token]
    r = rec.call(admin, "admin", "post", "/api/clusters/", {
        "name": f"canary-token-{secworld.suffix}", "kubeconfig": _kubeconfig(handle.server, ca_pem, token=token)})
    assert r.status_code == 202, r.content
    token_cluster = r.json()["id"]
    cert, key = handle.mint_client_cert("canary-user", ("system:masters",))
    needles["client key"] = _key_needles(key)
    r = rec.call(admin, "admin", "post", "/api/clusters/", {
        "name": f"canary-cert-{secworld.suffix}", "kubeconfig": _kubeconfig(handle.server, ca_pem, cert=cert, key=key)})
    assert r.status_code == 202, r.content
    cert_cluster = r.json()["id"]
    r = rec.call(admin, "admin", "post", f"/api/clusters/{token_cluster}/credentials/", {
        "server": handle.server, "ca_pem": ca_pem.decode(), "token": token})
    assert r.status_code == 202, r.content

    # A catalog source password.
    password = canary("sourcepassword")
    needles["source password"] = [password]
    r = rec.call(manager, "manager", "post", "/api/catalog/sources/", {
        "name": f"canary-{secworld.suffix}", "kind": "helm", "workspace": secworld.workspace.pk,
        "url": "https://127.0.0.1:9/charts", "username": "robot", "password": password})
    assert r.status_code in (201, 202), r.content
    source = r.json()["id"]

    # An API token: shown once, in the response that creates it.
    r = rec.call(dev, "developer", "post", "/api/auth/tokens/", {"name": "canary"})
    assert r.status_code == 201, r.content
    raw_token = r.json()["token"]
    needles["API token"] = [raw_token]
    creation = len(rec.responses) - 1

    # Secret values: a config Secret, a release plan and a release whose chart renders a Secret.
    sm = secworld.service_map.pk
    secret_value = canary("secretvalue")
    needles["Secret value"] = [secret_value, base64.b64encode(secret_value.encode()).decode()]
    r = rec.call(dev, "developer", "post", f"/api/catalog/configs/{sm}/", {
        "kind": "Secret", "name": "canary-db", "data": {"password": secret_value}})
    assert r.status_code == 202, r.content  # a cluster intent, converged below
    intents = [r.json()["id"]]
    plan_value = canary("planvalue")
    needles["Secret value"] += [plan_value, base64.b64encode(plan_value.encode()).decode()]
    release_body = {"service_map": sm, "name": "canary", "package_version": secworld.ids["versions"],
                    "values": {"password": plan_value}}
    r = rec.call(dev, "developer", "post", "/api/catalog/releases/plan/", release_body)
    assert r.status_code == 202, r.content
    intents.append(r.json()["id"])
    r = rec.call(dev, "developer", "post", "/api/catalog/releases/", release_body)
    assert r.status_code in (201, 202), r.content
    release = r.json()["id"]

    # The work the API enqueued, run here so its log lines are captured too: the clusters'
    # connectivity checks (one of them on the client key) and the source refresh, which cannot
    # connect (127.0.0.1:9) and logs why.
    from catalog import tasks as catalog_tasks
    from clusters import tasks as cluster_tasks

    for cluster_id in (token_cluster, cert_cluster):
        cluster_tasks.check_cluster.run(cluster_id)
    catalog_tasks.refresh_source.run(source)
    for intent in intents:  # the Secret's creation and the plan: their results are read back below
        catalog_tasks.converge_intent.run(intent)

    # Use the portal: every GET of the schema as admin and developer, and the canaries' own pages.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    gets = [path for path, item in schema["paths"].items() if "get" in item]
    for persona in ("admin", "developer"):
        client = secworld.client(persona)
        for path in gets:
            rec.call(client, persona, "get", fill(path, secworld))
    own = [f"/api/clusters/{token_cluster}/", f"/api/clusters/{cert_cluster}/", f"/api/catalog/sources/{source}/",
           f"/api/catalog/configs/{sm}/Secret/canary-db/", f"/api/catalog/configs/{sm}/Secret/canary-db/versions/",
           f"/api/catalog/releases/{release}/", f"/api/catalog/releases/{release}/revisions/1/",
           f"/api/catalog/releases/{release}/diff/?from=1&to=1", f"/api/catalog/releases/{release}/drift/",
           "/api/audit/?page_size=500", *(f"/api/catalog/intents/{i}/" for i in intents)]
    for path in own:
        rec.call(admin, "admin", "get", path)
        rec.call(dev, "developer", "get", path)
    assert len(rec.responses) > 2 * len(gets)

    # Scan.
    found: list[str] = []
    for i, (who, method, path, status, body) in enumerate(rec.responses):
        for what, values in needles.items():
            if i == creation and what == "API token":
                continue
            if any(v in body for v in values):
                found.append(f"{what} in the response to {who}: {method} {path} -> {status}: {body[:300]}")
    for record in caplog.records:
        text = " ".join(str(x) for x in (record.getMessage(), record.args, record.exc_text, record.__dict__))
        for what, values in needles.items():
            if any(v in text for v in values):
                found.append(f"{what} in a log record of {record.name} ({record.levelname}): {text[:300]}")
    for audit in AuditRecord.objects.all():
        text = json.dumps([audit.target_repr, audit.detail], default=str)
        for what, values in needles.items():
            if any(v in text for v in values):
                found.append(f"{what} in audit record {audit.action}: {text[:300]}")
    out = Path(__file__).resolve().parents[2] / "var" / "security"
    out.mkdir(parents=True, exist_ok=True)
    (out / "secrets-scanner.json").write_text(json.dumps({
        "canaries": {what: len(values) for what, values in needles.items()}, "responses": len(rec.responses),
        "get_operations": len(gets), "log_records": len(caplog.records),
        "audit_records": AuditRecord.objects.count(), "found": len(found)}, indent=2) + "\n")
    assert caplog.records, "no log record was captured: the log scan would prove nothing"
    assert not found, f"{len(found)} canary secrets found:\n" + "\n".join(found)
    assert raw_token in rec.responses[creation][4], "the creation response shows the token once"
