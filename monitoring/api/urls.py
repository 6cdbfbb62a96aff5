"""API routes of monitoring, mounted at /api/monitoring/ (issue 14): charts and top lists, alerts,
rules and silences, notification channels and deliveries, metering, prices and events. Each part
keeps its own routes module."""

from django.urls import include, path

urlpatterns = [
    path("", include("monitoring.api.chart_urls")),
    path("", include("monitoring.api.alert_urls")),
    path("", include("monitoring.api.channel_urls")),
    path("", include("monitoring.api.metering_urls")),
]
