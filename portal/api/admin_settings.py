"""Placeholder filled by issue 20's work (routes included from portal/api/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
