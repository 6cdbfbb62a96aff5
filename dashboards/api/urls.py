"""URL routes of the dashboards API (under /api/dashboard/)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
