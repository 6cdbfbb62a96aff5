"""API routes of monitoring's alert part (issue 14), included by monitoring/api/urls.py: alerts
(with acknowledge and resolve), alert rules, silences (with expire)."""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from monitoring.api import alerts

router = SimpleRouter()
router.register("alerts", alerts.AlertViewSet, basename="monitoring-alert")
router.register("rules", alerts.RuleViewSet, basename="monitoring-alert-rule")
router.register("silences", alerts.SilenceViewSet, basename="monitoring-silence")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
