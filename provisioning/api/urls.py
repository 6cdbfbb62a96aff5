"""/api/provisioning/…: management clusters, cluster templates, provisioned clusters (create,
follow, delete) and, from :mod:`provisioning.api.lifecycle_urls`, node pools, upgrades and
operations."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from provisioning.api import management, provisioned, templates

router = SimpleRouter()
router.register("management-clusters", management.ManagementClusterViewSet, basename="provisioning-management")
router.register("templates", templates.ClusterTemplateViewSet, basename="provisioning-template")
router.register("clusters", provisioned.ProvisionedClusterViewSet, basename="provisioning-cluster")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("provisioning.api.lifecycle_urls")),
    *router.urls,
]
