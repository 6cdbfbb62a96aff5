"""API routes of workspaces, mounted at /api/workspaces/. Viewsets register on this router as they arrive."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = router.urls
