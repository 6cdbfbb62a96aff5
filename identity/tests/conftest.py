"""Fixtures of the identity tests: the real identity servers they sign in through."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- LDAP (S3): a real slapd from scripts/ldap-server.sh --------------------------------------

@dataclass(frozen=True)
class LdapServer:
    """A running slapd with the test tree (see scripts/ldap-server.sh for its users and groups)."""

    dir: Path
    ldap_port: int
    ldaps_port: int
    base: str = "dc=example,dc=org"
    bind_dn: str = "cn=portal,ou=services,dc=example,dc=org"
    bind_password: str = "service-pass"

    @property
    def ca_pem(self) -> str:
        return (self.dir / "ca.pem").read_text()

    @property
    def other_ca_pem(self) -> str:
        return (self.dir / "other-ca.pem").read_text()

    def config(self, **overrides: object) -> dict[str, object]:
        """An LDAPS provider configuration for this server."""
        config: dict[str, object] = {
            "server_uri": f"ldaps://127.0.0.1:{self.ldaps_port}", "ca_pem": self.ca_pem,
            "bind_dn": self.bind_dn, "user_search_base": f"ou=people,{self.base}",
            "group_search_base": f"ou=groups,{self.base}", "nested_groups": True,
        }
        config.update(overrides)
        return config

    def ldapmodify(self, ldif: str) -> None:
        """Change the tree as its administrator would (rootdn over the loopback LDAPS port)."""
        subprocess.run(
            ["ldapmodify", "-x", "-H", f"ldaps://127.0.0.1:{self.ldaps_port}", "-D", f"cn=admin,{self.base}",
             "-y", str(self.dir / "admin.pw")],
            input=ldif.encode(), check=True, capture_output=True, env={**os.environ, "LDAPTLS_CACERT": str(self.dir / "ca.pem")},
            timeout=20,
        )


@pytest.fixture(scope="session")
def ldap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LdapServer]:
    if shutil.which("slapd") is None:
        pytest.fail("slapd is not installed: run scripts/system-deps.sh (Debian packages slapd ldap-utils)")
    directory = tmp_path_factory.mktemp("slapd")
    server = LdapServer(directory, _free_port(), _free_port())
    script = str(REPO / "scripts" / "ldap-server.sh")
    subprocess.run([script, "start", str(directory), str(server.ldap_port), str(server.ldaps_port)],
                   check=True, timeout=60)
    try:
        yield server
    finally:
        subprocess.run([script, "stop", str(directory)], check=False, timeout=30)


# --- OIDC (S2): a real node-oidc-provider from scripts/oidc-provider/server.mjs ---------------

OIDC_DIR = REPO / "scripts" / "oidc-provider"
OIDC_CLIENT_ID = "portal"
OIDC_CLIENT_SECRET = "portal-test-secret"


@dataclass(frozen=True)
class OidcServer:
    """A running node-oidc-provider (scripts/oidc-provider/server.mjs: users alice, bob, carol with
    password "<name>-password"; test endpoints to rotate keys and to spoil the next ID token)."""

    issuer: str
    client_id: str = OIDC_CLIENT_ID
    client_secret: str = OIDC_CLIENT_SECRET

    def config(self, **overrides: object) -> dict[str, object]:
        config: dict[str, object] = {"issuer": self.issuer, "client_id": self.client_id}
        config.update(overrides)
        return config

    def post(self, path: str, body: object = None) -> dict[str, object]:
        import requests
        response = requests.post(self.issuer + path, json=body if body is not None else {}, timeout=10)
        response.raise_for_status()
        return dict(response.json())


def _start_oidc_server(env_extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    if shutil.which("node") is None:
        pytest.fail("node is not installed: run scripts/system-deps.sh")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OIDC_DIR, check=True,
                       timeout=300)
    port = _free_port()
    env = {**os.environ, "OIDC_PORT": str(port), "OIDC_CLIENT_ID": OIDC_CLIENT_ID,
           "OIDC_CLIENT_SECRET": OIDC_CLIENT_SECRET, **env_extra}
    proc = subprocess.Popen(["node", "server.mjs"], cwd=OIDC_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    import time

    import requests
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(issuer + "/_test/health", timeout=1).status_code == 200:
                return proc, issuer
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"the test OIDC provider did not start: {output[-2000:]}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[OidcServer]:
    """The test OIDC provider; redirect URIs for the test client (``http://testserver``) and a live server."""
    uris = ",".join(f"{base}/api/auth/oidc/{name}/callback/" for base in ("http://testserver",)
                    for name in ("local", "other"))
    proc, issuer = _start_oidc_server({"OIDC_REDIRECT_URIS": os.environ.get("OIDC_TEST_REDIRECT_URIS", uris),
                                       "OIDC_POST_LOGOUT_URIS": "http://testserver/login"})
    try:
        yield OidcServer(issuer)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
