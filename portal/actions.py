"""Every write of the portal core goes through here: it changes the database, audits, and
publishes the event, in that order, inside one transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal import audit
from portal.events import publish
from portal.models import ApiToken, AuditOutcome, User


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
