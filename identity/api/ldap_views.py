"""Signing in with a directory account: ``POST /api/auth/ldap/{name}/login/`` {username, password}.

It behaves like the local login (portal.api.views.LoginView) so the login page treats both
alike: CSRF-checked, throttled per address and per account by :mod:`portal.ratelimit` (the
account counters are the directory's — ``ldap:<provider>:<username>`` — so failures there never
lock a local account of the same name), answering the user on 200, 401 ``invalid_credentials``
whatever was wrong (unknown user, wrong password, an injection attempt), 429 with Retry-After,
and the provider's refusals with their codes (403 ``provider_disabled``, 409 ``username_taken``,
503 when the directory cannot be asked). Every attempt is audited; the password never is.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from identity import access, actions, ldap
from identity.models import IdentityProvider, ProviderKind
from portal import audit, ratelimit
from portal.api.serializers import LoginSerializer, UserSerializer
from portal.authentication import enforce_csrf
from portal.errors import NotFound, PortalError
from portal.middleware import client_ip
from portal.models import AuditOutcome


class LdapLoginView(APIView):
    """Session sign-in through an LDAP / Active Directory provider."""

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type[BaseThrottle]] = []

    @extend_schema(
        request=LoginSerializer,
        responses={200: UserSerializer, 400: OpenApiResponse(description="Invalid input"),
                   401: OpenApiResponse(description="Wrong username or password (code `invalid_credentials`)"),
                   403: OpenApiResponse(description="CSRF check failed, or the provider is switched off "
                                        "(code `provider_disabled`) or the account disabled"),
                   404: OpenApiResponse(description="No LDAP provider of that name"),
                   409: OpenApiResponse(description="Another account has this username (code `username_taken`)"),
                   429: OpenApiResponse(description="Too many attempts (codes `login_throttled`, `account_locked`); "
                                        "see Retry-After"),
                   503: OpenApiResponse(description="The directory cannot be asked now (codes `ldap_unreachable`, "
                                        "`ldap_timeout`, `ldap_certificate_rejected`, `ldap_service_bind_failed`, "
                                        "`ldap_address_not_allowed`, ...)")},
        operation_id="auth_ldap_login",
    )
    def post(self, request: Request, name: str) -> Response:
        enforce_csrf(request)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username: str = serializer.validated_data["username"]
        password: str = serializer.validated_data["password"]
        http = request._request
        audit.describe(request, handled=True)
        provider = IdentityProvider.objects.filter(name=name, kind=ProviderKind.LDAP).first()
        if provider is None or not provider.enabled:
            error: PortalError = (
                NotFound("There is no LDAP sign-in of that name.", code="provider_not_found") if provider is None
                else access.provider_disabled(provider))
            actions.refused(provider=provider, code=error.code, request=http, username=username,
                            detail={"kind": "ldap", "provider_name": name[:100]})
            raise error  # the API's one handler answers it (status, code, params, Retry-After)
        ip = client_ip(http) or "unknown"
        account = f"ldap:{provider.name}:{username}"
        throttled = ratelimit.login_throttled(ip, account)
        if throttled is not None:
            audit.record(action="auth.login_throttled", outcome=AuditOutcome.DENIED, request=http,
                         actor_username=username, target=provider, status_code=429,
                         detail={"retry_after": throttled.retry_after, "code": throttled.code,
                                 "provider": provider.name})
            return Response({"detail": throttled.detail, "code": throttled.code},
                            status=status.HTTP_429_TOO_MANY_REQUESTS,
                            headers={"Retry-After": str(throttled.retry_after)})
        try:
            found = ldap.authenticate(provider, username, password)
        except ldap.SignInRefused as exc:
            locked = ratelimit.record_login_failure(ip, account)
            actions.refused(provider=provider, code=exc.code, request=http, username=username,
                            detail={"kind": "ldap"})
            if locked:
                audit.record(action="auth.account_locked", outcome=AuditOutcome.DENIED, request=http,
                             actor_username=username, target=provider, status_code=401,
                             detail={"lockout_seconds": settings.PORTAL_LOGIN_LOCKOUT_SECONDS,
                                     "provider": provider.name})
            raise
        except PortalError as exc:
            actions.refused(provider=provider, code=exc.code, request=http, username=username,
                            detail={"kind": "ldap", **exc.params})
            raise
        # The directory vouched for the person: the action links, maps groups, audits and logs in;
        # its refusals (username_taken, account_disabled, ...) are audited there.
        user = actions.sign_in_external(provider=provider, subject=found.subject, username=found.username,
                                        email=found.email, display_name=found.display_name, groups=found.groups,
                                        request=http)
        ratelimit.clear_login_failures(ip, account)
        user.refresh_from_db()  # the role the mappings just set
        return Response(UserSerializer(user).data)


urlpatterns = [
    path("<slug:name>/login/", LdapLoginView.as_view(), name="identity-ldap-login"),
]
