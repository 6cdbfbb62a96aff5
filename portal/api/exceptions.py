"""One error body for the whole API: ``{"detail": str, "code": str, "params": {...}, "errors": {field: [str, ...]}}``.

Domain code raises :mod:`portal.errors` (HTTP-free, with ``code`` and ``params``); this handler is
the one place they become HTTP. ``params`` (present when the error has any) fill the console's
translation of ``code``.

Clients can always show ``detail``; forms put ``errors`` next to their fields; ``code`` is stable
(``required``, ``max_length``, ``not_found``, ``address_not_allowed`` …) so a client can act on
it or translate it without parsing English. Unexpected exceptions become a JSON 500 that carries
the request id, never an HTML page. PostgreSQL down, restarting or out of space is a 503
(``database_unavailable`` / ``database_storage_full``, with ``Retry-After``; :mod:`portal.middleware`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal import errors as portal_errors
from portal.context import request_id_var
from portal.middleware import RETRY_AFTER, database_failure, database_failure_body

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """409: the request is valid but clashes with the current state; ``detail`` says how."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into ``{"field.sub": [messages]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(errors, list):
        if all(not isinstance(e, dict | list) for e in errors):
            out.setdefault(prefix or "non_field_errors", []).extend(str(e) for e in errors)
        else:
            for i, item in enumerate(errors):
                for k, v in _flatten(item, f"{prefix}.{i}" if prefix else str(i)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(errors))
    return out


def _first_code(codes: Any, default: str) -> str:
    """The first code in DRF's ``get_codes()`` structure (a str, or nested lists and dicts)."""
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value, default)
    if isinstance(codes, list):
        for value in codes:
            return _first_code(value, default)
    return default


def _portal_error(exc: portal_errors.PortalError) -> Response:
    body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
    if exc.params:
        body["params"] = exc.params
    if exc.errors or isinstance(exc, portal_errors.Invalid):
        body["errors"] = exc.errors or {"non_field_errors": [exc.message]}
    response = Response(body, status=exc.status)
    if isinstance(exc, portal_errors.Unavailable):
        response["Retry-After"] = str(exc.params.get("retry_after", 5))
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, portal_errors.PortalError):
        return _portal_error(exc)
    failure = database_failure(exc)
    if failure is not None:  # PostgreSQL down, restarting or full: 503, never a 500 (docs/reliability.md)
        logger.warning("database cannot serve: %s", failure, exc_info=exc)
        return Response(database_failure_body(failure), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(RETRY_AFTER[failure])})
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body is too large.", "code": "request_too_large"},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(
            {"detail": f"Internal error. Quote request id {request_id_var.get()} when reporting it.",
             "code": "internal_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = _first_code(exc.get_codes(), "error") if isinstance(exc, exceptions.APIException) else "error"
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(response.data)
        first = next(iter(errors.items()), None)
        if first is None:
            summary = "Invalid input."
        elif first[0] == "non_field_errors":
            summary = first[1][0]
        else:
            summary = f"Invalid input: {first[0]}: {first[1][0]}"
        response.data = {"detail": summary, "code": code, "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"]), "code": code}
    else:
        response.data = {"detail": str(response.data), "code": code}
    return response
