"""Registering sandbox clusters with X.509 client certificates instead of tokens, over real
HTTPS: by the cluster's certificate kubeconfig and by explicit fields, a certificate from
another CA refused on the client certificate field, an authenticated identity without rights
reported with its missing permissions, and the key never stored in clear."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rest_framework.test import APIClient

from clusters import services
from clusters.models import Cluster

pytestmark = pytest.mark.django_db
_names = itertools.count(1)
URL = "/api/clusters/"


def register(api: APIClient, body: dict[str, Any]) -> Any:
    return api.post(URL, {"name": f"cert-{next(_names)}", **body}, format="json")


def cert_fields(fleet: Any, cert: str, key: str, name: str = "cluster-1") -> dict[str, str]:
    handle = fleet.cluster(name)
    return {"server": handle.server, "ca_pem": handle.ca_path.read_text(), "client_certificate": cert,
            "client_key": key}


def admin_pair(fleet: Any, name: str = "cluster-1") -> tuple[str, str]:
    """The system:masters certificate and key of the cluster's ``-cert.kubeconfig``."""
    import base64

    user = yaml.safe_load(fleet.cluster(name).cert_kubeconfig.read_text())["users"][0]["user"]
    return (base64.b64decode(user["client-certificate-data"]).decode(),
            base64.b64decode(user["client-key-data"]).decode())


def foreign_pair() -> tuple[str, str]:
    """A system:masters client certificate signed by a CA the sandbox does not trust."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, "mallory")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


def test_register_by_cert_kubeconfig_and_check(admin_api: APIClient, sandbox: Any) -> None:
    handle = sandbox.cluster("cluster-1")
    response = register(admin_api, {"kubeconfig": handle.cert_kubeconfig.read_text()})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["auth_method"] != "token"
    assert body["server"] == handle.server
    _, key = admin_pair(sandbox)
    assert key not in response.content.decode()

    cluster = Cluster.objects.get(pk=body["id"])
    assert cluster.get_credentials().client_key == key
    assert "PRIVATE KEY" not in cluster.credentials_encrypted
    assert key.splitlines()[1] not in cluster.credentials_encrypted  # no line of the key's base64 either
    assert services.check_cluster(cluster.pk) == "connected"
    cluster.refresh_from_db()
    assert cluster.kubernetes_version == handle.version
    assert cluster.status_message.startswith(f"Connected: Kubernetes {handle.version}, 3 nodes.")
    assert cluster.missing_permissions == []


def test_register_by_fields_and_survive_token_rotation(admin_api: APIClient, sandbox: Any) -> None:
    response = register(admin_api, cert_fields(sandbox, *admin_pair(sandbox, "cluster-2"), name="cluster-2"))
    assert response.status_code == 202, response.json()
    cluster = Cluster.objects.get(pk=response.json()["id"])
    assert "PRIVATE KEY" not in cluster.credentials_encrypted
    sandbox.rotate_token("cluster-2")  # certificates stay valid when the token changes
    assert services.check_cluster(cluster.pk) == "connected"


def test_certificate_from_another_ca_is_refused_on_the_certificate(admin_api: APIClient, sandbox: Any) -> None:
    response = register(admin_api, cert_fields(sandbox, *foreign_pair()))
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert list(errors) == ["client_certificate"], errors
    assert "client certificate" in errors["client_certificate"][0]
    assert "refused" in errors["client_certificate"][0]


def test_certificate_without_rights_names_missing_permissions(admin_api: APIClient, sandbox: Any) -> None:
    cert, key = (pem.decode() for pem in sandbox.cluster("cluster-1").mint_client_cert("viewer", ["dev"]))
    response = register(admin_api, cert_fields(sandbox, cert, key))
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert list(errors) == ["client_certificate"], errors
    assert 'User "viewer" cannot list resource "namespaces"' in errors["client_certificate"][0]

    # registered while it had rights (simulated: its credentials replaced directly), the check names what is missing
    registered = register(admin_api, cert_fields(sandbox, *admin_pair(sandbox)))
    assert registered.status_code == 202, registered.json()
    cluster = Cluster.objects.get(pk=registered.json()["id"])
    cluster.set_credentials(dataclasses.replace(cluster.get_credentials(), client_certificate=cert, client_key=key))
    cluster.save()
    assert "PRIVATE KEY" not in Cluster.objects.get(pk=cluster.pk).credentials_encrypted
    # It may read nothing the portal shows: unauthorized (code forbidden), with every gap named.
    assert services.check_cluster(cluster.pk) == "unauthorized"
    cluster.refresh_from_db()
    assert cluster.status_code == "forbidden"
    assert "list pods" in cluster.missing_permissions
    assert "watch deployments.apps" in cluster.missing_permissions
    assert cluster.status_message.startswith("The identity may not list and watch anything the portal shows. ")
    assert all(plan["scope"] == "none" for plan in cluster.permissions["kinds"].values())
