"""API routes of builds, mounted at /api/builds/: registries and images (registry_urls), build
definitions and runs (run_urls), webhooks and the scan policy (policy_urls)."""

from django.urls import include, path

urlpatterns = [
    path("", include("builds.api.registry_urls")),
    path("", include("builds.api.run_urls")),
    path("", include("builds.api.policy_urls")),
]
