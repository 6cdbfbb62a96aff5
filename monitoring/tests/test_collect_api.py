"""The Prometheus address of a cluster in the clusters API: http/https only, through the address
policy, no query or credentials; a CA in PEM; clear 400s with codes."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rest_framework.test import APIClient

from clusters.models import Cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster() -> Cluster:
    return Cluster.objects.create(name="prom-api", server="https://127.0.0.1:6443")


def ca_pem() -> str:
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prometheus-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def patch(api: APIClient, cluster: Cluster, body: dict[str, Any]) -> Any:
    return api.patch(f"/api/clusters/{cluster.pk}/", body, format="json")


@pytest.mark.parametrize(("url", "code"), [
    ("ftp://prometheus.example.com", "invalid_host"),
    ("prometheus.example.com:9090", "invalid_host"),
    ("https://user:secret@prometheus.example.com", "invalid_host"),
    ("https://prometheus.example.com/?query=up", "prometheus_url_invalid"),
    ("https://prometheus.example.com/#x", "prometheus_url_invalid"),
    ("http://169.254.169.254/", "address_not_allowed"),
])
def test_bad_prometheus_urls_are_400_with_a_code(admin_api: APIClient, cluster: Cluster, url: str,
                                                 code: str) -> None:
    response = patch(admin_api, cluster, {"prometheus_url": url})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert "prometheus_url" in response.json()["errors"]
    cluster.refresh_from_db()
    assert cluster.prometheus_url == ""


def test_loopback_is_refused_when_the_policy_refuses_it(admin_api: APIClient, cluster: Cluster,
                                                        settings: Any) -> None:
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = False
    response = patch(admin_api, cluster, {"prometheus_url": "http://127.0.0.1:9090"})
    assert response.status_code == 400
    assert response.json()["code"] == "address_not_allowed"


def test_bad_ca_is_400(admin_api: APIClient, cluster: Cluster) -> None:
    response = patch(admin_api, cluster, {"prometheus_ca_pem": "not a certificate"})
    assert response.status_code == 400
    assert response.json()["code"] == "prometheus_ca_invalid"


def test_good_address_and_ca_are_accepted(admin_api: APIClient, cluster: Cluster) -> None:
    pem = ca_pem()
    response = patch(admin_api, cluster, {"prometheus_url": "https://prometheus.example.com/prom/",
                                          "prometheus_ca_pem": pem})
    assert response.status_code == 200, response.content
    cluster.refresh_from_db()
    assert cluster.prometheus_url == "https://prometheus.example.com/prom"  # no trailing slash
    assert cluster.prometheus_ca_pem.strip() == pem.strip()
    detail = admin_api.get(f"/api/clusters/{cluster.pk}/").json()
    assert detail["prometheus_url"] == "https://prometheus.example.com/prom"
    assert patch(admin_api, cluster, {"prometheus_url": ""}).status_code == 200
    cluster.refresh_from_db()
    assert cluster.prometheus_url == ""


def test_register_checks_the_prometheus_url_first(admin_api: APIClient) -> None:
    response = admin_api.post("/api/clusters/", {"name": "prom-new", "server": "https://127.0.0.1:6443",
                                                 "token": "x", "prometheus_url": "gopher://x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_host"
    assert not Cluster.objects.filter(name="prom-new").exists()


def test_only_admins_change_it(user_api: APIClient, cluster: Cluster) -> None:
    response = patch(user_api, cluster, {"prometheus_url": "https://prometheus.example.com"})
    assert response.status_code in (403, 404)
