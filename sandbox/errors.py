"""Typed API errors that render as real Kubernetes ``Status`` objects.

The store, admission and the HTTP layer raise these; the server turns them into
the exact JSON a real apiserver sends, so clients (kubectl, the Python client,
the portal) see the same codes, reasons and messages as against a real cluster.
"""

from __future__ import annotations

from typing import Any

from sandbox.resources import ResourceType


class ApiError(Exception):
    """Base class: an HTTP status code, a ``reason`` and a ``message``."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The ``Status`` object for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    code = 401
    reason = "Unauthorized"


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"


class NotFound(ApiError):
    code = 404
    reason = "NotFound"


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    code = 409
    reason = "Conflict"


class Gone(ApiError):
    """410 with reason ``Expired`` (too old resourceVersion, stale continue token)."""

    code = 410
    reason = "Expired"


class RequestEntityTooLarge(ApiError):
    code = 413
    reason = "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    code = 422
    reason = "Invalid"


class TooManyRequests(ApiError):
    code = 429
    reason = "TooManyRequests"


class InternalError(ApiError):
    code = 500
    reason = "InternalError"


class ServiceUnavailable(ApiError):
    code = 503
    reason = "ServiceUnavailable"


def _qualified(rt: ResourceType) -> str:
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


def _details(rt: ResourceType, name: str) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": rt.plural}
    if rt.group:
        d["group"] = rt.group
    return d


def not_found(rt: ResourceType, name: str) -> NotFound:
    return NotFound(f'{_qualified(rt)} "{name}" not found', details=_details(rt, name))


def namespace_not_found(name: str) -> NotFound:
    return NotFound(f'namespaces "{name}" not found', details={"name": name, "kind": "namespaces"})


def already_exists(rt: ResourceType, name: str) -> AlreadyExists:
    return AlreadyExists(f'{_qualified(rt)} "{name}" already exists', details=_details(rt, name))


def conflict(rt: ResourceType, name: str) -> Conflict:
    return Conflict(
        f'Operation cannot be fulfilled on {_qualified(rt)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details=_details(rt, name),
    )


def forbidden(rt: ResourceType, name: str, why: str) -> Forbidden:
    return Forbidden(f'{_qualified(rt)} "{name}" is forbidden: {why}', details=_details(rt, name))


def expired(message: str) -> Gone:
    return Gone(message)


class FieldError:
    """One validation failure (a ``details.causes`` entry of a 422)."""

    __slots__ = ("detail", "field", "kind", "value")

    def __init__(self, kind: str, field: str, value: Any = None, detail: str = "") -> None:
        self.kind = kind  # "Required" | "Invalid" | "Forbidden" | "NotSupported" | "Duplicate"
        self.field = field
        self.value = value
        self.detail = detail

    def message(self) -> str:
        if self.kind == "Required":
            return "Required value" + (f": {self.detail}" if self.detail else "")
        if self.kind == "Forbidden":
            return "Forbidden" + (f": {self.detail}" if self.detail else "")
        if self.kind == "Duplicate":
            return f"Duplicate value: {_go_value(self.value)}"
        if self.kind == "NotSupported":
            return f"Unsupported value: {_go_value(self.value)}" + (f": {self.detail}" if self.detail else "")
        return f"Invalid value: {_go_value(self.value)}" + (f": {self.detail}" if self.detail else "")

    def cause(self) -> dict[str, Any]:
        reason = {
            "Required": "FieldValueRequired",
            "Forbidden": "FieldValueForbidden",
            "Duplicate": "FieldValueDuplicate",
            "NotSupported": "FieldValueNotSupported",
        }.get(self.kind, "FieldValueInvalid")
        return {"reason": reason, "message": self.message(), "field": self.field}


def _go_value(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return str(v)


def invalid(rt: ResourceType, name: str, errors: list[FieldError]) -> Invalid:
    """A 422 in the apiserver's format: ``Kind "name" is invalid: field: msg``."""
    parts = [f"{e.field}: {e.message()}" for e in errors]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: dict[str, Any] = {"name": name, "kind": rt.kind, "causes": [e.cause() for e in errors]}
    if rt.group:
        details["group"] = rt.group
    return Invalid(f'{rt.kind} "{name}" is invalid: {joined}', details=details)
