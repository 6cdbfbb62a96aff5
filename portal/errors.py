"""The portal's own domain errors: what went wrong, as a stable ``code``, its ``params`` and an
English sentence, without knowing about HTTP.

Domain code (actions, operations, access modules, pure rules) raises these; the API's one
exception handler (:mod:`portal.api.exceptions`) turns them into the error body
``{"detail", "code", "params", "errors"}`` with the status each class names, and the console
translates by ``code`` (``params`` fill its placeholders) so Korean users read Korean. Tasks
catch them by class, never by reading attributes off an arbitrary exception.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PortalError(Exception):
    """Base class. ``code`` is stable across releases (clients act on it); ``message`` is for people."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "error"

    def __init__(self, message: str, *, code: str | None = None, params: dict[str, Any] | None = None,
                 errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.params: dict[str, Any] = dict(params or {})
        self.errors: dict[str, list[str]] = dict(errors or {})

    def __str__(self) -> str:
        return self.message


class Invalid(PortalError):
    """400: the input cannot be used; ``errors`` names the fields when it can."""

    status = 400
    default_code = "invalid"


class Unauthenticated(PortalError):
    """401: the caller did not prove who they are (a webhook's signature missing or wrong)."""

    status = 401
    default_code = "not_authenticated"


class Forbidden(PortalError):
    """403: the caller sees the object but may not do this to it."""

    status = 403
    default_code = "permission_denied"


class NotFound(PortalError):
    """404: no such object, or not one the caller may see (never tells which)."""

    status = 404
    default_code = "not_found"


class Conflict(PortalError):
    """409: valid, but clashes with the current state; the message says how to get past it."""

    status = 409
    default_code = "conflict"


class Upstream(PortalError):
    """502: something the portal fetched from (a chart repository, a registry) answered wrongly."""

    status = 502
    default_code = "upstream_error"


class Unavailable(PortalError):
    """503: a dependency (a cluster, a registry, the database) cannot answer now; retry later."""

    status = 503
    default_code = "unavailable"
