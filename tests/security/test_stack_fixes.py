"""What schemathesis found in the stack, one test each (they failed before the fixes): a 500 on
an audit filter, lenient query parameters that silently meant something else, an HTML CSRF page
for a JSON API, and a schema that did not document the errors every operation can answer."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.security.world import World

pytestmark = pytest.mark.django_db


def test_audit_time_filters_with_any_iso_offset_are_not_a_server_error(admin_api: APIClient) -> None:
    # PostgreSQL refuses offsets beyond ±15:59; ISO 8601 and Python accept them.
    assert admin_api.get("/api/audit/?until=1028-01-07T02:59:47-23:10").status_code == 200
    assert admin_api.get("/api/audit/?since=2396-05-05T12:14:33%2B19:16").status_code == 200
    bad = admin_api.get("/api/audit/?since=0001-01-01T00:00:00%2B23:00")
    assert bad.status_code == 400
    assert "since" in bad.json()["errors"]


@pytest.mark.parametrize("query", ["page_size=true", "page_size=0", "page_size=501", "cursor=not-a-cursor"])
def test_pagination_parameters_are_checked(user_api: APIClient, query: str) -> None:
    response = user_api.get(f"/api/auth/tokens/?{query}")
    assert response.status_code == 400, response.content
    assert query.split("=")[0] in response.json()["errors"]


def test_boolean_filters_refuse_what_is_not_a_boolean(admin_api: APIClient) -> None:
    assert admin_api.get("/api/users/?is_active=ture").status_code == 400
    assert admin_api.get("/api/users/?is_active=true").status_code == 200
    assert admin_api.get("/api/users/?is_active=").status_code == 200


def test_yes_no_parameters_must_be_booleans(secworld: World) -> None:
    dev = secworld.client("developer")
    for base, name in ((f"/api/catalog/configs/{secworld.service_map.pk}/ConfigMap/app-config/", "reveal"),
                       (f"/api/clusters/{secworld.cluster.pk}/resources/", "refresh")):
        assert dev.get(f"{base}?{name}=false").status_code == 200
        refused = dev.get(f"{base}?{name}=maybe")
        assert refused.status_code == 400, (base, refused.content)
        assert name in refused.json()["errors"]


def test_a_write_to_an_unknown_api_path_is_a_json_404(user: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)  # a browser session without a CSRF token
    client.force_login(user)
    response = client.post("/api/catalog/configs/-1/x/y/", {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def _schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_documents_the_errors_of_the_stack() -> None:
    schema = _schema()
    assert "Error" in schema["components"]["schemas"]
    missing = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = {"400", "429"} | ({"401", "403"} if {} not in operation.get("security", [{}]) else set())
            if "{" in path:
                codes.add("404")
            absent = codes - set(operation["responses"])
            if absent:
                missing.append(f"{method.upper()} {path}: {sorted(absent)}")
            for code in codes & set(operation["responses"]):
                if "content" not in operation["responses"][code]:
                    missing.append(f"{method.upper()} {path}: {code} has no body schema")
    assert not missing, "\n".join(missing)


def test_strict_request_bodies_refuse_unknown_properties_in_the_schema() -> None:
    schemas = _schema()["components"]["schemas"]
    assert schemas["WorkspaceCreateRequest"].get("additionalProperties") is False
    assert schemas["PatchedWorkspaceUpdateRequest"].get("additionalProperties") is False
    assert "additionalProperties" not in schemas["Workspace"]  # responses are not constrained


def test_free_string_parameters_exclude_what_the_middleware_refuses() -> None:
    schema = _schema()
    params = schema["paths"]["/api/catalog/configs/{servicemap_id}/{kind}/{name}/"]["get"]["parameters"]
    name = next(p for p in params if p["name"] == "name")
    assert name["schema"]["pattern"] == "^[^\\u0000-\\u001f\\u007f]*$"
