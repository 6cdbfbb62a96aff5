"""Fixtures of the identity tests: the real identity servers they sign in through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from identity.testing import LdapServer, OidcServer, ProviderDidNotStart, run_ldap_server, run_oidc_provider

# --- LDAP (S3): a real slapd from scripts/ldap-server.sh (identity.testing.run_ldap_server) ------

@pytest.fixture(scope="session")
def ldap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LdapServer]:
    try:
        with run_ldap_server(tmp_path_factory.mktemp("slapd")) as server:
            yield server
    except ProviderDidNotStart as exc:
        pytest.fail(str(exc))


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
