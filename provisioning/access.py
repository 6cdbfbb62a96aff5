"""Who may see and do what with provisioning.

* Management clusters and cluster templates: every one who reads the whole fleet (admins,
  operators, auditors) sees them; only system admins mark a cluster as a management cluster,
  check it, unmark it, and create, change (a new version), archive or delete templates.
* Provisioned clusters and their operations: seen by those who read the whole fleet. Creating and
  deleting a cluster costs infrastructure, so it is for admins; operating a running one (scale a
  node pool, add, delete or resize a pool, upgrade Kubernetes) is for operators, as node
  operations are. A forced delete (service maps still live there) is for admins only, who create
  and delete anyway.
* Workspace members see the resulting cluster as any registered cluster (through allocations),
  never the provisioning rows.

Socket groups: ``provisioning`` (every provisioned cluster's row changes) and
``provisioning.<id>`` (one provisioned cluster: its row, progress and operations), for whoever
sees provisioned clusters.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from portal import access as portal_access
from portal import errors
from portal.events import register_group
from provisioning.models import ClusterTemplate, ManagementCluster, ProvisionedCluster, ProvisioningOperation


def sees_provisioning(user: Any) -> bool:
    return portal_access.reads_all_clusters(user)


@portal_access.register
class ManagementClusterAccess(portal_access.Access[ManagementCluster]):
    model = ManagementCluster

    def visible(self, user: Any) -> QuerySet[ManagementCluster]:
        qs = ManagementCluster.objects.select_related("cluster")
        return qs if sees_provisioning(user) else qs.none()

    def can_view(self, user: Any, obj: ManagementCluster | None) -> bool:
        return sees_provisioning(user)

    def can_manage(self, user: Any, obj: ManagementCluster | None) -> bool:
        return portal_access.is_admin(user)

    def denied(self, user: Any, action: str, obj: ManagementCluster | None) -> errors.Forbidden:
        return portal_access.admin_only("manage management clusters")


@portal_access.register
class ClusterTemplateAccess(portal_access.Access[ClusterTemplate]):
    model = ClusterTemplate

    def visible(self, user: Any) -> QuerySet[ClusterTemplate]:
        qs = ClusterTemplate.objects.all()
        return qs if sees_provisioning(user) else qs.none()

    def can_view(self, user: Any, obj: ClusterTemplate | None) -> bool:
        return sees_provisioning(user)

    def can_manage(self, user: Any, obj: ClusterTemplate | None) -> bool:
        return portal_access.is_admin(user)

    def denied(self, user: Any, action: str, obj: ClusterTemplate | None) -> errors.Forbidden:
        return portal_access.admin_only("manage cluster templates")


@portal_access.register
class ProvisionedClusterAccess(portal_access.Access[ProvisionedCluster]):
    model = ProvisionedCluster

    def visible(self, user: Any) -> QuerySet[ProvisionedCluster]:
        qs = ProvisionedCluster.objects.select_related("management__cluster", "template", "cluster")
        return qs if sees_provisioning(user) else qs.none()

    def can_view(self, user: Any, obj: ProvisionedCluster | None) -> bool:
        return sees_provisioning(user)

    def can_create(self, user: Any, obj: ProvisionedCluster | None) -> bool:
        return portal_access.is_admin(user)

    def can_delete(self, user: Any, obj: ProvisionedCluster | None) -> bool:
        return portal_access.is_admin(user)

    def can_force_delete(self, user: Any, obj: ProvisionedCluster | None) -> bool:
        return portal_access.is_admin(user)

    def can_operate(self, user: Any, obj: ProvisionedCluster | None) -> bool:
        """Scale, add, delete or resize node pools and upgrade Kubernetes."""
        return portal_access.is_operator(user)

    def denied(self, user: Any, action: str, obj: ProvisionedCluster | None) -> errors.Forbidden:
        if action == "operate":
            return errors.Forbidden("Only operators and admins may change a provisioned cluster's node pools "
                                    "or version.", code="operator_required", params={"action": action})
        return portal_access.admin_only("create or delete provisioned clusters")


@portal_access.register
class ProvisioningOperationAccess(portal_access.Access[ProvisioningOperation]):
    model = ProvisioningOperation

    def visible(self, user: Any) -> QuerySet[ProvisioningOperation]:
        qs = ProvisioningOperation.objects.select_related("provisioned")
        return qs if sees_provisioning(user) else qs.none()

    def can_view(self, user: Any, obj: ProvisioningOperation | None) -> bool:
        return sees_provisioning(user)


# ---------------------------------------------------------------------------- socket groups


def _provisioning_group(user: Any, key: str) -> bool:
    if not sees_provisioning(user):
        return False
    return key == "" or (key.isdigit() and ProvisionedCluster.objects.filter(pk=int(key)).exists())


def install() -> None:
    register_group("provisioning", _provisioning_group,
                   "`provisioning`: every provisioned cluster's row (provisioned.updated); `provisioning.<id>`: one "
                   "provisioned cluster (provisioned.updated with its progress, operation.updated).")
