"""Cluster provisioning through Cluster API (docs/provisioning.md).

* :class:`ManagementCluster`: a registered cluster an admin marked as a management cluster: the
  portal writes Cluster API objects there (in :attr:`ManagementCluster.namespace`) and follows
  them. Its check records which Cluster API kinds and which infrastructure providers are served.
* :class:`ClusterTemplate`: an admin-managed, versioned template for one infrastructure provider:
  a small Helm chart (``Chart.yaml``, ``values.yaml``, ``values.schema.json``, ``templates/*.yaml``)
  rendered by the catalog's Helm engine into Cluster API objects; its parameters are validated
  by the schema, like catalog values. A change is a new version; old versions stay for the
  clusters made from them.
* :class:`ProvisionedCluster`: one cluster the portal provisioned (the intent of its whole life):
  what was rendered and applied, where it stands (phase, progress per machine and pool, the
  Cluster API conditions), and, once Cluster API wrote its kubeconfig, the registered
  :class:`clusters.models.Cluster`. Deleting it keeps the row (``phase=deleted``) with its history.
* :class:`ProvisioningOperation`: the intent row of every change to a provisioned cluster
  (create, scale / add / delete / resize a node pool, upgrade, delete), written before its task
  is enqueued and followed by the console.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clusters.models import DNS1123_LABEL, Cluster, Stage
from portal.limits import DESCRIPTION_MAX_LENGTH


class InfraProvider(models.TextChoices):
    """Infrastructure providers the portal ships templates for, by Cluster API provider name
    (``infrastructure-<name>``, the label ``cluster.x-k8s.io/provider`` clusterctl puts on CRDs)."""

    SANDBOX = "sandbox", "Sandbox (simulated machines)"
    DOCKER = "docker", "Docker (CAPD)"
    VSPHERE = "vsphere", "VMware vSphere"
    OPENSTACK = "openstack", "OpenStack"
    AWS = "aws", "AWS"


class CheckStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    ERROR = "error", "Error"


class ManagementCluster(models.Model):
    cluster = models.OneToOneField(Cluster, on_delete=models.PROTECT, related_name="management")
    namespace = models.CharField(max_length=63, default="portal-provisioning", validators=[DNS1123_LABEL])
    status = models.CharField(max_length=16, choices=CheckStatus.choices, default=CheckStatus.PENDING)
    # What the last check found: {"cluster.x-k8s.io": "v1beta1", ...} served versions per group,
    # the control-plane and bootstrap providers, and the infrastructure providers (InfraProvider values).
    capi_versions = models.JSONField(default=dict, blank=True)
    control_plane_providers = models.JSONField(default=list, blank=True)
    infrastructure_providers = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)
    checked = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["cluster__name"]

    def __str__(self) -> str:
        return f"management {self.cluster_id}"


class ClusterTemplate(models.Model):
    name = models.CharField(max_length=63, validators=[DNS1123_LABEL])
    version = models.PositiveIntegerField(default=1)
    provider = models.CharField(max_length=16, choices=InfraProvider.choices)
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    # The chart's files, path -> text (Chart.yaml, values.yaml, values.schema.json, templates/*.yaml).
    files = models.JSONField(default=dict)
    builtin = models.BooleanField(default=False)  # shipped with the portal (provisioning/builtin/)
    archived = models.BooleanField(default=False)  # hidden from the wizard; kept for its clusters
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "-version"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["name", "version"], name="cluster_template_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Phase(models.TextChoices):
    PENDING = "pending", "Pending"  # written, its task not started
    APPLYING = "applying", "Applying"  # objects being applied to the management cluster
    PROVISIONING = "provisioning", "Provisioning"  # Cluster API works; no kubeconfig yet
    PROVISIONED = "provisioned", "Provisioned"  # registered in the portal; machines may still come
    UPDATING = "updating", "Updating"  # a pool change or an upgrade is rolling
    DELETING = "deleting", "Deleting"
    DELETED = "deleted", "Deleted"
    FAILED = "failed", "Failed"


class ProvisionedCluster(models.Model):
    # The Cluster API Cluster's name, and the name the cluster gets in the portal.
    name = models.CharField(max_length=63, validators=[DNS1123_LABEL])
    display_name = models.CharField(max_length=200, blank=True)
    management = models.ForeignKey(ManagementCluster, on_delete=models.PROTECT, related_name="provisioned")
    namespace = models.CharField(max_length=63, validators=[DNS1123_LABEL])  # on the management cluster
    template = models.ForeignKey(ClusterTemplate, on_delete=models.PROTECT, related_name="clusters")
    parameters = models.JSONField(default=dict, blank=True)  # validated by the template's schema
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.DEV)
    labels = models.JSONField(default=dict, blank=True)
    kubernetes_version = models.CharField(max_length=32, blank=True)  # the version asked for
    manifest = models.TextField(blank=True)  # the rendered objects last applied, YAML
    applied_objects = models.JSONField(default=list, blank=True)  # [{"apiVersion", "kind", "name"}]
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.PENDING)
    # What Cluster API reports, as last followed (provisioning.capi.summarize): control plane,
    # pools, machines (phase, node, version, the failing condition), nodes ready.
    progress = models.JSONField(default=dict, blank=True)
    conditions = models.JSONField(default=list, blank=True)  # the Cluster object's conditions
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    # Set once Cluster API wrote <name>-kubeconfig and the portal registered the cluster.
    cluster = models.OneToOneField(Cluster, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="provisioned")
    followed = models.DateTimeField(null=True, blank=True)  # last time the Cluster API state was read
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    deleted = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "-created"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["name"], condition=Q(deleted__isnull=True),
                                    name="provisioned_cluster_name_live_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class OperationKind(models.TextChoices):
    CREATE = "create", "Create"
    SCALE_POOL = "scale_pool", "Scale a node pool"
    ADD_POOL = "add_pool", "Add a node pool"
    DELETE_POOL = "delete_pool", "Delete a node pool"
    RESIZE_POOL = "resize_pool", "Change a pool's machine size"
    UPGRADE = "upgrade", "Upgrade Kubernetes"
    DELETE = "delete", "Delete the cluster"


class OperationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ProvisioningOperation(models.Model):
    provisioned = models.ForeignKey(ProvisionedCluster, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=16, choices=OperationKind.choices)
    spec = models.JSONField(default=dict, blank=True)  # what was asked: {"pool", "replicas", "version", ...}
    status = models.CharField(max_length=16, choices=OperationStatus.choices, default=OperationStatus.PENDING)
    progress = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)  # past it, a stuck step is reported, not retried
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["-created"]
        indexes: ClassVar[list[Any]] = [models.Index(fields=["provisioned", "-created"], name="prov_op_recent")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.provisioned_id}"
