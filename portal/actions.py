"""Every write of the portal core goes through here: it changes the database, audits, and
publishes the event, in that order, inside one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import logout
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from portal import audit, ratelimit
from portal.events import publish, reauthorize
from portal.models import ApiToken, AuditOutcome, SystemRole, User


def _token_event(token: ApiToken) -> dict[str, object]:
    return {"id": token.pk, "name": token.name, "prefix": token.prefix}


@transaction.atomic
def create_api_token(
    *, user: User, name: str, expires: datetime | None, request: HttpRequest | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with the raw secret, which is never stored or logged."""
    raw, prefix, digest = ApiToken.generate()
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, digest=digest, expires=expires)
    audit.record(
        action="token.create", outcome=AuditOutcome.SUCCESS, request=request, actor=user, target=token,
        status_code=201, detail={"expires": expires.isoformat() if expires else None},
    )
    if request is not None:
        audit.describe(request, handled=True)
    publish(f"user.{user.pk}", "token.created", _token_event(token))
    return token, raw


@transaction.atomic
def revoke_api_token(*, token: ApiToken, request: HttpRequest | None = None) -> ApiToken:
    """Revoke a token. Revoked tokens are kept so a later use can be told it was revoked."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked is None:
        token.revoked = timezone.now()
        token.save(update_fields=["revoked"])
    if request is not None:
        audit.describe(request, action="token.revoke", target=token)
    publish(f"user.{token.user_id}", "token.revoked", _token_event(token))
    return token


class LastAdminError(Exception):
    """Refused: the change would leave the portal without an active system admin."""


def _would_remove_last_admin(user: User, *, role: str, is_active: bool) -> bool:
    if not user.is_admin or (role == SystemRole.ADMIN and is_active):
        return False
    others = User.objects.filter(is_active=True).exclude(pk=user.pk).filter(
        models.Q(role=SystemRole.ADMIN) | models.Q(is_superuser=True)
    )
    return not others.exists()


@transaction.atomic
def create_user(*, data: dict[str, Any], request: HttpRequest | None = None) -> User:
    password = data.pop("password")
    user = User(**data)
    user.set_password(password)
    user.save()
    if request is not None:
        audit.describe(request, action="user.create", target=user, detail={"role": user.role})
    return user


@transaction.atomic
def update_user(*, user: User, changes: dict[str, Any], request: HttpRequest | None = None) -> User:
    """Change profile fields, role or active flag. Refuses to remove the last active admin."""
    user = User.objects.select_for_update().get(pk=user.pk)
    # Lock every admin row in id order so two concurrent demotions cannot both pass the check.
    list(User.objects.select_for_update().filter(models.Q(role=SystemRole.ADMIN) | models.Q(is_superuser=True)).order_by("pk"))
    role = changes.get("role", user.role)
    is_active = changes.get("is_active", user.is_active)
    if _would_remove_last_admin(user, role=role, is_active=is_active):
        raise LastAdminError(f"'{user.username}' is the last active system admin; make someone else an admin first.")
    if role != SystemRole.ADMIN and user.is_superuser:
        changes["is_superuser"] = False
    for field, value in changes.items():
        setattr(user, field, value)
    user.save()
    if request is not None:
        audit.describe(request, action="user.update", target=user, detail={"fields": sorted(changes)})
    # A lowered role or a deactivation ends what the user's open sockets may hear.
    reauthorize([user.pk], reason="user.update")
    return user


def unlock_login(*, user: User, request: HttpRequest | None = None) -> bool:
    """Lift the login lockout of an account (and forget its failed attempts); True if it was locked.

    The counters live in Redis (portal.ratelimit); the audit record is the database write."""
    was_locked = ratelimit.unlock_account(user.get_username())
    if request is not None:
        audit.describe(request, action="user.unlock", target=user, detail={"was_locked": was_locked})
    else:
        audit.record(action="user.unlock", outcome=AuditOutcome.SUCCESS, target=user, detail={"was_locked": was_locked})
    return was_locked


@transaction.atomic
def set_user_password(*, user: User, password: str, request: HttpRequest | None = None) -> None:
    """Set a password for someone (admin) or oneself. Ends the user's other sessions."""
    user.set_password(password)
    user.save(update_fields=["password"])
    if request is not None:
        audit.describe(request, action="user.set_password", target=user)
    # Sessions made with the old password no longer verify; their sockets close.
    reauthorize([user.pk], reason="user.set_password")


# What other apps offer a browser whose session ends (identity: the OIDC provider's end-session URL,
# RP-initiated logout). Each reads the session before it ends and returns a URL or "".
_LOGOUT_OFFERS: list[Callable[[HttpRequest], str]] = []


def register_logout_offer(offer: Callable[[HttpRequest], str]) -> None:
    if offer not in _LOGOUT_OFFERS:
        _LOGOUT_OFFERS.append(offer)


def logout_offer(request: HttpRequest) -> str:
    """Where the browser may go next to end its session at the identity provider too, or ""."""
    for offer in _LOGOUT_OFFERS:
        url = offer(request)
        if url:
            return url
    return ""


def log_out(request: HttpRequest) -> None:
    """End the request's session, and close the sockets that were opened with it."""
    user_id = getattr(request.user, "pk", None)
    logout(request)
    if user_id is not None:
        reauthorize([user_id], reason="logout")
