"""OpenAPI descriptions of our authentication schemes, so the schema documents how to log in."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "Personal API token: `Authorization: Bearer kp_…`."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "portal.authentication.SessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "Browser session from POST /api/auth/login/; unsafe methods need X-CSRFToken."}


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Serializers that refuse unknown fields say so: ``additionalProperties: false`` on their
    request bodies (without it a client, or a fuzzer, may rightly expect extra keys to pass)."""

    target_class = "portal.api.serializers.StrictSerializerMixin"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


# ---------------------------------------------------------------------------- error responses

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The one error body of the API (portal/api/exceptions.py): `detail` is for people, "
                   "`errors` names the fields of a 400.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["detail"],
}

_ERRORS = {
    "400": "Invalid input (body, query or path); `errors` names the field",
    "401": "Not signed in, or the API token is invalid, expired or revoked",
    "403": "Signed in, but your role lacks the grant (or the CSRF token is missing)",
    "404": "No such object (or not visible to you)",
    "409": "Conflicts with the current state; `detail` says how",
    "413": "The request body is too large",
    "415": "Unsupported Content-Type of the body",
    "429": "Too many requests; `Retry-After` says when to try again",
}
_UNSAFE = {"post", "put", "patch", "delete"}
# The middleware refuses (400) a control character in the path and a NUL in the query string.
NO_CONTROL_CHARACTERS = {"path": "^[^\\u0000-\\u001f\\u007f]*$", "query": "^[^\\u0000]*$"}


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation documents the errors the stack can
    answer it with, each with the one error body, so the schema tells the truth for clients and
    for schemathesis' status-code and response-schema checks.

    String parameters of the path and query without a pattern of their own get one that excludes
    what the middleware refuses (control characters in the path, NUL in the query).

    The stack, not the view, decides most of them: the parsers (400 for malformed or too deeply
    nested JSON, 415, 413), the NUL-in-query middleware (400), authentication (401), permissions
    and CSRF (403), object lookups (404), throttles (429). Responses a view documents itself keep
    their description; only missing ones are added.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _UNSAFE | {"get"}:
                continue
            codes = ["400", "429"]
            if "{" in path or method in _UNSAFE:
                codes.append("404")
            if {} not in operation.get("security", [{}]):
                codes += ["401", "403"]
            if method in _UNSAFE:
                codes += ["403", "409"]
                if "requestBody" in operation:
                    codes += ["413", "415"]
            for param in operation.get("parameters", []):
                schema = param.get("schema", {})
                if param.get("in") in ("path", "query") and schema.get("type") == "string" and not (
                        {"pattern", "enum", "format"} & set(schema)):
                    schema["pattern"] = NO_CONTROL_CHARACTERS[param["in"]]
            responses = operation.setdefault("responses", {})
            for code in codes:
                response = responses.setdefault(code, {"description": _ERRORS[code]})
                # A fresh dict each time: a shared one would come out as YAML anchors and aliases.
                response.setdefault("content", {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
    return result
