"""Client-certificate authentication: certificates signed by the sandbox CA are accepted next to
the bearer token (O=system:masters is admin, anything else authenticated but forbidden), a
certificate from another CA fails the TLS handshake, and neither credential is 401."""

from __future__ import annotations

import datetime
import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sandbox.testing import ClusterHandle, SandboxFleet, running_sandbox


@pytest.fixture(scope="module")
def cfleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFleet]:
    with running_sandbox(clusters=1, nodes=2, state_dir=tmp_path_factory.mktemp("certs"),
                         enable_controllers=False) as f:
        yield f


def foreign_cert(tmp: Path) -> tuple[Path, Path]:
    """A system:masters client certificate self-signed by a CA the sandbox does not know."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "mallory")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return write_pair(tmp, "foreign", cert.public_bytes(serialization.Encoding.PEM),
                      key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))


def write_pair(tmp: Path, stem: str, cert: bytes, key: bytes) -> tuple[Path, Path]:
    (tmp / f"{stem}.crt").write_bytes(cert)
    (tmp / f"{stem}.key").write_bytes(key)
    return tmp / f"{stem}.crt", tmp / f"{stem}.key"


def request(handle: ClusterHandle, method: str, path: str, *, cert: tuple[Path, Path] | None = None,
            token: str | None = None, body: Any = None) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cafile=str(handle.ca_path))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    conn = http.client.HTTPSConnection("127.0.0.1", handle.port, context=ctx, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


SSAR = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}}}


def test_admin_certificate_from_cert_kubeconfig(cfleet: SandboxFleet, tmp_path: Path) -> None:
    handle = cfleet.cluster("cluster-1")
    user = yaml.safe_load(handle.cert_kubeconfig.read_text())["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}
    import base64

    pair = write_pair(tmp_path, "admin", base64.b64decode(user["client-certificate-data"]),
                      base64.b64decode(user["client-key-data"]))
    status, body = request(handle, "GET", "/api/v1/nodes", cert=pair)
    assert status == 200
    assert len(body["items"]) == 2
    cfleet.rotate_token("cluster-1")  # certificates do not depend on the token
    assert request(handle, "GET", "/api/v1/nodes", cert=pair)[0] == 200
    assert request(handle, "GET", "/api/v1/nodes", token=handle.token)[0] == 401  # the old token
    status, body = request(handle, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", cert=pair,
                           body=SSAR)
    assert status == 201
    assert body["status"]["allowed"] is True
    info = json.loads((cfleet.state_dir / "fleet.json").read_text())["clusters"][0]
    assert info["cert_kubeconfig"] == str(handle.cert_kubeconfig)


def test_non_admin_certificate_is_forbidden(cfleet: SandboxFleet, tmp_path: Path) -> None:
    handle = cfleet.cluster("cluster-1")
    pair = write_pair(tmp_path, "jane", *handle.mint_client_cert("jane", ["dev"]))
    status, body = request(handle, "GET", "/api/v1/namespaces/default/pods", cert=pair)
    assert status == 403
    assert body["message"] == ('pods is forbidden: User "jane" cannot list resource "pods" in API group "" '
                               'in the namespace "default"')
    assert request(handle, "GET", "/version", cert=pair)[0] == 200
    assert request(handle, "GET", "/apis", cert=pair)[0] == 200
    status, body = request(handle, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", cert=pair,
                           body=SSAR)
    assert status == 201
    assert body["status"]["allowed"] is False


def test_no_credentials_is_401_and_token_still_works(cfleet: SandboxFleet) -> None:
    handle = cfleet.cluster("cluster-1")
    assert request(handle, "GET", "/api/v1/nodes")[0] == 401
    assert request(handle, "GET", "/api/v1/nodes", token=handle.token)[0] == 200


def test_certificate_from_another_ca_fails_the_handshake(cfleet: SandboxFleet, tmp_path: Path) -> None:
    handle = cfleet.cluster("cluster-1")
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        request(handle, "GET", "/api/v1/nodes", cert=foreign_cert(tmp_path), token=handle.token)
