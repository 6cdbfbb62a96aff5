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
