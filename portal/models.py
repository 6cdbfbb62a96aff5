"""Users, personal API tokens and the audit log: the identity and accountability core.

Roles here are system-wide (admin, operator, auditor, user); workspace roles live in ``workspaces``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "kp_"


class SystemRole(models.TextChoices):
    ADMIN = "admin", "System admin"
    OPERATOR = "operator", "Operator"
    AUDITOR = "auditor", "Auditor"  # reads every cluster like an operator; changes nothing
    USER = "user", "User"


class User(AbstractUser):
    """A person. ``role`` is the system role; superusers are always admins."""

    role = models.CharField(max_length=16, choices=SystemRole.choices, default=SystemRole.USER)
    # False: the local username/password login refuses this user (single sign-on only); True keeps
    # a break-glass way in that does not depend on an identity provider.
    local_login_enabled = models.BooleanField(default=True)

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.is_superuser or self.role == SystemRole.ADMIN)

    @property
    def is_operator(self) -> bool:
        """Operators read every cluster; admins can do everything operators can."""
        return self.is_active and (self.is_admin or self.role == SystemRole.OPERATOR)

    @property
    def is_auditor(self) -> bool:
        """Auditors read everything operators read (clusters, nodes, workspaces, logs) and change nothing."""
        return self.is_active and not self.is_admin and self.role == SystemRole.AUDITOR

    @property
    def reads_all_clusters(self) -> bool:
        """Sees every cluster, namespace and workspace: operators, admins and auditors."""
        return self.is_operator or self.is_auditor

    @property
    def effective_role(self) -> str:
        return str(SystemRole.ADMIN) if self.is_admin else str(self.role)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part used to find the token.")
    digest = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=models.Q(revoked__isnull=True),
                name="apitoken_unique_active_name_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """Return (raw token, prefix, digest). The raw token is never stored."""
        prefix = secrets.token_hex(4)
        raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        return raw, prefix, hash_token(raw)

    @staticmethod
    def parse_prefix(raw: str) -> str | None:
        if not raw.startswith(TOKEN_PREFIX):
            return None
        prefix, sep, secret = raw[len(TOKEN_PREFIX):].partition("_")
        if not sep or len(prefix) != 8 or not secret:
            return None
        return prefix

    def matches(self, raw: str) -> bool:
        return hmac.compare_digest(self.digest, hash_token(raw))

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    def touch(self) -> None:
        """Record use, at most once a minute, so token traffic does not write on every call."""
        now = timezone.now()
        if self.last_used is None or now - self.last_used > timedelta(minutes=1):
            ApiToken.objects.filter(pk=self.pk).update(last_used=now)
            self.last_used = now


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILURE = "failure", "Failure"


class AuditRecord(models.Model):
    """One immutable line of the audit log. A database trigger refuses UPDATE and DELETE.

    ``actor`` keeps no foreign-key constraint and ``actor_username`` snapshots the name, so
    deleting a user never rewrites history.
    """

    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=16, choices=AuditOutcome.choices, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    # Where it happened, taken from the target when the record is written (portal.audit.scope_of),
    # so the log filters by workspace and cluster. No foreign keys (the core sits below those apps,
    # and deleting a workspace must not touch history); the names are snapshots. Records written
    # before these columns existed have none (rows are immutable, so nothing backfills them).
    workspace_id = models.BigIntegerField(null=True, blank=True)
    workspace_name = models.CharField(max_length=100, blank=True, db_index=True)
    cluster_id = models.BigIntegerField(null=True, blank=True)
    cluster_name = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        indexes: ClassVar[list[models.Index]] = [  # filtered lists are read newest first
            models.Index(fields=["workspace_id", "-id"], name="audit_workspace_newest"),
            models.Index(fields=["cluster_id", "-id"], name="audit_cluster_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit records are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit records are immutable.")


class TableView(models.Model):
    """A named set of columns a user saved for one of the console's tables (``table`` is the
    table's stable key, such as ``clusters`` or ``cluster.pods``). At most one per user and table
    is the default the table opens with."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="table_views")
    table = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    columns = models.JSONField(default=list)
    is_default = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["table", "name"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "table", "name"], name="tableview_unique_name"),
            models.UniqueConstraint(
                fields=["user", "table"], condition=models.Q(is_default=True), name="tableview_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.table}:{self.name}"
