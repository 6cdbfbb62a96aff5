"""API routes of monitoring's notification part (issue 14), included by monitoring/api/urls.py:
/api/monitoring/channels/… and /api/monitoring/notifications/…"""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from monitoring.api import channels

router = SimpleRouter()
router.register("channels", channels.NotificationChannelViewSet, basename="monitoring-channel")
router.register("notifications", channels.NotificationViewSet, basename="monitoring-notification")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
