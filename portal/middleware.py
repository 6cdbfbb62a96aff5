"""Request-level plumbing: request ids, a hard cap on request body size, and no control
characters in the URL.

A NUL in a query parameter (``?q=%00``) reached the ORM and PostgreSQL refused the query string
literal, a 500 on every list endpoint with a search box; :class:`UrlControlCharacterMiddleware`
refuses it for all of them at once, before any view runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from portal.context import request_id_var

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give every request an id (accepting a sane incoming ``X-Request-ID``) and echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class BodySizeLimitMiddleware:
    """Refuse bodies over ``PORTAL_MAX_BODY_BYTES`` with 413 before anything reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            size = int(length)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
        limit = settings.PORTAL_MAX_BODY_BYTES
        if size > limit:
            return JsonResponse(
                {"detail": f"Request body is {size} bytes; the limit is {limit} bytes."}, status=413
            )
        return self.get_response(request)


_PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RAW_NUL = re.compile(r"%00|\x00", re.IGNORECASE)


class UrlControlCharacterMiddleware:
    """Refuse with 400 a path holding a control character, or a query string holding a NUL
    (raw or ``%00``): PostgreSQL cannot compare text with a NUL, and no resource name has one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _PATH_CONTROL.search(request.path) or _PATH_CONTROL.search(request.path_info):
            return JsonResponse({"detail": "The URL path contains a control character; remove it.",
                                 "code": "control_character"}, status=400)
        query = request.META.get("QUERY_STRING", "")
        if _RAW_NUL.search(query) or any("\x00" in key or any("\x00" in v for v in values)
                                         for key, values in request.GET.lists()):
            return JsonResponse({"detail": "The query string contains a NUL character (%00); remove it.",
                                 "code": "nul_character"}, status=400)
        return self.get_response(request)


def client_ip(request: HttpRequest) -> str | None:
    if settings.PORTAL_TRUST_X_FORWARDED_FOR:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


# --------------------------------------------------------------------------- database unavailable

# SQLSTATEs meaning "the database cannot serve now", not "this query is wrong": connection
# exceptions (class 08), the server shutting down / starting up / crashed (57P01-57P03), too many
# connections (53300); and out of space or memory (53100 disk_full, 53000, 53200), which refuses
# a write while reads may still work. psycopg reports a refused connection without a SQLSTATE.
_DOWN_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_FULL_STATES = frozenset({"53000", "53100", "53200"})

DATABASE_UNAVAILABLE = "database_unavailable"
DATABASE_FULL = "database_storage_full"

_MESSAGES = {
    DATABASE_UNAVAILABLE: ("The portal's database (PostgreSQL) is not answering, so nothing can be read or saved "
                           "right now and nothing was changed. Try again in a minute; if it lasts, an operator "
                           "should check the PostgreSQL server (GET /readyz names what fails)."),
    DATABASE_FULL: ("The portal's database has run out of disk space, so this change was not saved (nothing was "
                    "half-written). Try again after an operator frees or adds space on the PostgreSQL volume."),
}
RETRY_AFTER = {DATABASE_UNAVAILABLE: 5, DATABASE_FULL: 30}


def database_failure(exc: BaseException | None) -> str | None:
    """``database_unavailable`` or ``database_storage_full`` when ``exc`` (or what it wraps) says
    PostgreSQL cannot serve now; None for any other error (a bad query stays a bug, a 500)."""
    from django.db import InterfaceError, OperationalError

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OperationalError | InterfaceError):
            cause = exc.__cause__ or exc.__context__
            state = getattr(cause, "sqlstate", None) or getattr(exc, "sqlstate", None)
            if state in _FULL_STATES:
                return DATABASE_FULL
            if state is None or state.startswith("08") or state in _DOWN_STATES:
                return DATABASE_UNAVAILABLE
            return None
        exc, seen = exc.__cause__, seen + 1
    return None


def database_failure_body(code: str) -> dict[str, str]:
    return {"detail": _MESSAGES[code], "code": code}


def database_failure_response(code: str) -> JsonResponse:
    response = JsonResponse(database_failure_body(code), status=503)
    response["Retry-After"] = str(RETRY_AFTER[code])
    return response


_FAILURE_ATTR = "_portal_database_failure"


def _note_request_exception(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    """``got_request_exception`` receiver: remember on the request that it failed because the
    database could not serve (Django turns the exception into a 500 inside the layer that raised
    it; :class:`DatabaseUnavailableMiddleware` turns that 500 into a 503 with a body)."""
    import sys

    code = database_failure(sys.exc_info()[1])
    if code is not None and request is not None:
        setattr(request, _FAILURE_ATTR, code)


class DatabaseUnavailableMiddleware:
    """PostgreSQL down, restarting or out of space: answer 503 with ``{"detail", "code"}`` and
    ``Retry-After`` instead of a 500, whichever layer (a view, the session, authentication) hit it.
    API views get the same body from :func:`portal.api.exceptions.exception_handler`. Put it near
    the top of ``MIDDLEWARE`` (after the request id), above everything that reads the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.core.signals import got_request_exception

        self.get_response = get_response
        got_request_exception.connect(_note_request_exception, dispatch_uid="portal-database-failure")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        code = getattr(request, _FAILURE_ATTR, None)
        if code is not None and response.status_code == 500:
            return database_failure_response(code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        code = database_failure(exception)
        return database_failure_response(code) if code is not None else None
