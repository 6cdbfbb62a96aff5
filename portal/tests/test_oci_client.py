"""The shared OCI registry client (portal/oci.py) on its own: addresses are parsed strictly, and its
errors are its own (HTTP-free, no app's), so any app can put them in its terms. The registry
conversations themselves are exercised against real servers by catalog/tests/test_oci.py and the
address-policy corpus (portal/tests/test_address_policy.py)."""

from __future__ import annotations

import pytest

from portal import oci


@pytest.mark.parametrize(("url", "location"), [
    ("oci://Registry.Example.com/charts", oci.Location("registry.example.com", False, "charts")),
    ("oci+http://127.0.0.1:5000/a/b/", oci.Location("127.0.0.1:5000", True, "a/b")),
    ("oci://[::1]:5000", oci.Location("[::1]:5000", False, "")),
])
def test_addresses(url: str, location: oci.Location) -> None:
    assert oci.parse_url(url) == location


@pytest.mark.parametrize(("url", "words"), [
    ("https://registry.example.com/charts", "Give the registry's address"),
    ("oci://user:pw@registry.example.com/charts", "not in the address"),
    ("oci://registry.example.com/charts?x=1", "no query"),
    ("oci://registry.example.com:99999/charts", "port"),
    ("oci://registry.example.com/Charts", "lowercase"),
])
def test_bad_addresses_name_the_problem(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        oci.parse_url(url)


def test_errors_are_the_clients_own() -> None:
    from rest_framework.exceptions import APIException

    error = oci.RegistryError("x was not found (HTTP 404)", code=404)
    assert isinstance(error, oci.RegistryUnavailable)
    assert not isinstance(error, APIException)
    assert (error.code, error.message) == (404, "x was not found (HTTP 404)")
    assert oci.origin("https://Registry.example.com/v2/") == ("https", "registry.example.com", 443)
    assert oci.repository_path("team/chart name") == "team/chart%20name"
