"""API routes of clusters, mounted at /api/clusters/. Viewsets register on this router as they arrive."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = router.urls
