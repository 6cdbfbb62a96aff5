"""Who may do what with identity providers, group mappings and external identities.

Admins manage them: a mapping decides who becomes an admin or a workspace manager, so nobody
else may see or change one. The login page's list of enabled providers (name, display name,
kind) is public and needs no access class.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from identity.models import ExternalIdentity, GroupMapping, IdentityProvider
from portal import access as portal_access
from portal import errors
from portal.access import is_admin


@portal_access.register
class IdentityProviderAccess(portal_access.Access[IdentityProvider]):
    model = IdentityProvider

    def visible(self, user: Any) -> QuerySet[IdentityProvider]:
        return IdentityProvider.objects.all() if is_admin(user) else IdentityProvider.objects.none()

    def can_create(self, user: Any, obj: IdentityProvider | None) -> bool:
        return is_admin(user)

    def can_change(self, user: Any, obj: IdentityProvider | None) -> bool:
        return is_admin(user)

    def can_delete(self, user: Any, obj: IdentityProvider | None) -> bool:
        return is_admin(user)

    def can_test(self, user: Any, obj: IdentityProvider | None) -> bool:
        return is_admin(user)

    def denied(self, user: Any, action: str, obj: IdentityProvider | None) -> errors.Forbidden:
        return portal_access.admin_only(f"{action} identity providers")


@portal_access.register
class GroupMappingAccess(portal_access.Access[GroupMapping]):
    model = GroupMapping

    def visible(self, user: Any) -> QuerySet[GroupMapping]:
        return GroupMapping.objects.all() if is_admin(user) else GroupMapping.objects.none()

    def can_create(self, user: Any, obj: GroupMapping | None) -> bool:
        return is_admin(user)

    def can_change(self, user: Any, obj: GroupMapping | None) -> bool:
        return is_admin(user)

    def can_delete(self, user: Any, obj: GroupMapping | None) -> bool:
        return is_admin(user)

    def can_preview(self, user: Any, obj: GroupMapping | None) -> bool:
        return is_admin(user)

    def denied(self, user: Any, action: str, obj: GroupMapping | None) -> errors.Forbidden:
        return portal_access.admin_only(f"{action} group mappings")


@portal_access.register
class ExternalIdentityAccess(portal_access.Access[ExternalIdentity]):
    """Identity links are shown to admins on the user's detail; admins move them to another user or remove them."""

    model = ExternalIdentity

    def visible(self, user: Any) -> QuerySet[ExternalIdentity]:
        return ExternalIdentity.objects.all() if is_admin(user) else ExternalIdentity.objects.none()

    def can_link(self, user: Any, obj: ExternalIdentity | None) -> bool:
        """Moving a link to another user decides who that person signs in as: admins only."""
        return is_admin(user)

    def can_unlink(self, user: Any, obj: ExternalIdentity | None) -> bool:
        return is_admin(user)

    def denied(self, user: Any, action: str, obj: ExternalIdentity | None) -> errors.Forbidden:
        return portal_access.admin_only(f"{action} identity links")


# ---------------------------------------------------------------------------- signing in


def provider_disabled(provider: IdentityProvider) -> errors.Forbidden:
    """The refusal for a sign-in through a provider an admin switched off."""
    return errors.Forbidden(f"Sign-in through {provider} is switched off; ask a system admin.",
                            code="provider_disabled", params={"provider": provider.name})


def sign_in_refusal(provider: IdentityProvider, user: Any | None = None) -> errors.Forbidden | None:
    """Why this sign-in may not happen (the provider is off, the linked account deactivated), or None."""
    if not provider.enabled:
        return provider_disabled(provider)
    if user is not None and not user.is_active:
        return errors.Forbidden("This account is disabled; ask a system admin.", code="account_disabled")
    return None
