"""/api/provisioning/clusters/<id>/pools/…, …/upgrade/, …/operations/ (node pools, upgrades, deletion)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
