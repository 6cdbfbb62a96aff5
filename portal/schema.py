"""OpenAPI descriptions of our authentication schemes, so the schema documents how to log in."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
