"""URL routes of the dashboards API (under /api/dashboard/)."""

from django.urls import URLPattern, path

from dashboards.api.views import DashboardView

urlpatterns: list[URLPattern] = [
    path("", DashboardView.as_view(), name="dashboard"),
]
