"""The browser's side of OpenID Connect sign-in: ``start`` redirects to the provider, ``callback``
finishes the sign-in and redirects to the console (docs/sso.md).

These answer redirects, not JSON: the browser navigates through them. A refusal redirects to
``/login?error=<code>&provider=<name>`` (the login page translates ``codes.<code>``) and is audited; nothing is
created. The ``next`` the console asks to return to must be a local path (no open redirect).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from identity import actions, oidc
from identity.models import IdentityProvider, ProviderKind
from portal import audit
from portal.errors import PortalError


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site, else "/" (never another origin: ``//host``, ``/\\host``,
    schemes, control characters)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(c.isspace() or not c.isprintable() or c == "\\" for c in value) or len(value) > 2000:
        return "/"
    return value


def _login_error(code: str, name: str) -> HttpResponseRedirect:
    """The login page with the refusal's code and the provider's name (its text names the provider)."""
    return HttpResponseRedirect("/login?" + urlencode({"error": code, "provider": name[:100]}))


def _refused(request: Request, provider: IdentityProvider | None, name: str, error: PortalError, *,
             audited: bool = False) -> HttpResponseRedirect:
    """Redirect to the login page with the refusal's code; audit it unless the action already did."""
    audit.describe(request, handled=True)
    if not audited:
        actions.refused(provider=provider, code=error.code, request=request._request,
                        detail={"kind": "oidc", "provider_name": name[:100]})
    return _login_error(error.code, name)


def _provider(name: str) -> IdentityProvider | None:
    return IdentityProvider.objects.filter(name=name, kind=ProviderKind.OIDC).first()


class OidcStartView(APIView):
    """Redirect the browser to the provider's authorization endpoint (code flow, PKCE S256)."""

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("next", str, description="Console path to return to after sign-in")],
        responses={302: OpenApiResponse(description="To the provider, or to /login?error=<code>")},
        operation_id="auth_oidc_start",
    )
    def get(self, request: Request, name: str) -> HttpResponseRedirect:
        provider = _provider(name)
        if provider is None or not provider.enabled:
            return _refused(request, provider, name, oidc.OidcRefused(
                "This sign-in method is not enabled.", code="provider_disabled"))
        config = provider.config or {}
        redirect_uri = str(config.get("redirect_uri") or request.build_absolute_uri(
            reverse("identity-oidc-callback", args=[provider.name])))
        try:
            url = oidc.begin(provider, request=request._request, redirect_uri=redirect_uri,
                             next_path=safe_next(request.query_params.get("next")))
        except PortalError as exc:
            return _refused(request, provider, name, exc)
        audit.describe(request, handled=True)
        return HttpResponseRedirect(url)


class OidcCallbackView(APIView):
    """The provider sends the browser back here with ``code`` and ``state`` (or ``error``)."""

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={302: OpenApiResponse(description="To the console's next path, or to /login?error=<code>")},
        operation_id="auth_oidc_callback",
    )
    def get(self, request: Request, name: str) -> HttpResponseRedirect:
        provider = _provider(name)
        if provider is None or not provider.enabled:
            return _refused(request, provider, name, oidc.OidcRefused(
                "This sign-in method is not enabled.", code="provider_disabled"))
        flow = oidc.take_flow(request._request, str(request.query_params.get("state") or ""))
        if flow is None:
            return _refused(request, provider, name, oidc.OidcRefused(
                "This sign-in answer does not belong to a sign-in started here, or was already used; start again.",
                code="oidc_state_invalid"))
        params = {k: str(v) for k, v in request.query_params.items()}
        try:
            outcome = oidc.complete(provider, flow=flow, params=params)
        except PortalError as exc:
            return _refused(request, provider, name, exc)
        try:  # audits its own refusals (username_taken, account_disabled, ...)
            actions.sign_in_external(
                provider=provider, subject=outcome.subject, username=outcome.username, email=outcome.email,
                display_name=outcome.display_name, groups=outcome.groups, request=request._request)
        except PortalError as exc:
            return _refused(request, provider, name, exc, audited=True)
        oidc.remember_logout(request._request, provider, outcome)
        audit.describe(request, handled=True)
        return HttpResponseRedirect(safe_next(str(flow.get("next") or "/")))


urlpatterns = [
    path("<slug:name>/start/", OidcStartView.as_view(), name="identity-oidc-start"),
    path("<slug:name>/callback/", OidcCallbackView.as_view(), name="identity-oidc-callback"),
]
