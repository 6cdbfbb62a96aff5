"""/api/provisioning/clusters/<id>/pools/…, …/upgrade/, …/operations/ (node pools, upgrades, the
operation history; ``DELETE /clusters/<id>/`` is :class:`provisioning.api.pools.DeleteProvisionedMixin`
in the provisioned clusters' viewset)."""

from django.urls import URLPattern, URLResolver, path

from provisioning.api import pools

urlpatterns: list[URLPattern | URLResolver] = [
    path("clusters/<int:pk>/pools/", pools.PoolListView.as_view(), name="provisioning-pools"),
    path("clusters/<int:pk>/pools/<str:pool>/", pools.PoolDetailView.as_view(), name="provisioning-pool"),
    path("clusters/<int:pk>/upgrade/", pools.UpgradeView.as_view(), name="provisioning-upgrade"),
    path("clusters/<int:pk>/operations/", pools.OperationListView.as_view(), name="provisioning-operations"),
]
