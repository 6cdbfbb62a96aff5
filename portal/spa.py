"""Serves the single-page app's index.html for every non-API path (client-side routing)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    page = settings.FRONTEND_DIST / "index.html"
    if not page.is_file():
        return HttpResponse(
            "The web console is not built yet. Run `make frontend` (or `make run`), then reload.",
            status=503, content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(page.read_bytes(), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


@csrf_exempt  # it changes nothing; a POST to a wrong path is a JSON 404, not the CSRF failure page
def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": f"No API endpoint at {request.path}. See /api/docs/ for the list."}, status=404)
