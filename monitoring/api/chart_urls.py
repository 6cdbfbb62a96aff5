"""API routes of monitoring's chart part (issue 14), included by monitoring/api/urls.py."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
