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

from identity.testing import OidcServer, ProviderDidNotStart, run_oidc_provider

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


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[OidcServer]:
    """The test OIDC provider; its client's redirect URIs are the test client's (``http://testserver``)
    for the providers named "local" and "other"."""
    uris = [f"http://testserver/api/auth/oidc/{name}/callback/" for name in ("local", "other")]
    try:
        with run_oidc_provider(redirect_uris=uris, post_logout_uris=["http://testserver/login"]) as server:
            yield server
    except ProviderDidNotStart as exc:
        pytest.fail(str(exc))
