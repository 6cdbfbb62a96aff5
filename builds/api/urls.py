"""API routes of builds, mounted at /api/builds/. Viewsets register on this router as they arrive."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = router.urls
