"""API routes of monitoring's chart part (issue 14), included by monitoring/api/urls.py."""

from django.urls import URLPattern, URLResolver, path

from monitoring.api.charts import ChartView, TopView

urlpatterns: list[URLPattern | URLResolver] = [
    path("charts/", ChartView.as_view(), name="monitoring-charts"),
    path("top/", TopView.as_view(), name="monitoring-top"),
]
