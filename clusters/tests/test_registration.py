"""Registering clusters through the API against sandbox clusters over real HTTPS: by kubeconfig
and by URL + CA + token, every refusal of the issue with the field it belongs to, replacing
credentials after a token rotation, disabling, deleting, and the connectivity check task."""

from __future__ import annotations

import itertools
import json
from typing import Any, ClassVar

import pytest
import yaml
from rest_framework.test import APIClient

from clusters import services
from clusters.models import Cluster, KindSync, KubeObject, NodeOperation
from clusters.tests.helpers import other_ca
from portal.models import AuditRecord

pytestmark = pytest.mark.django_db
_names = itertools.count(1)
URL = "/api/clusters/"


def unique(prefix: str = "reg") -> str:
    return f"{prefix}-{next(_names)}"


def kubeconfig_text(fleet: Any, name: str = "cluster-1") -> str:
    return str(fleet.cluster(name).kubeconfig.read_text())


def edited_kubeconfig(fleet: Any, change: Any, name: str = "cluster-1") -> str:
    config = yaml.safe_load(kubeconfig_text(fleet, name))
    change(config)
    return str(yaml.safe_dump(config))


def fields_of(fleet: Any, name: str = "cluster-1") -> dict[str, str]:
    handle = fleet.cluster(name)
    return {"server": handle.server, "ca_pem": handle.ca_path.read_text(), "token": handle.token}


def register(api: APIClient, body: dict[str, Any]) -> Any:
    return api.post(URL, {"name": unique(), **body}, format="json")


def errors_of(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, (response.status_code, response.json())
    return dict(response.json()["errors"])


# ---------------------------------------------------------------------------- success


def test_register_by_kubeconfig(admin_api: APIClient, sandbox: Any) -> None:
    handle = sandbox.cluster("cluster-1")
    response = admin_api.post(URL, {
        "name": "seoul-prod", "display_name": "Seoul prod", "provider": "eks", "region": "ap-northeast-2",
        "stage": "prod", "labels": {"team": "core", "example.com/tier": "gold"},
        "kubeconfig": kubeconfig_text(sandbox),
    }, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["server"] == handle.server
    assert body["auth_method"] == "token"
    assert body["kubernetes_version"].startswith("v1.")
    assert body["labels"] == {"team": "core", "example.com/tier": "gold"}
    assert handle.token not in response.content.decode()
    assert "token" not in body
    assert "credentials_encrypted" not in body

    cluster = Cluster.objects.get(pk=body["id"])
    assert cluster.get_credentials().token == handle.token
    assert handle.token not in cluster.credentials_encrypted
    record = AuditRecord.objects.get(action="cluster.register", target_id=str(cluster.pk))
    assert record.outcome == "success"
    assert record.status_code == 202
    assert record.detail["source"] == "kubeconfig"
    assert handle.token not in str(record.detail)


def test_register_by_url_ca_and_token(admin_api: APIClient, sandbox: Any) -> None:
    response = register(admin_api, {**fields_of(sandbox, "cluster-2"), "provider": "gke"})
    assert response.status_code == 202, response.json()
    cluster = Cluster.objects.get(pk=response.json()["id"])
    assert cluster.server == sandbox.cluster("cluster-2").server
    assert cluster.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert cluster.get_credentials().token == sandbox.cluster("cluster-2").token


def test_kubeconfig_contexts_lists_without_storing(admin_api: APIClient, sandbox: Any) -> None:
    before = Cluster.objects.count()
    response = admin_api.post(URL + "kubeconfig-contexts/", {"kubeconfig": kubeconfig_text(sandbox)}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"current": "cluster-1", "contexts": [
        {"name": "cluster-1", "cluster": "cluster-1", "server": sandbox.cluster("cluster-1").server,
         "user": "cluster-1-admin"}]}
    assert Cluster.objects.count() == before
    bad = admin_api.post(URL + "kubeconfig-contexts/", {"kubeconfig": "a: ["}, format="json")
    assert "not valid YAML" in errors_of(bad)["kubeconfig"][0]


# ---------------------------------------------------------------------------- refusals


def _exec_plugin(config: dict[str, Any]) -> None:
    config["users"][0]["user"] = {"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1"}}


def _auth_provider(config: dict[str, Any]) -> None:
    config["users"][0]["user"] = {"auth-provider": {"name": "gcp"}}


def _insecure(config: dict[str, Any]) -> None:
    cluster = config["clusters"][0]["cluster"]
    cluster.pop("certificate-authority-data")
    cluster["insecure-skip-tls-verify"] = True


@pytest.mark.parametrize(
    ("make", "field", "message"),
    [
        (lambda f: {"kubeconfig": "a: ["}, "kubeconfig", "not valid YAML"),
        (lambda f: {"kubeconfig": kubeconfig_text(f) + "\n---\n" + kubeconfig_text(f)}, "kubeconfig",
         "exactly one YAML document"),
        (lambda f: {"kubeconfig": kubeconfig_text(f), "context": "nope"}, "context",
         "Context 'nope' is not in the kubeconfig"),
        (lambda f: {"kubeconfig": edited_kubeconfig(f, lambda c: c.pop("current-context"))}, "context",
         "no current-context"),
        (lambda f: {"kubeconfig": edited_kubeconfig(f, _exec_plugin)}, "kubeconfig", "exec plugin"),
        (lambda f: {"kubeconfig": edited_kubeconfig(f, _auth_provider)}, "kubeconfig", "auth-provider plugin"),
        (lambda f: {"kubeconfig": edited_kubeconfig(f, _insecure)}, "kubeconfig", "insecure-skip-tls-verify"),
        (lambda f: {**fields_of(f), "ca_pem": "", "insecure_skip_tls_verify": True}, "insecure_skip_tls_verify",
         "allow_insecure"),
        (lambda f: {**fields_of(f), "server": "https://169.254.169.254"}, "server", "cloud-metadata"),
        (lambda f: {**fields_of(f), "server": "https://[fd00:ec2::254]"}, "server", "cloud-metadata"),
        (lambda f: {**fields_of(f), "server": "http://example.com"}, "server", "https://"),
        (lambda f: {**fields_of(f), "ca_pem": "not a pem"}, "ca_pem", "not a PEM block"),
        (lambda f: {**fields_of(f), "token": ""}, "token", "bearer token"),
        (lambda f: {**fields_of(f), "token": "two words"}, "token", "one line"),
        (lambda f: {**fields_of(f), "ca_pem": other_ca()}, "ca_pem", "not trusted by the given CA"),
        (lambda f: {**fields_of(f), "token": "not-the-token"}, "token", "rejected the credentials (HTTP 401)"),
        (lambda f: {"kubeconfig": edited_kubeconfig(f, lambda c: c["users"][0]["user"].update(token="wrong"))},
         "kubeconfig", "rejected the credentials (HTTP 401)"),
        (lambda f: {}, "kubeconfig", "Upload a kubeconfig"),
        (lambda f: {"kubeconfig": kubeconfig_text(f), **fields_of(f)}, "server", "not both"),
    ],
    ids=["malformed", "multi-document", "missing-context", "no-current-context", "exec", "auth-provider",
         "insecure-in-kubeconfig", "insecure-without-allow", "metadata-v4", "metadata-v6", "not-https", "bad-ca-pem",
         "no-credentials", "token-with-spaces", "wrong-ca", "wrong-token", "wrong-token-in-kubeconfig", "nothing",
         "both-forms"],
)
def test_refusals_name_the_field(admin_api: APIClient, sandbox: Any, make: Any, field: str, message: str) -> None:
    before = Cluster.objects.count()
    errors = errors_of(register(admin_api, make(sandbox)))
    assert field in errors, errors
    assert message in errors[field][0]
    assert Cluster.objects.count() == before


def test_loopback_refused_outside_the_dev_profile(admin_api: APIClient, sandbox: Any, settings: Any) -> None:
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = False
    errors = errors_of(register(admin_api, fields_of(sandbox)))
    assert "loopback" in errors["server"][0]
    errors = errors_of(register(admin_api, {"kubeconfig": kubeconfig_text(sandbox)}))
    assert "loopback" in errors["kubeconfig"][0]


def test_unreachable_says_it_timed_out(admin_api: APIClient, sandbox: Any, settings: Any) -> None:
    settings.PORTAL_CLUSTER_PROBE_TIMEOUT = 1.0
    sandbox.inject_fault("cluster-3", blackhole=True)
    errors = errors_of(register(admin_api, fields_of(sandbox, "cluster-3")))
    assert "accepted the connection but sent no answer within 1 s" in errors["server"][0]


def test_insecure_allowed_only_when_asked(admin_api: APIClient, sandbox: Any) -> None:
    body = {**fields_of(sandbox), "ca_pem": "", "insecure_skip_tls_verify": True, "allow_insecure": True}
    response = register(admin_api, body)
    assert response.status_code == 202, response.json()
    assert Cluster.objects.get(pk=response.json()["id"]).insecure_skip_tls_verify is True


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "Not_DNS"}, "name", "DNS-1123"),
        ({"labels": {"team": 3}}, "labels", "must be a string"),
        ({"labels": {"bad key!": "x"}}, "labels", "not a valid label key"),
        ({"labels": {"team": "not valid!"}}, "labels", "not a valid label value"),
        ({"labels": ["a"]}, "labels", "object of strings"),
        ({"provider": "aws"}, "provider", "not a valid choice"),
        ({"colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_descriptive_fields_are_validated(
    admin_api: APIClient, sandbox: Any, body: dict[str, Any], field: str, message: str
) -> None:
    errors = errors_of(admin_api.post(URL, {"name": unique(), **fields_of(sandbox), **body}, format="json"))
    assert message in errors[field][0]


def test_names_are_unique(admin_api: APIClient, sandbox: Any) -> None:
    assert admin_api.post(URL, {"name": "twice", **fields_of(sandbox)}, format="json").status_code == 202
    errors = errors_of(admin_api.post(URL, {"name": "twice", **fields_of(sandbox)}, format="json"))
    assert "already registered" in errors["name"][0]


# ---------------------------------------------------------------------------- lifecycle


def test_replace_credentials_after_token_rotation(admin_api: APIClient, sandbox: Any) -> None:
    response = register(admin_api, fields_of(sandbox, "cluster-2"))
    cluster_id = response.json()["id"]
    old = sandbox.cluster("cluster-2").token
    new = sandbox.rotate_token("cluster-2")
    assert services.check_cluster(cluster_id) == "unauthorized"
    cluster = Cluster.objects.get(pk=cluster_id)
    assert "rejected" in cluster.status_message

    stale = admin_api.post(f"{URL}{cluster_id}/credentials/", fields_of(sandbox, "cluster-2") | {"token": old},
                           format="json")
    assert "rejected the credentials" in errors_of(stale)["token"][0]
    replaced = admin_api.post(f"{URL}{cluster_id}/credentials/", fields_of(sandbox, "cluster-2"), format="json")
    assert replaced.status_code == 202, replaced.json()
    assert new not in replaced.content.decode()
    cluster.refresh_from_db()
    assert cluster.get_credentials().token == new
    assert cluster.status == "pending"
    assert services.check_cluster(cluster_id) == "connected"
    record = AuditRecord.objects.get(action="cluster.credentials", target_id=str(cluster_id))
    assert new not in str(record.detail)
    assert old not in str(record.detail)


def test_check_reports_version_nodes_and_permissions(admin_api: APIClient, sandbox: Any) -> None:
    cluster_id = register(admin_api, fields_of(sandbox)).json()["id"]
    assert services.check_cluster(cluster_id) == "connected"
    cluster = Cluster.objects.get(pk=cluster_id)
    assert cluster.kubernetes_version == sandbox.cluster("cluster-1").version
    assert cluster.missing_permissions == []
    assert cluster.summary["nodes_total"] == 3
    assert "3 nodes" in cluster.status_message
    assert cluster.last_checked is not None
    record = AuditRecord.objects.filter(action="cluster.check", target_id=str(cluster_id)).latest("id")
    assert record.detail["node_count"] == 3
    # Running it again converges to the same state.
    assert services.check_cluster(cluster_id) == "connected"
    assert admin_api.post(f"{URL}{cluster_id}/check/").status_code == 202


def test_check_of_an_unreachable_cluster(admin_api: APIClient, sandbox: Any, settings: Any) -> None:
    cluster_id = register(admin_api, fields_of(sandbox, "cluster-3")).json()["id"]
    settings.PORTAL_CLUSTER_CHECK_TIMEOUT = 0.5
    sandbox.inject_fault("cluster-3", blackhole=True)
    assert services.check_cluster(cluster_id) == "unreachable"
    assert "sent no answer within 0.5 s" in Cluster.objects.get(pk=cluster_id).status_message


def test_disable_and_enable(admin_api: APIClient, sandbox: Any) -> None:
    cluster_id = register(admin_api, fields_of(sandbox)).json()["id"]
    response = admin_api.patch(f"{URL}{cluster_id}/", {"enabled": False, "description": "parked"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "disabled"
    assert response.json()["freshness"] == "stale"
    assert services.check_cluster(cluster_id) == "disabled"  # a disabled cluster is left alone
    assert AuditRecord.objects.filter(action="cluster.disable", target_id=str(cluster_id)).exists()
    response = admin_api.patch(f"{URL}{cluster_id}/", {"enabled": True}, format="json")
    assert response.json()["status"] == "pending"
    assert AuditRecord.objects.filter(action="cluster.enable", target_id=str(cluster_id)).exists()


def test_delete_removes_the_read_model_and_keeps_audit(admin_api: APIClient, sandbox: Any) -> None:
    cluster_id = register(admin_api, fields_of(sandbox)).json()["id"]
    KindSync.objects.create(cluster_id=cluster_id, kind="Pod", state="synced")
    KubeObject.objects.create(cluster_id=cluster_id, kind="Pod", namespace="default", name="p", uid="u",
                              resource_version="1")
    NodeOperation.objects.create(cluster_id=cluster_id, node="n", kind="cordon")
    response = admin_api.delete(f"{URL}{cluster_id}/")
    assert response.status_code == 204
    assert not Cluster.objects.filter(pk=cluster_id).exists()
    assert not KubeObject.objects.filter(cluster_id=cluster_id).exists()
    assert not KindSync.objects.filter(cluster_id=cluster_id).exists()
    records = AuditRecord.objects.filter(target_id=str(cluster_id), target_type="clusters.cluster")
    assert {"cluster.register", "cluster.delete"} <= set(records.values_list("action", flat=True))
    assert records.get(action="cluster.delete").status_code == 204
    assert admin_api.get(f"{URL}{cluster_id}/").status_code == 404


def test_client_certificate_fields_must_come_in_pairs(admin_api: APIClient, sandbox: Any) -> None:
    body = {"server": sandbox.cluster("cluster-1").server, "client_certificate": other_ca()}
    assert "needs its key" in errors_of(register(admin_api, body))["client_key"][0]


# ---------------------------------------------------------------------------- missing permissions


class _RestrictedApiServer:
    """A minimal HTTPS endpoint speaking the few API calls the check makes, whose identity may
    not watch events nor evict pods: the sandbox grants everything, so a denial needs its own
    server. It fakes Kubernetes at the HTTP boundary; none of our code is patched."""

    DENIED: ClassVar[set[tuple[str, str, str]]] = {("watch", "events", ""), ("create", "pods", "eviction")}

    def __init__(self) -> None:
        import datetime
        import ssl
        import tempfile
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from ipaddress import ip_address

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "restricted-ca")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
              .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(hours=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
        cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(2).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(hours=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
        self._dir = tempfile.TemporaryDirectory()
        cert_path, key_path = f"{self._dir.name}/cert.pem", f"{self._dir.name}/key.pem"
        with open(cert_path, "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        denied = self.DENIED

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.headers.get("Authorization") != "Bearer restricted-token":
                    self._send(401, {"kind": "Status", "code": 401, "message": "Unauthorized"})
                elif self.path.startswith("/version"):
                    self._send(200, {"gitVersion": "v1.31.2", "major": "1", "minor": "31"})
                elif self.path.startswith("/api/v1/nodes"):
                    self._send(200, {"kind": "NodeList", "metadata": {"resourceVersion": "1"}, "items": [{}, {}]})
                elif self.path.startswith("/api/v1/namespaces"):
                    self._send(200, {"kind": "NamespaceList", "metadata": {"resourceVersion": "1"}, "items": []})
                else:
                    self._send(404, {"kind": "Status", "code": 404, "message": "not found"})

            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                attrs = review["spec"]["resourceAttributes"]
                key = (attrs.get("verb"), attrs.get("resource"), attrs.get("subresource") or "")
                review["status"] = {"allowed": key not in denied}
                self._send(201, review)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._dir.cleanup()


def test_check_names_missing_permissions(admin_api: APIClient) -> None:
    server = _RestrictedApiServer()
    try:
        response = register(admin_api, {"server": server.url, "ca_pem": server.ca_pem, "token": "restricted-token"})
        assert response.status_code == 202, response.json()
        cluster_id = response.json()["id"]
        assert services.check_cluster(cluster_id) == "connected"
    finally:
        server.close()
    cluster = Cluster.objects.get(pk=cluster_id)
    assert cluster.missing_permissions == ["watch events", "create pods/eviction"]
    assert cluster.kubernetes_version == "v1.31.2"
    assert "2 nodes" in cluster.status_message
    assert "Missing permissions: watch events, create pods/eviction" in cluster.status_message
    assert admin_api.get(f"{URL}{cluster_id}/").json()["missing_permissions"] == ["watch events", "create pods/eviction"]


@pytest.mark.django_db(transaction=True)  # events go out after commit
def test_registration_is_announced_after_commit_without_secrets(admin_user: Any, sandbox: Any) -> None:
    from portal.testing import Subscriber as EventTap

    api = APIClient()
    api.force_authenticate(admin_user)
    tap = EventTap("fleet")
    try:
        response = register(api, fields_of(sandbox))
        assert response.status_code == 202
        cluster_id = response.json()["id"]
        event = tap.wait(lambda e: e["type"] == "cluster.updated" and e["data"]["id"] == cluster_id)
        assert event["data"]["status"] == "pending"
        assert event["data"]["name"] == response.json()["name"]
        assert sandbox.cluster("cluster-1").token not in json.dumps(event)
        assert api.delete(f"{URL}{cluster_id}/").status_code == 204
        gone = tap.wait(lambda e: e["type"] == "cluster.deleted" and e["data"]["id"] == cluster_id)
        assert gone["data"]["deleted"] is True
    finally:
        tap.close()
