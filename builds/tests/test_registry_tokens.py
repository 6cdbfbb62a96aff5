"""The Bearer token flow (``WWW-Authenticate: Bearer realm=…``) as Docker Hub, Harbor, GHCR and Quay
use it: a real docker-registry configured with ``auth: token`` trusts a certificate, and a tiny token
server on loopback issues RS256 JWTs signed with its key (the certificate in the ``x5c`` header).
The portal browses it with only a username and password, as it would those registries."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from rest_framework.test import APIClient

from builds.models import Registry
from builds.tasks_registry import check_registry
from portal.testing import unique
from sandbox.testing import registry_server

pytestmark = pytest.mark.django_db

BASE = "/api/builds/registries/"
USER, PASSWORD = "robot", "token-flow-secret"
SERVICE, ISSUER = "portal-test-registry", "portal-test-token-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues registry tokens for USER/PASSWORD (401 otherwise) granting the scopes asked for."""

    def __init__(self, root: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal test token issuer")])
        now = datetime.now(UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = root / "token-ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.issued: list[list[str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                given = self.headers.get("Authorization", "")
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if given != expected:
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                    return
                scopes = parse_qs(urlsplit(self.path).query).get("scope", [])
                server.issued.append(scopes)
                body = json.dumps({"token": server.token(scopes), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": USER, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(8), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[tuple[Any, TokenServer]]:
    tokens = TokenServer(tmp_path)
    try:
        with registry_server(tmp_path / "registry", extra_config={"auth": {"token": {
                "realm": tokens.realm, "service": SERVICE, "issuer": ISSUER,
                "rootcertbundle": str(tokens.bundle)}}}) as server:
            yield server, tokens
    finally:
        tokens.close()


def test_browse_through_the_token_flow(admin_api: APIClient, token_registry: tuple[Any, TokenServer],
                                       make_pusher: Any) -> None:
    server, tokens = token_registry
    anonymous = requests.get(f"{server.url}/v2/", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer realm=")
    pushed = make_pusher(server.url, (USER, PASSWORD), True).image("team/app", "1.0")

    row = admin_api.post(BASE, {"name": unique("tok"), "kind": "harbor", "host": server.host, "plain_http": True,
                                "username": USER, "password": PASSWORD}, format="json").json()
    check_registry(row["id"])
    assert Registry.objects.get(pk=row["id"]).status == "ok"
    response = admin_api.get(f"{BASE}{row['id']}/repositories/")
    assert response.status_code == 200, response.content
    assert response.json()["results"] == [{"name": "team/app"}]
    tags = admin_api.get(f"{BASE}{row['id']}/tags/", {"repository": "team/app"}).json()["results"]
    assert [(t["tag"], t["digest"], t["size"]) for t in tags] == [("1.0", pushed["digest"], pushed["size"])]
    assert ["registry:catalog:*"] in tokens.issued
    assert ["repository:team/app:pull"] in tokens.issued
    response = admin_api.delete(f"{BASE}{row['id']}/tags/?repository=team/app&tag=1.0")
    assert response.status_code == 204, response.content
    assert admin_api.get(f"{BASE}{row['id']}/tags/", {"repository": "team/app"}).json()["results"] == []

    # A wrong password: the token server refuses, the portal says the registry refused.
    admin_api.patch(f"{BASE}{row['id']}/", {"password": "wrong"}, format="json")
    response = admin_api.get(f"{BASE}{row['id']}/repositories/")
    assert response.status_code == 502
    assert response.json()["code"] == "registry_refused"
    assert "wrong" not in response.content.decode()
