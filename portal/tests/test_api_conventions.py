"""API conventions every app inherits: authentication everywhere, one error shape, request ids,
body limits, content types. The authentication check is generated from the URL routes, so a new
endpoint that forgets authentication fails here."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PUBLIC_API = {"/api/auth/csrf/", "/api/auth/login/",
              # single sign-on's login surface (docs/sso.md): the providers the login page offers
              # and each kind's sign-in views, for callers who are not signed in yet
              "/api/auth/providers/", "/api/auth/oidc/1/start/", "/api/auth/oidc/1/callback/",
              "/api/auth/ldap/1/login/"}
# Paths whose credential is a secret in the path itself (repository webhooks): an unknown one is 404.
TOKEN_IN_PATH = {"/api/catalog/hooks/1/"}


def _api_paths() -> list[str]:
    """Every concrete /api/ path with sample values for its parameters."""
    out: list[str] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for p in patterns:
            route = str(p.pattern)
            route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + route)
            else:
                full = "/" + prefix + route
                if not full.startswith("/api/") or ".*" in full or "format>" in full:
                    continue
                full = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", full)
                full = re.sub(r"<[^>]+>", "1", full)
                out.append(full)

    walk(get_resolver().url_patterns, "")
    return sorted(set(out))


def test_route_walk_finds_the_api() -> None:
    paths = _api_paths()
    assert "/api/auth/me/" in paths
    assert "/api/audit/1/" in paths
    assert "/api/auth/tokens/" in paths


@pytest.mark.parametrize("path", _api_paths())
def test_every_api_endpoint_requires_authentication(path: str, api: APIClient) -> None:
    if path in TOKEN_IN_PATH:
        for method in ("get", "post", "put", "patch", "delete"):
            assert getattr(api, method)(path, {}, format="json").status_code in (404, 405), (method, path)
        return
    if path in PUBLIC_API or path in ("/api/schema/", "/api/docs/"):
        if path in ("/api/schema/", "/api/docs/"):
            assert api.get(path).status_code == 401
        return
    for method in ("get", "post", "put", "patch", "delete"):
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code in (401, 405), (method, path, response.status_code)
        if response.status_code == 401:
            assert "detail" in response.json()


def test_unknown_api_path_is_json_404(user_api: APIClient) -> None:
    response = user_api.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert "/api/docs/" in response.json()["detail"]


def test_malformed_json_is_400(user_api: APIClient) -> None:
    response = user_api.generic("POST", "/api/auth/tokens/", '{"name": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_wrong_content_type_is_415(user_api: APIClient) -> None:
    response = user_api.generic("POST", "/api/auth/tokens/", "name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]


def test_oversized_body_is_413(user_api: APIClient, settings: object) -> None:
    settings.PORTAL_MAX_BODY_BYTES = 1000  # type: ignore[attr-defined]
    response = user_api.generic("POST", "/api/auth/tokens/", '{"name": "' + "x" * 2000 + '"}', content_type="application/json")
    assert response.status_code == 413
    assert "limit is 1000 bytes" in response.json()["detail"]


def test_request_id_is_generated_or_echoed(user_api: APIClient) -> None:
    generated = user_api.get("/api/auth/me/")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert user_api.get("/api/auth/me/", HTTP_X_REQUEST_ID="trace-abc-123")["X-Request-ID"] == "trace-abc-123"
    assert user_api.get("/api/auth/me/", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"


def test_method_not_allowed_has_the_error_shape(user_api: APIClient) -> None:
    response = user_api.put("/api/auth/me/", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PUT" not allowed.', "code": "method_not_allowed"}


def test_schema_and_docs_for_authenticated_users(user_api: APIClient) -> None:
    response = user_api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/auth/tokens/" in response.json()["paths"]
    docs = user_api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_every_error_body_carries_a_stable_code(admin_api: APIClient) -> None:
    """Clients act on ``code``, not on the English ``detail``: a field error carries the code of
    its first problem, a missing object ``not_found``."""
    response = admin_api.post("/api/workspaces/", {"description": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "required"
    assert "name" in body["errors"]
    missing = admin_api.get("/api/workspaces/999999/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
