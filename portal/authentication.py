"""API authentication: personal tokens for scripts, the session for the browser.

Token authentication comes first in the list so that an unauthenticated API call answers 401
with ``WWW-Authenticate: Bearer`` rather than 403. A rejected token (unknown, expired, revoked,
inactive user) is a security event and is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.middleware.csrf import CsrfViewMiddleware
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal import audit
from portal.models import ApiToken, AuditOutcome, User

# Checks other apps add (identity: a user whose only way in, an identity provider, is gone or
# switched off). Each returns why the account may not be used now, or None.
_ACCOUNT_CHECKS: list[Callable[[Any], str | None]] = []


def register_account_check(check: Callable[[Any], str | None]) -> None:
    if check not in _ACCOUNT_CHECKS:
        _ACCOUNT_CHECKS.append(check)


def account_problem(user: Any) -> str | None:
    for check in _ACCOUNT_CHECKS:
        problem = check(user)
        if problem is not None:
            return problem
    return None


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        raw = raw.strip()
        if not raw:
            raise exceptions.AuthenticationFailed("The Authorization header has no token after 'Bearer'.")
        return self._check(request, raw)

    def _check(self, request: Request, raw: str) -> tuple[User, ApiToken]:
        prefix = ApiToken.parse_prefix(raw)
        token = ApiToken.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
        problem = None
        if token is None or not token.matches(raw):
            problem = "Invalid API token."
        elif token.revoked is not None:
            problem = "This API token was revoked; create a new one under Account → API tokens."
        elif token.is_expired:
            problem = "This API token has expired; create a new one under Account → API tokens."
        elif not token.user.is_active:
            problem = "The account that owns this API token is disabled."
        else:
            problem = account_problem(token.user)
        if problem is not None:
            audit.record(
                action="auth.token_rejected",
                outcome=AuditOutcome.DENIED,
                request=request._request,
                actor=token.user if token is not None and token.matches(raw) else None,
                target=token if token is not None and token.matches(raw) else None,
                status_code=401,
                detail={"reason": problem, "path": request.path[:300]},
            )
            raise exceptions.AuthenticationFailed(problem)
        assert token is not None
        token.touch()
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def enforce_csrf(request: Request) -> None:
    """Run Django's CSRF check on a DRF request (DRF views are CSRF-exempt by default)."""

    def dummy_get_response(_request: Any) -> None:
        return None

    check = CsrfViewMiddleware(dummy_get_response)  # type: ignore[arg-type]
    check.process_request(request)
    reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
    if reason:
        raise exceptions.PermissionDenied(
            "CSRF check failed: fetch /api/auth/csrf/ first and send its token in the X-CSRFToken header."
        )


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with CSRF enforced on unsafe methods and a clear message."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is not None:
            problem = account_problem(result[0])
            if problem is not None:
                raise exceptions.AuthenticationFailed(problem)
        return result

    def enforce_csrf(self, request: Request) -> None:
        enforce_csrf(request)
