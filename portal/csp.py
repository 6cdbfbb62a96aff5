"""Content-Security-Policy on every response (API, the SPA's index, static files, health).

The console is a built bundle with no inline script, so scripts, styles, fonts and images may
come only from the portal itself; a script injected through some unescaped string has nowhere
to load from and cannot run inline. ``connect-src`` names the same-origin WebSocket explicitly
(``'self'`` covers ws:/wss: only in browsers that implement CSP Level 3 there), and nothing may
frame the portal, change its base URL or embed plugins. Django 5.2 has no CSP support of its
own (it arrives in 6.0), hence this middleware; the directives are ``settings.PORTAL_CSP``.

The middleware sits before WhiteNoise so static files carry the header too. The API docs page
(Swagger UI) is the one exception: its init script is served as a file, but it carries a small
inline ``<style>``, so that page alone may use inline styles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from drf_spectacular.views import SpectacularSwaggerSplitView

HEADER = "Content-Security-Policy"


def build_policy(directives: Mapping[str, Sequence[str]], *, websocket_origin: str | None = None) -> str:
    parts = []
    for name, sources in directives.items():
        values = list(sources)
        if name == "connect-src" and websocket_origin:
            values.append(websocket_origin)
        parts.append(" ".join([name, *values]))
    return "; ".join(parts)


def _websocket_origin(request: HttpRequest) -> str | None:
    try:
        host = request.get_host()  # validated against ALLOWED_HOSTS, so safe to echo
    except DisallowedHost:
        return None
    return f"{'wss' if request.is_secure() else 'ws'}://{host}"


class ContentSecurityPolicyMiddleware:
    """Add ``settings.PORTAL_CSP`` to every response that has not set its own policy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            directives: dict[str, list[str]] = {k: list(v) for k, v in settings.PORTAL_CSP.items()}
            for name, extra in getattr(response, "csp_extra", {}).items():
                directives.setdefault(name, []).extend(extra)
            response[HEADER] = build_policy(directives, websocket_origin=_websocket_origin(request))
        return response


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI without inline script: the init script is fetched from ``?script``."""

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response.csp_extra = {"style-src": ["'unsafe-inline'"]}  # the template's <style> block
        return response
