"""Workspaces: who is in a team, what it may use, and where its workloads live.

* :class:`Role`: a named set of action-level grants (:class:`Grant`). Three are built in
  (manager, developer, viewer); admins may add custom ones ("restart but not edit"). The object
  grants (``objects.edit``, ``objects.delete``, ``workloads.scale|restart|rollback``, ``pods.exec``,
  ``pods.logs``, ``secrets.reveal``) are checked by :func:`clusters.access.require_object_action`.
* :class:`Workspace` and :class:`Membership`: a team and its members, each with one role.
* :class:`ClusterAllocation`: a workspace may use a cluster, up to a quota (ResourceQuota keys
  and quantities), optionally limited to some storage classes.
* :class:`RegistryAllocation`: a registry (address prefix) the workspace may pull from / push to.
* :class:`ServiceMap`: a namespace on an allocated cluster owned by one workspace, with its share
  of the allocation applied in the cluster as a ``ResourceQuota`` and a ``LimitRange``.

The database row is the intent; :mod:`workspaces.services` makes the cluster match it, so a
service map or allocation on an unreachable cluster is accepted as ``pending`` and applied when
the cluster answers again. ``generation`` / ``applied_generation`` say whether it has been.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from clusters.models import DNS1123_LABEL, Cluster
from portal.limits import DESCRIPTION_MAX_LENGTH


class Grant(models.TextChoices):
    """Action-level permissions inside a workspace. Reading is implied by membership."""

    MEMBERS_MANAGE = "members.manage", "Manage members"
    SERVICEMAPS_MANAGE = "servicemaps.manage", "Create, change and delete service maps and their quota shares"
    WORKLOADS_DEPLOY = "workloads.deploy", "Deploy and upgrade releases"
    WORKLOADS_SCALE = "workloads.scale", "Scale workloads"
    WORKLOADS_RESTART = "workloads.restart", "Restart workloads"
    WORKLOADS_ROLLBACK = "workloads.rollback", "Roll back workloads and releases"
    OBJECTS_EDIT = "objects.edit", "Edit objects (YAML)"
    OBJECTS_DELETE = "objects.delete", "Delete objects, workloads and pods"
    PODS_EXEC = "pods.exec", "Open a shell in containers"
    PODS_LOGS = "pods.logs", "Read container logs"
    CONFIG_EDIT = "config.edit", "Edit config maps and secrets"
    SECRETS_REVEAL = "secrets.reveal", "Reveal secret values"
    BUILDS_RUN = "builds.run", "Run builds"
    ALERTS_MANAGE = "alerts.manage", "Acknowledge, silence and resolve alerts; manage alert rules and notification channels"


BUILTIN_ROLES: dict[str, dict[str, Any]] = {
    "manager": {"name": "Manager", "grants": [g.value for g in Grant]},
    "developer": {"name": "Developer", "grants": [
        Grant.WORKLOADS_DEPLOY, Grant.WORKLOADS_SCALE, Grant.WORKLOADS_RESTART, Grant.WORKLOADS_ROLLBACK,
        Grant.OBJECTS_EDIT, Grant.OBJECTS_DELETE, Grant.PODS_EXEC, Grant.PODS_LOGS, Grant.CONFIG_EDIT,
        Grant.BUILDS_RUN, Grant.ALERTS_MANAGE]},
    "viewer": {"name": "Viewer", "grants": [Grant.PODS_LOGS]},
}


class Role(models.Model):
    key = models.CharField(max_length=40, unique=True, validators=[DNS1123_LABEL])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    grants = models.JSONField(default=list, blank=True)
    builtin = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar[list[str]] = ["key"]

    def __str__(self) -> str:
        return self.key

    def allows(self, grant: str) -> bool:
        return grant in self.grants

    @classmethod
    def ensure_builtin(cls, *, model: Any = None, using: str = "default") -> None:
        """Create missing built-in roles. Migration 0002 creates them; ``post_migrate`` (sent by
        every ``migrate`` and by the flush between transactional tests) calls this so a flushed
        database has them again (:mod:`workspaces.apps`). ``model`` is the historical model
        ``post_migrate`` hands over; a read never calls this."""
        role = model if model is not None else cls
        if role.objects.using(using).filter(builtin=True).count() < len(BUILTIN_ROLES):
            for key, spec in BUILTIN_ROLES.items():
                role.objects.using(using).get_or_create(key=key, defaults={
                    "name": spec["name"], "grants": sorted(str(g) for g in spec["grants"]), "builtin": True})


class Workspace(models.Model):
    name = models.CharField(max_length=40, validators=[DNS1123_LABEL])
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="workspaces")

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(Lower("name"), name="workspace_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="memberships")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.workspace_id}:{self.role_id}"


class ApplyStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not (yet) applied to the cluster; retried
    READY = "ready", "Ready"
    ERROR = "error", "Error"  # the cluster refused it; the message says why
    DELETING = "deleting", "Deleting"  # the namespace is Terminating; the row goes when it is gone


class ClusterAllocation(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="allocations")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="allocations")
    quota = models.JSONField(default=dict, blank=True)  # ResourceQuota key -> canonical quantity
    storage_classes = models.JSONField(default=list, blank=True)  # [] = every storage class
    status = models.CharField(max_length=16, choices=ApplyStatus.choices, default=ApplyStatus.PENDING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["workspace_id", "cluster_id"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["workspace", "cluster"], name="allocation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}/{self.cluster_id}"


class RegistryAllocation(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="registries")
    registry = models.CharField(max_length=300)  # host[:port][/path prefix]
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["registry"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["workspace", "registry"], name="registry_allocation_unique"),
        ]

    def __str__(self) -> str:
        return self.registry


class ServiceMap(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="service_maps")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="service_maps")
    namespace = models.CharField(max_length=63, validators=[DNS1123_LABEL])
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    quota = models.JSONField(default=dict, blank=True)  # this service map's share of the allocation
    limits = models.JSONField(default=dict, blank=True)  # LimitRange container defaults
    status = models.CharField(max_length=16, choices=ApplyStatus.choices, default=ApplyStatus.PENDING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    generation = models.PositiveIntegerField(default=1)
    applied_generation = models.PositiveIntegerField(default=0)
    last_applied = models.DateTimeField(null=True, blank=True)
    # Deletion: the row stays ``deleting`` until the namespace is really gone from the cluster;
    # ``deletion_stuck`` once it has been Terminating longer than the deadline (message says why).
    deleting_since = models.DateTimeField(null=True, blank=True)
    deletion_stuck = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["namespace", "cluster_id"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["cluster", "namespace"], name="servicemap_namespace_unique"),
        ]
        indexes: ClassVar[list[Any]] = [models.Index(fields=["workspace", "cluster"])]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.namespace}"
