"""Identity providers, the external identities they vouch for, and group mappings.

* :class:`IdentityProvider`: an OIDC issuer or an LDAP/AD directory. Its non-secret settings are
  in ``config`` (keys per kind: docs/sso.md); its secret (OIDC client secret, LDAP bind password)
  is encrypted with :mod:`portal.crypto` bound to the row, like cluster credentials, and never
  leaves the server.
* :class:`ExternalIdentity`: one (provider, subject) pair linked to one portal user. The same
  person at two providers is two identities; nothing is merged by username.
* :class:`GroupMapping`: a provider's group → a system role, or → a role in a workspace.
* :class:`MappedMembership`: which workspace memberships a mapping created for an identity, so
  losing the group removes those and never a membership an admin gave by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from portal import crypto
from portal.models import SystemRole
from workspaces.models import Membership, Role, Workspace

NAME_MAX_LENGTH = 40
DISPLAY_NAME_MAX_LENGTH = 100
SUBJECT_MAX_LENGTH = 255
GROUP_MAX_LENGTH = 512  # an LDAP group DN can be long


class ProviderKind(models.TextChoices):
    OIDC = "oidc", "OpenID Connect"
    LDAP = "ldap", "LDAP / Active Directory"


class IdentityProvider(models.Model):
    name = models.SlugField(max_length=NAME_MAX_LENGTH, unique=True)
    display_name = models.CharField(max_length=DISPLAY_NAME_MAX_LENGTH, blank=True)
    kind = models.CharField(max_length=8, choices=ProviderKind.choices)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def _crypto_context(self) -> str:
        if self.pk is None:
            raise ValueError("save the provider before storing its secret: it is bound to its id")
        return f"identity.provider:{self.pk}:secret"

    def set_secret(self, secret: str) -> None:
        """Store (or, with "", clear) the client secret / bind password, encrypted."""
        self.secret_encrypted = crypto.encrypt(secret.encode(), context=self._crypto_context()) if secret else ""

    def get_secret(self) -> str:
        if not self.secret_encrypted:
            return ""
        return crypto.decrypt(self.secret_encrypted, context=self._crypto_context()).decode()

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)


class ExternalIdentity(models.Model):
    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="identities")
    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities")
    username = models.CharField(max_length=150)
    email = models.CharField(max_length=254, blank=True)
    groups = models.JSONField(default=list, blank=True)
    # The system role this identity's mappings granted at its last evaluation ("" = none): what a
    # later evaluation may take back. A role an admin set by hand is never recorded here.
    mapped_role = models.CharField(max_length=16, choices=SystemRole.choices, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["provider__name", "username"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["provider", "subject"], name="externalidentity_unique_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.provider_id}"


class GroupMapping(models.Model):
    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="mappings")
    group = models.CharField(max_length=GROUP_MAX_LENGTH)
    system_role = models.CharField(max_length=16, choices=SystemRole.choices, blank=True)
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="group_mappings")
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.PROTECT, related_name="group_mappings")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["provider__name", "group", "id"]
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(
                condition=(
                    (~models.Q(system_role="") & models.Q(workspace__isnull=True) & models.Q(role__isnull=True))
                    | (models.Q(system_role="") & models.Q(workspace__isnull=False) & models.Q(role__isnull=False))
                ),
                name="groupmapping_system_role_xor_workspace_role",
            ),
            models.UniqueConstraint(
                fields=["provider", "group", "system_role"], condition=~models.Q(system_role=""),
                name="groupmapping_unique_system_role"),
            models.UniqueConstraint(
                fields=["provider", "group", "workspace"], condition=models.Q(workspace__isnull=False),
                name="groupmapping_unique_workspace"),
        ]

    def __str__(self) -> str:
        target = self.system_role or f"{self.workspace_id}:{self.role_id}"
        return f"{self.provider_id}:{self.group} -> {target}"


class MappedMembership(models.Model):
    identity = models.ForeignKey(ExternalIdentity, on_delete=models.CASCADE, related_name="mapped_memberships")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="mapped_by")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["identity", "membership"], name="mappedmembership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.identity_id} -> {self.membership_id}"
