"""API routes of catalog, mounted at /api/catalog/. Viewsets register on this router as they arrive."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = router.urls
