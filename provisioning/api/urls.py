"""/api/provisioning/…: management clusters, cluster templates, provisioned clusters (create,
follow, delete) and, from :mod:`provisioning.api.lifecycle_urls`, node pools, upgrades and
operations."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("provisioning.api.lifecycle_urls")),
]
