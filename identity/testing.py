"""Test helpers of single sign-on that any test package may use (the identity tests' fixtures, the
browser tests): the real OIDC provider of scripts/oidc-provider/server.mjs and the real LDAP
server of scripts/ldap-server.sh (slapd), started on loopback.

Not used by product code. Kept out of conftest.py so a browser test's conftest can start the same
provider with its live server's redirect URI (:func:`run_oidc_provider`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

OIDC_DIR = Path(__file__).resolve().parents[1] / "scripts" / "oidc-provider"
OIDC_CLIENT_ID = "portal"
OIDC_CLIENT_SECRET = "portal-test-secret"


class ProviderDidNotStart(RuntimeError):
    pass


@dataclass(frozen=True)
class OidcServer:
    """A running node-oidc-provider (users alice, bob, carol with password "<name>-password"; test
    endpoints to rotate keys, spoil the next ID token, change a user's groups, add redirect URIs:
    see the header of scripts/oidc-provider/server.mjs)."""

    issuer: str
    client_id: str = OIDC_CLIENT_ID
    client_secret: str = OIDC_CLIENT_SECRET

    def config(self, **overrides: object) -> dict[str, object]:
        """An OIDC provider configuration (IdentityProvider.config) for this server."""
        config: dict[str, object] = {"issuer": self.issuer, "client_id": self.client_id}
        config.update(overrides)
        return config

    def stats(self) -> dict[str, int]:
        """How many requests the userinfo and token endpoints got so far."""
        response = requests.get(self.issuer + "/_test/stats", timeout=10)
        response.raise_for_status()
        return {str(k): int(v) for k, v in response.json().items()}

    def post(self, path: str, body: object = None) -> dict[str, object]:
        response = requests.post(self.issuer + path, json=body if body is not None else {}, timeout=10)
        response.raise_for_status()
        return dict(response.json())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def run_oidc_provider(*, redirect_uris: list[str], post_logout_uris: list[str] | None = None,
                      extra_env: dict[str, str] | None = None) -> Iterator[OidcServer]:
    """Start the test provider on a free loopback port (``npm ci`` first if its packages are missing),
    wait until it answers, yield it, stop it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise ProviderDidNotStart("node and npm are not installed: run scripts/system-deps.sh")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OIDC_DIR, check=True,  # noqa: S603 - fixed arguments
                       timeout=300)
    port = _free_port()
    env = {**os.environ, "OIDC_PORT": str(port), "OIDC_CLIENT_ID": OIDC_CLIENT_ID,
           "OIDC_CLIENT_SECRET": OIDC_CLIENT_SECRET, "OIDC_REDIRECT_URIS": ",".join(redirect_uris),
           "OIDC_POST_LOGOUT_URIS": ",".join(post_logout_uris or []), **(extra_env or {})}
    # its output goes to a file, not a pipe nobody reads while it runs (a full pipe would stall it)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    proc = subprocess.Popen([node, "server.mjs"], cwd=OIDC_DIR, env=env, stdout=log,  # noqa: S603
                            stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(issuer + "/_test/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise ProviderDidNotStart(f"the test OIDC provider did not start: {output[-2000:]}")
            time.sleep(0.1)
        yield OidcServer(issuer)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# --- LDAP: a real slapd from scripts/ldap-server.sh -----------------------------------------------

LDAP_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ldap-server.sh"


@dataclass(frozen=True)
class LdapServer:
    """A running slapd with the test tree of scripts/ldap-server.sh (users alice, bob, carol and
    ``cn=Smith\\, John`` (uid jsmith), password "<uid>-pass"; groups devs ⊂ engineering, admins,
    ``ops\\, on-call``; the service account below)."""

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
        """An unrelated CA: a provider trusting only it must refuse this server's certificate."""
        return (self.dir / "other-ca.pem").read_text()

    def config(self, **overrides: object) -> dict[str, object]:
        """An LDAPS provider configuration for this server (nested groups on)."""
        config: dict[str, object] = {
            "server_uri": f"ldaps://127.0.0.1:{self.ldaps_port}", "ca_pem": self.ca_pem,
            "bind_dn": self.bind_dn, "user_search_base": f"ou=people,{self.base}",
            "group_search_base": f"ou=groups,{self.base}", "nested_groups": True,
        }
        config.update(overrides)
        return config

    def ldapmodify(self, ldif: str) -> None:
        """Change the tree as its administrator would (rootdn over the loopback LDAPS port)."""
        ldapmodify = shutil.which("ldapmodify") or "/usr/bin/ldapmodify"
        subprocess.run(  # noqa: S603 - fixed arguments
            [ldapmodify, "-x", "-H", f"ldaps://127.0.0.1:{self.ldaps_port}", "-D", f"cn=admin,{self.base}",
             "-y", str(self.dir / "admin.pw")],
            input=ldif.encode(), check=True, capture_output=True, timeout=20,
            env={**os.environ, "LDAPTLS_CACERT": str(self.dir / "ca.pem")},
        )


@contextmanager
def run_ldap_server(directory: Path) -> Iterator[LdapServer]:
    """Start slapd on free loopback ports with its files in ``directory``; stop it on exit."""
    if shutil.which("slapd") is None and not Path("/usr/sbin/slapd").exists():
        raise ProviderDidNotStart("slapd is not installed: run scripts/system-deps.sh (Debian slapd ldap-utils)")
    server = LdapServer(directory, _free_port(), _free_port())
    subprocess.run(  # noqa: S603 - fixed arguments
        [str(LDAP_SCRIPT), "start", str(directory), str(server.ldap_port), str(server.ldaps_port)],
        check=True, timeout=60)
    try:
        yield server
    finally:
        subprocess.run([str(LDAP_SCRIPT), "stop", str(directory)], check=False, timeout=30)  # noqa: S603
