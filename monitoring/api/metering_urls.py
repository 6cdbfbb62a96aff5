"""API routes of monitoring's metering part (issue 14), included by monitoring/api/urls.py: the
metering report, price sheets and kept cluster events."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from monitoring.api.events import EventListView
from monitoring.api.metering import MeteringView, PriceSheetViewSet

router = SimpleRouter()
router.register("prices", PriceSheetViewSet, basename="monitoring-prices")

urlpatterns: list[URLPattern | URLResolver] = [
    path("metering/", MeteringView.as_view(), name="monitoring-metering"),
    path("events/", EventListView.as_view(), name="monitoring-events"),
    *router.urls,
]
