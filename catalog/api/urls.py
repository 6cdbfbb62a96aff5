"""API routes of catalog, mounted at /api/catalog/ (see docs/catalog-api.md)."""

from rest_framework.routers import SimpleRouter

from catalog.api import release_views

router = SimpleRouter()
# Releases and rollouts
router.register("releases", release_views.ReleaseViewSet, basename="catalog-release")
router.register("rollouts", release_views.RolloutViewSet, basename="catalog-rollout")

urlpatterns = router.urls
