"""Every string a request body may carry has a length limit, and the schema says what it is.

The test walks the OpenAPI schema the API serves (drf-spectacular, as ``make schema`` generates
it): a new serializer field without ``max_length`` fails here, before anyone stores a 1 MB
description that every list page then returns. Strings whose shape bounds them (an enum, a
date-time, a uuid) need no limit; file uploads are listed by name, with the limit they have
elsewhere (catalog/helm.py caps a chart archive).
"""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from portal.limits import DESCRIPTION_MAX_LENGTH

# Formats that bound a string's length by themselves.
BOUNDED_FORMATS = {"date-time", "date", "time", "uuid", "ipv4", "ipv6"}
# (schema component, property) of binary uploads, each capped by its own reader.
BINARY_UPLOADS = {("ChartUploadRequest", "chart")}


def _unbounded_request_strings(schema: dict[str, Any]) -> set[str]:
    components = schema["components"]["schemas"]
    found: set[str] = set()

    def walk(node: dict[str, Any], where: str, component: str, prop: str, seen: frozenset[str]) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in seen:
                return
            walk(components[name], name, name, "", seen | {name})
            return
        for key in ("allOf", "oneOf", "anyOf"):
            for sub in node.get(key, []):
                walk(sub, where, component, prop, seen)
        kind = node.get("type")
        if kind == "string" and "enum" not in node and "maxLength" not in node:
            fmt = node.get("format")
            allowed = fmt in BOUNDED_FORMATS or (fmt == "binary" and (component, prop) in BINARY_UPLOADS)
            if not allowed:
                found.add(where)
        if kind == "object" or "properties" in node:
            for name, sub in node.get("properties", {}).items():
                if not sub.get("readOnly"):
                    walk(sub, f"{where}.{name}", component, name, seen)
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                walk(extra, f"{where}.<value>", component, prop, seen)
        if kind == "array" and isinstance(node.get("items"), dict):
            walk(node["items"], f"{where}[]", component, prop, seen)

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if not body:
                continue
            for content_type, media in body["content"].items():
                walk(media["schema"], f"{method.upper()} {path} ({content_type})", "", "", frozenset())
    return found


def test_every_request_string_has_a_max_length() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    unbounded = _unbounded_request_strings(schema)
    assert not unbounded, (
        "request-body strings without maxLength (give the serializer field or model field a "
        "max_length; prose limits are in portal/limits.py):\n" + "\n".join(sorted(unbounded))
    )


def test_the_walker_finds_an_unbounded_field() -> None:
    """The walker itself: a nested, referenced, unbounded string is reported, a bounded one not."""
    schema = {
        "paths": {"/x/": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/X"}}}}}}},
        "components": {"schemas": {
            "X": {"type": "object", "properties": {
                "ok": {"type": "string", "maxLength": 5},
                "when": {"type": "string", "format": "date-time"},
                "out": {"type": "string", "readOnly": True},
                "tags": {"type": "array", "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "inner": {"allOf": [{"$ref": "#/components/schemas/Y"}]},
                "blob": {"type": "string", "format": "binary"},
            }},
            "Y": {"type": "object", "properties": {"note": {"type": "string"}}},
        }},
    }
    assert _unbounded_request_strings(schema) == {"X.tags[]", "X.labels.<value>", "Y.note", "X.blob"}


@pytest.mark.django_db
def test_a_too_long_description_is_a_400_naming_the_field(admin_api: APIClient) -> None:
    too_long = "x" * (DESCRIPTION_MAX_LENGTH + 1)
    response = admin_api.post("/api/workspaces/", {"name": "team-a", "description": too_long}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["errors"]) == ["description"]
    assert f"no more than {DESCRIPTION_MAX_LENGTH} characters" in body["errors"]["description"][0]
    assert body["detail"].startswith("Invalid input: description:")

    response = admin_api.post("/api/workspaces/", {"name": "team-a", "description": "x" * DESCRIPTION_MAX_LENGTH},
                              format="json")
    assert response.status_code == 201, response.content
    workspace = response.json()["id"]
    response = admin_api.patch(f"/api/workspaces/{workspace}/", {"description": too_long}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["description"]


@pytest.mark.django_db
def test_a_model_serializer_description_is_bounded_by_the_model(admin_api: APIClient) -> None:
    """ClusterUpdateSerializer takes ``description`` from the model: the model's max_length holds."""
    from clusters.models import Cluster

    cluster = Cluster.objects.create(name="c1", server="https://127.0.0.1:6443")
    response = admin_api.patch(f"/api/clusters/{cluster.pk}/", {"description": "y" * (DESCRIPTION_MAX_LENGTH + 1)},
                               format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["description"]
    cluster.refresh_from_db()
    assert cluster.description == ""


@pytest.mark.django_db
def test_too_long_fields_of_the_new_bodies_are_400s_naming_the_field(admin_api: APIClient) -> None:
    """Issue 17's write bodies (provisioning templates and clusters, node pools, service map moves): a value over its
    schema limit is a 400 naming the field, before anything is looked up or written."""
    from catalog.models import Move
    from provisioning.models import ClusterTemplate, ProvisionedCluster

    long_name = "a" * 64
    cases = [
        ("/api/provisioning/templates/", {"name": long_name, "provider": "sandbox", "files": {}}, "name"),
        ("/api/provisioning/templates/", {"name": "t", "provider": "sandbox", "files": {},
                                          "description": "d" * (DESCRIPTION_MAX_LENGTH + 1)}, "description"),
        ("/api/provisioning/clusters/", {"name": long_name, "management": 1, "template": 1}, "name"),
        ("/api/provisioning/clusters/plan/", {"name": "c", "management": 1, "template": 1,
                                              "display_name": "x" * 201}, "display_name"),
        ("/api/provisioning/management-clusters/", {"cluster": 1, "namespace": long_name}, "namespace"),
        ("/api/catalog/moves/", {"service_map": 1, "target_cluster": 2, "target_namespace": long_name},
         "target_namespace"),
        ("/api/catalog/moves/plan/", {"service_map": 1, "target_cluster": 2, "target_namespace": long_name},
         "target_namespace"),
    ]
    before = (ClusterTemplate.objects.count(), ProvisionedCluster.objects.count(), Move.objects.count())
    failures = []
    for path, body, field_name in cases:
        response = admin_api.post(path, body, format="json")
        errors = response.json().get("errors", {}) if response.status_code == 400 else {}
        if response.status_code != 400 or field_name not in errors:
            failures.append(f"POST {path} with a too long {field_name}: {response.status_code} {response.content[:300]!r}")
    assert not failures, "\n".join(failures)
    assert (ClusterTemplate.objects.count(), ProvisionedCluster.objects.count(), Move.objects.count()) == before
