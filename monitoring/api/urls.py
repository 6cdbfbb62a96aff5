"""API routes of monitoring, mounted at /api/monitoring/. Viewsets register on this router as they arrive."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = router.urls
